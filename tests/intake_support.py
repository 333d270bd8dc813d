"""Helpers for the intake tests: an HTTP client per test with personas, sources and devices."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fengqiao.app import create_app
from fengqiao.intake.domain import sign
from fengqiao.settings import load_settings
from support import POINT_A, County, HttpPersonas

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64

HOTLINE_MAPPING = {
    "fields": {"source_id": "工单编号", "description": "诉求内容", "title": "标题", "kind": "诉求类型",
               "discovered_at": "来电时间", "address": "事发地址", "reporter_name": "来电人", "phone": "来电号码",
               "lat": "位置.纬度", "lon": "位置.经度"},
    "values": {"kind": {"投诉": "request", "纠纷": "dispute", "设施": "facility"}},
}


@pytest.fixture
def api(county: County, tmp_path) -> Iterator["Api"]:  # type: ignore[no-untyped-def]
    settings = load_settings(demo=True, data_dir=tmp_path, max_attachment_bytes=1024,
                             extra={"intake.report_phone_per_hour": "3", "intake.report_ip_per_hour": "5",
                                    "intake.query_ip_per_hour": "4"})
    with TestClient(create_app(settings, county.db)) as client:
        yield Api(client, county)


class Api(HttpPersonas):
    def move(self, user: str, case_id: int, action: str, **kw: Any):  # type: ignore[no-untyped-def]
        r = self.post(user, f"/api/cases/{case_id}/transitions", json={"action": action, **kw})
        assert r.status_code == 200, r.text
        return r.json()

    def grid_report(self, point=POINT_A, report_id: str | None = None, **kw: Any):  # type: ignore[no-untyped-def]
        body = {"report_id": report_id or uuid.uuid4().hex, "kind": "facility",
                "description": "人民路与解放路交叉口窨井盖丢失，行人容易掉下去", "lat": point[0], "lon": point[1],
                "captured_at": "2026-11-20T09:30:00+08:00"}
        body.update(kw)
        return self.post("grid_worker", "/api/intake/grid/reports", json=body)

    def source(self, code: str = "zk12345", channel: str = "hotline", mapping: dict | None = None,
               **kw: Any) -> str:
        r = self.post("admin", "/api/intake/sources", json={"code": code, "name": "周口12345", "channel": channel,
                                                             "mapping": HOTLINE_MAPPING if mapping is None else mapping,
                                                             **kw})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def device(self, code: str = "cam-01", **kw: Any) -> str:
        body = {"code": code, "name": "人民路积水监测", "kind": "hazard", "lat": POINT_A[0], "lon": POINT_A[1],
                "fold_minutes": 30}
        body.update(kw)
        r = self.post("admin", "/api/intake/devices", json=body)
        assert r.status_code == 201, r.text
        return r.json()["secret"]

    def alert(self, code: str, secret: str, body: dict[str, Any], ts: int | None = None, sig: str | None = None):  # type: ignore[no-untyped-def]
        raw = json.dumps(body, ensure_ascii=False).encode()
        stamp = str(ts if ts is not None else int(time.time()))
        return self.client.post(f"/api/intake/devices/{code}/alerts", content=raw, headers={
            "Content-Type": "application/json", "X-Fengqiao-Timestamp": stamp,
            "X-Fengqiao-Signature": sig or sign(secret, stamp, raw)})
