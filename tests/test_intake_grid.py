"""网格员上报: GPS, capture time, photos; re-deliveries (also concurrent ones) give the same case."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import func, select

from fengqiao.cases.models import Attachment, Case
from fengqiao.intake import service
from fengqiao.intake.channels.grid import GridReportIn, to_incoming
from fengqiao.intake.models import IntakeDelivery, IntakePhoto, IntakeReport
from intake_support import JPEG, PNG, Api, api  # noqa: F401
from support import POINT_A, County


def test_grid_report_becomes_a_case_with_place_and_capture_time(api: Api) -> None:
    r = api.grid_report(report_id="r-0001-abc")
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["created"] and not out["replayed"] and out["state"] == "registered"
    case = api.get("operator", f"/api/cases/{out['case_id']}").json()
    assert case["channel"] == "grid" and case["grid_name"] == "甲镇1村第1网格"
    assert case["discovered_at"].startswith("2026-11-20T01:30:00")  # 09:30 China time, stored in UTC


def test_same_report_sent_again_returns_the_same_case(api: Api) -> None:
    first = api.grid_report(report_id="phone-uuid-1").json()
    again = api.grid_report(report_id="phone-uuid-1")
    assert again.status_code == 200
    assert again.json()["case_id"] == first["case_id"] and again.json()["replayed"]
    changed = api.grid_report(report_id="phone-uuid-1", description="内容改了")
    assert changed.json()["case_id"] == first["case_id"] and changed.json()["payload_differs"]
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1


def test_same_report_delivered_twice_at_the_same_moment_makes_one_case(
        county: County, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    inside = threading.Event()
    real_accept = service.accept

    def slow_accept(session, inc, now):  # type: ignore[no-untyped-def]
        # The first delivery holds its delivery row (inserted, not committed) while the twin arrives.
        if not inside.is_set():
            inside.set()
            time.sleep(0.4)
        return real_accept(session, inc, now)

    monkeypatch.setattr(service, "accept", slow_accept)
    body = GridReportIn.model_validate({"report_id": "twin-report-1", "kind": "hazard", "description": "路面塌陷",
                                        "lat": POINT_A[0], "lon": POINT_A[1],
                                        "captured_at": "2026-11-20T09:30:00+08:00"})
    results: list[service.Outcome] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            results.append(service.deliver(county.db, to_incoming(body, county.grid_worker)))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    caplog.set_level(logging.INFO, logger="fengqiao.intake.service")
    first = threading.Thread(target=send)
    first.start()
    assert inside.wait(5)
    second = threading.Thread(target=send)
    second.start()
    first.join(10)
    second.join(10)
    assert not errors, errors
    assert len({r.case_id for r in results}) == 1 and sorted(r.replayed for r in results) == [False, True]
    with county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1
        assert s.scalar(select(func.count()).select_from(IntakeDelivery)) == 1
    if county.db.is_postgres:
        # PostgreSQL let both read "not yet delivered"; the unique constraint decided.
        assert "delivery race" in caplog.text


def test_many_concurrent_redeliveries_still_make_one_case(county: County) -> None:
    body = GridReportIn.model_validate({"report_id": "storm-1", "description": "电线杆倾斜", "lat": POINT_A[0],
                                        "lon": POINT_A[1], "captured_at": "2026-11-20T09:30:00+08:00"})
    start = threading.Barrier(6)
    results: list[int] = []

    def send() -> None:
        start.wait()
        results.append(service.deliver(county.db, to_incoming(body, county.grid_worker)).case_id)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 6 and len(set(results)) == 1


def test_photos_keep_time_and_place_and_are_stored_once(api: Api) -> None:
    out = api.grid_report(report_id="with-photos").json()
    url = "/api/intake/grid/reports/with-photos/photos"
    meta = {"taken_at": "2026-11-20T09:31:00+08:00", "lat": "34.0201", "lon": "114.0202"}
    r = api.post("grid_worker", url, files={"file": ("a.jpg", JPEG, "image/jpeg")}, data=meta)
    assert r.status_code == 201, r.text
    again = api.post("grid_worker", url, files={"file": ("a.jpg", JPEG, "image/jpeg")}, data=meta)
    assert again.status_code == 200 and again.json()["photo_id"] == r.json()["photo_id"]
    api.post("grid_worker", url, files={"file": ("b.png", PNG, "image/png")})
    panel = api.get("operator", f"/api/intake/cases/{out['case_id']}").json()
    photos = panel["reports"][0]["photos"]
    assert len(photos) == 2
    assert photos[0]["taken_at"].startswith("2026-11-20T01:31:00") and photos[0]["lat"] == 34.0201
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Attachment)) == 2


def test_photos_refused_when_too_big_wrong_type_or_for_an_unknown_report(api: Api) -> None:
    api.grid_report(report_id="photo-checks")
    url = "/api/intake/grid/reports/photo-checks/photos"
    big = api.post("grid_worker", url, files={"file": ("big.jpg", JPEG + b"\x00" * 2048)})
    assert big.status_code == 422 and "超过上限" in big.json()["message"] and big.json()["field"] == "file"
    exe = api.post("grid_worker", url, files={"file": ("x.jpg", b"MZ\x90\x00" * 20)})
    assert exe.status_code == 422 and "不支持的附件类型" in exe.json()["message"]
    naive = api.post("grid_worker", url, files={"file": ("a.jpg", JPEG)}, data={"taken_at": "2026-11-20T09:31:00"})
    assert naive.status_code == 422 and naive.json()["field"] == "taken_at"
    unknown = api.post("grid_worker", "/api/intake/grid/reports/never-sent/photos", files={"file": ("a.jpg", JPEG)})
    assert unknown.status_code == 404 and unknown.json()["field"] == "report_id"
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(IntakePhoto)) == 0


def test_location_outside_the_county_is_kept_and_flagged(api: Api) -> None:
    r = api.grid_report(point=(30.0, 110.0), kind="hazard", description="外县边界处山体滑坡隐患")
    assert r.status_code == 201 and r.json()["location_outside"]
    case = api.get("operator", f"/api/cases/{r.json()['case_id']}").json()
    assert case["location_outside"] and case["lat"] == 30.0


def test_malformed_grid_reports_name_the_field(api: Api) -> None:
    r = api.grid_report(captured_at="2026-11-20T09:30:00")
    assert r.status_code == 422 and r.json()["field"] == "captured_at" and "时区" in r.json()["message"]
    r = api.grid_report(report_id="x")
    assert r.status_code == 422 and r.json()["field"] == "report_id"
    r = api.grid_report(lat=91)
    assert r.status_code == 422 and r.json()["field"] == "lat"
    r = api.grid_report(captured_at="2099-01-01T00:00:00+08:00")
    assert r.status_code == 422 and r.json()["field"] == "discovered_at"
    assert api.post("operator", "/api/intake/grid/reports", json={}).status_code == 403
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(IntakeReport)) == 0


def test_report_ids_are_per_worker(api: Api, county: County) -> None:
    from fengqiao.auth.models import Role
    from fengqiao.auth.service import create_user, principal_for

    with county.db.unit_of_work() as s:
        other = principal_for(s, create_user(s, username="grid2", password="test-password-1", display_name="网格员二",
                                             role=Role.GRID_WORKER, region_id=county.regions["T0V0G1"].id))
    body = GridReportIn.model_validate({"report_id": "same-id-1", "kind": "hazard", "description": "井盖松动",
                                        "lat": POINT_A[0] + 0.01, "lon": POINT_A[1] + 0.01,
                                        "captured_at": "2026-11-20T09:30:00+08:00"})
    mine = service.deliver(county.db, to_incoming(body, county.grid_worker))
    body2 = body.model_copy(update={"description": "化粪池盖板破损冒水", "lat": POINT_A[0] - 0.01})
    theirs = service.deliver(county.db, to_incoming(body2, other))
    assert not theirs.replayed and theirs.case_id != mine.case_id
