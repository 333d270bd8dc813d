"""The case's closed loop as one explicit state machine. Pure: no database, no web framework.

Every change of a case goes through :func:`transition`, which checks the move against the
table, the actor's role and the facts the move depends on, and returns the decision the
service applies (new state, event to append, counters to change).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fengqiao.auth.models import Role


class CaseState(StrEnum):
    REGISTERED = "registered"      # 已受理
    TRIAGED = "triaged"            # 已分类（待分流）
    JOINT_REVIEW = "joint_review"  # 联合研判
    DISPATCHED = "dispatched"      # 已交办（待签收）
    RETURNED = "returned"          # 已退回（待重新分流）
    ARBITRATION = "arbitration"    # 待审定（两次退回）
    ACCEPTED = "accepted"          # 已签收
    IN_PROGRESS = "in_progress"    # 处置中
    HANDLED = "handled"            # 已反馈（待回访）
    CLOSED = "closed"              # 已办结
    VOID = "void"                  # 已作废

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    CaseState.REGISTERED: "已受理", CaseState.TRIAGED: "待分流", CaseState.JOINT_REVIEW: "联合研判",
    CaseState.DISPATCHED: "已交办", CaseState.RETURNED: "已退回", CaseState.ARBITRATION: "待审定",
    CaseState.ACCEPTED: "已签收", CaseState.IN_PROGRESS: "处置中", CaseState.HANDLED: "待回访",
    CaseState.CLOSED: "已办结", CaseState.VOID: "已作废",
}

OPEN_STATES = frozenset(CaseState) - {CaseState.CLOSED, CaseState.VOID}


class Action(StrEnum):
    CLASSIFY = "classify"                    # 分类
    DISPATCH = "dispatch"                    # 分流交办
    JOINT_REVIEW = "joint_review"            # 提交联合研判
    DECIDE = "decide"                        # 审定 / 研判结论：有约束力的交办
    ACCEPT = "accept"                        # 签收
    RETURN = "return"                        # 退回
    START = "start"                          # 开始处置
    REQUEST_EXTENSION = "request_extension"  # 申请延期
    APPROVE_EXTENSION = "approve_extension"  # 批准延期
    REJECT_EXTENSION = "reject_extension"    # 驳回延期
    FEEDBACK = "feedback"                    # 办理反馈
    VISIT_ATTEMPT = "visit_attempt"          # 回访未接通
    CLOSE = "close"                          # 回访满意，办结
    REOPEN = "reopen"                        # 回访不满意或反弹，重新处置
    ESCALATE = "escalate"                    # 上交上一级
    TAKE_CHARGE = "take_charge"              # 领导包案
    VOID = "void"                            # 作废

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {
    Action.CLASSIFY: "分类", Action.DISPATCH: "分流交办", Action.JOINT_REVIEW: "提交联合研判",
    Action.DECIDE: "审定交办", Action.ACCEPT: "签收", Action.RETURN: "退回", Action.START: "开始处置",
    Action.REQUEST_EXTENSION: "申请延期", Action.APPROVE_EXTENSION: "批准延期",
    Action.REJECT_EXTENSION: "驳回延期", Action.FEEDBACK: "办理反馈", Action.VISIT_ATTEMPT: "回访未接通",
    Action.CLOSE: "办结", Action.REOPEN: "重新处置", Action.ESCALATE: "上交上级",
    Action.TAKE_CHARGE: "领导包案", Action.VOID: "作废",
}

S = CaseState
_CENTRE = frozenset({Role.OPERATOR, Role.ADMIN})
_DECIDERS = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.LEADER, Role.ADMIN})
# Mediators get their own work (sessions, agreements) with the mediation module; until then only the
# department that owns the case moves it.
_HANDLERS = frozenset({Role.HANDLER})

# (from state, action) → to state. Anything not listed is illegal.
MOVES: dict[tuple[CaseState, Action], CaseState] = {
    (S.REGISTERED, Action.CLASSIFY): S.TRIAGED,
    (S.TRIAGED, Action.CLASSIFY): S.TRIAGED,
    (S.RETURNED, Action.CLASSIFY): S.RETURNED,
    (S.TRIAGED, Action.DISPATCH): S.DISPATCHED,
    (S.RETURNED, Action.DISPATCH): S.DISPATCHED,
    (S.TRIAGED, Action.JOINT_REVIEW): S.JOINT_REVIEW,
    (S.RETURNED, Action.JOINT_REVIEW): S.JOINT_REVIEW,
    (S.JOINT_REVIEW, Action.DECIDE): S.DISPATCHED,
    (S.ARBITRATION, Action.DECIDE): S.DISPATCHED,
    (S.DISPATCHED, Action.ACCEPT): S.ACCEPTED,
    (S.DISPATCHED, Action.RETURN): S.RETURNED,  # the second return goes to ARBITRATION instead
    (S.ACCEPTED, Action.START): S.IN_PROGRESS,
    (S.ACCEPTED, Action.REQUEST_EXTENSION): S.ACCEPTED,
    (S.IN_PROGRESS, Action.REQUEST_EXTENSION): S.IN_PROGRESS,
    (S.ACCEPTED, Action.APPROVE_EXTENSION): S.ACCEPTED,
    (S.IN_PROGRESS, Action.APPROVE_EXTENSION): S.IN_PROGRESS,
    (S.ACCEPTED, Action.REJECT_EXTENSION): S.ACCEPTED,
    (S.IN_PROGRESS, Action.REJECT_EXTENSION): S.IN_PROGRESS,
    (S.ACCEPTED, Action.FEEDBACK): S.HANDLED,
    (S.IN_PROGRESS, Action.FEEDBACK): S.HANDLED,
    (S.HANDLED, Action.VISIT_ATTEMPT): S.HANDLED,
    (S.HANDLED, Action.CLOSE): S.CLOSED,
    (S.HANDLED, Action.REOPEN): S.IN_PROGRESS,
    (S.CLOSED, Action.REOPEN): S.IN_PROGRESS,  # 反弹: the result did not hold
    (S.TRIAGED, Action.ESCALATE): S.TRIAGED,
    (S.DISPATCHED, Action.ESCALATE): S.TRIAGED,
    (S.ACCEPTED, Action.ESCALATE): S.TRIAGED,
    (S.IN_PROGRESS, Action.ESCALATE): S.TRIAGED,
    (S.REGISTERED, Action.VOID): S.VOID,
    (S.TRIAGED, Action.VOID): S.VOID,
}
for _state in OPEN_STATES:
    MOVES[(_state, Action.TAKE_CHARGE)] = _state

ROLES: dict[Action, frozenset[Role]] = {
    Action.CLASSIFY: _CENTRE,
    Action.DISPATCH: _CENTRE,
    Action.JOINT_REVIEW: _CENTRE,
    Action.DECIDE: _DECIDERS,
    Action.ACCEPT: _HANDLERS,
    Action.RETURN: _HANDLERS,
    Action.START: _HANDLERS,
    Action.REQUEST_EXTENSION: _HANDLERS,
    Action.APPROVE_EXTENSION: frozenset({Role.SUPERVISOR, Role.LEADER, Role.ADMIN}),
    Action.REJECT_EXTENSION: frozenset({Role.SUPERVISOR, Role.LEADER, Role.ADMIN}),
    Action.FEEDBACK: _HANDLERS,
    Action.VISIT_ATTEMPT: _CENTRE,
    Action.CLOSE: _CENTRE,
    Action.REOPEN: _CENTRE | {Role.SUPERVISOR, Role.LEADER},
    Action.ESCALATE: _CENTRE | _HANDLERS,
    Action.TAKE_CHARGE: frozenset({Role.LEADER}),
    Action.VOID: _CENTRE,
}

# Actions that need a written reason.
NEEDS_NOTE = frozenset({Action.RETURN, Action.REQUEST_EXTENSION, Action.REJECT_EXTENSION,
                        Action.REOPEN, Action.ESCALATE, Action.VOID, Action.FEEDBACK})

RETURNS_BEFORE_ARBITRATION = 2
LEVELS = ("村", "镇", "县")


class TransitionError(Exception):
    """An illegal move; ``code`` is stable for clients, ``message`` is for people."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Facts:
    """What the rules need to know about a case besides its state."""

    state: CaseState
    return_count: int = 0
    arbitrated: bool = False
    extension_pending: bool = False
    resolve_overdue: bool = False
    handling_level: str | None = None
    has_route: bool = False


@dataclass
class Decision:
    action: Action
    from_state: CaseState
    to_state: CaseState
    changes: dict[str, Any] = field(default_factory=dict)


def allowed_actions(facts: Facts, role: Role) -> list[Action]:
    """The moves this role may try now (what a screen may offer)."""
    out = []
    for (state, action) in MOVES:
        if state is facts.state and role in ROLES[action]:
            try:
                transition(facts, action, role, note="-", overdue_reason="-")
            except TransitionError:
                continue
            out.append(action)
    return sorted(out, key=list(Action).index)


def transition(facts: Facts, action: Action, role: Role, *, note: str | None = None,
               overdue_reason: str | None = None) -> Decision:
    """Check one move and say what it does. Raises :class:`TransitionError` when illegal."""
    target = MOVES.get((facts.state, action))
    if target is None:
        raise TransitionError(
            "illegal_transition",
            f"事项当前为“{facts.state.label}”，不能执行“{action.label}”",
        )
    if role not in ROLES[action]:
        raise TransitionError("role_not_allowed", f"角色“{role.label}”不能执行“{action.label}”")
    if action in NEEDS_NOTE and not (note and note.strip()):
        raise TransitionError("note_required", f"“{action.label}”必须填写说明或理由", "note")

    decision = Decision(action, facts.state, target)
    if action is Action.DISPATCH and not facts.has_route:
        raise TransitionError("route_required", "交办前须确定责任部门、办理层级和属地", "department_id")
    if action is Action.RETURN:
        if facts.arbitrated:
            raise TransitionError("arbitrated", "该事项已经中心审定，不能再次退回", "note")
        count = facts.return_count + 1
        decision.changes["return_count"] = count
        if count >= RETURNS_BEFORE_ARBITRATION:
            decision.to_state = CaseState.ARBITRATION
    elif action is Action.REQUEST_EXTENSION and facts.extension_pending:
        raise TransitionError("extension_pending", "已有待审批的延期申请")
    elif action in (Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION) and not facts.extension_pending:
        raise TransitionError("no_extension", "没有待审批的延期申请")
    elif action is Action.FEEDBACK and facts.resolve_overdue and not (overdue_reason and overdue_reason.strip()):
        # Overdue is never closed by the clock: the handler explains and the loop continues.
        raise TransitionError("overdue_reason_required", "该事项已超期，反馈时须说明超期原因", "overdue_reason")
    elif action is Action.DECIDE and facts.state is CaseState.ARBITRATION:
        decision.changes["arbitrated"] = True
    elif action is Action.ESCALATE:
        level = facts.handling_level or "村"
        if level == LEVELS[-1]:
            raise TransitionError("top_level", "已是县级办理，不能再上交")
        decision.changes["handling_level"] = LEVELS[LEVELS.index(level) + 1]
    return decision
