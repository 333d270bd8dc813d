"""The remaining desk screens render for their roles, offer only what the role may do, and are in Chinese."""

from __future__ import annotations

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
