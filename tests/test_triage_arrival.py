"""Triage when a case arrives: risk is graded at once, and a sure routing is dispatched by itself."""

from __future__ import annotations

from sqlalchemy import select

from fengqiao.cases.models import Case, CaseEvent, Outbox
from fengqiao.cases.service import register
from fengqiao.options.service import set_triage_options
from support import County, walk_in


def test_threat_is_graded_high_with_an_alert_at_once(county: County) -> None:
    with county.db.unit_of_work() as s:
        case = register(s, county.operator, walk_in(description="老板拖欠工钱半年，工人扬言明天要去跳楼"))
        assert case.risk == "高"
        event = s.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "grade_risk"))
        assert event.data["from"] == "低" and event.data["to"] == "高" and event.data["cues"]
        assert s.scalar(select(Outbox).where(Outbox.case_id == case.id, Outbox.topic == "alert"))


def test_grading_never_lowers_what_a_person_set(county: County) -> None:
    with county.db.unit_of_work() as s:
        case = register(s, county.operator, walk_in(description="邻居家装修噪音大，协商无果", risk="高"))
        assert case.risk == "高"


def test_no_auto_dispatch_until_the_administrator_sets_a_threshold(county: County) -> None:
    with county.db.unit_of_work() as s:
        case = register(s, county.operator, walk_in(description="包工头拖欠我们农民工工资三个月不给"))
        assert case.state == "registered"


def test_sure_routing_is_dispatched_by_itself_and_recorded(county: County) -> None:
    with county.db.unit_of_work() as s:
        set_triage_options(s, 0.5, None, county.admin.user_id)
    with county.db.unit_of_work() as s:
        case = register(s, county.operator, walk_in(description="包工头拖欠我们农民工工资三个月不给，讨薪无门"))
        case_id = case.id
    with county.db.read() as s:
        case = s.get(Case, case_id)
        assert case.state == "dispatched" and case.department_id == county.departments["RSJ"]
        events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).all()
        assert [e.action for e in events] == ["register", "classify", "dispatch"]
        assert events[-1].actor_id is None and "智能分流自动交办" in events[-1].note


def test_threshold_is_checked(county: County) -> None:
    import pytest

    from fengqiao.errors import InvalidInput

    with pytest.raises(InvalidInput) as err, county.db.unit_of_work() as s:
        set_triage_options(s, 1.5, None, None)
    assert err.value.field == "threshold"
