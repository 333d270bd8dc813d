"""The command screen follows every change live (SSE from the outbox), within 2 seconds."""

from __future__ import annotations

import time

from tests.e2e.conftest import Browsers, Server, shot


def test_command_screen_shows_a_case_made_in_another_browser_within_two_seconds(browsers: Browsers,
                                                                                 server: Server) -> None:
    screen = browsers.login("leader", "/command", width=1920, height=1080)
    screen.wait_for_selector("[data-test=total-today] .n")
    screen.wait_for_selector(".live.on")
    screen.wait_for_timeout(800)  # the map and charts have drawn
    before = int(screen.locator("[data-test=total-today] .n").inner_text())
    shot(screen, "10-指挥大屏")

    other = browsers.login("operator", "/")
    started = time.monotonic()
    created = other.evaluate("""async () => {
        const r = await fetch('/api/cases', {method: 'POST', headers: {'Content-Type': 'application/json',
            Authorization: 'Bearer ' + localStorage.getItem('fq_token')},
            body: JSON.stringify({kind: 'hazard', channel: 'hotline', risk: '高', address: '城关镇北关社区',
                description: '北关社区菜市场旁燃气管道有异味，疑似泄漏', parties: [{name: '刘桂兰', phone: '13700001111'}]})})
        return await r.json()
    }""")
    number = created["number"]
    screen.wait_for_function(
        """([n, before]) => Number(document.querySelector('[data-test=total-today] .n').innerText) === before + 1
            && document.querySelector('[data-test=newest]').innerText.includes(n)""",
        arg=[number, before], timeout=2000)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"大屏 {elapsed:.2f} 秒后才更新"
    shot(screen, "11-指挥大屏-新事项")
    assert not screen.js_errors  # type: ignore[attr-defined]
