"""The supervision job: the ladder of actions, exactly once, with several workers at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import timedelta

from sqlalchemy import func, select

from fengqiao.cases.models import CaseEvent
from fengqiao.cases.service import apply, register
from fengqiao.db import Database, utcnow
from fengqiao.deadlines.models import CaseDeadline
from fengqiao.supervision.models import SupervisionAction
from fengqiao.supervision.service import scan_once
from support import County, move, walk_in


def _actions(db: Database) -> list[tuple[int, int, str, str]]:
    with db.read() as s:
        return [tuple(r) for r in s.execute(select(SupervisionAction.deadline_id, SupervisionAction.step,
                                                   SupervisionAction.kind, SupervisionAction.stage)
                                            .order_by(SupervisionAction.id))]


def test_route_stage_climbs_the_ladder(county: County) -> None:
    c = county
    t0 = utcnow()
    with c.db.unit_of_work() as s:
        register(s, c.operator, walk_in(), now=t0)
    # 4-hour route limit: warning at 2h48m, overdue at 4h, 督办 one day later.
    assert scan_once(c.db, now=t0 + timedelta(hours=2)).actions == 0
    assert scan_once(c.db, now=t0 + timedelta(hours=3)).actions == 1
    assert scan_once(c.db, now=t0 + timedelta(hours=3, minutes=30)).actions == 0
    assert scan_once(c.db, now=t0 + timedelta(hours=4, minutes=1)).actions == 1
    assert scan_once(c.db, now=t0 + timedelta(hours=29)).actions == 1
    assert [a[2] for a in _actions(c.db)] == ["reminder", "urging", "notice"]
    assert {a[3] for a in _actions(c.db)} == {"route"}
    with c.db.read() as s:
        notes = s.scalars(select(CaseEvent.note).where(CaseEvent.action == "supervise")).all()
    assert notes == ["分流交办环节预警：提醒", "分流交办环节超期：催办", "分流交办环节超期：督办"]


def test_after_downtime_only_the_highest_due_step_is_sent(county: County) -> None:
    c = county
    t0 = utcnow()
    with c.db.unit_of_work() as s:
        register(s, c.operator, walk_in(), now=t0)
    assert scan_once(c.db, now=t0 + timedelta(days=30)).actions == 1
    assert [a[2] for a in _actions(c.db)] == ["transfer"]
    assert scan_once(c.db, now=t0 + timedelta(days=60)).actions == 0
    with c.db.read() as s:
        row = s.scalar(select(CaseDeadline).where(CaseDeadline.stage == "route"))
        assert row.next_check_at is None and row.completed_at is None  # still overdue, nothing more to send


def test_completed_stages_are_never_supervised(county: County) -> None:
    c = county
    t0 = utcnow()
    with c.db.unit_of_work() as s:
        case = register(s, c.operator, walk_in(), now=t0)
        apply(s, c.operator, case.id, move("classify", catalog_item_code="T-002"), now=t0)
        apply(s, c.operator, case.id, move("dispatch"), now=t0 + timedelta(minutes=5))
    assert scan_once(c.db, now=t0 + timedelta(days=10)).actions == 1
    assert {a[3] for a in _actions(c.db)} == {"resolve"}  # the route stage was done in time


def _many_due_cases(c: County, n: int, t0) -> None:  # type: ignore[no-untyped-def]
    with c.db.unit_of_work() as s:
        for _ in range(n):
            register(s, c.operator, walk_in(), now=t0)


def test_two_workers_at_once_record_each_action_exactly_once(county: County) -> None:
    c = county
    t0 = utcnow()
    _many_due_cases(c, 40, t0)
    now = t0 + timedelta(hours=5)
    workers = [Database(c.db.url), Database(c.db.url)]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run(db: Database) -> None:
        try:
            barrier.wait()
            results.append(scan_once(db, now=now).actions)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(db,)) for db in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for db in workers:
        db.dispose()
    assert not errors
    actions = _actions(c.db)
    assert sum(results) == 40 and len(actions) == 40
    assert len({(a[0], a[1]) for a in actions}) == 40


def test_two_worker_processes_at_once(county: County) -> None:
    c = county
    _many_due_cases(c, 25, utcnow() - timedelta(hours=5))
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "fengqiao.cli", "--database-url", c.db.url, "worker", "--once"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    actions = _actions(c.db)
    assert len(actions) == 25 and len({(a[0], a[1]) for a in actions}) == 25
    with c.db.read() as s:
        assert s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.action == "supervise")) == 25
