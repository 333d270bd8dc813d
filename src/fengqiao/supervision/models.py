"""Supervision actions (提醒、催办、督办、约谈、移交) taken against a case and its department."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fengqiao.db import Base, UTCDateTime, utcnow


class SupervisionAction(Base):
    __tablename__ = "supervision_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("case_deadline.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    note: Mapped[str | None] = mapped_column(String(500))

    # The database itself refuses a second action for the same step of the same deadline.
    __table_args__ = (UniqueConstraint("deadline_id", "step"),)
