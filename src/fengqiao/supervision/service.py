"""The supervision job: find warnings and overdue stages, record the next action exactly once.

Safe with several workers: each row is claimed by a compare-and-set on its step counter
(and ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and a unique key on (deadline, step) makes a
second action for the same step impossible even if two claims raced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fengqiao.cases.domain import OPEN_STATES
from fengqiao.cases.models import Case, CaseEvent, Outbox
from fengqiao.db import Database, utcnow
from fengqiao.deadlines.domain import Stage
from fengqiao.deadlines.models import CaseDeadline
from fengqiao.deadlines.policy import SUPERVISION_KINDS, Policy
from fengqiao.deadlines.service import active_policy
from fengqiao.errors import InvalidInput
from fengqiao.supervision.models import SupervisionAction
from fengqiao.workcal.service import DbCalendar

BATCH = 500


@dataclass
class ScanResult:
    examined: int = 0
    actions: int = 0


def _claim_batch(session: Session, now: datetime, postgres: bool) -> list[CaseDeadline]:
    query = (select(CaseDeadline).where(CaseDeadline.next_check_at <= now)
             .order_by(CaseDeadline.next_check_at).limit(BATCH))
    if postgres:
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _due_step(policy: Policy, row: CaseDeadline, calendar: DbCalendar, now: datetime) -> tuple[int, int | None]:
    """The highest ladder step already due, and the next step after it (None if none left)."""
    step = row.supervision_step
    while step < len(policy.ladder) and policy.step_time(policy.ladder[step], row.warn_at, row.due_at, calendar) <= now:
        step += 1
    return step, (step if step < len(policy.ladder) else None)


def scan_once(db: Database, now: datetime | None = None) -> ScanResult:
    """One pass over due rows, in batches, each batch its own transaction."""
    result = ScanResult()
    while True:
        with db.unit_of_work() as session:
            n_now = now or utcnow()
            rows = _claim_batch(session, n_now, db.is_postgres)
            if not rows:
                return result
            policy = active_policy(session)
            calendar = DbCalendar.of(session)
            cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_({r.case_id for r in rows})))}
            progressed = 0
            # No autoflush: the batch's inserts go out together at commit instead of one round trip each.
            with session.no_autoflush:
                for row in rows:
                    result.examined += 1
                    progressed += _supervise(session, policy, calendar, row, cases.get(row.case_id), n_now, result)
            if progressed == 0:
                return result


def _supervise(session: Session, policy: Policy, calendar: DbCalendar, row: CaseDeadline, case: Case | None,
               now: datetime, result: ScanResult) -> int:
    reached, nxt = _due_step(policy, row, calendar, now)
    next_at = None if nxt is None else policy.step_time(policy.ladder[nxt], row.warn_at, row.due_at, calendar)
    if case is None or case.state not in OPEN_STATES:
        next_at = None
    # Compare-and-set: only the worker that moves the counter from the value it read acts.
    claimed = session.execute(
        update(CaseDeadline)
        .where(CaseDeadline.id == row.id, CaseDeadline.supervision_step == row.supervision_step,
               CaseDeadline.completed_at.is_(None))
        .values(supervision_step=reached, next_check_at=next_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return 0
    if reached == row.supervision_step or case is None or case.state not in OPEN_STATES:
        return 1
    # Catching up after downtime: only the highest step due is sent, not every one missed.
    step = policy.ladder[reached - 1]
    label = SUPERVISION_KINDS[step.kind]
    note = f"{Stage(row.stage).label}环节{'预警' if step.anchor == 'warn' else '超期'}：{label}"
    session.add(SupervisionAction(case_id=case.id, deadline_id=row.id, department_id=case.department_id,
                                  step=reached, kind=step.kind, stage=row.stage, created_at=now, note=note))
    session.add(CaseEvent(case_id=case.id, at=now, actor_id=None, action="supervise", from_state=case.state,
                          to_state=case.state, note=note, data={"kind": step.kind, "stage": row.stage, "step": reached}))
    session.add(Outbox(topic="supervision", case_id=case.id, payload={"number": case.number, "kind": step.kind,
                                                                       "stage": row.stage}))
    result.actions += 1
    return 1


def record_manual(session: Session, case: Case, kind: str, user_id: int, note: str | None) -> SupervisionAction:
    """A supervisor sends the next action by hand; it is recorded like the job's."""
    if kind not in SUPERVISION_KINDS:
        raise InvalidInput(f"督办方式无效，可选：{'、'.join(SUPERVISION_KINDS)}", "kind")
    row = session.scalar(select(CaseDeadline).where(CaseDeadline.case_id == case.id, CaseDeadline.completed_at.is_(None))
                         .order_by(CaseDeadline.due_at).limit(1))
    if row is None:
        raise InvalidInput("该事项没有正在计时的环节，无需督办", "case_id")
    step = 1000 + (session.scalar(select(SupervisionAction.step).where(SupervisionAction.deadline_id == row.id,
                                                                       SupervisionAction.step >= 1000)
                                  .order_by(SupervisionAction.step.desc()).limit(1)) or 1000) - 1000 + 1
    action = SupervisionAction(case_id=case.id, deadline_id=row.id, department_id=case.department_id, step=step,
                               kind=kind, stage=row.stage, created_by=user_id, note=note)
    session.add(action)
    session.add(CaseEvent(case_id=case.id, actor_id=user_id, action="supervise", from_state=case.state,
                          to_state=case.state, note=note or SUPERVISION_KINDS[kind], data={"kind": kind, "manual": True}))
    session.add(Outbox(topic="supervision", case_id=case.id, payload={"number": case.number, "kind": kind,
                                                                       "stage": row.stage, "manual": True}))
    return action
