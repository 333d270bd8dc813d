"""The HTTP API on a real database: login, scoping, masking, the error format, uploads, imports."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from fengqiao.app import create_app
from fengqiao.settings import load_settings
from support import CATALOG_CSV, POINT_A, POINT_B, County, HttpPersonas

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def api(county: County, tmp_path) -> Iterator["Api"]:  # type: ignore[no-untyped-def]
    settings = load_settings(demo=True, data_dir=tmp_path, max_attachment_bytes=1024)
    with TestClient(create_app(settings, county.db)) as client:
        yield Api(client, county)


class Api(HttpPersonas):
    def new_case(self, user: str = "operator", point=POINT_A, **kw) -> dict:  # type: ignore[no-untyped-def]
        body = {"kind": "dispute", "channel": "window", "description": "楼上漏水到我家，物业不管",
                "lat": point[0], "lon": point[1], "address": "甲镇1村3组",
                "parties": [{"name": "李四", "phone": "13912345678", "id_number": "11010519491231002X"}]}
        body.update(kw)
        r = self.post(user, "/api/cases", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def move(self, user: str, case_id: int, action: str, **kw):  # type: ignore[no-untyped-def]
        return self.post(user, f"/api/cases/{case_id}/transitions", json={"action": action, **kw})


def test_login_refuses_a_wrong_password_with_the_error_format(api: Api) -> None:
    r = api.client.post("/api/auth/login", json={"username": "operator", "password": "wrong"})
    assert r.status_code == 401
    assert r.json() == {"code": "unauthorized", "message": "用户名或密码错误", "field": None}
    assert api.client.get("/api/cases").status_code == 401


def test_whole_loop_over_http(api: Api) -> None:
    case = api.new_case()
    cid = case["id"]
    assert case["state"] == "registered" and case["grid_name"] == "甲镇1村第1网格"
    assert [d["stage"] for d in case["deadlines"]] == ["report", "route"]
    r = api.move("operator", cid, "classify", catalog_item_code="T-002")
    assert r.json()["route_proposal"]["department_name"] == "县人力资源和社会保障局"
    assert api.move("operator", cid, "dispatch").json()["state"] == "dispatched"
    assert api.move("handler_renshe", cid, "accept").status_code == 200
    assert api.move("handler_renshe", cid, "start").status_code == 200
    evidence = api.post("handler_renshe", f"/api/cases/{cid}/attachments", files={"file": ("现场.png", PNG, "image/png")},
                        data={"purpose": "evidence"})
    assert evidence.status_code == 201, evidence.text
    r = api.move("handler_renshe", cid, "feedback", note="已结清工资", evidence_attachment_ids=[evidence.json()["id"]])
    assert r.json()["state"] == "handled"
    r = api.post("operator", f"/api/cases/{cid}/visits", json={"reached": True, "solved": True, "satisfaction": "满意"})
    detail = r.json()
    assert detail["state"] == "closed"
    assert [e["action"] for e in detail["timeline"]] == ["register", "classify", "dispatch", "accept", "start",
                                                         "attach", "feedback", "close"]
    assert detail["allowed_actions"] == ["reopen"]  # 反弹: only a rebound reopens a closed case


def test_illegal_move_gets_409_with_code_and_message(api: Api) -> None:
    cid = api.new_case()["id"]
    r = api.move("operator", cid, "close")
    assert r.status_code == 422 and r.json()["field"] == "action"
    r = api.move("operator", cid, "dispatch")
    assert r.status_code == 409
    assert r.json()["code"] == "illegal_transition" and "已受理" in r.json()["message"]
    r = api.move("operator", cid, "teleport")
    assert r.status_code == 422 and r.json()["field"] == "action"


def test_town_operator_cannot_read_another_towns_case_by_list_or_id(api: Api) -> None:
    in_b = api.new_case(point=POINT_B)
    in_a = api.new_case(point=POINT_A)
    listed = [c["id"] for c in api.get("operator_a", "/api/cases").json()["items"]]
    assert in_a["id"] in listed and in_b["id"] not in listed
    r = api.get("operator_a", f"/api/cases/{in_b['id']}")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert api.get("operator_a", f"/api/cases/by-number/{in_b['number']}").status_code == 404
    assert api.move("operator_a", in_b["id"], "classify", catalog_item_code="T-001").status_code == 404
    assert api.get("operator_b", f"/api/cases/{in_b['id']}").status_code == 200
    county_wide = [c["id"] for c in api.get("operator", "/api/cases").json()["items"]]
    assert {in_a["id"], in_b["id"]} <= set(county_wide)


def test_department_sees_only_its_own_cases(api: Api) -> None:
    cid = api.new_case()["id"]
    api.move("operator", cid, "classify", catalog_item_code="T-002")
    api.move("operator", cid, "dispatch")
    assert [c["id"] for c in api.get("handler_renshe", "/api/cases").json()["items"]] == [cid]
    assert api.get("handler_zhujian", "/api/cases").json()["items"] == []
    assert api.get("handler_zhujian", f"/api/cases/{cid}").status_code == 404


def test_phone_and_id_number_are_masked_for_roles_that_do_not_need_them(api: Api) -> None:
    cid = api.new_case()["id"]
    full = api.get("operator", f"/api/cases/{cid}").json()["parties"][0]
    assert full["phone"] == "13912345678" and full["id_number"] == "11010519491231002X"
    for role in ("supervisor", "leader"):
        masked = api.get(role, f"/api/cases/{cid}").json()["parties"][0]
        assert masked["phone"] == "139****5678" and masked["id_number"] == "110105********002X"


def test_role_is_checked_on_the_server(api: Api) -> None:
    cid = api.new_case()["id"]
    r = api.move("supervisor", cid, "classify", catalog_item_code="T-001")
    assert r.status_code == 409 and r.json()["code"] == "role_not_allowed"
    r = api.post("leader", "/api/cases", json={"kind": "dispute", "channel": "window", "description": "测试事项",
                                                "address": "甲镇"})
    assert r.status_code == 403
    assert api.post("operator", "/api/admin/catalog/import", files={"file": ("l.csv", CATALOG_CSV.encode())}).status_code == 403


def test_bad_input_names_the_field(api: Api) -> None:
    r = api.post("operator", "/api/cases", json={"kind": "dispute", "channel": "window", "description": "x y z",
                                                  "address": "甲镇", "parties": [{"name": "王五", "phone": "12345"}]})
    assert r.status_code == 422 and r.json()["field"] == "parties.0.phone" and "电话" in r.json()["message"]
    r = api.post("operator", "/api/cases", json={"kind": "dispute", "channel": "window", "description": "x y z",
                                                  "address": "甲镇", "parties": [{"name": "王五", "id_number": "110105194912310021"}]})
    assert r.status_code == 422 and r.json()["field"] == "parties.0.id_number" and "校验" in r.json()["message"]
    r = api.post("operator", "/api/cases", json={"kind": "murder", "channel": "window", "description": "abc"})
    assert r.status_code == 422 and r.json()["field"] == "kind"


def test_list_paginates_and_filters(api: Api) -> None:
    ids = [api.new_case()["id"] for _ in range(5)]
    api.move("operator", ids[0], "classify", catalog_item_code="T-002")
    page = api.get("operator", "/api/cases", params={"size": 2, "page": 2}).json()
    assert page["total"] == 5 and len(page["items"]) == 2
    triaged = api.get("operator", "/api/cases", params={"state": "triaged"}).json()
    assert [c["id"] for c in triaged["items"]] == [ids[0]]
    by_region = api.get("operator", "/api/cases", params={"region_id": api.county.regions["T1"].id}).json()
    assert by_region["total"] == 0
    assert api.get("operator", "/api/cases", params={"overdue": "true"}).json()["total"] == 0
    assert api.get("operator", "/api/cases", params={"size": 500}).status_code == 422


def test_attachments_refuse_wrong_type_and_size_naming_the_limit(api: Api) -> None:
    cid = api.new_case()["id"]
    r = api.post("operator", f"/api/cases/{cid}/attachments", files={"file": ("a.exe", b"MZ\x90\x00" * 10)})
    assert r.status_code == 422 and "不支持的附件类型" in r.json()["message"]
    r = api.post("operator", f"/api/cases/{cid}/attachments", files={"file": ("big.png", PNG + b"\x00" * 2048)})
    assert r.status_code == 422 and "超过上限" in r.json()["message"]
    ok = api.post("operator", f"/api/cases/{cid}/attachments", files={"file": ("p.png", PNG)}).json()
    assert ok["sha256"] and ok["content_type"] == "image/png"
    got = api.get("operator", f"/api/attachments/{ok['id']}")
    assert got.status_code == 200 and got.content == PNG
    assert api.get("operator_b", f"/api/attachments/{ok['id']}").status_code == 404


def test_catalog_import_is_all_or_nothing_with_every_error_by_row_and_column(api: Api) -> None:
    bad = CATALOG_CSV + "T-001,重复,矛盾纠纷,县住房和城乡建设局,县,3日,,\nT-009,无部门,矛盾纠纷,县交通局,省,三天,,\n"
    r = api.post("admin", "/api/admin/catalog/import", files={"file": ("bad.csv", bad.encode())})
    assert r.status_code == 422
    details = r.json()["details"]
    assert {(d["row"], d["column"]) for d in details} == {(7, "code"), (8, "department"), (8, "level"), (8, "deadline")}
    assert len(api.get("admin", "/api/catalog/versions").json()) == 1
    r = api.post("admin", "/api/admin/catalog/import", files={"file": ("ok.csv", CATALOG_CSV.encode())})
    assert r.json() == {"version": 2, "items": 5}


def test_catalog_import_from_xlsx(api: Api) -> None:
    wb = Workbook()
    ws = wb.active
    for line in CATALOG_CSV.strip().splitlines():
        ws.append(line.split(","))
    buf = io.BytesIO()
    wb.save(buf)
    r = api.post("admin", "/api/admin/catalog/import", files={"file": ("清单.xlsx", buf.getvalue())})
    assert r.status_code == 200, r.text
    items = api.get("admin", "/api/catalog/items").json()
    assert {i["code"] for i in items} == {"T-001", "T-002", "T-003", "T-004", "T-005"}


def test_region_import_is_all_or_nothing(api: Api) -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "T9", "name": "丙镇", "level": "镇", "parent_code": "C"}, "geometry": None},
        {"type": "Feature", "properties": {"code": "T9V0", "name": "丙村", "level": "村", "parent_code": "T9"}, "geometry": None},
        {"type": "Feature", "properties": {"code": "T9V0G0", "name": "丙村网格", "level": "网格", "parent_code": "T9V0"},
         "geometry": {"type": "Point", "coordinates": [114.5, 34.5]}},
        {"type": "Feature", "properties": {"code": "T9V1", "name": "", "level": "村", "parent_code": "NOPE"}, "geometry": None},
    ]}
    r = api.post("admin", "/api/admin/regions/import", files={"file": ("r.geojson", json.dumps(doc).encode())})
    assert r.status_code == 422
    assert {(d["row"], d["field"]) for d in r.json()["details"]} == {(3, "geometry"), (4, "name"), (4, "parent_code")}
    towns = api.get("admin", "/api/regions", params={"level": "town"}).json()
    assert [t["name"] for t in towns] == ["甲镇", "乙镇"]


def test_locate_and_openapi(api: Api) -> None:
    r = api.get("operator", "/api/regions/locate", params={"lat": POINT_B[0], "lon": POINT_B[1]}).json()
    assert r["grid"]["name"] == "乙镇1村第1网格" and r["town"]["name"] == "乙镇" and r["county"]["name"] == "测试县"
    spec = api.client.get("/openapi.json").json()
    assert "/api/cases/{case_id}/transitions" in spec["paths"]
    assert "ErrorBody" in spec["components"]["schemas"]


def test_triage_options_are_for_the_administrator(api: Api) -> None:
    assert api.get("admin", "/api/admin/triage").json() == {"threshold": None, "risk_grading": True}
    r = api.client.put("/api/admin/triage", headers=api.as_("admin"), json={"threshold": 0.85})
    assert r.status_code == 200 and r.json()["threshold"] == 0.85
    r = api.client.put("/api/admin/triage", headers=api.as_("admin"), json={"threshold": 0.2})
    assert r.status_code == 422 and r.json()["field"] == "threshold"
    assert api.client.put("/api/admin/triage", headers=api.as_("operator"), json={"threshold": 0.9}).status_code == 403
