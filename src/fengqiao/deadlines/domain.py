"""Deadline arithmetic: parse limits as counties write them, add working days, grade a stage.

Pure: no database, no web framework. The calendar is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class Unit(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WORKDAY = "workday"
    IMMEDIATE = "immediate"


class Stage(StrEnum):
    REPORT = "report"      # 上报: discovery → registration
    ROUTE = "route"        # 分流: registration → dispatch
    RESOLVE = "resolve"    # 办结: dispatch → department's feedback
    FEEDBACK = "feedback"  # 反馈: department's feedback → return visit done

    @property
    def label(self) -> str:
        return {"report": "上报", "route": "分流交办", "resolve": "办结", "feedback": "反馈回访"}[self.value]


class StageStatus(StrEnum):
    ON_TIME = "on_time"    # 正常
    WARNING = "warning"    # 预警 (≥70% of the time used)
    OVERDUE = "overdue"    # 超期
    MET = "met"            # 按时完成
    MET_LATE = "met_late"  # 超期完成


class DeadlineFormatError(ValueError):
    """A deadline text that is not one of the forms counties write."""


@dataclass(frozen=True)
class Limit:
    amount: int
    unit: Unit
    text: str

    @property
    def is_emergency(self) -> bool:
        return self.unit is Unit.IMMEDIATE


_PATTERN = re.compile(r"^\s*(\d{1,3})\s*(个)?\s*(工作日|日|天|小时|个小时|h|d)\s*(内)?\s*$", re.IGNORECASE)
_UNITS = {"工作日": Unit.WORKDAY, "日": Unit.DAY, "天": Unit.DAY, "d": Unit.DAY,
          "小时": Unit.HOUR, "个小时": Unit.HOUR, "h": Unit.HOUR}


def parse_limit(text: str) -> Limit:
    """Parse ``2工作日``, ``3日``, ``3天``, ``4小时``, ``立即`` (also ``2个工作日内``)."""
    raw = (text or "").strip()
    if raw in {"立即", "即时", "马上", "0小时"}:
        return Limit(0, Unit.IMMEDIATE, raw)
    m = _PATTERN.match(raw)
    if not m:
        raise DeadlineFormatError(f"无法识别的时限“{raw}”，应写作如 2工作日、3日、3天、4小时、立即")
    amount = int(m.group(1))
    if amount <= 0:
        raise DeadlineFormatError(f"时限“{raw}”必须大于 0")
    return Limit(amount, _UNITS[m.group(3).lower()], raw)


class WorkCalendar(Protocol):
    def is_workday(self, day: date) -> bool | None:
        """True/False for a known year; None when nobody entered that year's schedule."""


@dataclass(frozen=True)
class Due:
    at: datetime
    calendar_assumed: bool


def add_limit(start: datetime, limit: Limit, calendar: WorkCalendar, emergency: timedelta = timedelta(hours=1)) -> Due:
    """The moment a limit counted from ``start`` runs out.

    Working days follow the common reading of "N个工作日内": counting starts the day after
    ``start`` and the deadline is the end (24:00, Beijing time) of the N-th working day.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if limit.unit is Unit.IMMEDIATE:
        return Due(start + emergency, False)
    if limit.unit is Unit.HOUR:
        return Due(start + timedelta(hours=limit.amount), False)
    if limit.unit is Unit.DAY:
        return Due(start + timedelta(days=limit.amount), False)
    day = start.astimezone(LOCAL_TZ).date()
    counted, assumed = 0, False
    while counted < limit.amount:
        day += timedelta(days=1)
        known = calendar.is_workday(day)
        if known is None:
            assumed = True
            known = day.weekday() < 5
        if known:
            counted += 1
    end = datetime.combine(day + timedelta(days=1), time(0), LOCAL_TZ)
    return Due(end, assumed)


def warn_at(start: datetime, due: datetime, ratio: float = 0.7) -> datetime:
    return start + (due - start) * ratio


def stage_status(due: datetime, warn: datetime, completed: datetime | None, now: datetime) -> StageStatus:
    if completed is not None:
        return StageStatus.MET if completed <= due else StageStatus.MET_LATE
    if now > due:
        return StageStatus.OVERDUE
    if now >= warn:
        return StageStatus.WARNING
    return StageStatus.ON_TIME
