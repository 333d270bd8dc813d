"""A small county for tests: 1 county, 2 towns, 2 villages each, 2 grids per village, personas."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from fengqiao.auth.models import Role
from fengqiao.auth.service import Principal, create_user, principal_for
from fengqiao.cases.domain import Action
from fengqiao.cases.schemas import CaseCreate, TransitionIn
from fengqiao.catalog.service import import_catalog
from fengqiao.db import Database
from fengqiao.org.models import Region
from fengqiao.org.service import import_departments_csv, import_regions_geojson

PASSWORD = "test-password-1"

CATALOG_CSV = """code,name,category,department,level,deadline,basis,description
T-001,邻里纠纷,矛盾纠纷,村（社区）委员会,村,5工作日,《人民调解法》,邻居之间的纠纷
T-002,拖欠农民工工资,矛盾纠纷,县人力资源和社会保障局,县,2工作日,《保障农民工工资支付条例》,欠薪讨薪
T-003,窨井盖缺失破损,部件问题,县住房和城乡建设局,镇,4小时,《城市道路管理条例》,下水井盖缺失
T-004,燃气泄漏隐患,风险隐患,县住房和城乡建设局,县,立即,《城镇燃气管理条例》,煤气泄漏
T-005,土地承包经营权纠纷,矛盾纠纷,乡镇人民政府,镇,3日,《农村土地承包法》,承包地纠纷
"""
DEPARTMENTS_CSV = """code,name,presence
CW,村（社区）委员会,随驻
RSJ,县人力资源和社会保障局,常驻
ZJJ,县住房和城乡建设局,轮驻
XZ,乡镇人民政府,随驻
"""


def _square(x: float, y: float, size: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}


def county_geojson() -> dict[str, Any]:
    """Town A west (lon 114.0–114.2), town B east (114.2–114.4); each village 0.1° wide, grids 0.05°."""
    feats = [{"type": "Feature", "properties": {"code": "C", "name": "测试县", "level": "county", "parent_code": None},
              "geometry": _square(114.0, 34.0, 0.4)}]
    for t, tname in enumerate(["甲镇", "乙镇"]):
        tcode = f"T{t}"
        feats.append({"type": "Feature", "properties": {"code": tcode, "name": tname, "level": "镇", "parent_code": "C"},
                      "geometry": None})
        for v in range(2):
            vcode = f"{tcode}V{v}"
            x0 = 114.0 + t * 0.2 + v * 0.1
            feats.append({"type": "Feature", "properties": {"code": vcode, "name": f"{tname}{v + 1}村", "level": "村",
                                                            "parent_code": tcode}, "geometry": None})
            for g in range(2):
                feats.append({"type": "Feature", "properties": {
                    "code": f"{vcode}G{g}", "name": f"{tname}{v + 1}村第{g + 1}网格", "level": "网格",
                    "parent_code": vcode}, "geometry": _square(x0 + g * 0.05, 34.0, 0.05)})
    return {"type": "FeatureCollection", "features": feats}


# Points inside grids: town A village 1 grid 1, town B village 1 grid 1.
POINT_A = (34.02, 114.02)
POINT_B = (34.02, 114.22)


@dataclass
class County:
    db: Database
    regions: dict[str, Region]
    people: dict[str, Principal] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Principal:
        try:
            return self.__dict__["people"][name]
        except KeyError:
            raise AttributeError(name) from None


def build_county(db: Database) -> County:
    from fengqiao.catalog.models import CatalogItem
    from fengqiao.org.models import Department

    with db.unit_of_work() as s:
        import_regions_geojson(s, json.dumps(county_geojson(), ensure_ascii=False))
        import_departments_csv(s, DEPARTMENTS_CSV)
        import_catalog(s, CATALOG_CSV.encode(), "test.csv")
        regions = {r.code: r for r in s.scalars(select(Region))}
        depts = {d.code: d.id for d in s.scalars(select(Department))}
        personas = {
            "admin": (Role.ADMIN, "C", None), "operator": (Role.OPERATOR, "C", None),
            "operator_a": (Role.OPERATOR, "T0", None), "operator_b": (Role.OPERATOR, "T1", None),
            "handler_zhujian": (Role.HANDLER, "C", "ZJJ"), "handler_renshe": (Role.HANDLER, "C", "RSJ"),
            "handler_cun": (Role.HANDLER, "C", "CW"), "handler_xz": (Role.HANDLER, "C", "XZ"),
            "grid_worker": (Role.GRID_WORKER, "T0V0G0", None), "supervisor": (Role.SUPERVISOR, "C", None),
            "leader": (Role.LEADER, "C", None), "mediator": (Role.MEDIATOR, "C", None),
        }
        people = {}
        for username, (role, code, dept) in personas.items():
            user = create_user(s, username=username, password=PASSWORD, display_name=username, role=role,
                               region_id=regions[code].id, department_id=depts[dept] if dept else None)
            people[username] = principal_for(s, user)
        items = {i.code: i.id for i in s.scalars(select(CatalogItem))}
    return County(db, regions, people, items, depts)


def walk_in(**overrides: Any) -> CaseCreate:
    data: dict[str, Any] = {
        "kind": "dispute", "channel": "window", "description": "邻居家装修噪音大，协商无果",
        "lat": POINT_A[0], "lon": POINT_A[1], "address": "甲镇1村",
        "parties": [{"role": "reporter", "name": "张三", "phone": "13812345678", "id_number": "11010519491231002X"}],
    }
    data.update(overrides)
    return CaseCreate.model_validate(data)


def move(action: Action | str, **kw: Any) -> TransitionIn:
    return TransitionIn(action=Action(action), **kw)


class HttpPersonas:
    """A test client that logs each persona in once and sends their requests with their token."""

    def __init__(self, client: Any, county: County) -> None:
        self.client, self.county = client, county
        self._tokens: dict[str, str] = {}

    def as_(self, username: str) -> dict[str, str]:
        if username not in self._tokens:
            r = self.client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self._tokens[username] = r.json()["token"]
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    def post(self, user: str, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.post(url, headers=self.as_(user), **kw)

    def get(self, user: str, url: str, **kw: Any):  # type: ignore[no-untyped-def]
        return self.client.get(url, headers=self.as_(user), **kw)
