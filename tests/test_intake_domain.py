"""Pure intake rules: cells, text similarity, when two reports are one problem, signatures, mappings."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from fengqiao.intake.channels.hotline import check_mapping, map_record, parse_time
from fengqiao.intake.domain import (
    FINE_DEG, Candidate, Probe, SignatureError, area_of, cell, cells_around, distance_m, lookup_cells, rank, rule_for,
    score, sign, similarity, verify_signature,
)
from fengqiao.intake.ledger import _date
from fengqiao.errors import InvalidInput

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def test_neighbouring_cells_cover_every_point_within_the_radius() -> None:
    rng = random.Random(7)
    for _ in range(500):
        lat, lon = rng.uniform(18, 53), rng.uniform(73, 135)
        radius = rng.choice([50, 200, 300, 1000])
        which, cells = lookup_cells(lat, lon, radius)
        size = FINE_DEG if which == "fine" else 0.03
        for _ in range(5):
            # A point at most ``radius`` away in a random direction.
            d = rng.uniform(0, radius) / 111_320
            angle = rng.uniform(0, 6.283)
            import math

            plat = lat + d * math.sin(angle)
            plon = lon + d * math.cos(angle) / math.cos(math.radians(lat))
            if distance_m(lat, lon, plat, plon) <= radius:
                assert cell(plat, plon, size) in cells
    assert len(cells_around(34.0, 114.0, 50, FINE_DEG)) <= 4
    assert lookup_cells(34.0, 114.0, 2000)[0] == "coarse"


def test_area_is_the_village_of_a_region_path() -> None:
    assert area_of("/1/2/5/9/") == 5 and area_of("/1/2/5/") == 5 and area_of("/1/2/") == 2 and area_of("/") is None


def test_similar_words_score_high_and_fillers_do_not_count() -> None:
    assert similarity("人民路与解放路交叉口窨井盖丢失", "人民路与解放路交叉口的窨井盖不见了，请尽快处理") > 0.6
    assert similarity("楼上漏水到我家，物业不管", "邻居家装修噪音大，协商无果") == 0
    assert similarity("群众反映问题请求尽快处理", "市民来电反映相关问题希望尽快解决") == 0


def test_the_place_that_counts_depends_on_the_kind() -> None:
    assert rule_for("facility", "井盖丢失").radius_m == 50
    assert rule_for("dispute", "邻居噪音").radius_m == 300
    assert rule_for("dispute", "两村承包地地界纠纷").radius_m is None
    assert rule_for("petition", "反映问题").window == timedelta(days=90)


def _cand(**kw):  # type: ignore[no-untyped-def]
    base = {"case_id": 1, "kind": "facility", "text": "人民路与解放路交叉口窨井盖丢失，行人容易掉下去",
            "at": NOW - timedelta(hours=2), "lat": 34.02, "lon": 114.02, "area_id": 5}
    base.update(kw)
    return Candidate(**base)


def _probe(**kw):  # type: ignore[no-untyped-def]
    base = {"kind": "facility", "text": "人民路解放路路口井盖没了，很危险", "at": NOW, "lat": 34.0201,
            "lon": 114.0201, "area_id": 5}
    base.update(kw)
    return Probe(**base)


def test_a_manhole_reported_twice_nearby_links_automatically_with_reasons() -> None:
    m = score(_probe(), _cand())
    assert m.auto and m.distance_m is not None and m.distance_m < 20
    assert any("相距" in r for r in m.reasons) and any("小时" in r for r in m.reasons)


def test_what_does_not_link_automatically() -> None:
    assert not score(_probe(lat=34.03), _cand()).auto                       # 1.1 km away
    assert not score(_probe(at=NOW + timedelta(days=5)), _cand()).auto       # outside 3 days
    assert not score(_probe(kind="hazard"), _cand()).auto                    # another kind
    assert not score(_probe(text="小区门口垃圾堆放无人清理"), _cand()).auto  # other words


def test_the_same_person_with_similar_words_links_without_a_place() -> None:
    probe = Probe(kind="request", text="某公司拖欠我们工资三个月不发", at=NOW, phones=frozenset({"13800001111"}))
    cand = Candidate(case_id=3, kind="request", text="公司拖欠工资三个月", at=NOW - timedelta(days=3),
                     phones=frozenset({"13800001111"}))
    m = score(probe, cand)
    assert m.auto and any("同一反映人" in r and "138****1111" in r for r in m.reasons)


def test_rank_puts_automatic_links_first_and_drops_weak_candidates() -> None:
    weak = _cand(case_id=2, text="公园长椅损坏", lat=34.0203)
    ranked = rank(_probe(), [weak, _cand()])
    assert [m.case_id for m in ranked] == [1]


def test_signatures_verify_and_stale_ones_are_refused() -> None:
    body = b'{"alert_id":"1"}'
    ts = str(int(NOW.timestamp()))
    verify_signature("s3cret", ts, sign("s3cret", ts, body), body, NOW)
    with pytest.raises(SignatureError) as exc:
        verify_signature("s3cret", ts, sign("other", ts, body), body, NOW)
    assert exc.value.code == "bad_signature"
    with pytest.raises(SignatureError) as exc:
        verify_signature("s3cret", ts, sign("s3cret", ts, body), body, NOW + timedelta(minutes=6))
    assert exc.value.code == "stale_timestamp"
    with pytest.raises(SignatureError) as exc:
        verify_signature("s3cret", ts, sign("s3cret", ts, body), body + b" ", NOW)
    assert exc.value.code == "bad_signature"


def test_a_mapping_turns_their_record_into_ours_naming_their_fields() -> None:
    mapping = check_mapping({"fields": {"source_id": "gdbh", "description": "nr", "phone": "caller.tel",
                                        "discovered_at": "sj", "kind": "lx"},
                             "values": {"kind": {"纠纷": "dispute"}}}, "hotline")
    values, errors = map_record(mapping, {"gdbh": "1", "nr": "噪音扰民", "caller": {"tel": "13800001111"},
                                          "sj": "2026-11-24 08:00:00", "lx": "纠纷"})
    assert errors == [] and values["kind"] == "dispute" and values["phone"] == "13800001111"
    assert values["discovered_at"] == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    values, errors = map_record(mapping, {"gdbh": "1", "nr": "", "caller": {"tel": "1"}})
    assert {e["field"] for e in errors} == {"nr", "caller.tel"}
    assert map_record(mapping, {"gdbh": "2", "nr": "路灯坏了"})[0]["kind"] == "request"  # the channel's default
    with pytest.raises(InvalidInput) as exc:
        check_mapping({"fields": {"source_id": "a", "description": "b"}, "values": {"kind": {"x": "murder"}}}, "hotline")
    assert exc.value.field == "mapping.values.kind"


def test_times_and_dates_in_the_forms_counties_write_them() -> None:
    assert parse_time("2026-11-24T08:00:00Z", None) == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert parse_time("2026/11/24 16:00", None) == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert _date("2025年3月1日") == _date("2025/3/1") == _date("20250301") == _date("45717") == date(2025, 3, 1)
    with pytest.raises(ValueError):
        _date("去年")
