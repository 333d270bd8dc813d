"""The remaining desk screens render for their roles, offer only what the role may do, and are in Chinese."""

from __future__ import annotations

import re

from tests.e2e.conftest import Browsers, Server, shot

BAD_CATALOG = "code,name,category,department,level,deadline,basis,description\nX-1,测试,矛盾纠纷,不存在的局,村,5工作日,,\n"


def test_supervision_board_sends_the_next_action_in_one_click(browsers: Browsers, server: Server) -> None:
    page = browsers.login("supervisor", "/supervision")
    page.wait_for_selector(".el-table__body tr")
    assert int(page.locator("[data-test=sup-overdue]").inner_text()) > 0
    row = page.locator(".el-table__body tr").first
    number = row.locator("a").first.inner_text().strip()
    shot(page, "18-督办")
    row.locator(".el-dropdown .el-button").first.click()
    page.wait_for_selector(f".el-message--success:has-text('{number}')")
    actions = server.call("GET", "supervisor", "/api/supervision/actions?size=5")["items"]
    assert actions[0]["case_number"] == number and actions[0]["manual"] is True
    # The operator may look, but sending is for supervisors and leaders.
    op = browsers.login("operator", "/supervision")
    op.wait_for_selector(".el-table__body tr")
    assert op.locator(".el-table .el-dropdown").count() == 0


def test_admin_import_shows_a_preview_and_the_row_errors(browsers: Browsers, server: Server) -> None:
    page = browsers.login("admin", "/admin")
    page.click(".el-tabs__item:has-text('确权清单')")
    page.locator("[data-test=imp-catalog]").set_input_files(
        [{"name": "清单.csv", "mimeType": "text/csv", "buffer": BAD_CATALOG.encode()}])
    page.wait_for_selector(".el-table:visible >> text=不存在的局")
    page.click("[data-test=imp-catalog-send]")
    page.wait_for_selector("[data-test=import-errors]:visible")
    assert "不存在的局" in page.locator("[data-test=import-errors]").inner_text() or \
        page.locator("[data-test=import-errors] .el-table__body tr").count() >= 1
    shot(page, "19-管理-清单导入错误")


def test_each_role_gets_its_own_home(browsers: Browsers, server: Server) -> None:
    for username, must, must_not in (("h_cw", "部门待办", "分流台"), ("leader", "指挥大屏", "受理窗口"),
                                     ("operator", "分流台", "系统管理")):
        page = browsers.login(username, "/")
        page.wait_for_selector("[data-test=home-today]")
        menu = page.locator(".menu").inner_text()
        assert must in menu and must_not not in menu
        shot(page, f"20-首页-{username}")
    page.goto(f"{server.url}/cases")
    page.wait_for_selector(".el-table__body tr")
    shot(page, "21-事项查询")
    page.goto(f"{server.url}/admin")  # not for the operator: back home
    page.wait_for_url(f"{server.url}/")


def test_queue_shows_the_triage_confidence_with_its_reasons(browsers: Browsers, server: Server) -> None:
    page = browsers.login("operator", "/queue")
    tag = page.locator("[data-test=confidence]").first
    tag.wait_for()
    assert re.fullmatch(r"置信度 \d{1,3}%", tag.inner_text().strip())
    tag.hover()
    tip = page.locator(".triage-tip:visible")
    tip.wait_for()
    assert "智能分流依据" in tip.inner_text() and "建议事项" in tip.inner_text()
    shot(page, "24-分流台-智能分流依据")


def test_ledger_export_shows_progress_and_downloads_the_filtered_xlsx(browsers: Browsers, server: Server) -> None:
    page = browsers.login("operator", "/cases")
    page.wait_for_selector(".el-table__body tr")
    page.click("[data-test=f-kind]")
    page.locator(".el-select-dropdown__item:visible", has_text="矛盾纠纷").first.click()
    page.click("button:has-text('查询')")
    # The filtered results are the ones shown (the export takes their filters).
    page.wait_for_function("""() => {
        const kinds = [...document.querySelectorAll('.el-table__body tr td:nth-child(3)')].map(td => td.innerText.trim())
        return kinds.length > 0 && kinds.every(k => k === '矛盾纠纷') }""")
    held = []
    page.route("**/api/intake/ledger/export*", lambda route: held.append(route))  # held until the test lets it go
    page.click("[data-test=export]")
    page.wait_for_selector("[data-test=export-progress]:has-text('正在生成台账')")
    assert page.locator("[data-test=export]").is_disabled()  # one export at a time
    shot(page, "25-事项查询-导出中")
    deadline = 150
    while not held and deadline:
        page.wait_for_timeout(100)
        deadline -= 1
    assert held and "kind=dispute" in held[0].request.url
    with page.expect_download() as download:
        held[0].fulfill(response=held[0].fetch())
    d = download.value
    assert d.suggested_filename == "矛盾纠纷台账.xlsx"
    with open(d.path(), "rb") as f:
        assert f.read(2) == b"PK"  # an .xlsx is a zip
    page.wait_for_selector(".el-message--success:has-text('已导出')")
    page.wait_for_selector("[data-test=export-progress]", state="detached")


def test_command_map_draws_the_countys_own_tiles_when_configured(browsers: Browsers, server: Server) -> None:
    tiles: list[str] = []
    elsewhere: list[str] = []
    screen = browsers.login("leader", "/", width=1920, height=1080)
    screen.on("request", lambda r: None if r.url.startswith((server.url, TILES)) else elsewhere.append(r.url))
    screen.route("**/api/screens/config", lambda route: route.fulfill(json={"tile_url": TILES + "/{z}/{x}/{y}.png"}))

    def tile(route) -> None:  # type: ignore[no-untyped-def]
        tiles.append(route.request.url)
        route.fulfill(body=_tile_png(), content_type="image/png")

    screen.route(TILES + "/**", tile)
    screen.goto(f"{server.url}/command")
    screen.wait_for_selector("[data-test=total-today] .n")
    screen.wait_for_function("() => document.querySelectorAll('.county-map canvas').length > 0")
    deadline = 100
    while not tiles and deadline:
        screen.wait_for_timeout(100)
        deadline -= 1
    assert tiles and all(re.search(r"/\d+/\d+/\d+\.png$", u) for u in tiles)
    screen.wait_for_timeout(800)  # the tiles are drawn
    shot(screen, "26-指挥大屏-底图")
    assert not elsewhere, elsewhere
    assert not screen.js_errors  # type: ignore[attr-defined]


TILES = "http://tiles.fengqiao.test"


def _tile_png() -> bytes:
    """A 256×256 street-map-like tile (pale ground, white roads) made without image libraries."""
    import struct
    import zlib

    size = 256
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")
        for x in range(size):
            road = x % 64 < 6 or y % 64 < 6
            row += b"\xfa\xfa\xf7" if road else b"\xe4\xe9\xdc"
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def test_admin_sets_the_triage_auto_dispatch_threshold(browsers: Browsers, server: Server) -> None:
    import pytest

    try:
        before = server.call("GET", "admin", "/api/admin/triage")
    except AssertionError as err:
        if ": 404 " in str(err):
            pytest.skip("服务器尚未提供 /api/admin/triage")
        raise
    page = browsers.login("admin", "/admin")
    page.click(".el-tabs__item:has-text('智能分流')")
    page.wait_for_selector("[data-test=triage-current]:visible")
    try:
        if page.locator("[data-test=triage-auto] input").get_attribute("aria-checked") != "true":
            page.click("[data-test=triage-auto]")
        field = page.locator("[data-test=triage-threshold] input")
        field.fill("0.92")
        field.press("Enter")
        page.click("[data-test=triage-save]")
        page.wait_for_selector(".el-message--success:has-text('92%')")
        assert server.call("GET", "admin", "/api/admin/triage")["threshold"] == 0.92
        assert "置信度 ≥ 92% 自动交办" in page.locator("[data-test=triage-current]").inner_text()
        shot(page, "27-管理-智能分流")

        page.click("[data-test=triage-auto]")  # off: every case waits for an operator
        page.click("[data-test=triage-save]")
        page.wait_for_selector(".el-message--success:has-text('已关闭自动交办')")
        assert server.call("GET", "admin", "/api/admin/triage")["threshold"] is None
        assert "不自动交办" in page.locator("[data-test=triage-current]").inner_text()
    finally:
        server.call("PUT", "admin", "/api/admin/triage", {"threshold": before["threshold"]})
