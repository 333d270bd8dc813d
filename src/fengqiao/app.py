"""The ASGI application: routers, one error format, health."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from fengqiao import __version__
from fengqiao.db import Database
from fengqiao.errors import FengqiaoError
from fengqiao.settings import Settings


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None
    details: list[dict[str, Any]] | None = None


_ERRORS = {status: {"model": ErrorBody, "description": text} for status, text in
           {400: "请求有误", 401: "未登录", 403: "无权操作", 404: "不存在或不在管辖范围内",
            409: "状态冲突（非法流转等）", 422: "输入有误（field 指出字段）"}.items()}


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    from fengqiao import api_admin, api_auth, api_cases
    from fengqiao import api_screens
    from fengqiao.web import mount_frontend

    app = FastAPI(title="枫桥 fengqiao 综治中心平台 API", version=__version__, responses=_ERRORS,  # type: ignore[arg-type]
                  description="事项从受理到办结的闭环：登记、分类、分流交办、签收/退回、处置、反馈、回访、办结。")
    app.state.settings = settings
    app.state.db = db or Database(settings.effective_database_url)

    @app.exception_handler(FengqiaoError)
    async def _domain_error(_: Request, exc: FengqiaoError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        message = str(first.get("msg", "输入有误")).removeprefix("Value error, ")
        details = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")),
                    "message": str(e.get("msg", "")).removeprefix("Value error, ")} for e in errors]
        return JSONResponse({"code": "invalid", "message": message, "field": ".".join(loc) or None,
                             "details": details}, status_code=422)

    @app.get("/api/health", tags=["系统"], summary="健康检查")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    from fengqiao.intake import api as intake_api

    for module in (api_auth, api_admin, api_cases, intake_api):
        app.include_router(module.router)
    app.include_router(api_screens.router)
    mount_frontend(app)  # the screens answer whatever no route matched
    return app
