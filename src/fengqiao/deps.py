"""FastAPI dependencies: the database, the logged-in user, role checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from fengqiao.auth.models import Role
from fengqiao.auth.service import Principal, authenticate
from fengqiao.db import Database
from fengqiao.errors import Forbidden, Unauthorized
from fengqiao.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="登录接口返回的令牌")


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def uow(db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with db.unit_of_work() as session:
        yield session


def current_principal(db: Annotated[Database, Depends(get_db)],
                      creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if creds is None:
        raise Unauthorized()
    with db.read() as session:
        return authenticate(session, creds.credentials)


DB = Annotated[Session, Depends(uow)]
User = Annotated[Principal, Depends(current_principal)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def require(*roles: Role):  # type: ignore[no-untyped-def]
    def check(principal: User) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"此操作需要角色：{'、'.join(r.label for r in roles)}")
        return principal
    return Depends(check)
