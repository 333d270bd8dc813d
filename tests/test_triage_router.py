"""Routing on a small list the router has never seen: synonyms, reasons, tracks, bad input."""

from __future__ import annotations

import pytest
from test_triage_support import small_list

from fengqiao.triage.router import Router


@pytest.fixture(scope="module")
def router() -> Router:
    return Router.from_list(small_list())


def test_colloquial_manhole_cover_routes_to_the_manhole_item(router: Router) -> None:
    s = router.route("学校门口马路上有个下水井盖没了，晚上黑灯瞎火的")
    assert s.item_code == "T-01" and s.department == "城管局" and s.level == "县"
    assert any("下水井盖" in r for r in s.reasons)


@pytest.mark.parametrize("text,code", [
    ("包工头跑了，工钱一分没结", "T-02"),
    ("楼上卫生间漏水到我家，天花板都泡了", "T-04"),
    ("楼下烧烤店的烟直接往我家窗户里灌", "T-07"),
    ("我爸在医院做完手术人就不行了，医院不给说法", "T-08"),
    ("天黑了这条街一盏灯都不亮", "T-06"),
])
def test_everyday_words_reach_the_listed_item(router: Router, text: str, code: str) -> None:
    assert router.route(text).item_code == code


def test_suggestion_has_three_ranked_candidates_and_probabilities(router: Router) -> None:
    s = router.route("包工头跑了，工钱一分没结")
    assert len(s.candidates) == 3
    confs = [c.confidence for c in s.candidates]
    assert confs == sorted(confs, reverse=True) and 0 < sum(confs) <= 1.0001
    assert s.confidence == confs[0]


def test_risk_and_track_come_with_the_route(router: Router) -> None:
    s = router.route("楼道里一股很重的煤气味，敲门没人应，怕爆炸")
    assert s.item_code == "T-05" and s.risk == "高"
    assert any("燃气泄漏" in c for c in s.risk_cues)
    assert s.track in ("联合调", "包案调")


def test_high_risk_repeated_case_goes_to_a_leader(router: Router) -> None:
    s = router.route("工钱拖了两年，今天他拿着刀说要跟老板同归于尽", reporter_history=3)
    assert s.risk == "高" and s.track == "包案调"


def test_simple_village_matter_is_handled_on_the_spot(router: Router) -> None:
    s = router.route("邻居把杂物堆在楼道里，说了也不听")
    assert s.item_code == "T-03" and s.track == "马上调"


def test_auto_dispatch_follows_the_threshold() -> None:
    text = "学校门口马路上有个下水井盖没了"
    confidence = Router.from_list(small_list()).route(text).confidence
    assert 0.5 < confidence < 1.0
    assert not Router.from_list(small_list(), threshold=confidence + 1e-6).route(text).auto_dispatch
    assert Router.from_list(small_list(), threshold=confidence).route(text).auto_dispatch


@pytest.mark.parametrize("text,why", [
    ("", "为空"),
    (None, "为空"),
    ("   \n\t ", "为空"),
    ("The manhole cover outside the school is missing", "不含中文"),
    ("Крышка люка пропала", "不含中文"),
])
def test_unusable_text_gets_zero_confidence_and_a_reason(router: Router, text: object, why: str) -> None:
    s = router.route(text)
    assert s.item_code is None and s.confidence == 0.0 and s.candidates == ()
    assert any(why in r for r in s.reasons)


def test_absurdly_long_text_is_cut_and_says_so(router: Router) -> None:
    s = router.route("下水井盖没了。" + "啊" * 20_000)
    assert s.item_code == "T-01"
    assert not s.auto_dispatch
    assert any("文本过长" in r for r in s.reasons)


def test_a_long_letter_is_routed_by_its_opening_and_graded_on_all_of_it(router: Router) -> None:
    from fengqiao.triage.router import TOPIC_CHARS

    padding = "那天的经过是这样的，我们一家人都很着急。" * 80
    letter = "下水井盖没了，路过的人差点掉下去。" + padding + "他扬言今晚要拿刀砍死我。"
    assert TOPIC_CHARS < len(letter) < 4000
    s = router.route(letter)
    assert s.item_code == "T-01"
    assert s.risk == "高"   # the threat at the end is past the routing window, not past the risk grader


def test_mostly_foreign_text_is_low_confidence(router: Router) -> None:
    s = router.route("manhole cover missing near the school gate please fix 井盖")
    assert s.confidence <= 0.3 and not s.auto_dispatch


def test_channel_110_prefers_police_items() -> None:
    from test_triage_support import ROWS, csv_bytes

    from fengqiao.triage.catalog import parse_list

    rows = ROWS + ["T-09,邻里矛盾类警情,警情纠纷,司法局,镇,2工作日,,110接报的邻里口角推搡纠纷警情，派出所处置后移交调解。"]
    router = Router.from_list(parse_list(csv_bytes(rows), "l.csv"))
    text = "两户邻居因为门口堆杂物的事吵起来了"
    assert router.route(text).item_code == "T-03"
    assert router.route(text, channel="110").item_code == "T-09"


def test_a_present_danger_points_at_the_lists_risk_item(monkeypatch: pytest.MonkeyPatch) -> None:
    from fengqiao.triage import zeroshot
    from fengqiao.triage.catalog import ListItem

    items = small_list() + [ListItem("T-09", "矛盾纠纷激化风险", "风险隐患", "公安局", "县", "1日",
                                     description="纠纷双方扬言报复、可能引发治安刑事案件。")]
    router = Router.from_list(items)
    assert router.route("邻居因为堆杂物天天吵").item_code == "T-03"
    s = router.route("邻居因为堆杂物天天吵，对方说要弄死我")
    assert (s.item_code, s.risk) == ("T-09", "高")
    # the risk cue, not the words, moves it (without the reference model, which knows threats too)
    words_only = Router.from_list(items, reference=False)
    assert words_only.route("邻居因为堆杂物天天吵，对方说要弄死我").item_code == "T-09"
    monkeypatch.setattr(zeroshot, "W_RISK", 0.0)
    assert words_only.route("邻居因为堆杂物天天吵，对方说要弄死我").item_code == "T-03"


def _shared_phrases_by_scanning(text: str, item_text: str, limit: int = 4) -> tuple[str, ...]:
    """The plain left-to-right scan that zeroshot.shared_phrases speeds up: grow a shared piece at each position."""
    from fengqiao.triage.zeroshot import _FUNCTION_CHARS, _GENERIC, _substrings

    found: list[str] = []
    subs, i = _substrings(item_text), 0
    while i < len(text) - 1:
        best = max((n for n in range(2, min(8, len(text) - i) + 1)
                    if all(text[i:i + m] in subs for m in range(2, n + 1))), default=0)
        if best:
            piece = text[i:i + best]
            if (piece not in _GENERIC and not any(piece in f for f in found)
                    and all("\u4e00" <= ch <= "\u9fff" for ch in piece) and not set(piece) <= _FUNCTION_CHARS):
                found = [f for f in found if f not in piece] + [piece]
            i += best
        else:
            i += 1
    found.sort(key=len, reverse=True)
    return tuple(found[:limit])


def test_shared_phrases_match_a_plain_scan() -> None:
    import json
    import random
    from importlib import resources

    from fengqiao.triage.catalog import parse_list
    from fengqiao.triage.zeroshot import shared_phrases

    content = resources.files("fengqiao.demo.content")
    items = parse_list(content.joinpath("catalog.csv").read_bytes(), "catalog.csv")[:40]
    templates = json.loads(content.joinpath("case_templates.json").read_text(encoding="utf-8"))
    texts = [t for ts in templates.values() for t in ts][::3]
    rng = random.Random(3)
    texts += ["".join(rng.choice("井盖下水道漏水楼上邻居吵架工资老板的了是在纠纷问题") for _ in range(rng.randint(0, 60)))
              for _ in range(200)]
    for text in texts:
        for it in items:
            item_text = "，".join([it.name, it.name, it.category, it.description])
            assert shared_phrases(text, item_text) == _shared_phrases_by_scanning(text, item_text), (text, it.code)
