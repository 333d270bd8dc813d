"""The closed loop on a real database: register → … → closed, and its branches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from fengqiao.cases.models import Case, CaseEvent, Outbox, RoutingDecision
from fengqiao.cases.schemas import VisitIn
from fengqiao.cases.service import TransitionRefused, apply, record_visit, register
from fengqiao.db import utcnow
from fengqiao.deadlines.models import CaseDeadline
from support import POINT_B, County, move, walk_in


def _dispatched(c: County, **kw) -> int:  # type: ignore[no-untyped-def]
    with c.db.unit_of_work() as s:
        case = register(s, c.operator, walk_in(**kw))
        apply(s, c.operator, case.id, move("classify", catalog_item_code="T-002"))
        apply(s, c.operator, case.id, move("dispatch"))
        return case.id


def _state(c: County, case_id: int) -> str:
    with c.db.read() as s:
        return s.get(Case, case_id).state  # type: ignore[union-attr]


def test_full_loop_from_walk_in_to_closed(county: County) -> None:
    c = county
    with c.db.unit_of_work() as s:
        case = register(s, c.operator, walk_in())
        assert case.number.isdigit() and len(case.number) == 12
        assert case.grid_id == c.regions["T0V0G0"].id and case.region_id == c.regions["T0V0G0"].id
        apply(s, c.operator, case.id, move("classify", catalog_item_code="T-002", risk="中"))
        apply(s, c.operator, case.id, move("dispatch"))
        assert case.department_id == c.departments["RSJ"] and case.handling_level == "县"
        assert case.handling_region_id == c.regions["C"].id
        apply(s, c.handler_renshe, case.id, move("accept"))
        apply(s, c.handler_renshe, case.id, move("start"))
        apply(s, c.handler_renshe, case.id, move("feedback", note="工资已结清"))
        record_visit(s, c.operator, case.id, VisitIn(reached=True, solved=True, satisfaction="满意"))
        case_id = case.id
    with c.db.read() as s:
        case = s.get(Case, case_id)
        assert case.state == "closed" and case.outcome == "solved" and case.closed_at is not None
        events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).all()
        assert [e.action for e in events] == ["register", "classify", "dispatch", "accept", "start", "feedback", "close"]
        assert [e.to_state for e in events][-1] == "closed"
        assert all(e.actor_id for e in events)
        stages = {d.stage: d for d in s.scalars(select(CaseDeadline).where(CaseDeadline.case_id == case_id))}
        assert set(stages) == {"report", "route", "resolve", "feedback"}
        assert all(d.completed_at is not None and d.next_check_at is None for d in stages.values())
        decision = s.scalar(select(RoutingDecision).where(RoutingDecision.case_id == case_id))
        assert decision is not None and decision.changed is False
        assert s.scalar(select(Outbox).where(Outbox.case_id == case_id, Outbox.topic == "case.close"))


def test_returned_twice_goes_to_arbitration_and_then_cannot_be_returned(county: County) -> None:
    c = county
    case_id = _dispatched(c)
    with c.db.unit_of_work() as s:
        apply(s, c.handler_renshe, case_id, move("return", note="不属于本部门"))
        assert s.get(Case, case_id).state == "returned"
        apply(s, c.operator, case_id, move("dispatch"))
        apply(s, c.handler_renshe, case_id, move("return", note="仍不属于本部门"))
        assert s.get(Case, case_id).state == "arbitration"
    with c.db.unit_of_work() as s, pytest.raises(TransitionRefused) as err:
        apply(s, c.handler_renshe, case_id, move("return", note="再退"))
    assert err.value.code == "illegal_transition"
    with c.db.unit_of_work() as s:
        apply(s, c.supervisor, case_id, move("decide", department_id=c.departments["RSJ"], note="审定由人社局办理"))
        assert s.get(Case, case_id).arbitrated is True
    with c.db.unit_of_work() as s, pytest.raises(TransitionRefused) as err:
        apply(s, c.handler_renshe, case_id, move("return", note="还是退"))
    assert err.value.code == "arbitrated"


def test_return_requires_a_reason(county: County) -> None:
    case_id = _dispatched(county)
    with county.db.unit_of_work() as s, pytest.raises(TransitionRefused) as err:
        apply(s, county.handler_renshe, case_id, move("return"))
    assert err.value.field == "note"
    assert _state(county, case_id) == "dispatched"


def test_department_cannot_act_on_another_departments_case(county: County) -> None:
    case_id = _dispatched(county)
    with county.db.unit_of_work() as s, pytest.raises(Exception) as err:
        apply(s, county.handler_zhujian, case_id, move("accept"))
    assert getattr(err.value, "status", None) == 404


def test_operator_change_of_route_is_recorded(county: County) -> None:
    c = county
    with c.db.unit_of_work() as s:
        case = register(s, c.operator, walk_in())
        apply(s, c.operator, case.id, move("classify", catalog_item_code="T-001"))
        apply(s, c.operator, case.id, move("dispatch", department_id=c.departments["XZ"], handling_level="镇"))
        assert case.handling_region_id == c.regions["T0"].id
        decision = s.scalar(select(RoutingDecision).where(RoutingDecision.case_id == case.id))
        assert decision.changed is True and decision.proposed_department_id == c.departments["CW"]
        assert decision.proposed_region_id == c.regions["T0V0"].id


def test_extension_approved_moves_the_deadline_and_is_recorded(county: County) -> None:
    c = county
    case_id = _dispatched(c)
    with c.db.unit_of_work() as s:
        apply(s, c.handler_renshe, case_id, move("accept"))
        before = s.scalar(select(CaseDeadline).where(CaseDeadline.case_id == case_id, CaseDeadline.stage == "resolve"))
        old_due = before.due_at
        apply(s, c.handler_renshe, case_id, move("request_extension", note="等待鉴定", extend_by="3日"))
        apply(s, c.supervisor, case_id, move("approve_extension", note="同意"))
        after = s.scalar(select(CaseDeadline).where(CaseDeadline.case_id == case_id, CaseDeadline.stage == "resolve"))
        assert after.due_at == old_due + timedelta(days=3)
        event = s.scalar(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "approve_extension"))
        assert event.data["old_due_at"] != event.data["new_due_at"]
    with c.db.unit_of_work() as s, pytest.raises(TransitionRefused):
        apply(s, c.supervisor, case_id, move("approve_extension"))


def test_overdue_case_is_not_closed_by_the_clock_and_needs_an_explanation(county: County) -> None:
    c = county
    case_id = _dispatched(c)
    later = utcnow() + timedelta(days=30)
    with c.db.unit_of_work() as s:
        apply(s, c.handler_renshe, case_id, move("accept"), now=later)
        apply(s, c.handler_renshe, case_id, move("start"), now=later)
    assert _state(c, case_id) == "in_progress"
    with c.db.unit_of_work() as s, pytest.raises(TransitionRefused) as err:
        apply(s, c.handler_renshe, case_id, move("feedback", note="已处理"), now=later)
    assert err.value.field == "overdue_reason"
    with c.db.unit_of_work() as s:
        apply(s, c.handler_renshe, case_id, move("feedback", note="已处理", overdue_reason="当事人外出务工"), now=later)
        row = s.scalar(select(CaseDeadline).where(CaseDeadline.case_id == case_id, CaseDeadline.stage == "resolve"))
        assert row.completed_at == later and row.explanation == "当事人外出务工"


def test_dissatisfied_return_visit_reopens(county: County) -> None:
    c = county
    case_id = _dispatched(c)
    with c.db.unit_of_work() as s:
        for action in ("accept", "start"):
            apply(s, c.handler_renshe, case_id, move(action))
        apply(s, c.handler_renshe, case_id, move("feedback", note="已协调"))
        record_visit(s, c.operator, case_id, VisitIn(reached=True, solved=False, satisfaction="不满意"))
        assert s.get(Case, case_id).state == "in_progress"
        rounds = s.scalars(select(CaseDeadline.round).where(CaseDeadline.case_id == case_id,
                                                            CaseDeadline.stage == "resolve")).all()
        assert sorted(rounds) == [1, 2]


def test_three_unreachable_visits_close_as_unreachable(county: County) -> None:
    c = county
    case_id = _dispatched(c)
    with c.db.unit_of_work() as s:
        for action in ("accept", "start"):
            apply(s, c.handler_renshe, case_id, move(action))
        apply(s, c.handler_renshe, case_id, move("feedback", note="已协调"))
        for _ in range(2):
            record_visit(s, c.operator, case_id, VisitIn(reached=False))
            assert s.get(Case, case_id).state == "handled"
        record_visit(s, c.operator, case_id, VisitIn(reached=False))
        case = s.get(Case, case_id)
        assert case.state == "closed" and case.outcome == "unreachable"


def test_escalation_from_village_to_town(county: County) -> None:
    c = county
    with c.db.unit_of_work() as s:
        case = register(s, c.operator, walk_in())
        apply(s, c.operator, case.id, move("classify", catalog_item_code="T-001"))
        apply(s, c.operator, case.id, move("dispatch"))
        apply(s, c.handler_cun, case.id, move("accept"))
        apply(s, c.handler_cun, case.id, move("escalate", note="村级调解不成，上交镇"))
        assert case.state == "triaged" and case.handling_level == "镇" and case.department_id is None
        assert case.handling_region_id == c.regions["T0"].id
        apply(s, c.operator, case.id, move("dispatch", department_id=c.departments["XZ"]))
        assert case.handling_level == "镇" and case.handling_region_id == c.regions["T0"].id


def test_leader_takes_charge(county: County) -> None:
    case_id = _dispatched(county)
    with county.db.unit_of_work() as s:
        apply(s, county.leader, case_id, move("take_charge"))
        case = s.get(Case, case_id)
        assert case.leader_id == county.leader.user_id and case.track == "包案调"


def test_joint_review_instead_of_blind_dispatch(county: County) -> None:
    c = county
    with c.db.unit_of_work() as s:
        case = register(s, c.operator, walk_in())
        apply(s, c.operator, case.id, move("classify", catalog_item_code="T-005"))
        apply(s, c.operator, case.id, move("joint_review", note="权属不清"))
        assert case.state == "joint_review"
        apply(s, c.leader, case.id, move("decide", department_id=c.departments["XZ"], note="研判结论"))
        assert case.state == "dispatched" and case.track == "联合调"


def test_emergency_item_raises_an_alert_at_once(county: County) -> None:
    c = county
    with c.db.unit_of_work() as s:
        case = register(s, c.operator, walk_in(kind="hazard", description="楼道里有很重的煤气味"))
        apply(s, c.operator, case.id, move("classify", catalog_item_code="T-004"))
        assert case.emergency is True
        assert s.scalar(select(Outbox).where(Outbox.case_id == case.id, Outbox.topic == "alert"))


def test_location_outside_the_county_is_kept_and_flagged(county: County) -> None:
    with county.db.unit_of_work() as s:
        case = register(s, county.operator, walk_in(lat=30.0, lon=120.0))
        assert case.location_outside is True and case.region_id == county.regions["C"].id


def test_timeline_events_are_immutable(county: County) -> None:
    case_id = _dispatched(county)
    with county.db.unit_of_work() as s:
        event_id = s.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case_id).limit(1))
    for statement in ("UPDATE case_event SET note = 'x' WHERE id = :id", "DELETE FROM case_event WHERE id = :id"):
        with pytest.raises(Exception, match="append-only"), county.db.unit_of_work() as s:
            s.execute(text(statement), {"id": event_id})


def test_case_records_catalog_version_it_was_routed_by(county: County) -> None:
    from fengqiao.catalog.service import import_catalog
    from support import CATALOG_CSV

    c = county
    case_id = _dispatched(c)
    with c.db.unit_of_work() as s:
        import_catalog(s, CATALOG_CSV.encode(), "v2.csv")
    with c.db.read() as s:
        case = s.get(Case, case_id)
        from fengqiao.catalog.models import CatalogVersion

        assert s.get(CatalogVersion, case.catalog_version_id).number == 1


def test_case_located_in_other_town_is_routed_to_that_town(county: County) -> None:
    c = county
    with c.db.unit_of_work() as s:
        case = register(s, c.operator, walk_in(lat=POINT_B[0], lon=POINT_B[1]))
        apply(s, c.operator, case.id, move("classify", catalog_item_code="T-005"))
        apply(s, c.operator, case.id, move("dispatch"))
        assert case.handling_region_id == c.regions["T1"].id


def test_case_numbers_stay_unique_when_the_first_cases_of_a_day_race(county: County) -> None:
    import threading

    from fengqiao.db import Database

    c = county
    numbers: list[str] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(4)
    when = utcnow() + timedelta(days=400)  # a day no test has used: its counter does not exist yet

    def one() -> None:
        db = Database(c.db.url)
        try:
            barrier.wait()
            with db.unit_of_work() as s:
                numbers.append(register(s, c.operator, walk_in(discovered_at=when), now=when).number)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(numbers)) == 4
    assert sorted(n[-4:] for n in numbers) == ["0001", "0002", "0003", "0004"]
