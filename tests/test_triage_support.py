"""Helpers for the triage tests (no tests here): a small responsibility list written for them, not the demo county's."""

from __future__ import annotations

from fengqiao.triage.catalog import ListItem, parse_list

HEADER = "code,name,category,department,level,deadline,basis,description\n"
ROWS = [
    "T-01,窨井盖缺失破损,部件问题,城管局,县,4小时,,道路和小区内的检查井盖、雨水篦子缺失、破损或松动。",
    "T-02,拖欠农民工工资,矛盾纠纷,人社局,县,5工作日,,建筑工地、工厂拖欠或克扣农民工工资。",
    "T-03,邻里纠纷,矛盾纠纷,村委会,村,5工作日,,相邻住户之间因杂物堆放、公共空间占用、生活琐事引发的纠纷。",
    "T-04,房屋漏水纠纷,矛盾纠纷,村委会,村,3日,,楼上卫生间、厨房或管道渗漏导致楼下受损。",
    "T-05,燃气泄漏隐患,风险隐患,住建局,县,立即,,居民楼、饭店闻到燃气味，燃气管道或软管漏气。",
    "T-06,路灯故障,部件问题,城管局,县,3日,,路灯不亮、成片熄灭、灯杆倾斜。",
    "T-07,餐饮油烟扰民,群众诉求,生态环境局,县,5工作日,,餐饮店、烧烤摊油烟直排影响居民。",
    "T-08,医疗纠纷,矛盾纠纷,卫健委,县,15工作日,,患者与医院之间因诊疗过错、手术后果引发的纠纷。",
]


def csv_bytes(rows: list[str] | None = None, header: str = HEADER) -> bytes:
    return (header + "\n".join(ROWS if rows is None else rows) + "\n").encode("utf-8")


def small_list() -> list[ListItem]:
    return parse_list(csv_bytes(), "list.csv")
