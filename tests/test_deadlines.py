"""Deadline arithmetic: the forms counties write, and working days across 2026's holidays."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from fengqiao.deadlines.domain import (
    LOCAL_TZ, DeadlineFormatError, StageStatus, Unit, add_limit, parse_limit, stage_status, warn_at,
)
from fengqiao.deadlines.policy import DEFAULT_POLICY, PolicyError, parse_policy
from fengqiao.errors import InvalidInput
from fengqiao.workcal.service import DbCalendar, import_year_csv


def bj(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


@pytest.mark.parametrize(("text", "amount", "unit"), [
    ("2工作日", 2, Unit.WORKDAY), ("2个工作日", 2, Unit.WORKDAY), ("5个工作日内", 5, Unit.WORKDAY),
    ("3日", 3, Unit.DAY), ("3天", 3, Unit.DAY), ("15天", 15, Unit.DAY), ("4小时", 4, Unit.HOUR),
    ("24小时", 24, Unit.HOUR), ("立即", 0, Unit.IMMEDIATE),
])
def test_limits_as_counties_write_them(text: str, amount: int, unit: Unit) -> None:
    limit = parse_limit(text)
    assert (limit.amount, limit.unit) == (amount, unit)


@pytest.mark.parametrize("text", ["", "三天", "2周", "0日", "-1日", "abc", "2工作", "1000工作日"])
def test_unreadable_limits_are_refused(text: str) -> None:
    with pytest.raises(DeadlineFormatError):
        parse_limit(text)


class FixedCalendar:
    """2026 as the State Council published it (only what these tests touch)."""

    HOLIDAYS = {date(2026, 2, d) for d in range(15, 24)} | {date(2026, 10, d) for d in range(1, 8)}
    MAKEUP = {date(2026, 2, 14), date(2026, 2, 28), date(2026, 9, 20), date(2026, 10, 10)}

    def is_workday(self, day: date) -> bool | None:
        if day.year != 2026:
            return None
        if day in self.HOLIDAYS:
            return False
        return day in self.MAKEUP or day.weekday() < 5


@pytest.mark.parametrize(("start", "limit", "due"), [
    # Friday before the Spring Festival: Sat 14 Feb is a make-up day, 15–23 Feb off, Tue 24 Feb works.
    (bj(2026, 2, 13, 10), "2工作日", bj(2026, 2, 25)),
    (bj(2026, 2, 13, 10), "1工作日", bj(2026, 2, 15)),
    # Registered on a holiday: counting starts with the first working day after it.
    (bj(2026, 2, 18, 9), "1工作日", bj(2026, 2, 25)),
    # Sat 28 Feb is a make-up working day.
    (bj(2026, 2, 27, 9), "1工作日", bj(2026, 3, 1)),
    # National Day: Sun 20 Sep is a make-up day.
    (bj(2026, 9, 18, 16), "1工作日", bj(2026, 9, 21)),
    # 30 Sep + 2 working days: 1–7 Oct off, Thu 8 and Fri 9 work.
    (bj(2026, 9, 30, 15), "2工作日", bj(2026, 10, 10)),
    # Sat 10 Oct is a make-up day.
    (bj(2026, 10, 8, 9), "2工作日", bj(2026, 10, 11)),
    # Calendar days and hours ignore holidays.
    (bj(2026, 9, 30, 15), "3日", bj(2026, 10, 3, 15)),
    (bj(2026, 10, 1, 23), "4小时", bj(2026, 10, 2, 3)),
])
def test_working_days_across_spring_festival_and_national_day(start: datetime, limit: str, due: datetime) -> None:
    result = add_limit(start, parse_limit(limit), FixedCalendar())
    assert result.at == due and result.calendar_assumed is False


def test_a_year_nobody_entered_is_flagged_not_guessed_silently() -> None:
    result = add_limit(bj(2026, 12, 30, 10), parse_limit("3工作日"), FixedCalendar())
    assert result.calendar_assumed is True
    assert result.at == bj(2027, 1, 5)  # counted with the weekday rule, and flagged


def test_emergency_and_naive_start() -> None:
    assert add_limit(bj(2026, 5, 1, 8), parse_limit("立即"), FixedCalendar()).at == bj(2026, 5, 1, 9)
    with pytest.raises(ValueError):
        add_limit(datetime(2026, 5, 1, 8), parse_limit("3日"), FixedCalendar())


def test_stage_status_warning_at_seventy_percent() -> None:
    start, due = bj(2026, 3, 2, 8), bj(2026, 3, 2, 18)
    warn = warn_at(start, due)
    assert warn == bj(2026, 3, 2, 15)
    assert stage_status(due, warn, None, bj(2026, 3, 2, 14, 59)) is StageStatus.ON_TIME
    assert stage_status(due, warn, None, bj(2026, 3, 2, 15)) is StageStatus.WARNING
    assert stage_status(due, warn, None, due + timedelta(seconds=1)) is StageStatus.OVERDUE
    assert stage_status(due, warn, due, due + timedelta(days=9)) is StageStatus.MET
    assert stage_status(due, warn, due + timedelta(minutes=1), due) is StageStatus.MET_LATE


def test_default_policy_is_14310_and_bad_policies_name_the_field() -> None:
    policy = parse_policy(DEFAULT_POLICY)
    assert [policy.stages[s].text for s in policy.stages] == ["1小时", "4小时", "3日", "1日"]
    assert [step.kind for step in policy.ladder] == ["reminder", "urging", "notice", "interview", "transfer"]
    bad = dict(DEFAULT_POLICY, stages={**DEFAULT_POLICY["stages"], "route": "四小时"})
    with pytest.raises(PolicyError) as err:
        parse_policy(bad)
    assert err.value.field == "stages.route"
    with pytest.raises(PolicyError) as err:
        parse_policy(dict(DEFAULT_POLICY, ladder=[{"kind": "scold", "at": "due"}]))
    assert err.value.field == "ladder[0].kind"


def test_database_calendar_from_chinesecalendar_matches_the_published_2026_schedule(db) -> None:  # type: ignore[no-untyped-def]
    with db.read() as s:
        cal = DbCalendar(s)
        for day in FixedCalendar.HOLIDAYS | FixedCalendar.MAKEUP | {date(2026, 3, 2), date(2026, 3, 7)}:
            assert cal.is_workday(day) == FixedCalendar().is_workday(day), day
        assert cal.is_workday(date(2027, 3, 1)) is None
        assert add_limit(bj(2026, 2, 13, 10), parse_limit("2工作日"), cal).at == bj(2026, 2, 25)


def test_administrator_enters_a_new_year_and_bad_files_change_nothing(db) -> None:  # type: ignore[no-untyped-def]
    good = "date,type,name\n2027-01-01,休,元旦\n2027-02-06,班,春节调休上班\n2027-02-08,休,春节\n"
    with db.unit_of_work() as s:
        assert import_year_csv(s, 2027, good) == 3
    with db.read() as s:
        cal = DbCalendar(s)
        assert cal.is_workday(date(2027, 2, 6)) is True      # a Saturday made a working day
        assert cal.is_workday(date(2027, 2, 8)) is False
        assert cal.is_workday(date(2027, 2, 9)) is True
        due = add_limit(bj(2027, 2, 5, 9), parse_limit("2工作日"), cal)
        assert due.at == bj(2027, 2, 10) and due.calendar_assumed is False
    bad = "date,type,name\n2027-01-01,休,元旦\n2027-13-01,休,x\n2028-01-01,休,y\n2027-03-01,放假,z\n"
    with pytest.raises(InvalidInput) as err, db.unit_of_work() as s:
        import_year_csv(s, 2027, bad)
    assert [d["row"] for d in err.value.details] == [3, 4, 5]
    with db.read() as s:
        assert DbCalendar(s).is_workday(date(2027, 2, 6)) is True  # the earlier schedule is intact
