"""What the screens need besides the case API: totals, queues, boards, and the live event stream.

Read-only: every change still goes through the case API. Every query is limited to what the
user may see (``scope_filter``), so a screen never shows what the server would refuse.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from fengqiao.auth.models import Role
from fengqiao.auth.service import Principal, mask_phone
from fengqiao.cases import routing
from fengqiao.cases.domain import OPEN_STATES, CaseState, allowed_actions
from fengqiao.cases.models import Case, CaseEvent, Party, ReturnVisit
from fengqiao.cases.queries import overdue_clause, scope_filter, summaries
from fengqiao.cases.service import _facts
from fengqiao.catalog.models import CatalogItem
from fengqiao.catalog.service import current_version
from fengqiao.db import utcnow
from fengqiao.deadlines.domain import LOCAL_TZ, Stage, stage_status
from fengqiao.deadlines.models import CaseDeadline
from fengqiao.deadlines.policy import SUPERVISION_KINDS
from fengqiao.deps import DB, User, require
from fengqiao.errors import InvalidInput
from fengqiao.org.models import Department, Region, RegionLevel
from fengqiao.supervision.models import SupervisionAction
from fengqiao.triage.service import suggest
from fengqiao.web.live import feed_for, read_after

router = APIRouter(prefix="/api/screens", tags=["工作界面"])
Centre = Annotated[Principal, require(Role.OPERATOR, Role.ADMIN)]
Registrar = Annotated[Principal, require(Role.OPERATOR, Role.ADMIN, Role.MEDIATOR)]
Handler = Annotated[Principal, require(Role.HANDLER, Role.MEDIATOR)]
Watcher = Annotated[Principal, require(Role.SUPERVISOR, Role.LEADER, Role.ADMIN, Role.OPERATOR)]
GridWorker = Annotated[Principal, require(Role.GRID_WORKER)]

OPEN = [s.value for s in OPEN_STATES]
QUEUE_STATES = [CaseState.REGISTERED.value, CaseState.TRIAGED.value, CaseState.RETURNED.value,
                CaseState.JOINT_REVIEW.value, CaseState.ARBITRATION.value]
INBOX_STATES = [CaseState.DISPATCHED.value, CaseState.ACCEPTED.value, CaseState.IN_PROGRESS.value]
SATISFIED = ("满意", "基本满意")
# 按件计酬: a grid worker earns points per report, more when the problem is solved.
POINTS_PER_REPORT, POINTS_PER_CLOSED = 1, 2
STREAM_SECONDS = 20.0   # a stream ends after this and the browser reconnects: no server waits long on shutdown
HEARTBEAT_SECONDS = 10.0


def _today_start(now: datetime) -> datetime:
    local = now.astimezone(LOCAL_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _count(session: Session, *where: Any) -> int:
    return session.scalar(select(func.count(Case.id)).where(*where)) or 0


def _rate(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 1) if den else None


@router.get("/dashboard", summary="总览：今日、在办、超期、办结、调解成功率、满意率、地图与滚动信息")
def dashboard(session: DB, user: User) -> dict[str, Any]:
    now = utcnow()
    scope = scope_filter(user)
    today = _today_start(now)
    is_open = Case.state.in_(OPEN)
    closed_disputes = _count(session, scope, Case.state == CaseState.CLOSED.value, Case.kind == "dispute")
    solved_disputes = _count(session, scope, Case.state == CaseState.CLOSED.value, Case.kind == "dispute",
                             Case.outcome == "solved")
    visits = select(func.count(ReturnVisit.id)).join(Case, Case.id == ReturnVisit.case_id).where(
        scope, ReturnVisit.reached.is_(True), ReturnVisit.satisfaction.is_not(None))
    rated = session.scalar(visits) or 0
    satisfied = session.scalar(visits.where(ReturnVisit.satisfaction.in_(SATISFIED))) or 0
    totals = {
        "today": _count(session, scope, Case.registered_at >= today),
        "open": _count(session, scope, is_open),
        "overdue": _count(session, scope, is_open, overdue_clause(now)),
        "closed": _count(session, scope, Case.state == CaseState.CLOSED.value),
        "closed_today": _count(session, scope, Case.closed_at >= today),
        "high_risk_open": _count(session, scope, is_open, Case.risk == "高"),
        "mediation_success_rate": _rate(solved_disputes, closed_disputes),
        "satisfaction_rate": _rate(satisfied, rated),
    }
    by_dept = session.execute(
        select(Case.department_id, func.count(Case.id)).where(scope, is_open, overdue_clause(now))
        .group_by(Case.department_id)).all()
    dept_names = dict(session.execute(select(Department.id, Department.name)).all())
    overdue_by_department = sorted(
        ({"department_id": d, "department": dept_names.get(d, "未交办（待分流）") if d else "未交办（待分流）",
          "overdue": n} for d, n in by_dept), key=lambda r: -r["overdue"])
    grids = dict(session.execute(
        select(Case.grid_id, func.count(Case.id)).where(scope, is_open, Case.kind == "dispute",
                                                        Case.grid_id.is_not(None)).group_by(Case.grid_id)).all())
    hazards = [{"id": c.id, "number": c.number, "title": c.title, "lat": c.lat, "lon": c.lon, "risk": c.risk}
               for c in session.scalars(select(Case).where(scope, is_open, Case.kind.in_(["hazard", "facility"]),
                                                            Case.lat.is_not(None))
                                        .order_by(Case.registered_at.desc()).limit(500))]
    newest = session.scalars(select(Case).where(scope).order_by(Case.registered_at.desc(), Case.id.desc()).limit(15)).all()
    alerts = session.scalars(select(Case).where(scope, is_open, Case.risk == "高")
                             .order_by(Case.registered_at.desc(), Case.id.desc()).limit(15)).all()
    return {"generated_at": now.isoformat(), "totals": totals, "overdue_by_department": overdue_by_department,
            "open_disputes_by_grid": {str(k): v for k, v in grids.items()}, "hazards": hazards,
            "newest": [s.model_dump(mode="json") for s in summaries(session, list(newest), now)],
            "alerts": [s.model_dump(mode="json") for s in summaries(session, list(alerts), now)],
            "region_id": user.region_id}


TILE_URL_ENV = "FENGQIAO_MAP_TILE_URL"


def tile_url() -> str | None:
    """The county's own map tiles (e.g. ``http://tiles.local/{z}/{x}/{y}.png``), or None: grids only.

    A template without ``{z}``, ``{x}`` and ``{y}`` cannot address a tile and is ignored.
    """
    value = os.environ.get(TILE_URL_ENV, "").strip()
    if not value or not all(part in value for part in ("{z}", "{x}", "{y}")):
        return None
    return value


@router.get("/config", summary="界面配置：地图底图瓦片地址（未配置时只画网格）")
def config(user: User) -> dict[str, Any]:
    return {"tile_url": tile_url()}


@router.get("/events", summary="实时事件流（Server-Sent Events）：任何事项变化 2 秒内推送",
            response_class=StreamingResponse)
async def events(request: Request, user: User,
                 after: Annotated[int | None, Query(description="上次收到的事件编号，断线重连时补发其后的事件")] = None
                 ) -> StreamingResponse:
    feed = feed_for(request.app)
    queue = await feed.subscribe()

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 1000\n: 已连接\n\n"
            seen = after or 0
            if after is not None:
                for event in await asyncio.to_thread(read_after, feed.db, after, None, 200):
                    seen = max(seen, event.id)
                    if event.visible_to(user):
                        yield _sse(event.id, event.public())
            deadline = asyncio.get_running_loop().time() + STREAM_SECONDS
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=min(HEARTBEAT_SECONDS, left))
                except TimeoutError:
                    yield ": 心跳\n\n"
                    continue
                if event.id <= seen and after is not None:
                    continue
                if event.visible_to(user):
                    yield _sse(event.id, event.public())
        finally:
            feed.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _sse(event_id: int, data: dict[str, Any]) -> str:
    return f"id: {event_id}\nevent: change\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _running(session: Session, case_ids: list[int]) -> dict[int, CaseDeadline]:
    """The most urgent running deadline of each case."""
    out: dict[int, CaseDeadline] = {}
    if not case_ids:
        return out
    for row in session.scalars(select(CaseDeadline).where(CaseDeadline.case_id.in_(case_ids),
                                                          CaseDeadline.completed_at.is_(None))
                               .order_by(CaseDeadline.due_at)):
        out.setdefault(row.case_id, row)
    return out


def _deadline_out(row: CaseDeadline | None, now: datetime) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"stage": row.stage, "label": Stage(row.stage).label, "due_at": row.due_at.isoformat(),
            "status": stage_status(row.due_at, row.warn_at, None, now).value,
            "seconds_left": int((row.due_at - now).total_seconds())}


def _reporters(session: Session, user: Principal, case_ids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    if not case_ids:
        return out
    for p in session.scalars(select(Party).where(Party.case_id.in_(case_ids)).order_by(Party.id)):
        if p.case_id not in out or (p.role == "reporter" and out[p.case_id]["role"] != "reporter"):
            out[p.case_id] = {"name": p.name, "role": p.role,
                              "phone": p.phone if user.sees_pii else mask_phone(p.phone),
                              "raw_phone": p.phone}
    return out


def _allowed(session: Session, user: Principal, case: Case, now: datetime) -> list[str]:
    """The moves this user may make on this case now, as the case page would offer them."""
    if user.role is Role.HANDLER and case.department_id != user.department_id:
        return []
    return [a.value for a in allowed_actions(_facts(session, case, True, now), user.role)]


def _suggest(session: Session, by_code: dict[str, CatalogItem], case: Case) -> tuple[CatalogItem | None, Any]:
    """The triage router's best list item for an unclassified case, with its reasons."""
    suggestion = suggest(session, case.description, channel=case.channel)
    if suggestion is None or suggestion.item_code is None:
        return None, suggestion
    return by_code.get(suggestion.item_code), suggestion


@router.get("/queue", summary="分流台：待分类、待分流、退回、研判、待审定的事项，含建议与疑似重复")
def queue(session: DB, user: Centre, limit: Annotated[int, Query(ge=1, le=500)] = 200) -> dict[str, Any]:
    now = utcnow()
    base = select(Case).where(scope_filter(user), Case.state.in_(QUEUE_STATES))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = list(session.scalars(base.order_by(Case.registered_at.desc(), Case.id.desc()).limit(limit)))
    ids = [c.id for c in rows]
    running = _running(session, ids)
    reporters = _reporters(session, user, ids)
    version = current_version(session)
    items = list(session.scalars(select(CatalogItem).where(CatalogItem.version_id == version.id))) if version else []
    by_item = {i.id: i for i in items}
    by_code = {i.code: i for i in items}
    depts = dict(session.execute(select(Department.id, Department.name)).all())
    phones = {r["raw_phone"] for r in reporters.values() if r["raw_phone"]}
    earlier: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if phones:
        for phone, cid, number, title in session.execute(
                select(Party.phone, Case.id, Case.number, Case.title).join(Case, Case.id == Party.case_id)
                .where(scope_filter(user), Party.phone.in_(phones), Case.state.in_(OPEN),
                       Case.registered_at >= now - timedelta(days=30))):
            earlier[phone].append({"id": cid, "number": number, "title": title})
    out = []
    for summary, case in zip(summaries(session, rows, now), rows, strict=True):
        reporter = reporters.get(case.id)
        suggestion = None
        if case.catalog_item_id:
            item = by_item.get(case.catalog_item_id)
        else:
            item, suggestion = _suggest(session, by_code, case)
        proposal = None
        if case.catalog_item_id:
            p = routing.propose(session, case)
            proposal = {"department_id": p.department.id if p.department else None,
                        "department_name": p.department.name if p.department else None, "level": p.level,
                        "region_id": p.region.id if p.region else None,
                        "region_name": p.region.name if p.region else None, "reason": p.reason}
        elif item is not None:
            reasons = "；".join(suggestion.reasons[:3]) if suggestion else ""
            proposal = {"department_id": item.department_id, "department_name": depts.get(item.department_id),
                        "level": item.level, "region_id": None, "region_name": None,
                        "confidence": round(suggestion.confidence, 3) if suggestion else None,
                        "suggested_risk": suggestion.risk if suggestion else None,
                        "track": suggestion.track if suggestion else None,
                        "reasons": list(suggestion.reasons) if suggestion else [],
                        "reason": f"智能分流建议清单事项 {item.code}“{item.name}”" + (f"：{reasons}" if reasons else "")}
        dupes = [d for d in earlier.get(reporter["raw_phone"], []) if d["id"] != case.id] if reporter and reporter["raw_phone"] else []
        out.append({**summary.model_dump(mode="json"), "description": case.description[:200],
                    "return_count": case.return_count, "emergency": case.emergency,
                    "catalog_item_id": case.catalog_item_id,
                    "suggested_item": {"id": item.id, "code": item.code, "name": item.name} if item else None,
                    "proposal": proposal, "deadline": _deadline_out(running.get(case.id), now),
                    "reporter": {k: v for k, v in reporter.items() if k != "raw_phone"} if reporter else None,
                    "possible_duplicates": dupes[:5], "allowed_actions": _allowed(session, user, case, now)})
    order = {CaseState.ARBITRATION.value: 0, CaseState.RETURNED.value: 1}
    out.sort(key=lambda r: (order.get(r["state"], 2), {"高": 0, "中": 1}.get(r["risk"], 2)))
    return {"total": total, "items": out}


@router.get("/inbox", summary="部门待办：本部门待签收、已签收、处置中的事项，超期在前")
def inbox(session: DB, user: Handler) -> dict[str, Any]:
    now = utcnow()
    query = select(Case).where(scope_filter(user), Case.state.in_(INBOX_STATES))
    if user.role is Role.MEDIATOR:
        query = query.where(Case.kind == "dispute")
    rows = list(session.scalars(query.order_by(Case.registered_at).limit(500)))
    running = _running(session, [c.id for c in rows])
    out = []
    for summary, case in zip(summaries(session, rows, now), rows, strict=True):
        out.append({**summary.model_dump(mode="json"), "description": case.description[:200],
                    "extension_pending": case.extension_pending, "handling_level": case.handling_level,
                    "return_count": case.return_count, "deadline": _deadline_out(running.get(case.id), now),
                    "allowed_actions": _allowed(session, user, case, now)})
    out.sort(key=lambda r: (not r["overdue"], r["deadline"]["due_at"] if r["deadline"] else "9999"))
    counts = {s: sum(1 for r in out if r["state"] == s) for s in INBOX_STATES}
    return {"total": len(out), "overdue": sum(1 for r in out if r["overdue"]), "by_state": counts, "items": out}


@router.get("/visits", summary="回访：待回访事项（反馈后），按回访期限排序")
def visits(session: DB, user: Centre) -> dict[str, Any]:
    now = utcnow()
    rows = list(session.scalars(select(Case).where(scope_filter(user), Case.state == CaseState.HANDLED.value)
                                .order_by(Case.updated_at).limit(500)))
    ids = [c.id for c in rows]
    running = _running(session, ids)
    reporters = _reporters(session, user, ids)
    feedback: dict[int, CaseEvent] = {}
    for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(ids), CaseEvent.action == "feedback")
                             .order_by(CaseEvent.at)):
        feedback[e.case_id] = e
    attempts: dict[int, int] = defaultdict(int)
    for v in session.scalars(select(ReturnVisit).where(ReturnVisit.case_id.in_(ids))):
        fb = feedback.get(v.case_id)
        if fb is None or v.at >= fb.at:
            attempts[v.case_id] += 1
    out = []
    for summary, case in zip(summaries(session, rows, now), rows, strict=True):
        fb = feedback.get(case.id)
        reporter = reporters.get(case.id)
        out.append({**summary.model_dump(mode="json"),
                    "reporter": {k: v for k, v in reporter.items() if k != "raw_phone"} if reporter else None,
                    "feedback": fb.note if fb else None, "feedback_at": fb.at.isoformat() if fb else None,
                    "attempts": attempts[case.id], "deadline": _deadline_out(running.get(case.id), now)})
    out.sort(key=lambda r: r["deadline"]["due_at"] if r["deadline"] else "9999")
    today = _today_start(now)
    done_today = session.scalar(select(func.count(ReturnVisit.id)).join(Case, Case.id == ReturnVisit.case_id)
                                .where(scope_filter(user), ReturnVisit.at >= today)) or 0
    return {"total": len(out), "done_today": done_today, "items": out}


def _town_of(path: str, towns: dict[int, str]) -> tuple[int | None, str]:
    for part in path.strip("/").split("/"):
        if part and int(part) in towns:
            return int(part), towns[int(part)]
    return None, "县直/未定位"


@router.get("/supervision", summary="督办台：按部门、乡镇汇总预警与超期，已采取的督办和下一步建议")
def supervision(session: DB, user: Watcher) -> dict[str, Any]:
    now = utcnow()
    rows = session.execute(
        select(Case, CaseDeadline).join(CaseDeadline, and_(CaseDeadline.case_id == Case.id,
                                                           CaseDeadline.completed_at.is_(None)))
        .where(scope_filter(user), Case.state.in_(OPEN), CaseDeadline.warn_at <= now)
        .order_by(CaseDeadline.due_at)).all()
    worst: dict[int, tuple[Case, CaseDeadline]] = {}
    for case, dl in rows:
        worst.setdefault(case.id, (case, dl))
    ids = list(worst)
    towns = dict(session.execute(select(Region.id, Region.name).where(Region.level == RegionLevel.TOWN.value)).all())
    depts = dict(session.execute(select(Department.id, Department.name)).all())
    acts: dict[int, list[SupervisionAction]] = defaultdict(list)
    for a in session.scalars(select(SupervisionAction).where(SupervisionAction.case_id.in_(ids))
                             .order_by(SupervisionAction.created_at, SupervisionAction.id)):
        acts[a.case_id].append(a)
    kinds = list(SUPERVISION_KINDS)
    by_dept: dict[str, dict[str, int]] = defaultdict(lambda: {"warning": 0, "overdue": 0, "actions": 0})
    by_town: dict[str, dict[str, int]] = defaultdict(lambda: {"warning": 0, "overdue": 0, "actions": 0})
    cases = []
    for case, dl in worst.values():
        status = "overdue" if dl.due_at < now else "warning"
        dept = depts.get(case.department_id, "未交办（分流环节）") if case.department_id else "未交办（分流环节）"
        _, town = _town_of(case.region_path, towns)
        history = acts.get(case.id, [])
        for bucket in (by_dept[dept], by_town[town]):
            bucket[status] += 1
            bucket["actions"] += len(history)
        last = history[-1] if history else None
        used = max((kinds.index(a.kind) for a in history if a.kind in kinds), default=-1)
        nxt = kinds[min(used + 1, len(kinds) - 1)] if history else ("urging" if status == "overdue" else "reminder")
        cases.append({"id": case.id, "number": case.number, "title": case.title, "state": case.state,
                      "state_label": CaseState(case.state).label, "risk": case.risk, "department": dept,
                      "town": town, "status": status, "deadline": _deadline_out(dl, now),
                      "actions": len(history), "last_action": {
                          "kind": last.kind, "label": SUPERVISION_KINDS.get(last.kind, last.kind),
                          "at": last.created_at.isoformat(), "manual": last.created_by is not None} if last else None,
                      "next_action": nxt, "next_action_label": SUPERVISION_KINDS[nxt]})
    cases.sort(key=lambda c: (c["status"] != "overdue", c["deadline"]["due_at"]))
    recent = session.execute(
        select(SupervisionAction.kind, func.count(SupervisionAction.id)).join(Case, Case.id == SupervisionAction.case_id)
        .where(scope_filter(user), SupervisionAction.created_at >= now - timedelta(days=30))
        .group_by(SupervisionAction.kind)).all()

    def table(d: dict[str, dict[str, int]], key: str) -> list[dict[str, Any]]:
        return sorted(({key: k, **v} for k, v in d.items()), key=lambda r: (-r["overdue"], -r["warning"]))

    return {"generated_at": now.isoformat(), "warning": sum(1 for c in cases if c["status"] == "warning"),
            "overdue": sum(1 for c in cases if c["status"] == "overdue"),
            "by_department": table(by_dept, "department"), "by_town": table(by_town, "town"),
            "actions_30d": {SUPERVISION_KINDS.get(k, k): n for k, n in recent},
            "kinds": [{"kind": k, "label": v} for k, v in SUPERVISION_KINDS.items()], "cases": cases[:300]}


@router.get("/person-cases", summary="受理窗口：同一电话或身份证号的既往事项")
def person_cases(session: DB, user: Registrar, phone: str | None = None, id_number: str | None = None) -> dict[str, Any]:
    conds = []
    if phone and len(phone.strip()) >= 7:
        conds.append(Party.phone == phone.strip())
    if id_number and len(id_number.strip()) >= 15:
        conds.append(Party.id_number == id_number.strip().upper())
    if not conds:
        raise InvalidInput("请提供电话或身份证号", "phone")
    now = utcnow()
    rows = list(session.scalars(select(Case).where(scope_filter(user), Case.id.in_(
        select(Party.case_id).where(or_(*conds)))).order_by(Case.registered_at.desc()).limit(50)))
    return {"total": len(rows), "open": sum(1 for c in rows if c.state in OPEN),
            "items": [s.model_dump(mode="json") for s in summaries(session, rows, now)]}


@router.get("/grid-worker", summary="网格员：我的上报、我网格内的在办事项、我的积分")
def grid_worker(session: DB, user: GridWorker) -> dict[str, Any]:
    now = utcnow()
    mine = list(session.scalars(select(Case).where(Case.created_by == user.user_id)
                                .order_by(Case.registered_at.desc()).limit(50)))
    reported = _count(session, Case.created_by == user.user_id)
    closed = _count(session, Case.created_by == user.user_id, Case.state == CaseState.CLOSED.value)
    tasks = list(session.scalars(select(Case).where(scope_filter(user), Case.state.in_(OPEN))
                                 .order_by(Case.registered_at.desc()).limit(50)))
    return {"points": reported * POINTS_PER_REPORT + closed * POINTS_PER_CLOSED,
            "points_rule": f"每上报一件 {POINTS_PER_REPORT} 分，办结再加 {POINTS_PER_CLOSED} 分",
            "reported": reported, "closed": closed,
            "my_reports": [s.model_dump(mode="json") for s in summaries(session, mine, now)],
            "tasks": [s.model_dump(mode="json") for s in summaries(session, tasks, now)]}

