"""End-to-end fixtures: a real demo server on a free port and real headless Chromium.

The browser is Debian's ``chromium`` driven by Playwright; Playwright's own browser downloads
are never used (they need the internet). Without the browser or Playwright the suite is skipped
locally and fails in CI, where ``./dev`` installs both.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

CHROMIUM = os.environ.get("FENGQIAO_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
PASSWORD = "fengqiao-demo"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
DIST = ROOT / "src" / "fengqiao" / "web" / "dist" / "index.html"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} 不存在（apt-get install chromium）"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "未安装 playwright（pip install -e '.[test]'）"
    if not DIST.exists():
        return "前端未构建（./dev setup）"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last: they are the slowest, and Playwright's sync API keeps an event
    loop running in the main thread while the browser is open, which would trip asyncio.run later."""
    here = str(Path(__file__).parent)
    items.sort(key=lambda item: str(item.path).startswith(here))


@pytest.fixture(scope="session", autouse=True)
def _requirements() -> None:
    problem = _missing()
    if problem:
        if IN_CI:
            pytest.fail(f"端到端测试无法运行：{problem}")
        pytest.skip(problem)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, url: str) -> None:
        self.url = url
        self._tokens: dict[str, str] = {}

    def _send(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw = r.read()
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{method} {path}: {err.code} {err.read().decode()}") from None
        return json.loads(raw) if raw else None

    def token(self, username: str) -> str:
        if username not in self._tokens:
            self._tokens[username] = self._send("POST", "/api/auth/login",
                                                {"username": username, "password": PASSWORD})["token"]
        return self._tokens[username]

    def call(self, method: str, username: str, path: str, body: Any = None) -> Any:
        return self._send(method, path, body, self.token(username))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("e2e-demo")
    port = _free_port()
    log = (data / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "fengqiao.cli", "demo", "--data-dir", str(data), "--port", str(port),
                             "--cases", "40"], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError("演示服务器启动失败：" + (data / "server.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("演示服务器两分钟内未就绪")
            time.sleep(0.3)
        yield Server(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session", autouse=True)
def _screenshot_dir() -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)


class Browsers:
    """Open a logged-in page per person; every context is closed at the end of the test."""

    def __init__(self, browser, server: Server) -> None:  # type: ignore[no-untyped-def]
        self.browser, self.server, self.contexts = browser, server, []

    def context(self, width: int = 1440, height: int = 900, mobile: bool = False, **kw):  # type: ignore[no-untyped-def]
        ctx = self.browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                       timezone_id="Asia/Shanghai", is_mobile=mobile, has_touch=mobile,
                                       device_scale_factor=2 if mobile else 1, **kw)
        ctx.set_default_timeout(15_000)
        self.contexts.append(ctx)
        return ctx

    def login(self, username: str, path: str = "/", **kw):  # type: ignore[no-untyped-def]
        page = self.context(**kw).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{self.server.url}/login?next={path}")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda u: "/login" not in u)
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


@pytest.fixture
def browsers(browser, server: Server) -> Iterator[Browsers]:  # type: ignore[no-untyped-def]
    b = Browsers(browser, server)
    yield b
    b.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Save what the person sees; reviewed by eye (nothing cut off, overlapping or in English)."""
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
