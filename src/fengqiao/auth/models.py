"""Users, roles and login sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from fengqiao.db import Base, UTCDateTime, utcnow


class Role(StrEnum):
    ADMIN = "admin"              # 管理员
    OPERATOR = "operator"        # 受理员/座席员
    HANDLER = "handler"          # 职能部门
    GRID_WORKER = "grid_worker"  # 网格员
    MEDIATOR = "mediator"        # 调解员
    SUPERVISOR = "supervisor"    # 督查专员
    LEADER = "leader"            # 领导

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: "管理员", Role.OPERATOR: "受理员", Role.HANDLER: "部门办理人",
    Role.GRID_WORKER: "网格员", Role.MEDIATOR: "调解员", Role.SUPERVISOR: "督查专员",
    Role.LEADER: "领导",
}


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthToken(Base):
    __tablename__ = "auth_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
