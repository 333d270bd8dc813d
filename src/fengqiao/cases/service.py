"""Case use cases: register, move through the loop (one function), return visits, links.

Each function runs inside the caller's unit of work and never commits on its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from fengqiao.auth.models import Role
from fengqiao.auth.service import Principal
from fengqiao.cases import routing
from fengqiao.cases.access import check_region, check_visible
from fengqiao.cases.domain import Action, CaseState, Facts, TransitionError, transition
from fengqiao.cases.models import (
    Attachment, Case, CaseCounter, CaseEvent, CaseLink, Outbox, Party, ReturnVisit, RoutingDecision,
)
from fengqiao.cases.schemas import CaseCreate, LinkIn, TransitionIn, VisitIn
from fengqiao.catalog.models import CatalogItem
from fengqiao.catalog.service import current_version, find_item, get_item
from fengqiao.db import utcnow
from fengqiao.deadlines.domain import LOCAL_TZ, Stage, add_limit, parse_limit, stage_status
from fengqiao.deadlines.service import active_policy, close_stage, extend_stage, limit_for_extension, open_stage, running_stage
from fengqiao.errors import Conflict, FengqiaoError, InvalidInput, NotFound
from fengqiao.org.models import Department, Region
from fengqiao.org.service import county, get_region, locate
from fengqiao.workcal.service import DbCalendar

MAX_VISIT_ATTEMPTS = 3
SATISFIED = ("满意", "基本满意")


class TransitionRefused(FengqiaoError):
    def __init__(self, err: TransitionError) -> None:
        super().__init__(err.message, err.field, code=err.code, status=409)


def _next_number(session: Session, now: datetime) -> str:
    """Day + sequence (e.g. 202611240042): short enough to read out on the phone."""
    day = now.astimezone(LOCAL_TZ).strftime("%Y%m%d")
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # Two first cases of a day may race to create the counter: one creates it, both then lock it.
    session.execute(insert(CaseCounter).values(day=day, last=0).on_conflict_do_nothing(index_elements=["day"]))
    last = session.execute(update(CaseCounter).where(CaseCounter.day == day)
                           .values(last=CaseCounter.last + 1).returning(CaseCounter.last)).scalar_one()
    return f"{day}{last:04d}"


def _event(session: Session, case: Case, actor: Principal | None, action: str, from_state: str | None,
           note: str | None = None, data: dict[str, Any] | None = None, at: datetime | None = None) -> CaseEvent:
    event = CaseEvent(case_id=case.id, at=at or utcnow(), actor_id=actor.user_id if actor else None, action=action,
                      from_state=from_state, to_state=case.state, note=note, data=data or {})
    session.add(event)
    session.add(Outbox(topic=f"case.{action}", case_id=case.id,
                       payload={"number": case.number, "state": case.state, "action": action}))
    return event


def register(session: Session, principal: Principal, data: CaseCreate, now: datetime | None = None,
             triage: bool = True) -> Case:
    """受理: create a case, resolve its place, start the report and route deadlines; then triage grades
    its risk and, above the administrator's threshold, routes it at once."""
    now = now or utcnow()
    discovered = data.discovered_at or now
    if discovered > now + timedelta(minutes=5):
        raise InvalidInput("发现时间不能晚于当前时间", "discovered_at")
    if (data.lat is None) != (data.lon is None):
        raise InvalidInput("经度和纬度须同时提供", "lat" if data.lat is None else "lon")
    grid, outside = None, False
    if data.lat is not None and data.lon is not None:
        place = locate(session, data.lat, data.lon)
        grid, region = place.grid, place.deepest
        if region is None:
            # Kept and flagged for the operator, never dropped.
            outside, region = True, county(session)
    elif data.region_id is not None:
        region = get_region(session, data.region_id)
    else:
        region = get_region(session, principal.region_id)
    if data.region_id is not None:
        check_region(principal, get_region(session, data.region_id).path)
    if not data.address and data.lat is None and data.region_id is None and principal.role is not Role.GRID_WORKER:
        raise InvalidInput("请提供位置：坐标、地址或所属区划", "address")
    title = data.title or data.description.strip().splitlines()[0][:40]
    case = Case(number=_next_number(session, now), kind=data.kind.value, channel=data.channel.value,
                state=CaseState.REGISTERED.value, title=title, description=data.description, risk=data.risk,
                lat=data.lat, lon=data.lon, address=data.address, location_outside=outside,
                grid_id=grid.id if grid else None, region_id=region.id, region_path=region.path,
                discovered_at=discovered, registered_at=now, created_by=principal.user_id, updated_at=now)
    session.add(case)
    session.flush()
    session.add_all(Party(case_id=case.id, role=p.role, name=p.name, phone=p.phone, id_number=p.id_number)
                    for p in data.parties)
    policy = active_policy(session)
    calendar = DbCalendar.of(session)
    open_stage(session, case.id, Stage.REPORT, discovered, policy.stages[Stage.REPORT], policy, calendar, completed_at=now)
    open_stage(session, case.id, Stage.ROUTE, now, policy.stages[Stage.ROUTE], policy, calendar)
    _event(session, case, principal, "register", None, data={"channel": case.channel, "outside": outside}, at=now)
    if case.risk == "高":
        alert(session, case, "高风险事项登记")
    if triage:
        from fengqiao.triage.arrival import on_arrival  # triage builds on cases: import late

        on_arrival(session, case, now)
    return case


def note_event(session: Session, case: Case, actor: Principal | None, action: str, note: str | None,
               data: dict[str, Any], at: datetime) -> CaseEvent:
    """A timeline entry that does not change the state (risk graded, rating recorded ...)."""
    return _event(session, case, actor, action, case.state, note, data, at)


def alert(session: Session, case: Case, reason: str) -> None:
    """零延迟快报: an alert leaves through the outbox in the same transaction."""
    session.add(Outbox(topic="alert", case_id=case.id, payload={"number": case.number, "reason": reason,
                                                                 "risk": case.risk, "title": case.title}))


def load_case(session: Session, principal: Principal, case_id: int, for_update: bool = False) -> Case:
    case = session.get(Case, case_id, with_for_update=for_update)
    return check_visible(principal, case, case_id)


def _facts(session: Session, case: Case, route_given: bool, now: datetime) -> Facts:
    resolve = running_stage(session, case.id, Stage.RESOLVE)
    overdue = resolve is not None and stage_status(resolve.due_at, resolve.warn_at, None, now).value == "overdue"
    return Facts(state=CaseState(case.state), return_count=case.return_count, arbitrated=case.arbitrated,
                 extension_pending=case.extension_pending is not None, resolve_overdue=overdue,
                 handling_level=case.handling_level, has_route=route_given)


def _check_actor(principal: Principal, case: Case) -> None:
    # A department acts only on its own cases; anyone else acts within the region subtree (checked on load).
    if principal.role is Role.HANDLER and case.department_id != principal.department_id:
        raise NotFound(f"事项 {case.id} 不存在或不在您的管辖范围内", "case_id")


def _resolve_route(session: Session, case: Case, body: TransitionIn) -> tuple[Department, str, Region] | None:
    """The route the operator confirmed or changed; falls back to the proposal."""
    proposal = routing.propose(session, case)
    dept = session.get(Department, body.department_id) if body.department_id else proposal.department
    if body.department_id and dept is None:
        raise InvalidInput(f"部门 {body.department_id} 不存在", "department_id")
    level = body.handling_level or proposal.level
    region = None
    if body.handling_region_id:
        region = get_region(session, body.handling_region_id)
    elif level:
        region = routing.jurisdiction(session, get_region(session, case.region_id), level)
    if dept is None or level is None or region is None:
        return None
    return dept, level, region


def apply(session: Session, principal: Principal, case_id: int, body: TransitionIn,
          now: datetime | None = None) -> Case:
    """The one entry point for moving a case through the loop."""
    now = now or utcnow()
    case = load_case(session, principal, case_id, for_update=True)
    _check_actor(principal, case)
    if body.action in (Action.CLOSE, Action.VISIT_ATTEMPT):
        raise InvalidInput("办结和回访未接通由回访记录产生，请使用回访接口", "action")
    route = None
    if body.action in (Action.DISPATCH, Action.DECIDE):
        route = _resolve_route(session, case, body)
    try:
        decision = transition(_facts(session, case, route is not None, now), body.action, principal.role,
                              note=body.note, overdue_reason=body.overdue_reason)
    except TransitionError as err:
        raise TransitionRefused(err) from None
    if body.action is Action.DECIDE and route is None:
        raise TransitionRefused(TransitionError("route_required", "审定须指定责任部门、层级和属地", "department_id"))
    data = _effects(session, principal, case, body, decision.to_state, route, now)
    for key, value in decision.changes.items():
        setattr(case, key, value)
    if body.action is Action.ESCALATE:
        _escalate(session, case, decision.changes["handling_level"], now, data)
    from_state = case.state
    case.state = decision.to_state.value
    case.updated_at = now
    case.version += 1
    _event(session, case, principal, body.action.value, from_state, body.note or body.overdue_reason, data, at=now)
    session.flush()
    return case


def _effects(session: Session, principal: Principal, case: Case, body: TransitionIn, to_state: CaseState,
             route: tuple[Department, str, Region] | None, now: datetime) -> dict[str, Any]:
    """What each move changes besides the state; returns what the event records."""
    action, data = body.action, {}
    policy = active_policy(session)
    if action is Action.CLASSIFY:
        data = _classify(session, case, body, policy, now)
    elif action in (Action.DISPATCH, Action.DECIDE):
        assert route is not None
        data = _dispatch(session, principal, case, route, policy, now)
        if action is Action.DECIDE and case.state == CaseState.JOINT_REVIEW:
            data["joint_review"] = True
    elif action is Action.JOINT_REVIEW:
        case.track = "联合调"
    elif action is Action.RETURN:
        close_stage(session, case.id, Stage.RESOLVE, now, f"退回：{body.note}")
        data = {"department_id": case.department_id, "reason": body.note}
        if to_state is CaseState.RETURNED:
            open_stage(session, case.id, Stage.ROUTE, now, policy.stages[Stage.ROUTE], policy)
    elif action is Action.REQUEST_EXTENSION:
        if not body.extend_by:
            raise InvalidInput("申请延期须填写延期时长，如 2工作日", "extend_by")
        limit_for_extension(body.extend_by)
        case.extension_pending = body.extend_by
        data = {"extend_by": body.extend_by}
    elif action is Action.APPROVE_EXTENSION:
        stage = running_stage(session, case.id, Stage.RESOLVE)
        if stage is None:
            raise InvalidInput("没有正在计时的办结期限", "action")
        limit = limit_for_extension(case.extension_pending or "")
        new_due = add_limit(stage.due_at, limit, DbCalendar.of(session))
        old, new = extend_stage(session, stage, new_due.at, policy)
        data = {"extend_by": case.extension_pending, "old_due_at": old.isoformat(), "new_due_at": new.isoformat()}
        case.extension_pending = None
    elif action is Action.REJECT_EXTENSION:
        data = {"extend_by": case.extension_pending}
        case.extension_pending = None
    elif action is Action.FEEDBACK:
        data = _feedback(session, case, body, policy, now)
    elif action is Action.REOPEN:
        close_stage(session, case.id, Stage.FEEDBACK, now, f"重新处置：{body.note}")
        open_stage(session, case.id, Stage.RESOLVE, now, _resolve_limit(session, case, policy), policy)
        case.closed_at, case.outcome = None, None
    elif action is Action.TAKE_CHARGE:
        case.leader_id, case.track = principal.user_id, "包案调"
        data = {"leader": principal.display_name}
    elif action is Action.VOID:
        for stage in Stage:
            close_stage(session, case.id, stage, now, f"作废：{body.note}")
    return data


def _classify(session: Session, case: Case, body: TransitionIn, policy: Any, now: datetime) -> dict[str, Any]:
    item: CatalogItem | None = None
    if body.catalog_item_id is not None:
        item = get_item(session, body.catalog_item_id)
    elif body.catalog_item_code:
        item = find_item(session, body.catalog_item_code)
    if item is None and case.catalog_item_id is None:
        raise InvalidInput("分类须选择确权清单事项", "catalog_item_id")
    data: dict[str, Any] = {}
    if item is not None:
        case.catalog_item_id, case.catalog_version_id = item.id, item.version_id
        data.update(item_code=item.code, item_name=item.name, version_id=item.version_id)
        if parse_limit(item.deadline).is_emergency and not case.emergency:
            case.emergency = True
            alert(session, case, f"立即类事项：{item.name}")
            route_limit = policy.emergency.get(Stage.ROUTE)
            if route_limit is not None:
                stage = running_stage(session, case.id, Stage.ROUTE)
                if stage is not None:
                    open_stage(session, case.id, Stage.ROUTE, stage.started_at, route_limit, policy)
            data["emergency"] = True
    if body.kind:
        case.kind = body.kind.value
        data["kind"] = body.kind.value
    if body.risk and body.risk != case.risk:
        data["risk"] = {"from": case.risk, "to": body.risk}
        case.risk = body.risk
        if body.risk == "高":
            alert(session, case, "风险等级调为高")
    if body.track:
        case.track = body.track
        data["track"] = body.track
    return data


def _resolve_limit(session: Session, case: Case, policy: Any):  # type: ignore[no-untyped-def]
    if case.emergency and Stage.RESOLVE in policy.emergency:
        return policy.emergency[Stage.RESOLVE]
    if case.catalog_item_id:
        item = session.get(CatalogItem, case.catalog_item_id)
        if item is not None and not parse_limit(item.deadline).is_emergency:
            return parse_limit(item.deadline)
    return policy.stages[Stage.RESOLVE]


def _dispatch(session: Session, principal: Principal, case: Case, route: tuple[Department, str, Region],
              policy: Any, now: datetime) -> dict[str, Any]:
    dept, level, region = route
    proposal = routing.propose(session, case)
    changed = (proposal.department is None or proposal.department.id != dept.id or proposal.level != level
               or proposal.region is None or proposal.region.id != region.id)
    session.add(RoutingDecision(
        case_id=case.id, catalog_item_id=case.catalog_item_id,
        proposed_department_id=proposal.department.id if proposal.department else None,
        proposed_level=proposal.level, proposed_region_id=proposal.region.id if proposal.region else None,
        chosen_department_id=dept.id, chosen_level=level, chosen_region_id=region.id, changed=changed,
        decided_by=principal.user_id, decided_at=now))
    case.department_id, case.handling_level, case.handling_region_id = dept.id, level, region.id
    case.track = case.track or ("联合调" if case.state == CaseState.JOINT_REVIEW else "马上调")
    close_stage(session, case.id, Stage.ROUTE, now)
    open_stage(session, case.id, Stage.RESOLVE, now, _resolve_limit(session, case, policy), policy)
    return {"department_id": dept.id, "department": dept.name, "level": level, "region_id": region.id,
            "region": region.name, "changed_from_proposal": changed, "proposal": proposal.reason}


def _feedback(session: Session, case: Case, body: TransitionIn, policy: Any, now: datetime) -> dict[str, Any]:
    if body.evidence_attachment_ids:
        found = set(session.scalars(select(Attachment.id).where(
            Attachment.case_id == case.id, Attachment.id.in_(body.evidence_attachment_ids))))
        missing = sorted(set(body.evidence_attachment_ids) - found)
        if missing:
            raise InvalidInput(f"附件 {missing} 不属于该事项", "evidence_attachment_ids")
    close_stage(session, case.id, Stage.RESOLVE, now, body.overdue_reason)
    open_stage(session, case.id, Stage.FEEDBACK, now, policy.stages[Stage.FEEDBACK], policy)
    return {"result": body.note, "evidence": body.evidence_attachment_ids, "overdue_reason": body.overdue_reason}


def _escalate(session: Session, case: Case, level: str, now: datetime, data: dict[str, Any]) -> None:
    """上交: the case goes back to routing one level up; the department's clock stops."""
    policy = active_policy(session)
    data.update(level=level, previous_department_id=case.department_id)
    close_stage(session, case.id, Stage.RESOLVE, now, f"上交{level}级")
    close_stage(session, case.id, Stage.ROUTE, now)
    open_stage(session, case.id, Stage.ROUTE, now, policy.stages[Stage.ROUTE], policy)
    target = routing.jurisdiction(session, get_region(session, case.region_id), level)
    case.handling_region_id, case.department_id = target.id, None


def record_visit(session: Session, principal: Principal, case_id: int, body: VisitIn,
                 now: datetime | None = None) -> tuple[Case, ReturnVisit]:
    """回访: solved and satisfied closes; dissatisfied reopens; three failed calls close as unreachable."""
    now = now or utcnow()
    case = load_case(session, principal, case_id, for_update=True)
    if body.reached and (body.solved is None or body.satisfaction is None):
        raise InvalidInput("接通后须记录是否解决和满意度", "satisfaction" if body.solved is not None else "solved")
    attempt = (session.scalar(select(func.count()).select_from(ReturnVisit).where(
        ReturnVisit.case_id == case.id, ReturnVisit.at >= _handled_since(session, case))) or 0) + 1
    if not body.reached:
        action = Action.CLOSE if attempt >= MAX_VISIT_ATTEMPTS else Action.VISIT_ATTEMPT
    elif body.solved and body.satisfaction in SATISFIED:
        action = Action.CLOSE
    else:
        action = Action.REOPEN
    note = body.note or ("群众不满意，重新处置" if action is Action.REOPEN else None)
    try:
        decision = transition(_facts(session, case, False, now), action, principal.role, note=note)
    except TransitionError as err:
        raise TransitionRefused(err) from None
    visit = ReturnVisit(case_id=case.id, attempt=attempt, at=now, operator_id=principal.user_id, reached=body.reached,
                        solved=body.solved, satisfaction=body.satisfaction, note=body.note)
    session.add(visit)
    from_state = case.state
    if action is Action.CLOSE:
        close_stage(session, case.id, Stage.FEEDBACK, now)
        case.closed_at = now
        case.outcome = "unreachable" if not body.reached else "solved"
        case.satisfaction = body.satisfaction
    elif action is Action.REOPEN:
        policy = active_policy(session)
        close_stage(session, case.id, Stage.FEEDBACK, now, "回访不满意")
        open_stage(session, case.id, Stage.RESOLVE, now, _resolve_limit(session, case, policy), policy)
        case.satisfaction = body.satisfaction
    case.state = decision.to_state.value
    case.updated_at = now
    case.version += 1
    _event(session, case, principal, action.value, from_state, note,
           {"attempt": attempt, "reached": body.reached, "solved": body.solved, "satisfaction": body.satisfaction},
           at=now)
    session.flush()
    return case, visit


def _handled_since(session: Session, case: Case) -> datetime:
    """Attempts count from the latest feedback, so a reopened case gets three fresh calls."""
    at = session.scalar(select(func.max(CaseEvent.at)).where(CaseEvent.case_id == case.id,
                                                              CaseEvent.action == Action.FEEDBACK.value))
    return at or case.registered_at


def link(session: Session, principal: Principal, case_id: int, body: LinkIn) -> CaseLink:
    case = load_case(session, principal, case_id)
    other = load_case(session, principal, body.other_case_id)
    if other.id == case.id:
        raise InvalidInput("不能关联事项自身", "other_case_id")
    exists = session.scalar(select(CaseLink).where(CaseLink.case_id == case.id, CaseLink.other_case_id == other.id))
    if exists:
        raise Conflict("两个事项已关联", "other_case_id")
    row = CaseLink(case_id=case.id, other_case_id=other.id, kind=body.kind, note=body.note,
                   created_by=principal.user_id)
    session.add(row)
    _event(session, case, principal, "link", case.state, body.note, {"other": other.number, "kind": body.kind})
    return row


def current_catalog_version_id(session: Session) -> int | None:
    version = current_version(session)
    return version.id if version else None


def get_by_number(session: Session, principal: Principal, number: str) -> Case:
    case = session.scalar(select(Case).where(Case.number == number))
    if case is None:
        raise NotFound(f"事项编号 {number} 不存在", "number")
    return check_visible(principal, case, number)
