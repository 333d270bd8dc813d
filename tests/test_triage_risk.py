"""Risk grading: 高 for danger to people, 中 for escalation signs, 低 otherwise; negation and extra cues."""

from __future__ import annotations

import pytest

from fengqiao.triage.lexicon import CueSpec
from fengqiao.triage.risk import RiskGrader, chinese_number


# danger to people, in the plain words
DANGER_TO_PEOPLE = [
    "楼道里一股很重的煤气味，敲门没人应",
    "他拿着菜刀在街上追人",
    "说再不还钱就去他家门口喝农药",
    "明天三十多个工人要去县政府门口拉横幅",
    "村里那个精神病人又犯病了，见人就打",
    "老房子后墙塌了一角，老人还住在里面",
    "三号楼着火了，浓烟很大",
]
# more ways to say it
BROADENED = [
    "他说再不给钱就跟老板同归于尽",
    "我妈说活着没意思，把安眠药攒了一瓶",
    "有个工人爬到塔吊上面说不给钱就跳下来",
    "我老公说要把房子点了，大家一起死",
    "讨债的人说要炸了我家",
    "听说有人在群里组织上访团，下周一起去市里",
    "一百多个工人把县道堵了",
    "拆迁户们商量好了，周五一起去堵高速路口",
    "楼道里一股天然气的味道，越来越重",
    "对面楼窗户往外冒烟，好像是着了",
    "路边电线杆上的电线一直在打火花",
    "老楼外墙开裂，往下掉水泥块，楼下天天有小孩玩",
    "后墙的裂缝最近越裂越大，老人还住在里面",
    "水库的坝上出现了一条大裂缝",
    "有个小孩掉进坑塘里了，快来人",
    "我弟弟精神分裂症停药了，拿菜刀追着我妈跑",
    "化工厂飘过来的味道很呛，好多人眼睛疼、咳嗽",
]
# round 4: more present dangers
ROUND4 = [
    "来电人说再不解决就走极端，汽油已经准备好了",
    "儿子给我发消息说“妈对不起 下辈子再做你儿子”，现在电话不接",
    "约30人在县道上摆放石块堵塞交通，民警正在劝离",
    "我们百余人已多次反映，下周一集体到县政府反映情况",
    "俺们庄百十口子人把修路的挖掘机围住了",
    "暴雨后一根10kV线路断线落地，供电所人员尚未到场",
    "货车侧翻压住一辆三轮车，车下有人",
    "女儿被女婿殴打后锁在家中不让出门，手机也联系不上",
    "他手里拿着一瓶敌敌畏说要喝",
]
# present dangers without the usual words
WITHOUT_THE_USUAL_WORDS = [
    "县城某超市门口一名男子手持酒瓶砸超市玻璃，店内仍有顾客",
    "超市停车场一辆轿车里锁着个小孩，大热天的孩子哭得满头大汗",
    "独居老人已两天未出门，敲门无人应答",
    "一条大狼狗挣脱铁链，正在村口追咬小孩",
    "中午吃了学校饭回来就吐，班里好几个孩子都吐了",
    "桥底下有个人坐在护栏外边好长时间了，跟他说话不理",
    "今天我已经把刀磨好了，他再砸一回我就上去",
    "约30人在县道上摆放石块堵塞交通，民警正在现场劝离",   # still being cleared: not dealt with
    # round 6
    "他再敢来闹，我就叫他横着出去",
    "我真的撑不下去了，药都买好了",
    "家长群里说好了明天一早都去教育局门口集体讨说法",
    "催收的人堵在门口往门上泼红漆，说晚上还来",
    "【防溺水预警】坑塘监测到一名少年已下水，语音驱离无效",
]
# a negated cue
NEGATED = [
    "物业来查过了，没有煤气味，是下水道返味",
    "并没有人着火，只是烧烤店烟大",
]
# negated, hedged, past or dealt with
HEDGED_PAST_OR_RESOLVED = [
    "燃气公司上门检查过了，没有漏气，就是灶头打不着火",      # exclusion: 打不着火 is not 着火
    "上次煤气灶坏了已修好，想问问燃气费怎么交",                # past
    "前天那个燃气泄漏已经处理完了，想反映一下来得太慢",        # dealt with in the same sentence
    "我说的不想活是气话，就是想问问低保为什么取消了",          # hedged
    "政府门口没人聚集，我们只是想咨询拆迁政策",                # negated
    "两家孩子玩的时候推倒了，对方只愿意出几百块钱",            # 几百块钱 is no crowd
    "房子墙上有几道细小的裂缝，想请人来鉴定一下",
    "我腿脚不方便想申请轮椅，去问了说要等名额",
]
# round 4: past, dealt with or not imminent
ROUND4_NOT_IMMINENT = [
    "俺村有人家里放着一大桶百草枯说是打草用，谁管这事",      # a poison stored is not a person drinking it
    "有人焚烧秸秆，浓烟较大，影响附近居民",                    # field smoke is not a house fire
    "视频识别：路段积水深度约15cm，持续30分钟",
    "两年前曾遭受丈夫家暴，现已离婚，咨询能否申请人身安全保护令",
    "2023年5月我在集上被同村王某打伤，派出所至今未处理",      # a year gone by is the past
    "俺大伯前几年想不开喝过药，救回来了，想问能不能进敬老院",
    "昨晚电动车充电着火了，消防很快就灭了，没人受伤",
    "孩子接种疫苗后出现高烧、抽搐，现已好转",
    "村民自建三层楼房，二、三楼住人，墙体有裂缝",             # a crack alone: have it inspected (中)
]
# checked and harmless, hearsay, the past
DEBUNKED_HEARSAY_OR_PAST = [
    "村民报警称邻居家着火了，经民警核实系邻居在院内熏腊肉冒烟，无火情",   # checked and found harmless
    "看见新闻说别的县小区有人从楼上跳下来了，俺们小区天台门能不能锁上",   # news from elsewhere
    "去年其家中仓库被人纵火，嫌疑人已被判刑，现询问如何主张赔偿",         # the past, anywhere in the clause
    "前年就淹死过人，村里说了好几年要围起来",                             # 淹死过: the past aspect
    "前两天群里说要喝药的那个大娘，娘俩已经和好了，人没事",
    "县城某工地20余名工人聚集在项目部讨要工资，无过激行为，已由民警疏导散去",
    "群里有人说谁再偷玉米就拿枪崩了他，其实就是气话，也没枪",
    "楼上扔了个酒瓶子，把我停的车玻璃砸碎了",                           # a thrown bottle is no weapon in hand
    "广场舞吵得俺都想跳河了（说笑哩），能不能九点前停",
    "烧烤店油烟直往窗户里灌，烟大得跟着火了一样",                         # a simile
    "网上流传说某村明天要去县政府集体讨说法，其实没有这回事",             # a rumour, denied
    "昨晚小区燃气管道泄漏，燃气公司已连夜抢修完毕，挖开的路面没恢复",
]

# round 7: other regions' speech, and what is not a present danger though it has the words
OTHER_REGIONS = [
    "佢话我唔还钱就斩死我，今晚仲嚟我租屋门口踢门",
    "我老公又饮醉打我，而家锁住我喺房度唔俾出去",
    "今晚八点全部工友喺厂门口集合，老细唔出嚟俾人工就唔走",
    "额们明天早上就把进村那条路堵了，光伏的车一辆都不让进",
    "报警人称其七十八岁患老年痴呆的父亲下午出门后至今未归，外面零下十几度",
    "隔壁独居老爹两天没开门了",
    "电梯关了人，按铃没人应",
    "第三小学后面挡土墙鼓胀外倾，底部渗水，墙下是学生放学走的小路",
    # round 8
    "长期信访人王某近日向包案干部称再不解决就带汽油去县政府",
    "他在群里讲我要是再去他家要钱，就叫我躺着回来",
    "某楼盘十余名业主已购买赴京车票，计划明日进京反映逾期交房问题",
    "我们寨子有个老奶奶昨天去赶街到现在没回来，家里人找了一晚上都没找到",
    "交通路一商户楼顶广告牌一角已脱落，正在剧烈晃动，下方是公交站台，已劝离并拉警戒线",   # people sent away, the sign still swings
    "巡查发现某废品收购点存放疑似雷管一枚，已报派出所",
    "路面塌了个大坑，车过不去了，一半路面悬空",                          # 过不去了 is no "不去了"
]
HAS_THE_WORDS_BUT_NOT_NOW = [
    "县城某楼盘停工，建议每周向业主通报复工进展",                        # 报复 inside 通报复工
    "要求镇政府组织勘界，两村各持一份老地图",                            # the government organises
    "今天上午某中学开展消防疏散演练，部分群众误以为失火打电话询问，已解释",
    "有人在家里做鞭炮，好大火药味",                                      # 大火 inside 好大火药味
    "来电人反映小区楼下烧烤摊使用液化气罐",
    "入户安检发现燃气软管老化有轻微气味，已当场关阀并通知更换，现场已无异味",
    "来电人称被社会青年收管理费，不敢报警，怕被报复",
    "我妈拔完牙一直流血，又去县里缝了两针，卫生院不肯退钱",
    # round 8
    "室友又偷吃我零食，我说再吃就砍死你xswl",
    "网格巡查：5号楼顶平台被602住户私自搭建鸽棚，已劝说限期拆除",             # 楼顶 + 劝说 is no one on a ledge
    "老板讲厂子要倒了，社保一个都没交",
    "视频AI识别到烟雾，网格员核实为农户烧水做饭，非火情，已劝离",
    "昨天工地上那条讨薪横幅已经收了，老板把钱结了，工人都回去了",
]


def test_a_negated_rescue_is_no_sign_that_the_danger_is_over() -> None:
    from fengqiao.triage.risk import says_no_danger_now

    assert not says_no_danger_now("病人没抢救过来，家属三四十口围住值班大夫不让走")
    assert says_no_danger_now("人已经抢救过来了")
    assert not says_no_danger_now("这不是误报，楼道里真的在冒烟")


@pytest.fixture(scope="module")
def grader() -> RiskGrader:
    return RiskGrader()


@pytest.mark.parametrize("text", DANGER_TO_PEOPLE + BROADENED + ROUND4 + WITHOUT_THE_USUAL_WORDS + OTHER_REGIONS)
def test_present_dangers_are_high(grader: RiskGrader, text: str) -> None:
    assert grader.grade(text).grade == "高", grader.grade(text).cues


@pytest.mark.parametrize("text", NEGATED + HEDGED_PAST_OR_RESOLVED + ROUND4_NOT_IMMINENT + DEBUNKED_HEARSAY_OR_PAST
                         + HAS_THE_WORDS_BUT_NOT_NOW)
def test_what_is_not_a_present_danger_is_not_high(grader: RiskGrader, text: str) -> None:
    assert grader.grade(text).grade != "高", grader.grade(text).cues


def test_hypothetical_fire_is_a_hazard_not_an_emergency(grader: RiskGrader) -> None:
    result = grader.grade("消防通道被车堵了，万一着火消防车进不来")
    assert result.grade == "中"
    assert any(c.kind == "可能火灾" for c in result.cues)


@pytest.mark.parametrize("text,kind", [
    ("这个事反映了好几次了，到现在还没解决", "重复反映"),
    ("二十来个女工三个月没发工资", "涉及人数多"),
    ("借给他二十万做生意，现在不认账", "涉及金额大"),
    ("家里老人八十多了，瘫痪在床", "弱势群体"),
])
def test_escalation_signs_are_medium(grader: RiskGrader, text: str, kind: str) -> None:
    result = grader.grade(text)
    assert result.grade == "中"
    assert kind in result.kinds()


def test_plain_request_is_low_with_no_cues(grader: RiskGrader) -> None:
    result = grader.grade("小区门口的路灯不亮了，麻烦修一下")
    assert result.grade == "低" and result.cues == ()


def test_reporter_history_makes_it_repeated(grader: RiskGrader) -> None:
    assert grader.grade("路灯不亮", reporter_history=3).grade == "中"


def test_cues_say_which_words_caused_the_grade(grader: RiskGrader) -> None:
    cue = grader.grade("对方扬言要弄死我").cues[0]
    assert (cue.grade, cue.kind, cue.phrase) == ("高", "扬言伤人", "弄死")
    assert cue.describe() == "高风险：扬言伤人（“弄死”）"


def test_administrator_can_add_cues() -> None:
    assert RiskGrader().grade("有人在学校上空放无人机").grade == "低"
    extra = RiskGrader(extra_cues=["高\t黑飞\t无人机|黑飞"])
    assert extra.grade("有人在学校上空放无人机").grade == "高"
    typed = RiskGrader(extra_cues=[CueSpec("中", "舆情", ("发抖音",))])
    assert typed.grade("说要发抖音曝光").grade == "中"


def test_bad_extra_cue_line_is_rejected() -> None:
    with pytest.raises(ValueError, match="格式错误"):
        RiskGrader(extra_cues="特高\t什么\t词")


def test_chinese_numbers() -> None:
    assert [chinese_number(t) for t in ("35", "十二", "二十万", "两", "一百零五")] == [35, 12, 200_000, 2, 105]


def test_resolved_is_shown_as_medium_but_not_when_still_open(grader: RiskGrader) -> None:
    done = grader.grade("前天那个燃气泄漏已经处理完了")
    assert done.grade == "中" and "已处置的燃气泄漏" in done.kinds()
    assert grader.grade("燃气泄漏到现在还没处理完").grade == "高"


def test_a_person_stays_dangerous_after_the_fire_is_out(grader: RiskGrader) -> None:
    assert grader.grade("精神病人把自家房子点着了，火已经扑灭了，人还在院里骂").grade == "高"


def test_blockade_with_a_group_word_is_a_gathering(grader: RiskGrader) -> None:
    result = grader.grade("外卖骑手们聚在站点门口讨说法")
    assert result.grade == "高" and "群体聚集" in result.kinds()
    assert grader.grade("小区下水道堵了，业主们很着急").grade != "高"


def test_exclusion_lines_can_be_added() -> None:
    text = "他说要跳槽去别家"
    assert RiskGrader(extra_cues="高\t测试\t跳槽").grade(text).grade == "高"
    assert RiskGrader(extra_cues="高\t测试\t跳槽\n否\t排除\t跳槽去").grade(text).grade == "低"


def test_a_possible_intent_to_die_stays_high_but_a_possible_fire_does_not(grader: RiskGrader) -> None:
    assert grader.grade("丈夫发微信说对不起你们后关机，可能有轻生念头").grade == "高"
    assert grader.grade("楼道里堆满纸箱，万一着火人都跑不出去").grade == "中"
    assert grader.grade("去年他喝过农药，现在好了").grade != "高"


def test_a_joke_taken_back_right_after_is_not_high(grader: RiskGrader) -> None:
    assert grader.grade("物业拖了半个月，气得俺都想跳楼了（开玩笑的）").grade != "高"
    assert grader.grade("服装店天天放跳楼价清仓甩卖").grade == "低"


def test_a_named_collective_visit_of_many_is_a_gathering(grader: RiskGrader) -> None:
    high = grader.grade("来访人马某等12人集体来访，反映土地调整不公，现场情绪较稳定")
    assert high.grade == "高" and "群体聚集" in high.kinds()
    assert grader.grade("来访人3人反映土地调整不公").grade != "高"


def test_device_alerts_that_report_danger_are_high(grader: RiskGrader) -> None:
    assert grader.grade("【消防物联网】3号仓 感温探测器火警 温度72℃ 值班人员未确认").grade == "高"
    assert grader.grade("【水位告警】水文站 水位超保证水位0.06m 红色预警").grade == "高"
    assert grader.grade("【燃气报警器】302 设备电量低 请及时更换电池").grade == "低"
    assert grader.grade("来电人咨询孩子入学需要什么材料").grade == "低"
