"""群众自报: a public report, following it by number plus phone, rate limits shared by every process."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fengqiao.app import create_app
from fengqiao.cases.models import Case
from fengqiao.settings import load_settings
from intake_support import Api, api  # noqa: F401

REPORT = {"name": "赵六", "phone": "13811112222", "description": "小区门口路灯坏了一个月，晚上很黑",
          "address": "甲镇1村幸福小区"}


def test_citizen_reports_and_follows_the_case_by_number_and_phone(api: Api) -> None:
    r = api.client.post("/api/public/reports", json=REPORT)
    assert r.status_code == 201, r.text
    number = r.json()["case_number"]
    assert number in r.json()["message"] and "手机号" in r.json()["message"]
    case = api.get("operator", f"/api/cases/by-number/{number}").json()
    assert case["channel"] == "wechat" and case["region_path_names"][-1] == "甲镇1村"  # placed from the address
    api.move("operator", case["id"], "classify", catalog_item_code="T-003")
    api.move("operator", case["id"], "dispatch")
    status = api.client.get(f"/api/public/cases/{number}", params={"phone": "13811112222"})
    assert status.status_code == 200
    body = status.json()
    assert body["state_label"] == "已交办" and body["department"] == "县住房和城乡建设局"
    assert [s["label"] for s in body["steps"]] == ["已受理", "已交办：县住房和城乡建设局"]
    assert body["expected_at"] is not None and "赵六" not in status.text
    wrong = api.client.get(f"/api/public/cases/{number}", params={"phone": "13900000000"})
    missing = api.client.get("/api/public/cases/20990101-0001", params={"phone": "13811112222"})
    assert wrong.status_code == missing.status_code == 404 and wrong.json() == missing.json()


def test_a_retried_submission_is_one_case(api: Api) -> None:
    first = api.client.post("/api/public/reports", json={**REPORT, "client_id": "h5-7f3a9c"})
    again = api.client.post("/api/public/reports", json={**REPORT, "client_id": "h5-7f3a9c"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["case_number"] == first.json()["case_number"] and again.json()["replayed"]


def test_too_many_reports_from_one_phone_get_429_with_retry_after(api: Api) -> None:
    for i in range(3):  # the test limit: 3 per phone per hour
        r = api.client.post("/api/public/reports", json={**REPORT, "description": f"第{i}件：{REPORT['description']}"})
        assert r.status_code in (200, 201), r.text
    r = api.client.post("/api/public/reports", json=REPORT)
    assert r.status_code == 429
    assert r.json()["code"] == "rate_limited" and r.json()["field"] == "phone"
    assert "同一手机号每小时最多 3 次" in r.json()["message"] and "分钟后再试" in r.json()["message"]
    assert 0 < int(r.headers["Retry-After"]) <= 3600
    other = api.client.post("/api/public/reports", json={**REPORT, "phone": "13811113333"})
    assert other.status_code == 201


def test_the_address_limit_holds_across_server_processes(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A second app on the same database stands for a second server process.
    settings = load_settings(demo=True, data_dir=tmp_path, extra={"intake.report_ip_per_hour": "5"})
    with TestClient(create_app(settings, api.county.db)) as other:
        codes = []
        for i in range(6):
            client = api.client if i % 2 else other
            codes.append(client.post("/api/public/reports", json={**REPORT, "phone": f"1381111{i:04d}"}).status_code)
    assert codes[:5] == [201] * 5 and codes[5] == 429
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) <= 5


def test_status_lookups_are_limited_per_address(api: Api) -> None:
    codes = [api.client.get("/api/public/cases/20260101-0001", params={"phone": "13811112222"}).status_code
             for _ in range(5)]
    assert codes == [404, 404, 404, 404, 429]


def test_bad_public_input_names_the_field(api: Api) -> None:
    r = api.client.post("/api/public/reports", json={**REPORT, "phone": "12345"})
    assert r.status_code == 422 and r.json()["field"] == "phone"
    r = api.client.post("/api/public/reports", json={**REPORT, "description": "短"})
    assert r.status_code == 422 and r.json()["field"] == "description"
    r = api.client.post("/api/public/reports", json={**REPORT, "kind": "petition"})
    assert r.status_code == 422 and r.json()["field"] == "kind"
    r = api.client.post("/api/public/reports", json={**REPORT, "address": None})
    assert r.status_code == 422 and r.json()["field"] == "address"


def _handled_case(api: Api) -> str:
    number = api.client.post("/api/public/reports", json=REPORT).json()["case_number"]
    cid = api.get("operator", f"/api/cases/by-number/{number}").json()["id"]
    api.move("operator", cid, "classify", catalog_item_code="T-003")
    api.move("operator", cid, "dispatch")
    for action in ("accept", "start"):
        api.move("handler_zhujian", cid, action)
    api.move("handler_zhujian", cid, "feedback", note="路灯已更换")
    return number


def test_citizen_rating_satisfied_closes_the_case_and_counts_once(api: Api) -> None:
    number = _handled_case(api)
    status = api.client.get(f"/api/public/cases/{number}", params={"phone": REPORT["phone"]}).json()
    assert status["can_rate"] is True and status["rating"] is None
    r = api.client.post(f"/api/public/cases/{number}/rating",
                        json={"phone": REPORT["phone"], "satisfaction": "满意", "comment": "修得很快"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "closed" and r.json()["rating"]["satisfaction"] == "满意" and not r.json()["can_rate"]
    case = api.get("operator", f"/api/cases/by-number/{number}").json()
    assert case["outcome"] == "solved" and case["satisfaction"] == "满意"
    assert [e["action"] for e in case["timeline"]][-2:] == ["close", "citizen_rating"]
    again = api.client.post(f"/api/public/cases/{number}/rating", json={"phone": REPORT["phone"], "satisfaction": "满意"})
    assert again.status_code == 409 and again.json()["code"] == "already_rated"


def test_citizen_rating_dissatisfied_reopens_and_wrong_phone_or_early_rating_is_refused(api: Api) -> None:
    early = api.client.post("/api/public/reports", json={**REPORT, "phone": "13822223333"}).json()["case_number"]
    r = api.client.post(f"/api/public/cases/{early}/rating", json={"phone": "13822223333", "satisfaction": "满意"})
    assert r.status_code == 409 and r.json()["code"] == "not_ready"
    number = _handled_case(api)
    wrong = api.client.post(f"/api/public/cases/{number}/rating", json={"phone": "13900000000", "satisfaction": "满意"})
    assert wrong.status_code == 404
    bad = api.client.post(f"/api/public/cases/{number}/rating", json={"phone": REPORT["phone"], "satisfaction": "还行"})
    assert bad.status_code == 422 and bad.json()["field"] == "satisfaction"
    r = api.client.post(f"/api/public/cases/{number}/rating", json={"phone": REPORT["phone"], "satisfaction": "不满意"})
    assert r.status_code == 200 and r.json()["state"] == "in_progress"
