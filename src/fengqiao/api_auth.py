"""Login, logout and who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from fengqiao.auth.service import login, logout, principal_for
from fengqiao.deps import DB, AppSettings, User

router = APIRouter(prefix="/api/auth", tags=["登录"])


class LoginIn(BaseModel):
    username: str
    password: str


class LoginOut(BaseModel):
    token: str
    user: dict[str, Any]


def _user_dict(p: Any) -> dict[str, Any]:
    return {"id": p.user_id, "username": p.username, "display_name": p.display_name, "role": p.role.value,
            "role_label": p.role.label, "region_id": p.region_id, "department_id": p.department_id}


@router.post("/login", response_model=LoginOut, summary="登录，返回令牌")
def do_login(session: DB, settings: AppSettings, body: LoginIn) -> LoginOut:
    token, user = login(session, body.username, body.password, settings.token_hours)
    return LoginOut(token=token, user=_user_dict(principal_for(session, user)))


@router.get("/me", summary="当前用户")
def me(user: User) -> dict[str, Any]:
    return _user_dict(user)


@router.post("/logout", status_code=204, summary="退出登录")
def do_logout(session: DB, creds: Annotated[HTTPAuthorizationCredentials, Depends(HTTPBearer())]) -> None:
    logout(session, creds.credentials)
