"""Typed errors shared by every domain; the API maps them to one JSON body once."""

from __future__ import annotations

from typing import Any


class FengqiaoError(Exception):
    """Base error: a stable machine code, a Chinese message for people, the field at fault."""

    def __init__(self, message: str, field: str | None = None, code: str = "error", status: int = 400,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message, self.field, self.code, self.status = message, field, code, status
        self.details = details or []

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "field": self.field}
        if self.details:
            body["details"] = self.details
        return body


class NotFound(FengqiaoError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field, code="not_found", status=404)


class Forbidden(FengqiaoError):
    def __init__(self, message: str = "无权执行此操作", field: str | None = None) -> None:
        super().__init__(message, field, code="forbidden", status=403)


class Unauthorized(FengqiaoError):
    def __init__(self, message: str = "请先登录") -> None:
        super().__init__(message, None, code="unauthorized", status=401)


class InvalidInput(FengqiaoError):
    def __init__(self, message: str, field: str | None = None,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, field, code="invalid", status=422, details=details or [])


class Conflict(FengqiaoError):
    def __init__(self, message: str, field: str | None = None, code: str = "conflict") -> None:
        super().__init__(message, field, code=code, status=409)
