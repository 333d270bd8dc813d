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
    assert page.locator("[data-test=rate]").count() == 0  # nothing to rate before the case is handled
    shot(page, "17-群众-查询进度")


def _public(server: Server, path: str, body: dict) -> dict:  # type: ignore[type-arg]
    req = urllib.request.Request(f"{server.url}{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_citizen_rates_the_handled_case_and_a_satisfied_rating_closes_it(browsers: Browsers, server: Server) -> None:
    phone = "13600004444"
    number = _public(server, "/api/public/reports", {
        "name": "李大爷", "phone": phone, "kind": "request", "address": "城关镇东关社区",
        "description": "楼道里的灯坏了一个多月，晚上上下楼看不见，老人容易摔倒"})["case_number"]
    cid = server.call("GET", "operator", f"/api/cases/by-number/{number}")["id"]
    for who, body in (("operator", {"action": "classify", "catalog_item_code": "FG-001"}),
                      ("operator", {"action": "dispatch"}), ("h_cw", {"action": "accept"}),
                      ("h_cw", {"action": "start"}),
                      ("h_cw", {"action": "feedback", "note": "已更换楼道灯泡并检查线路，现已正常照明"})):
        server.call("POST", who, f"/api/cases/{cid}/transitions", body)

    page = browsers.context(**PHONE).new_page()
    page.goto(f"{server.url}/citizen")
    page.click(".tabs button:has-text('查询进度')")
    page.fill("[data-test=t-number]", number)
    page.fill("[data-test=t-phone]", phone)
    page.click("[data-test=t-submit]")
    page.wait_for_selector("[data-test=rate]")
    assert "待回访" in page.locator(".status .big").inner_text()
    assert "已更换楼道灯泡" in page.locator(".status").inner_text()
    assert page.locator("[data-test=rate-submit]").is_disabled()  # a choice first
    page.click("[data-test=rate-good]")
    page.fill("[data-test=rate-comment]", "修得很快，谢谢社区")
    page.locator("[data-test=rate]").scroll_into_view_if_needed()
    shot(page, "22-群众-评价")
    page.click("[data-test=rate-submit]")
    page.wait_for_selector("[data-test=rate-thanks]:has-text('满意')")
    page.wait_for_selector(".status .big:has-text('已办结')")
    assert page.locator("[data-test=rate]").count() == 0
    shot(page, "23-群众-评价完成")

    after = server.call("GET", "operator", f"/api/cases/{cid}")
    assert after["state"] == "closed" and after["satisfaction"] == "满意"

    # Asking again shows the rating and offers no second one.
    page.reload()
    page.click(".tabs button:has-text('查询进度')")
    page.fill("[data-test=t-number]", number)
    page.fill("[data-test=t-phone]", phone)
    page.click("[data-test=t-submit]")
    page.wait_for_selector("[data-test=rated]:has-text('满意')")
    assert page.locator("[data-test=rate]").count() == 0


def test_grid_page_reloads_offline_from_the_cache_and_the_report_is_sent_once(browsers: Browsers,
                                                                               server: Server) -> None:
    page = browsers.login("grid_worker", "/grid", **PHONE)
    page.wait_for_selector("[data-test=net]:has-text('在线')")
    # The service worker has everything the page needs in the cache.
    page.wait_for_selector("[data-test=offline-ready]", timeout=30_000)

    page.context.set_offline(True)
    page.reload()  # without the cached shell this would be the browser's "no internet" page
    page.wait_for_selector("[data-test=net]:has-text('离线')")
    text = "村西头小桥护栏断了一截，孩子上学路过很危险（离线重开页面上报测试）"
    page.fill("[data-test=grid-desc]", text)
    page.click("[data-test=grid-submit]")
    page.wait_for_selector("[data-test=pending]:has-text('联网后自动发送')")

    page.context.set_offline(False)
    page.wait_for_selector(f"[data-test=sent-item]:has-text('{text[:8]}')")
    page.wait_for_selector("[data-test=pending]", state="detached")
    number = page.locator("[data-test=sent-item] b").first.inner_text().strip()
    found = server.call("GET", "operator", "/api/cases?q=" + urllib.request.quote("离线重开页面上报测试"))
    assert found["total"] == 1 and found["items"][0]["number"] == number
    assert server.call("GET", "operator", f"/api/cases/{found['items'][0]['id']}")["channel"] == "grid"

    page.reload()  # online again: the page comes from the network and sends nothing twice
    page.wait_for_selector("[data-test=net]:has-text('在线')")
    page.wait_for_selector("[data-test=offline-ready]")
    assert server.call("GET", "operator", "/api/cases?q=" + urllib.request.quote("离线重开页面上报测试"))["total"] == 1
    assert not page.js_errors  # type: ignore[attr-defined]
