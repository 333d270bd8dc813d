"""Risk grading: 高 for danger to people, 中 for escalation signs, 低 otherwise; negation and extra cues."""

from __future__ import annotations

import pytest

from fengqiao.triage.lexicon import CueSpec
from fengqiao.triage.risk import RiskGrader, chinese_number


@pytest.fixture(scope="module")
def grader() -> RiskGrader:
    return RiskGrader()


@pytest.mark.parametrize("text", [
    "楼道里一股很重的煤气味，敲门没人应",
    "他拿着菜刀在街上追人",
    "说再不还钱就去他家门口喝农药",
    "明天三十多个工人要去县政府门口拉横幅",
    "村里那个精神病人又犯病了，见人就打",
    "老房子后墙塌了一角，老人还住在里面",
    "三号楼着火了，浓烟很大",
])
def test_danger_to_people_is_high(grader: RiskGrader, text: str) -> None:
    assert grader.grade(text).grade == "高"


@pytest.mark.parametrize("text", [
    "物业来查过了，没有煤气味，是下水道返味",
    "并没有人着火，只是烧烤店烟大",
])
def test_negated_cue_is_not_high(grader: RiskGrader, text: str) -> None:
    assert grader.grade(text).grade != "高"


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
    assert RiskGrader().grade("有人在水库边钓鱼用电网").grade == "低"
    extra = RiskGrader(extra_cues=["高\t电鱼\t电网|电鱼"])
    assert extra.grade("有人在水库边钓鱼用电网").grade == "高"
    typed = RiskGrader(extra_cues=[CueSpec("中", "舆情", ("发抖音",))])
    assert typed.grade("说要发抖音曝光").grade == "中"


def test_bad_extra_cue_line_is_rejected() -> None:
    with pytest.raises(ValueError, match="格式错误"):
        RiskGrader(extra_cues="特高\t什么\t词")


def test_chinese_numbers() -> None:
    assert [chinese_number(t) for t in ("35", "十二", "二十万", "两", "一百零五")] == [35, 12, 200_000, 2, 105]
