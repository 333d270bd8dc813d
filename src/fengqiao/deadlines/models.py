"""Deadline policies (as data) and the per-case stage deadlines the supervision job scans."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from fengqiao.db import Base, UTCDateTime, utcnow


class DeadlinePolicy(Base):
    __tablename__ = "deadline_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    rules: Mapped[dict[str, Any]] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseDeadline(Base):
    """One stage of one case (report, route, resolve, feedback); a stage may run several rounds."""

    __tablename__ = "case_deadline"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    round: Mapped[int] = mapped_column(Integer, default=1)
    limit_text: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    warn_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True when the span crosses a year whose holidays nobody entered: shown, never hidden.
    calendar_assumed: Mapped[bool] = mapped_column(Boolean, default=False)
    supervision_step: Mapped[int] = mapped_column(Integer, default=0)
    # When the supervision job must look at this row next; NULL once nothing is left to do.
    # The scan reads only rows with next_check_at <= now, so its cost follows the due rows.
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    explanation: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("case_id", "stage", "round"),
        Index("ix_case_deadline_next_check_at", "next_check_at"),
        Index("ix_case_deadline_open_due", "case_id", "due_at", postgresql_where=text("completed_at IS NULL"),
              sqlite_where=text("completed_at IS NULL")),
    )
