"""One case per problem: automatic links with reasons, candidates for the operator, merge, split, 重复访."""

from __future__ import annotations

from sqlalchemy import func, select

from fengqiao.cases.models import Case, CaseLink, Party
from fengqiao.intake.models import IntakeReport
from intake_support import HOTLINE_MAPPING, Api, api  # noqa: F401
from support import POINT_A, POINT_B

NEAR_A = (POINT_A[0] + 0.0001, POINT_A[1] + 0.0001)  # ≈ 14 m away


def test_two_reports_of_one_manhole_become_one_case_with_two_reports(api: Api) -> None:
    first = api.grid_report().json()
    second = api.grid_report(point=NEAR_A, description="人民路解放路路口井盖没了，很危险").json()
    assert second["case_id"] == first["case_id"] and second["linked"] and not second["created"]
    assert "相距" in second["link_reason"] and "米" in second["link_reason"]
    panel = api.get("operator", f"/api/intake/cases/{first['case_id']}").json()
    assert [r["link"] for r in panel["reports"]] == ["origin", "auto"]
    timeline = api.get("operator", f"/api/cases/{first['case_id']}").json()["timeline"]
    # An open manhole can hurt someone: triage raises the risk on arrival (中), then the second report links.
    assert [e["action"] for e in timeline] == ["register", "grade_risk", "intake_report"]


def test_different_problems_stay_apart(api: Api) -> None:
    first = api.grid_report().json()
    far = api.grid_report(point=(POINT_A[0] + 0.01, POINT_A[1])).json()  # 1.1 km away
    other_kind = api.grid_report(point=NEAR_A, kind="dispute", description="两户人家因宅前排水沟堵塞发生争吵").json()
    unlike = api.grid_report(point=NEAR_A, description="小区门口垃圾堆放无人清理").json()
    assert len({first["case_id"], far["case_id"], other_kind["case_id"], unlike["case_id"]}) == 4


def test_land_disputes_link_across_the_village(api: Api) -> None:
    # Two grids of the same village, ≈ 3 km apart: for a land dispute the village is the place.
    a = api.grid_report(point=(34.01, 114.01), kind="dispute", description="张庄村与李庄村因承包地边界发生纠纷，双方争吵")
    b = api.grid_report(point=(34.04, 114.07), kind="dispute", description="张庄村和李庄村承包地地界争议，双方多次争吵")
    assert b.json()["case_id"] == a.json()["case_id"] and "同一村" in b.json()["link_reason"]


def test_operator_sees_candidates_with_reasons_and_merges(api: Api) -> None:
    # Worded differently and 120 m apart: not linked on its own, shown as a candidate.
    first = api.grid_report(kind="hazard", description="人民路东段行道树倾斜，随时可能倒下").json()
    second = api.grid_report(point=(POINT_A[0] + 0.001, POINT_A[1]), kind="hazard",
                             description="人民路一棵大树歪了快倒了，请派人看看").json()
    assert second["case_id"] != first["case_id"]
    cands = api.get("operator", f"/api/intake/cases/{second['case_id']}/candidates").json()
    assert [c["case_id"] for c in cands] == [first["case_id"]]
    assert any("相距" in r for r in cands[0]["reasons"]) and cands[0]["score"] > 0
    r = api.post("operator", f"/api/intake/cases/{first['case_id']}/merge",
                 json={"other_case_id": second["case_id"], "note": "同一棵树"})
    assert r.status_code == 200, r.text
    assert [x["link"] for x in r.json()["reports"]] == ["origin", "merged"]
    merged = api.get("operator", f"/api/cases/{second['case_id']}").json()
    assert merged["state"] == "void" and merged["links"][0]["number"] == first["case_number"]
    # A re-delivery of the merged report now answers with the surviving case.
    panel_report = r.json()["reports"][1]
    assert panel_report["source_ref"]
    again = api.grid_report(report_id=panel_report["source_ref"])
    assert again.json()["case_id"] == first["case_id"] and again.json()["replayed"]
    assert api.get("operator", f"/api/intake/cases/{first['case_id']}/candidates").json() == []


def test_merge_refuses_a_case_already_dispatched(api: Api) -> None:
    a = api.grid_report(kind="hazard", description="桥栏杆断裂").json()
    b = api.grid_report(point=POINT_B, kind="hazard", description="桥栏杆断了").json()
    api.move("operator", b["case_id"], "classify", catalog_item_code="T-003")
    api.move("operator", b["case_id"], "dispatch")
    r = api.post("operator", f"/api/intake/cases/{a['case_id']}/merge", json={"other_case_id": b["case_id"]})
    assert r.status_code == 409 and r.json()["field"] == "other_case_id" and "关联" in r.json()["message"]
    assert api.post("handler_zhujian", f"/api/intake/cases/{a['case_id']}/merge",
                    json={"other_case_id": b["case_id"]}).status_code == 403


def test_an_automatic_link_can_be_undone(api: Api) -> None:
    first = api.grid_report().json()
    second = api.grid_report(point=NEAR_A, description="人民路解放路路口井盖没了，很危险").json()
    assert second["linked"]
    r = api.post("operator", f"/api/intake/reports/{second['report_id']}/split", json={"note": "是另一个井盖"})
    assert r.status_code == 201, r.text
    new_id = r.json()["case_id"]
    assert new_id != first["case_id"]
    assert [x["id"] for x in api.get("operator", f"/api/intake/cases/{first['case_id']}").json()["reports"]] \
        == [first["report_id"]]
    moved = api.get("operator", f"/api/intake/cases/{new_id}").json()["reports"]
    assert [(x["id"], x["link"]) for x in moved] == [(second["report_id"], "split")]
    events = [e["action"] for e in api.get("operator", f"/api/cases/{first['case_id']}").json()["timeline"]]
    assert events[-1] == "intake_split"
    again = api.post("operator", f"/api/intake/reports/{first['report_id']}/split", json={})
    assert again.status_code == 409


def test_a_person_who_keeps_coming_back_is_recognised_across_channels(api: Api) -> None:
    phone = "13700001111"
    api.source()
    token = api.source(code="zk-b", mapping=HOTLINE_MAPPING)
    r = api.client.post("/api/intake/sources/zk-b/orders", headers={"X-Api-Key": token}, json={
        "工单编号": "GD-1", "诉求内容": "小区物业乱收停车费", "诉求类型": "投诉", "来电人": "王五", "来电号码": phone,
        "事发地址": "甲镇1村"})
    assert r.status_code == 201 and r.json()["earlier_visits"] == 0
    r = api.client.post("/api/public/reports", json={"name": "王五", "phone": phone,
                                                      "description": "楼道里电动车充电，很危险", "address": "乙镇2村"})
    assert r.status_code == 201, r.text
    window = api.post("operator", "/api/intake/window", json={
        "kind": "dispute", "channel": "window", "description": "与邻居因漏水发生纠纷", "address": "甲镇2村",
        "parties": [{"name": "王五", "phone": phone}]})
    assert window.status_code == 201, window.text
    body = window.json()
    assert body["intake"]["earlier_visits"] == 2
    person = body["people"][0]
    assert person["visits"] == 2 and len(person["cases"]) == 2
    history = api.get("operator", "/api/intake/people", params={"phone": phone}).json()
    assert history["visits"] == 3 and history["cases_total"] == 3
    # The town operator sees the count, but only the cases in their own town.
    town = api.get("operator_a", "/api/intake/people", params={"phone": phone}).json()
    assert town["visits"] == 3 and len(town["cases"]) < 3


def test_window_shows_candidates_but_never_links_on_its_own(api: Api) -> None:
    first = api.grid_report().json()
    r = api.post("operator", "/api/intake/window", json={
        "kind": "facility", "channel": "window", "description": "人民路与解放路交叉口窨井盖丢失",
        "lat": NEAR_A[0], "lon": NEAR_A[1], "address": "人民路", "source_id": "CK-0001"})
    assert r.status_code == 201, r.text
    assert r.json()["intake"]["created"] and r.json()["candidates"][0]["case_id"] == first["case_id"]
    again = api.post("operator", "/api/intake/window", json={
        "kind": "facility", "channel": "window", "description": "人民路与解放路交叉口窨井盖丢失",
        "lat": NEAR_A[0], "lon": NEAR_A[1], "address": "人民路", "source_id": "CK-0001"})
    assert again.json()["intake"]["replayed"]


def test_cases_registered_by_the_case_api_are_found_too(api: Api) -> None:
    r = api.post("operator", "/api/cases", json={"kind": "facility", "channel": "window", "address": "人民路",
                                                  "description": "人民路与解放路交叉口窨井盖丢失", "lat": POINT_A[0],
                                                  "lon": POINT_A[1]})
    grid = api.grid_report(point=NEAR_A).json()
    assert grid["case_id"] == r.json()["id"] and grid["linked"]
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1
        assert s.scalar(select(func.count()).select_from(IntakeReport)) == 1
        assert s.scalar(select(func.count()).select_from(CaseLink)) == 0
        assert s.scalar(select(func.count()).select_from(Party)) == 0


def test_lookups_stay_inside_the_time_window(api: Api) -> None:
    from datetime import timedelta

    from fengqiao.cases.service import register
    from fengqiao.db import utcnow
    from support import walk_in

    with api.county.db.unit_of_work() as s:
        old = register(s, api.county.operator, walk_in(description="两户因宅前排水沟堵塞发生争吵"),
                       now=utcnow() - timedelta(days=40))
        old_id = old.id
    fresh = api.grid_report(kind="dispute", description="两户因宅前排水沟堵塞发生争吵").json()
    assert fresh["created"] and fresh["case_id"] != old_id
    assert api.get("operator", f"/api/intake/cases/{fresh['case_id']}/candidates").json() == []


def test_an_address_places_a_report_in_its_village(api: Api) -> None:
    from fengqiao.intake.service import region_from_address

    with api.county.db.read() as s:
        assert region_from_address(s, "甲镇2村东头 5 号") == api.county.regions["T0V1"].id
        assert region_from_address(s, "乙镇政府门口") == api.county.regions["T1"].id
        assert region_from_address(s, "人民路 3 号") is None
