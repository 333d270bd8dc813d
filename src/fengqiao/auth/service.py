"""Passwords (Argon2id), login tokens, user creation, who may see what, and data masking."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import cast
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fengqiao.auth.models import AuthToken, Role, User
from fengqiao.db import utcnow
from fengqiao.errors import Conflict, InvalidInput, Unauthorized
from fengqiao.masking import mask_id_number, mask_phone  # noqa: F401  (re-exported)
from fengqiao.org.models import Department, Region

_hasher = PasswordHasher()
# Roles whose work needs the full phone and ID number (calling back, mediating, handling).
PII_ROLES = frozenset({Role.OPERATOR, Role.HANDLER, Role.MEDIATOR})


@dataclass(frozen=True)
class Principal:
    """The logged-in user as the rules see them."""

    user_id: int
    username: str
    display_name: str
    role: Role
    region_id: int
    region_path: str
    department_id: int | None
    # True when the user's region is the only root of the tree: every case is in scope.
    scope_all: bool = False

    @property
    def sees_pii(self) -> bool:
        return self.role in PII_ROLES


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, *, username: str, password: str, display_name: str, role: Role | str,
                region_id: int, department_id: int | None = None, phone: str | None = None) -> User:
    role = Role(role)
    if not re.fullmatch(r"[A-Za-z0-9_.-]{2,64}", username):
        raise InvalidInput("用户名只能包含字母、数字、下划线、点和横线（2–64 位）", "username")
    if len(password) < 8:
        raise InvalidInput("密码至少 8 位", "password")
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"用户名 {username} 已存在", "username")
    if session.get(Region, region_id) is None:
        raise InvalidInput(f"区划 {region_id} 不存在", "region_id")
    if role is Role.HANDLER:
        if department_id is None or session.get(Department, department_id) is None:
            raise InvalidInput("部门办理人必须属于一个已存在的部门", "department_id")
    user = User(username=username, password_hash=hash_password(password), display_name=display_name,
                role=role.value, region_id=region_id, department_id=department_id, phone=phone)
    session.add(user)
    session.flush()
    return user


def login(session: Session, username: str, password: str, hours: int = 12) -> tuple[str, User]:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not verify_password(user.password_hash, password):
        raise Unauthorized("用户名或密码错误")
    token = secrets.token_urlsafe(32)
    session.execute(delete(AuthToken).where(AuthToken.user_id == user.id, AuthToken.expires_at < utcnow()))
    session.add(AuthToken(token_hash=_token_hash(token), user_id=user.id, expires_at=utcnow() + timedelta(hours=hours)))
    return token, user


def principal_for(session: Session, user: User) -> Principal:
    region = session.get(Region, user.region_id)
    assert region is not None
    only_root = region.parent_id is None and session.scalar(
        select(func.count()).select_from(Region).where(Region.parent_id.is_(None))) == 1
    return Principal(user.id, user.username, user.display_name, Role(user.role), region.id, region.path,
                     user.department_id, only_root)


def system_principal(session: Session) -> Principal:
    """Who acts for the platform itself (outside channels, automatic triage): the county, no user."""
    from fengqiao.org.service import county

    home = county(session)
    return Principal(cast(int, None), "system", "系统", Role.OPERATOR, home.id, home.path, None)


def authenticate(session: Session, token: str) -> Principal:
    row = session.get(AuthToken, _token_hash(token))
    if row is None or row.expires_at < utcnow():
        raise Unauthorized("登录已失效，请重新登录")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("账号已停用")
    return principal_for(session, user)


def logout(session: Session, token: str) -> None:
    session.execute(delete(AuthToken).where(AuthToken.token_hash == _token_hash(token)))
