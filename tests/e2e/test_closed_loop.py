"""The closed loop in the browser: walk-in, dispatch, department, return visit; two returns to 审定."""

from __future__ import annotations

import re

from tests.e2e.conftest import Browsers, Server, shot

ID_NUMBER = "11010519491231002X"


def _pick(page, test_id: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Choose an option of an Element Plus select by typing part of its label."""
    page.click(f"[data-test={test_id}]")
    page.keyboard.type(text)
    page.locator(".el-select-dropdown__item:visible", has_text=text).first.click()


def _fill(page, test_id: str, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type into an Element Plus input or textarea (its data-test may sit on the field or around it)."""
    page.locator(f"[data-test={test_id}]").locator(
        "xpath=descendant-or-self::*[self::input or self::textarea]").first.fill(text)


def _row(page, number: str):  # type: ignore[no-untyped-def]
    return page.locator(".el-table__body tr", has_text=number).first


def _state(page) -> str:  # type: ignore[no-untyped-def]
    return page.locator("[data-test=case-state]").inner_text().strip()


def test_walk_in_is_dispatched_handled_visited_and_closed(browsers: Browsers, server: Server) -> None:
    op = browsers.login("operator", "/intake")
    op.wait_for_selector("text=既往事项")
    _fill(op, "description", "邻居家装修噪音大，晚上十点后还在敲打，协商无果，请求调解")
    _fill(op, "party-name-0", "张秀英")
    _fill(op, "party-phone-0", "13812345678")
    _fill(op, "party-id-0", "110105194912310021")
    _fill(op, "address", "城关镇东关社区南街12号")
    op.click("[data-test=submit]")
    op.wait_for_selector("text=身份证号校验位不正确")  # checked before anything is sent
    _fill(op, "party-id-0", ID_NUMBER)
    canvas = op.locator(".county-map canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    assert box is not None
    op.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    op.wait_for_selector("text=网格")
    op.locator("[data-test=files]").set_input_files(
        [{"name": "现场.png", "mimeType": "image/png", "buffer": _png()}])
    shot(op, "01-受理窗口")
    op.click("[data-test=submit]")
    number = op.locator("[data-test=new-number]").inner_text().strip()
    assert re.fullmatch(r"\d{12}", number)
    op.click("[data-test=open-case]")
    op.wait_for_selector("[data-test=case-state]")
    assert _state(op) == "已受理"
    assert op.locator(".att img").count() == 1

    # 分流台: classify and dispatch in one dialog.
    op.goto(f"{server.url}/queue")
    row = _row(op, number)
    row.wait_for()
    shot(op, "02-分流台")
    row.locator("[data-test=adjust]").click()
    _pick(op, "item-select", "FG-002")
    op.click("[data-test=confirm]")
    op.wait_for_selector(f".el-message--success:has-text('{number}')")
    detail = server.call("GET", "operator", f"/api/cases/by-number/{number}")
    assert detail["state"] == "dispatched" and detail["department_name"] == "村（社区）委员会"

    # 部门待办: accept, handle, report back with a photo.
    h = browsers.login("h_cw", "/inbox")
    row = _row(h, number)
    row.wait_for()
    shot(h, "03-部门待办")
    row.locator("[data-test=accept]").click()
    _row(h, number).locator("[data-test=start]").wait_for()
    _row(h, number).locator("[data-test=start]").click()
    _row(h, number).locator("[data-test=feedback]").wait_for()
    _row(h, number).locator("[data-test=feedback]").click()
    _fill(h, "note", "已上门调解，双方约定晚九点后停工，签订调解协议")
    h.locator("[data-test=evidence]").set_input_files(
        [{"name": "调解现场.png", "mimeType": "image/png", "buffer": _png()}])
    shot(h, "04-办理反馈")
    h.click("[data-test=confirm]")
    # The earlier 签收/开始处置 messages carry the number too: wait for this action's own message.
    h.wait_for_selector(f".el-message--success:has-text('已办理反馈：{number}')")
    assert server.call("GET", "operator", f"/api/cases/{detail['id']}")["state"] == "handled"

    # 回访: reached, solved, satisfied → closed.
    op.goto(f"{server.url}/visits")
    row = _row(op, number)
    row.wait_for()
    assert "138" in row.inner_text()  # the operator sees the number to call
    shot(op, "05-回访")
    row.locator("[data-test=reached]").click()
    op.click("[data-test=visit-save]")
    op.wait_for_selector(f".el-message--success:has-text('{number}')")

    op.goto(f"{server.url}/cases/{detail['id']}")
    op.wait_for_selector("[data-test=case-state]")
    assert _state(op) == "已办结"
    timeline = op.locator(".el-timeline").inner_text()
    for step in ("登记受理", "分类", "分流交办", "签收", "开始处置", "办理反馈", "办结"):
        assert step in timeline
    assert op.locator(".att").count() == 2
    shot(op, "06-事项详情-已办结")
    assert not op.js_errors and not h.js_errors  # type: ignore[attr-defined]


def test_department_returns_twice_and_the_centre_decides(browsers: Browsers, server: Server) -> None:
    case = server.call("POST", "operator", "/api/cases", {
        "kind": "dispute", "channel": "hotline", "description": "两户因宅基地边界界桩位置争执，多次协商未果",
        "address": "城关镇西关社区", "parties": [{"name": "王建国", "phone": "13987654321"}]})
    cid, number = case["id"], case["number"]
    server.call("POST", "operator", f"/api/cases/{cid}/transitions", {"action": "classify", "catalog_item_code": "FG-001"})
    server.call("POST", "operator", f"/api/cases/{cid}/transitions", {"action": "dispatch"})

    h = browsers.login("h_cw", "/inbox")
    op = browsers.login("operator", "/queue")
    for attempt in (1, 2):
        h.reload()
        row = _row(h, number)
        row.wait_for()
        row.locator("[data-test=return]").click()
        _fill(h, "note", f"宅基地确权不属村委会职责（第{attempt}次退回）")
        if attempt == 2:
            shot(h, "07-退回理由")
        h.click("[data-test=confirm]")
        h.wait_for_selector(f".el-message--success:has-text('{number}')")
        h.locator(".el-message").first.wait_for(state="detached")
        if attempt == 1:
            op.reload()
            row = _row(op, number)
            row.wait_for()
            assert "已退回" in row.inner_text()
            row.locator("[data-test=quick-dispatch]").click()
            op.wait_for_selector(f".el-message--success:has-text('{number}')")

    op.reload()
    row = _row(op, number)
    row.wait_for()
    assert "待审定" in row.inner_text() and "退回 2 次" in row.inner_text()
    assert row.locator("[data-test=quick-dispatch]").count() == 0  # only the centre's decision is offered
    shot(op, "08-分流台-待审定")
    row.locator("[data-test=decide]").click()
    _fill(op, "note", "经审定，由村委会先行调处，镇司法所配合")
    op.click("[data-test=confirm]")
    op.wait_for_selector(f".el-message--success:has-text('{number}')")
    after = server.call("GET", "operator", f"/api/cases/{cid}")
    assert after["state"] == "dispatched" and after["arbitrated"] is True

    h.reload()
    row = _row(h, number)
    row.wait_for()
    assert row.locator("[data-test=accept]").count() == 1
    assert row.locator("[data-test=return]").count() == 0  # a decided case cannot be returned again
    h.goto(f"{server.url}/cases/{cid}")
    h.wait_for_selector("[data-test=case-state]")
    assert "已审定" in h.locator(".page-head").inner_text()
    assert h.locator("[data-test=act-return]").count() == 0
    shot(h, "09-事项详情-已审定")


def _png() -> bytes:
    """A small real PNG (a red square) made without image libraries."""
    import struct
    import zlib

    width = height = 24
    raw = b"".join(b"\x00" + b"\xd0\x30\x50" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
