"""The working-day calendar kept in the database: seeded from chinesecalendar, editable per year."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fengqiao.errors import InvalidInput
from fengqiao.tabular import csv_dicts
from fengqiao.workcal.models import CalendarDay, CalendarYear


class DbCalendar:
    """A WorkCalendar over the database rows; loads each year once per instance."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._known: set[int] | None = None
        self._days: dict[int, dict[date, bool]] = {}

    @classmethod
    def of(cls, session: Session) -> "DbCalendar":
        """The calendar of this unit of work, loaded once and shared by its deadline computations."""
        if "calendar" not in session.info:
            session.info["calendar"] = cls(session)
        return session.info["calendar"]  # type: ignore[no-any-return]

    def _load_year(self, year: int) -> dict[date, bool]:
        if year not in self._days:
            rows = self._session.execute(
                select(CalendarDay.day, CalendarDay.is_workday)
                .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
            ).all()
            self._days[year] = {d: w for d, w in rows}
        return self._days[year]

    def is_workday(self, day: date) -> bool | None:
        if self._known is None:
            self._known = set(self._session.scalars(select(CalendarYear.year)))
        if day.year not in self._known:
            return None
        special = self._load_year(day.year).get(day)
        return special if special is not None else day.weekday() < 5


def seed_from_chinesecalendar(session: Session, years: range | None = None) -> list[int]:
    """Copy the holidays and make-up days the maintained library knows into the database."""
    import chinese_calendar as cc  # imported here: only set-up needs it

    known = set(session.scalars(select(CalendarYear.year)))
    first, last = min(cc.holidays).year, max(cc.holidays).year
    wanted = years or range(max(first, 2020), last + 1)
    added = []
    for year in wanted:
        if year in known:
            continue
        day, rows = date(year, 1, 1), []
        while day.year == year:
            work = cc.is_workday(day)
            if work != (day.weekday() < 5):
                _, name = cc.get_holiday_detail(day)
                rows.append(CalendarDay(day=day, is_workday=work, name=_holiday_name(name, work)))
            day += timedelta(days=1)
        session.add_all(rows)
        session.add(CalendarYear(year=year, source="chinesecalendar"))
        added.append(year)
    session.info.pop("calendar", None)
    session.flush()
    return added


_NAMES = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
          "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
          "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利纪念日"}


def _holiday_name(name: str | None, work: bool) -> str:
    label = _NAMES.get(name or "", name or "")
    return f"{label}调休上班" if work else label


def import_year_csv(session: Session, year: int, raw: bytes | str) -> int:
    """Enter a year's schedule: CSV ``date,type,name`` where type is 休 (holiday) or 班 (make-up day).

    Only the exceptions to Monday–Friday are listed. Replaces that year; all or nothing.
    """
    errors: list[dict[str, Any]] = []
    rows: dict[date, CalendarDay] = {}
    for line, row in csv_dicts(raw, ("date", "type"), "date,type,name"):
        try:
            day = date.fromisoformat(row["date"])
        except ValueError:
            errors.append({"row": line, "field": "date", "message": f"日期“{row.get('date')}”应写作 YYYY-MM-DD"})
            continue
        if day.year != year:
            errors.append({"row": line, "field": "date", "message": f"{day} 不属于 {year} 年"})
        kind = row["type"]
        if kind not in {"休", "班"}:
            errors.append({"row": line, "field": "type", "message": f"类型“{kind}”无效，应为 休 或 班"})
            continue
        if day in rows:
            errors.append({"row": line, "field": "date", "message": f"{day} 重复"})
        rows[day] = CalendarDay(day=day, is_workday=kind == "班", name=row.get("name", ""))
    if errors:
        raise InvalidInput(f"日历文件有 {len(errors)} 处错误，未导入任何数据", "file", errors)
    session.execute(delete(CalendarDay).where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)))
    session.execute(delete(CalendarYear).where(CalendarYear.year == year))
    session.flush()
    session.add_all(rows.values())
    session.add(CalendarYear(year=year, source="admin"))
    session.info.pop("calendar", None)
    session.flush()
    return len(rows)


def year_schedule(session: Session, year: int) -> dict[str, Any]:
    entry = session.get(CalendarYear, year)
    days = session.scalars(select(CalendarDay).where(CalendarDay.day >= date(year, 1, 1),
                                                     CalendarDay.day <= date(year, 12, 31)).order_by(CalendarDay.day))
    return {"year": year, "known": entry is not None, "source": entry.source if entry else None,
            "days": [{"date": d.day.isoformat(), "type": "班" if d.is_workday else "休", "name": d.name} for d in days]}
