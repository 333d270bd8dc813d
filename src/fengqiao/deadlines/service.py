"""Stage deadlines of a case: open, complete, extend, and show them; the active policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fengqiao.db import utcnow
from fengqiao.deadlines.domain import Limit, Stage, WorkCalendar, add_limit, parse_limit, stage_status, warn_at
from fengqiao.deadlines.models import CaseDeadline, DeadlinePolicy
from fengqiao.deadlines.policy import DEFAULT_POLICY, Policy, PolicyError, parse_policy
from fengqiao.errors import InvalidInput, NotFound
from fengqiao.workcal.service import DbCalendar


def ensure_default_policy(session: Session) -> DeadlinePolicy:
    row = session.scalar(select(DeadlinePolicy).where(DeadlinePolicy.active.is_(True)))
    if row is None:
        row = DeadlinePolicy(name=DEFAULT_POLICY["name"], active=True, rules=DEFAULT_POLICY)
        session.add(row)
        session.flush()
    return row


def active_policy(session: Session) -> Policy:
    """The active policy, parsed once per unit of work."""
    if "policy" not in session.info:
        session.info["policy"] = parse_policy(ensure_default_policy(session).rules)
    return session.info["policy"]  # type: ignore[no-any-return]


def save_policy(session: Session, rules: dict[str, Any], activate: bool = True) -> DeadlinePolicy:
    """Create or replace a policy by name after validating it; optionally make it the active one."""
    try:
        parse_policy(rules)
    except PolicyError as exc:
        raise InvalidInput(str(exc), exc.field) from None
    name = str(rules.get("name") or "").strip()
    if not name:
        raise InvalidInput("策略必须有名称", "name")
    row = session.scalar(select(DeadlinePolicy).where(DeadlinePolicy.name == name))
    if row is None:
        row = DeadlinePolicy(name=name, rules=rules)
        session.add(row)
    row.rules, row.updated_at = rules, utcnow()
    if activate:
        session.execute(update(DeadlinePolicy).values(active=False))
        row.active = True
    session.info.pop("policy", None)
    session.flush()
    return row


def next_check(policy: Policy, row: CaseDeadline, calendar: WorkCalendar) -> datetime | None:
    """When the supervision job must look at this stage next (its next ladder step)."""
    if row.completed_at is not None or row.supervision_step >= len(policy.ladder):
        return None
    return policy.step_time(policy.ladder[row.supervision_step], row.warn_at, row.due_at, calendar)


def open_stage(session: Session, case_id: int, stage: Stage, start: datetime, limit: Limit,
               policy: Policy, calendar: WorkCalendar | None = None,
               completed_at: datetime | None = None) -> CaseDeadline:
    calendar = calendar or DbCalendar.of(session)
    close_stage(session, case_id, stage, start)  # a new round replaces any round still running
    due = add_limit(start, limit, calendar)
    last_round = session.scalar(select(func.max(CaseDeadline.round)).where(
        CaseDeadline.case_id == case_id, CaseDeadline.stage == stage.value)) or 0
    row = CaseDeadline(case_id=case_id, stage=stage.value, round=last_round + 1, limit_text=limit.text,
                       started_at=start, due_at=due.at, warn_at=warn_at(start, due.at, policy.warn_ratio),
                       calendar_assumed=due.calendar_assumed, supervision_step=0, completed_at=completed_at)
    row.next_check_at = next_check(policy, row, calendar)
    session.add(row)
    session.flush()
    return row


def close_stage(session: Session, case_id: int, stage: Stage, at: datetime, explanation: str | None = None) -> None:
    values: dict[str, Any] = {"completed_at": at, "next_check_at": None}
    if explanation:
        values["explanation"] = explanation[:500]
    # No session synchronisation: rows are re-read by query, and walking every object a long
    # transaction holds (ledger imports, the demo) would cost more than the update itself.
    session.execute(update(CaseDeadline).where(
        CaseDeadline.case_id == case_id, CaseDeadline.stage == stage.value,
        CaseDeadline.completed_at.is_(None)).values(**values).execution_options(synchronize_session=False))


def running_stage(session: Session, case_id: int, stage: Stage) -> CaseDeadline | None:
    return session.scalar(select(CaseDeadline).where(
        CaseDeadline.case_id == case_id, CaseDeadline.stage == stage.value,
        CaseDeadline.completed_at.is_(None)).order_by(CaseDeadline.round.desc()).limit(1))


def extend_stage(session: Session, row: CaseDeadline, new_due: datetime, policy: Policy) -> tuple[datetime, datetime]:
    """Move a running stage's deadline later; the supervision ladder restarts from the new deadline."""
    if new_due <= row.due_at:
        raise InvalidInput("延期后的期限必须晚于原期限", "new_due_at")
    old = row.due_at
    row.due_at = new_due
    row.warn_at = warn_at(row.started_at, new_due, policy.warn_ratio)
    row.supervision_step = 0
    row.next_check_at = next_check(policy, row, DbCalendar.of(session))
    session.flush()
    return old, new_due


def limit_for_extension(text: str) -> Limit:
    try:
        return parse_limit(text)
    except ValueError as exc:
        raise InvalidInput(str(exc), "extend_by") from None


class StageView(BaseModel):
    """One stage deadline as people see it: limit, deadline, state, time left."""

    stage: str
    label: str
    round: int
    limit: str
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    completed_at: datetime | None
    status: str
    seconds_left: int | None
    calendar_assumed: bool
    explanation: str | None


def stage_views(session: Session, case_id: int, now: datetime | None = None) -> list[StageView]:
    now = now or utcnow()
    rows = session.scalars(select(CaseDeadline).where(CaseDeadline.case_id == case_id)
                           .order_by(CaseDeadline.started_at, CaseDeadline.id)
                           .execution_options(populate_existing=True)).all()  # close_stage updates in SQL only
    return [StageView(stage=r.stage, label=Stage(r.stage).label, round=r.round, limit=r.limit_text,
                      started_at=r.started_at, due_at=r.due_at, warn_at=r.warn_at, completed_at=r.completed_at,
                      status=stage_status(r.due_at, r.warn_at, r.completed_at, now).value,
                      seconds_left=None if r.completed_at else int((r.due_at - now).total_seconds()),
                      calendar_assumed=r.calendar_assumed, explanation=r.explanation) for r in rows]


def get_deadline(session: Session, deadline_id: int) -> CaseDeadline:
    row = session.get(CaseDeadline, deadline_id)
    if row is None:
        raise NotFound(f"期限 {deadline_id} 不存在")
    return row
