"""12345 / 110 / 信访 orders: configurable field mapping, push and batch import, status flowing back."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import func, select

from fengqiao.cases.models import Case
from fengqiao.intake.models import IntakeOutbound
from intake_support import Api, api  # noqa: F401

ORDER = {"工单编号": "ZK2026112400017", "标题": "楼上漏水", "诉求内容": "楼上住户卫生间漏水到我家，多次协商无果",
         "诉求类型": "纠纷", "来电时间": "2026-11-24 08:15:00", "来电人": "孙七", "来电号码": "13955556666",
         "事发地址": "甲镇2村5组"}


def _push(api: Api, token: str, order: dict, code: str = "zk12345"):  # type: ignore[no-untyped-def]
    return api.client.post(f"/api/intake/sources/{code}/orders", headers={"X-Api-Key": token}, json=order)


def test_an_order_in_the_hotlines_own_field_names_becomes_a_case(api: Api) -> None:
    token = api.source()
    r = _push(api, token, ORDER)
    assert r.status_code == 201, r.text
    case = api.get("operator", f"/api/cases/{r.json()['case_id']}").json()
    assert case["channel"] == "hotline" and case["kind"] == "dispute" and case["title"] == "楼上漏水"
    assert case["parties"][0]["name"] == "孙七" and case["region_path_names"][-1] == "甲镇2村"
    assert case["discovered_at"].startswith("2026-11-24T00:15:00")  # 08:15 local
    report = api.get("operator", f"/api/intake/cases/{case['id']}").json()["reports"][0]
    assert report["phone"] == "13955556666" and report["source_ref"] == ORDER["工单编号"]
    assert api.get("leader", f"/api/intake/cases/{case['id']}").json()["reports"][0]["phone"] == "139****6666"
    again = _push(api, token, ORDER)
    assert again.status_code == 200 and again.json()["case_id"] == r.json()["case_id"]
    nested = _push(api, token, {**ORDER, "工单编号": "ZK-2", "诉求内容": "路口红绿灯坏了", "诉求类型": "投诉",
                                "位置": {"纬度": 34.03, "经度": 114.33}})
    assert nested.status_code == 201
    assert api.get("operator", f"/api/cases/{nested.json()['case_id']}").json()["lat"] == 34.03


def test_bad_orders_are_refused_naming_their_field(api: Api) -> None:
    token = api.source()
    r = _push(api, token, {**ORDER, "来电号码": "5556"})
    assert r.status_code == 422 and r.json()["field"] == "来电号码" and "电话" in r.json()["message"]
    r = _push(api, token, {k: v for k, v in ORDER.items() if k != "诉求内容"})
    assert r.status_code == 422 and r.json()["field"] == "诉求内容"
    r = _push(api, token, {**ORDER, "诉求类型": "咨询"})
    assert r.status_code == 422 and r.json()["field"] == "诉求类型" and "values.kind" in r.json()["message"]
    r = _push(api, token, {**ORDER, "来电时间": "昨天下午"})
    assert r.status_code == 422 and r.json()["field"] == "来电时间"
    r = api.client.post("/api/intake/sources/zk12345/orders", headers={"X-Api-Key": token}, content=b"{not json")
    assert r.status_code == 422
    assert _push(api, "wrong-token", ORDER).status_code == 401
    other = api.source(code="other")
    assert _push(api, other, ORDER).status_code == 401  # a token only pushes to its own source
    assert [x["reason"] for x in api.get("admin", "/api/intake/rejections").json()] == ["bad_token", "bad_token"]
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_the_mapping_is_checked_when_saved(api: Api) -> None:
    bad = {"code": "x1", "name": "x", "channel": "hotline", "mapping": {"fields": {"description": "内容"}}}
    r = api.post("admin", "/api/intake/sources", json=bad)
    assert r.status_code == 422 and r.json()["field"] == "mapping.fields.source_id"
    bad["mapping"] = {"fields": {"source_id": "id", "description": "c", "colour": "颜色"}}
    assert api.post("admin", "/api/intake/sources", json=bad).json()["field"] == "mapping.fields.colour"
    assert api.post("operator", "/api/intake/sources", json=bad).status_code == 403


def test_batch_import_with_broken_rows_imports_nothing(api: Api) -> None:
    api.source()
    csv = ("工单编号,诉求内容,诉求类型,来电号码,事发地址,来电时间\n"
           "A1,路面坑洼积水,投诉,13900001111,甲镇1村,2026-11-23 10:00:00\n"
           "A2,噪音扰民,投诉,123,甲镇1村,2026-11-23 10:00:00\n"
           "A1,重复编号,投诉,13900001111,甲镇1村,2026-11-23 10:00:00\n"
           "A4,,投诉,13900001111,甲镇1村,2026-11-23 10:00:00\n")
    r = api.post("admin", "/api/intake/sources/zk12345/import", files={"file": ("orders.csv", csv.encode())})
    assert r.status_code == 422
    assert {(d["row"], d["field"]) for d in r.json()["details"]} == {(3, "来电号码"), (4, "工单编号"), (5, "诉求内容")}
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_batch_import_from_xlsx_with_preview_and_no_duplicates(api: Api) -> None:
    token = api.source()
    _push(api, token, {**ORDER, "工单编号": "B1", "诉求内容": "小区电梯经常停运"})
    wb = Workbook()
    ws = wb.active
    ws.append(["工单编号", "诉求内容", "诉求类型", "来电号码", "事发地址"])
    ws.append(["B1", "小区电梯经常停运", "投诉", "13900001111", "甲镇1村"])
    ws.append(["B2", "菜市场占道经营", "投诉", "13900002222", "乙镇1村"])
    ws.append(["B3", "村道边有废弃冰箱", "设施", None, "乙镇2村"])
    buf = io.BytesIO()
    wb.save(buf)
    files = {"file": ("工单.xlsx", buf.getvalue())}
    preview = api.post("admin", "/api/intake/sources/zk12345/import", files=files, data={"dry_run": "true"})
    assert preview.status_code == 200, preview.text
    assert preview.json()["new"] == 2 and preview.json()["already_imported"] == 1
    r = api.post("admin", "/api/intake/sources/zk12345/import", files=files)
    assert r.status_code == 200, r.text
    assert r.json()["already_imported"] == 1 and r.json()["rows"] == 3
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 3


def test_status_changes_flow_back_to_the_hotline(api: Api) -> None:
    token = api.source()
    cid = _push(api, token, ORDER).json()["case_id"]
    api.move("operator", cid, "classify", catalog_item_code="T-001")
    api.move("operator", cid, "dispatch")
    api.move("handler_cun", cid, "accept")
    api.move("handler_cun", cid, "feedback", note="已调解，楼上修好防水")
    r = api.post("operator", f"/api/cases/{cid}/visits", json={"reached": True, "solved": True, "satisfaction": "满意"})
    assert r.json()["state"] == "closed"
    out = api.client.get("/api/intake/sources/zk12345/outbound", headers={"X-Api-Key": token}).json()
    assert [(i["action"], i["state"]) for i in out["items"]] == [
        ("register", "registered"), ("dispatch", "dispatched"), ("accept", "accepted"), ("feedback", "handled"),
        ("close", "closed")]
    assert {i["order_id"] for i in out["items"]} == {ORDER["工单编号"]}
    assert out["items"][3]["note"] == "已调解，楼上修好防水" and out["items"][0]["action_label"] == "受理"
    ack = api.client.post("/api/intake/sources/zk12345/outbound/ack", headers={"X-Api-Key": token},
                          json={"up_to": out["items"][1]["id"]})
    assert ack.json() == {"acked": 2}
    rest = api.client.get("/api/intake/sources/zk12345/outbound", headers={"X-Api-Key": token},
                          params={"after": out["items"][1]["id"]}).json()
    assert len(rest["items"]) == 3
    assert api.client.get("/api/intake/sources/zk12345/outbound").status_code == 401


def test_a_hotline_order_joining_an_existing_case_is_told_so(api: Api) -> None:
    grid = api.grid_report(kind="dispute", description="楼上住户卫生间漏水到楼下，多次协商无果",
                           point=(34.0601, 114.0601)).json()  # 甲镇2村
    token = api.source()
    r = _push(api, token, {**ORDER, "位置": {"纬度": 34.0602, "经度": 114.0602}})
    assert r.json()["case_id"] == grid["case_id"] and r.json()["linked"]
    items = api.client.get("/api/intake/sources/zk12345/outbound", headers={"X-Api-Key": token}).json()["items"]
    assert items[0]["action"] == "intake_report" and grid["case_number"] in items[0]["note"]


def test_police_and_petition_sources(api: Api) -> None:
    police = api.source(code="gaj110", channel="police", mapping={
        "fields": {"source_id": "警情编号", "description": "简要警情", "address": "发案地点", "phone": "报警电话"}})
    r = _push(api, police, {"警情编号": "J110-1", "简要警情": "邻里因停车位发生口角，已现场劝解，移交调解",
                            "发案地点": "乙镇1村", "报警电话": "13600001234"}, code="gaj110")
    assert r.status_code == 201, r.text
    case = api.get("operator", f"/api/cases/{r.json()['case_id']}").json()
    assert case["kind"] == "police" and case["channel"] == "police"
    petition = api.source(code="xfj", channel="petition", mapping={
        "fields": {"source_id": "信访件编号", "description": "信访事项"}})
    r = _push(api, petition, {"信访件编号": "XF-9", "信访事项": "反映征地补偿款未发放到位"}, code="xfj")
    assert r.status_code == 201 and api.get("operator", f"/api/cases/{r.json()['case_id']}").json()["kind"] == "petition"
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(IntakeOutbound)) == 2
