"""Serve the built front end (Vite output in ``dist/``) with a fallback to ``index.html``.

The screens are a single-page application with real paths (``/queue``, ``/cases/12``), so any
GET that is not an API path and not a built file returns ``index.html`` and the browser-side
router takes over. Nothing is fetched from outside: scripts, styles, icons and the map data
all come from this server.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

DIST = Path(__file__).parent / "dist"
_RESERVED = ("api/", "docs", "redoc", "openapi.json")
_NOT_BUILT = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>枫桥</title>
<body style="font-family:sans-serif;padding:40px"><h1>界面尚未构建</h1>
<p>请在项目目录运行 <code>./dev setup</code>（或在 web/ 目录运行 <code>npm ci &amp;&amp; npm run build</code>）后刷新本页。</p>
<p>接口文档见 <a href="/docs">/docs</a>。</p></body></html>"""


def mount_frontend(app: FastAPI, dist: Path = DIST) -> None:
    """Serve the screens for every request no route matched.

    Installed as the router's fallback rather than as a catch-all route, so routers included
    later (by any module, in any order) are still matched first.
    """
    root = dist.resolve()
    not_found = app.router.default

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "/").lstrip("/")
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD") or path.startswith(_RESERVED):
            await not_found(scope, receive, send)  # API paths keep the framework's own 404
            return
        await _spa_response(root, path)(scope, receive, send)

    app.router.default = fallback


def _spa_response(root: Path, path: str) -> Response:
    index = root / "index.html"
    if not index.is_file():
        return HTMLResponse(_NOT_BUILT, status_code=503)
    if path:
        candidate = (root / path).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            # Built assets carry a content hash in their name: cache them for good.
            cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
            return FileResponse(candidate, headers={"Cache-Control": cache})
        if path.startswith("assets/"):
            return JSONResponse({"code": "not_found", "message": "文件不存在", "field": None}, status_code=404)
    return FileResponse(index, headers={"Cache-Control": "no-cache"})
