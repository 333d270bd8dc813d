"""智能监测设备预警: signed webhooks; bad signatures refused and logged; repeated alerts fold into one case."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import func, select

from fengqiao.cases.models import Case
from fengqiao.intake.models import IntakeReport
from intake_support import Api, api  # noqa: F401

ALERT = {"alert_id": "A-1", "type": "water_level", "message": "下穿隧道积水深度 35 厘米", "level": "high"}


def test_a_signed_alert_becomes_a_case(api: Api) -> None:
    secret = api.device()
    r = api.alert("cam-01", secret, ALERT)
    assert r.status_code == 201, r.text
    case = api.get("operator", f"/api/cases/{r.json()['case_id']}").json()
    assert case["channel"] == "device" and case["kind"] == "hazard" and case["risk"] == "高"
    assert case["grid_name"] == "甲镇1村第1网格" and "water_level" in case["title"]
    again = api.alert("cam-01", secret, ALERT)
    assert again.status_code == 200 and again.json()["replayed"]


def test_bad_or_stale_signatures_are_refused_and_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    secret = api.device()
    caplog.set_level(logging.WARNING, logger="fengqiao.intake.channels.device")
    r = api.alert("cam-01", secret, ALERT, sig="sha256=" + "0" * 64)
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    r = api.alert("cam-01", "another-secret", ALERT)
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    r = api.alert("cam-01", secret, ALERT, ts=int(time.time()) - 3600)
    assert r.status_code == 401 and r.json()["code"] == "stale_timestamp"
    r = api.client.post("/api/intake/devices/cam-01/alerts", json=ALERT)
    assert r.status_code == 401 and r.json()["code"] == "signature_missing"
    r = api.alert("no-such-device", secret, ALERT)
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    assert caplog.text.count("device delivery refused") == 5
    logged = api.get("admin", "/api/intake/rejections").json()
    assert [x["reason"] for x in logged] == ["unknown_device", "signature_missing", "stale_timestamp",
                                             "bad_signature", "bad_signature"]
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_repeated_alerts_about_one_thing_fold_into_one_case(api: Api) -> None:
    secret = api.device()
    first = api.alert("cam-01", secret, ALERT).json()
    second = api.alert("cam-01", secret, {**ALERT, "alert_id": "A-2", "message": "积水深度 50 厘米"}).json()
    assert second["case_id"] == first["case_id"] and second["linked"] and "30 分钟内合并" in second["link_reason"]
    smoke = api.alert("cam-01", secret, {**ALERT, "alert_id": "A-3", "type": "smoke", "message": "隧道内检测到烟雾"})
    assert smoke.json()["case_id"] != first["case_id"]
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(IntakeReport).where(
            IntakeReport.case_id == first["case_id"])) == 2


def test_an_alert_after_the_window_or_on_a_closed_case_opens_a_new_case(api: Api) -> None:
    secret = api.device(fold_minutes=0)
    first = api.alert("cam-01", secret, ALERT).json()
    second = api.alert("cam-01", secret, {**ALERT, "alert_id": "A-2", "type": "crowd",
                                          "message": "广场人员聚集超过 500 人"}).json()
    assert second["case_id"] != first["case_id"]


def test_malformed_alerts_name_the_field(api: Api) -> None:
    secret = api.device()
    r = api.alert("cam-01", secret, {"alert_id": "A-9", "type": "smoke"})
    assert r.status_code == 422 and r.json()["field"] == "message"
    r = api.alert("cam-01", secret, {**ALERT, "level": "catastrophic"})
    assert r.status_code == 422 and r.json()["field"] == "level"
    r = api.post("admin", "/api/intake/devices", json={"code": "cam-02", "name": "无位置"})
    assert r.status_code == 422 and r.json()["field"] == "lat"
