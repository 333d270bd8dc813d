"""The state machine itself, without a database: every move in and out of the table."""

from __future__ import annotations

import itertools

import pytest

from fengqiao.auth.models import Role
from fengqiao.cases.domain import (
    MOVES, ROLES, Action, CaseState, Facts, TransitionError, allowed_actions, transition,
)

ALL_PAIRS = list(itertools.product(CaseState, Action))
ILLEGAL = [(s, a) for s, a in ALL_PAIRS if (s, a) not in MOVES]


def _role_for(action: Action) -> Role:
    return sorted(ROLES[action])[0]


def _facts(state: CaseState, **kw) -> Facts:  # type: ignore[no-untyped-def]
    base = {"has_route": True, "extension_pending": False, "handling_level": "村"}
    base.update(kw)
    return Facts(state=state, **base)


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=[f"{s}-{a}" for s, a in ILLEGAL])
def test_every_illegal_move_is_refused(state: CaseState, action: Action) -> None:
    with pytest.raises(TransitionError) as err:
        transition(_facts(state), action, _role_for(action), note="理由", overdue_reason="原因")
    assert err.value.code == "illegal_transition"
    assert state.label in err.value.message and action.label in err.value.message


def test_the_table_covers_every_pair_once() -> None:
    assert len(ILLEGAL) + len(MOVES) == len(CaseState) * len(Action)
    assert all(isinstance(target, CaseState) for target in MOVES.values())


@pytest.mark.parametrize(("state", "action"), sorted(MOVES, key=str), ids=[f"{s}-{a}" for s, a in sorted(MOVES, key=str)])
def test_every_legal_move_is_refused_to_other_roles(state: CaseState, action: Action) -> None:
    for role in set(Role) - ROLES[action]:
        with pytest.raises(TransitionError) as err:
            transition(_facts(state, extension_pending=True), action, role, note="理由")
        assert err.value.code == "role_not_allowed"


def test_closed_and_void_are_final_except_rebound() -> None:
    assert {a for (s, a) in MOVES if s is CaseState.VOID} == set()
    assert {a for (s, a) in MOVES if s is CaseState.CLOSED} == {Action.REOPEN}


def test_second_return_goes_to_arbitration() -> None:
    first = transition(_facts(CaseState.DISPATCHED, return_count=0), Action.RETURN, Role.HANDLER, note="非本部门")
    assert first.to_state is CaseState.RETURNED and first.changes["return_count"] == 1
    second = transition(_facts(CaseState.DISPATCHED, return_count=1), Action.RETURN, Role.HANDLER, note="非本部门")
    assert second.to_state is CaseState.ARBITRATION


def test_arbitration_decision_is_binding() -> None:
    decided = transition(_facts(CaseState.ARBITRATION), Action.DECIDE, Role.SUPERVISOR)
    assert decided.to_state is CaseState.DISPATCHED and decided.changes["arbitrated"] is True
    with pytest.raises(TransitionError) as err:
        transition(_facts(CaseState.DISPATCHED, arbitrated=True), Action.RETURN, Role.HANDLER, note="再退")
    assert err.value.code == "arbitrated"


@pytest.mark.parametrize("action", [Action.RETURN, Action.REQUEST_EXTENSION, Action.VOID, Action.ESCALATE])
def test_reason_is_required(action: Action) -> None:
    state = next(s for (s, a) in MOVES if a is action)
    with pytest.raises(TransitionError) as err:
        transition(_facts(state), action, _role_for(action), note="  ")
    assert err.value.code == "note_required" and err.value.field == "note"


def test_overdue_feedback_needs_an_explanation() -> None:
    with pytest.raises(TransitionError) as err:
        transition(_facts(CaseState.IN_PROGRESS, resolve_overdue=True), Action.FEEDBACK, Role.HANDLER, note="已办")
    assert err.value.field == "overdue_reason"
    ok = transition(_facts(CaseState.IN_PROGRESS, resolve_overdue=True), Action.FEEDBACK, Role.HANDLER,
                    note="已办", overdue_reason="当事人外出")
    assert ok.to_state is CaseState.HANDLED


def test_dispatch_without_a_route_is_refused() -> None:
    with pytest.raises(TransitionError) as err:
        transition(_facts(CaseState.TRIAGED, has_route=False), Action.DISPATCH, Role.OPERATOR)
    assert err.value.code == "route_required"


def test_escalation_climbs_one_level_and_stops_at_the_county() -> None:
    assert transition(_facts(CaseState.IN_PROGRESS, handling_level="村"), Action.ESCALATE, Role.HANDLER,
                      note="调解不成").changes["handling_level"] == "镇"
    assert transition(_facts(CaseState.IN_PROGRESS, handling_level="镇"), Action.ESCALATE, Role.HANDLER,
                      note="调解不成").changes["handling_level"] == "县"
    with pytest.raises(TransitionError) as err:
        transition(_facts(CaseState.IN_PROGRESS, handling_level="县"), Action.ESCALATE, Role.HANDLER, note="x")
    assert err.value.code == "top_level"


def test_extension_cannot_be_requested_twice_or_approved_when_none_is_pending() -> None:
    with pytest.raises(TransitionError):
        transition(_facts(CaseState.IN_PROGRESS, extension_pending=True), Action.REQUEST_EXTENSION, Role.HANDLER,
                   note="再延")
    with pytest.raises(TransitionError) as err:
        transition(_facts(CaseState.IN_PROGRESS), Action.APPROVE_EXTENSION, Role.SUPERVISOR)
    assert err.value.code == "no_extension"


def test_allowed_actions_are_what_the_role_may_do_now() -> None:
    assert allowed_actions(_facts(CaseState.DISPATCHED), Role.HANDLER) == [Action.ACCEPT, Action.RETURN, Action.ESCALATE]
    assert allowed_actions(_facts(CaseState.DISPATCHED, arbitrated=True), Role.HANDLER) == [Action.ACCEPT, Action.ESCALATE]
    assert allowed_actions(_facts(CaseState.CLOSED), Role.HANDLER) == []
    assert Action.TAKE_CHARGE in allowed_actions(_facts(CaseState.IN_PROGRESS), Role.LEADER)
