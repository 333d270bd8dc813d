"""Phone-sized pages: a grid worker's report made offline is sent once when the network returns; citizens."""

from __future__ import annotations

import json
import urllib.request

from tests.e2e.conftest import Browsers, Server, shot
from tests.e2e.test_closed_loop import _png

PHONE = {"width": 390, "height": 844, "mobile": True}


def test_offline_grid_report_is_sent_when_the_network_returns_and_appears_once(browsers: Browsers,
                                                                               server: Server) -> None:
    page = browsers.login("grid_worker", "/grid", geolocation={"latitude": 34.07, "longitude": 114.40},
                          permissions=["geolocation"], **PHONE)
    page.wait_for_selector("[data-test=net]:has-text('在线')")
    text = "东关社区南街路灯杆倾斜，随时可能倒下（离线上报测试）"
    page.context.set_offline(True)
    page.wait_for_selector("[data-test=net]:has-text('离线')")
    page.fill("[data-test=grid-desc]", text)
    page.click("[data-test=gps]")
    page.wait_for_selector("[data-test=gps]:has-text('已定位')")
    page.locator("[data-test=grid-photo]").set_input_files(
        [{"name": "路灯.png", "mimeType": "image/png", "buffer": _png()}])
    page.click("[data-test=grid-submit]")
    page.wait_for_selector("[data-test=pending]:has-text('联网后自动发送')")
    shot(page, "12-网格员-离线待发")
    assert page.evaluate("async () => (await new Promise(r => { const q = indexedDB.open('fengqiao-grid', 1);"
                         " q.onsuccess = () => { const t = q.result.transaction('outbox').objectStore('outbox').count();"
                         " t.onsuccess = () => r(t.result) } }))") == 1

    page.context.set_offline(False)
    page.wait_for_selector("[data-test=sent-item]")
    page.wait_for_selector("[data-test=pending]", state="detached")
    number = page.locator("[data-test=sent-item] b").first.inner_text().strip()
    shot(page, "13-网格员-已发送")

    found = server.call("GET", "operator", "/api/cases?q=" + urllib.request.quote("路灯杆倾斜"))
    assert found["total"] == 1 and found["items"][0]["number"] == number
    detail = server.call("GET", "operator", f"/api/cases/{found['items'][0]['id']}")
    assert detail["channel"] == "grid" and detail["grid_name"] and len(detail["attachments"]) == 1

    # Reloading the page after the send must not send it again.
    page.reload()
    page.wait_for_selector("[data-test=net]:has-text('在线')")
    page.wait_for_timeout(500)
    assert server.call("GET", "operator", "/api/cases?q=" + urllib.request.quote("路灯杆倾斜"))["total"] == 1
    page.click("nav button:has-text('我的积分')")
    page.wait_for_selector("[data-test=points]:not(:has-text('—'))")
    shot(page, "14-网格员-积分")


def test_grid_report_resent_with_the_same_id_is_the_same_case(server: Server) -> None:
    import pytest

    spec = json.loads(urllib.request.urlopen(f"{server.url}/openapi.json").read())
    path = next((p for p, ops in spec["paths"].items()
                 if "GridReportIn" in json.dumps(ops.get("post", {}).get("requestBody", {}))), None)
    if path is None:
        pytest.skip("受理渠道模块（issue 3）尚未提供网格员上报接口")
    body = {"report_id": "e2e-same-id-0001", "kind": "hazard", "description": "同一编号重发测试",
            "captured_at": "2026-01-05T09:00:00+08:00", "lat": 34.07, "lon": 114.40}
    first = server.call("POST", "grid_worker", path, body)
    again = server.call("POST", "grid_worker", path, body)
    assert (first.get("case_id") or first.get("id")) == (again.get("case_id") or again.get("id"))


def test_citizen_page_is_in_plain_large_chinese(browsers: Browsers, server: Server) -> None:
    ctx = browsers.context(**PHONE)
    page = ctx.new_page()
    page.goto(f"{server.url}/citizen")
    page.wait_for_selector("text=我要反映")
    page.wait_for_timeout(500)
    shot(page, "15-群众-反映问题")
    size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.phone')).fontSize)")
    assert size >= 20
    page.fill("[data-test=c-name]", "陈大娘")
    page.fill("[data-test=c-phone]", "13600002222")
    page.fill("[data-test=c-desc]", "小区门口的下水道井盖坏了，晚上很危险")
    page.fill("[data-test=c-addr]", "城关镇东关社区")
    page.click("[data-test=c-submit]")
    number = page.locator("[data-test=c-number]").inner_text().strip()
    assert len(number) == 12
    shot(page, "16-群众-已受理")
    page.click("text=查看进度")
    page.wait_for_selector(".status .big")
    assert "已受理" in page.locator(".status").inner_text()
    shot(page, "17-群众-查询进度")
