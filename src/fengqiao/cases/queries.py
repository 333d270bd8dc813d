"""Read side of cases: the filtered, paginated list and the full case page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from fengqiao.auth.models import Role, User
from fengqiao.auth.service import Principal, mask_id_number, mask_phone
from fengqiao.cases import routing
from fengqiao.cases.access import scope_filter
from fengqiao.cases.domain import ACTION_LABELS, OPEN_STATES, Action, CaseState, allowed_actions
from fengqiao.cases.models import Attachment, Case, CaseEvent, CaseLink, Party
from fengqiao.cases.schemas import (
    KIND_LABELS, AttachmentOut, CaseDetail, CaseKind, CaseSummary, EventOut, Page, PartyOut, RouteProposalOut,
)
from fengqiao.cases.service import _facts, load_case
from fengqiao.catalog.models import CatalogItem, CatalogVersion
from fengqiao.db import utcnow
from fengqiao.deadlines.models import CaseDeadline
from fengqiao.deadlines.service import stage_views
from fengqiao.org.models import Department, Region


@dataclass
class CaseFilter:
    state: list[str] | None = None
    kind: str | None = None
    region_id: int | None = None
    department_id: int | None = None
    overdue: bool | None = None
    risk: str | None = None
    q: str | None = None
    page: int = 1
    size: int = 20


def overdue_clause(now: datetime):  # type: ignore[no-untyped-def]
    """A case is overdue while one of its running stages is past its deadline."""
    return exists().where(CaseDeadline.case_id == Case.id, CaseDeadline.completed_at.is_(None),
                          CaseDeadline.due_at < now)


def list_cases(session: Session, principal: Principal, f: CaseFilter, now: datetime | None = None) -> Page:
    now = now or utcnow()
    query = select(Case).where(scope_filter(principal))
    if f.state:
        query = query.where(Case.state.in_(f.state))
    if f.kind:
        query = query.where(Case.kind == f.kind)
    if f.risk:
        query = query.where(Case.risk == f.risk)
    if f.department_id:
        query = query.where(Case.department_id == f.department_id)
    if f.region_id:
        region = session.get(Region, f.region_id)
        path = region.path if region else "/none/"
        query = query.where(Case.region_path.startswith(path, autoescape=True))
    if f.overdue:
        # Redundant in meaning (only open cases have running stages) but lets the state index narrow first.
        query = query.where(Case.state.in_([s.value for s in OPEN_STATES]), overdue_clause(now))
    elif f.overdue is False:
        query = query.where(~overdue_clause(now))
    if f.q:
        like = f"%{f.q.strip()}%"
        query = query.where(Case.number.like(like) | Case.title.like(like))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.scalars(query.order_by(Case.registered_at.desc(), Case.id.desc())
                           .offset((f.page - 1) * f.size).limit(f.size)).all()
    return Page(items=summaries(session, rows, now), total=total, page=f.page, size=f.size)


def summaries(session: Session, rows: list[Case], now: datetime) -> list[CaseSummary]:
    ids = [c.id for c in rows]
    overdue_ids = set(session.scalars(select(CaseDeadline.case_id).where(
        CaseDeadline.case_id.in_(ids), CaseDeadline.completed_at.is_(None), CaseDeadline.due_at < now))) if ids else set()
    regions = _names(session, Region, {c.region_id for c in rows})
    depts = _names(session, Department, {c.department_id for c in rows if c.department_id})
    return [CaseSummary(id=c.id, number=c.number, kind=c.kind, kind_label=KIND_LABELS[CaseKind(c.kind)],
                        channel=c.channel, state=c.state, state_label=CaseState(c.state).label, title=c.title,
                        risk=c.risk, region_id=c.region_id, region_name=regions.get(c.region_id),
                        department_id=c.department_id, department_name=depts.get(c.department_id),
                        registered_at=c.registered_at, overdue=c.id in overdue_ids) for c in rows]


def _names(session: Session, model, ids: set[int]) -> dict[int, str]:  # type: ignore[no-untyped-def]
    if not ids:
        return {}
    return dict(session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())


def case_detail(session: Session, principal: Principal, case_id: int, now: datetime | None = None) -> CaseDetail:
    now = now or utcnow()
    case = load_case(session, principal, case_id)
    summary = summaries(session, [case], now)[0]
    chain_ids = [int(x) for x in case.region_path.strip("/").split("/") if x]
    chain = _names(session, Region, set(chain_ids))
    item = session.get(CatalogItem, case.catalog_item_id) if case.catalog_item_id else None
    version = session.get(CatalogVersion, case.catalog_version_id) if case.catalog_version_id else None
    pii = principal.sees_pii
    parties = [PartyOut(id=p.id, role=p.role, name=p.name,
                        phone=p.phone if pii else mask_phone(p.phone),
                        id_number=p.id_number if pii else mask_id_number(p.id_number))
               for p in session.scalars(select(Party).where(Party.case_id == case.id).order_by(Party.id))]
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at, CaseEvent.id)).all()
    actors = _display_names(session, {e.actor_id for e in events if e.actor_id})
    timeline = [EventOut(id=e.id, at=e.at, actor=actors.get(e.actor_id) if e.actor_id else "系统", action=e.action,
                         action_label=_action_label(e.action), from_state=e.from_state, to_state=e.to_state,
                         note=e.note, data=e.data or {}) for e in events]
    attachments = [AttachmentOut(id=a.id, filename=a.filename, content_type=a.content_type, size=a.size,
                                 sha256=a.sha256, purpose=a.purpose, uploaded_at=a.uploaded_at)
                   for a in session.scalars(select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id))]
    links = []
    for row in session.scalars(select(CaseLink).where((CaseLink.case_id == case.id) | (CaseLink.other_case_id == case.id))):
        other_id = row.other_case_id if row.case_id == case.id else row.case_id
        other = session.get(Case, other_id)
        if other is not None:
            links.append({"case_id": other.id, "number": other.number, "title": other.title, "kind": row.kind,
                          "state": other.state})
    proposal = None
    if case.state in (CaseState.TRIAGED, CaseState.RETURNED, CaseState.JOINT_REVIEW, CaseState.ARBITRATION):
        p = routing.propose(session, case)
        proposal = RouteProposalOut(
            catalog_item_id=p.item.id if p.item else None, catalog_item_code=p.item.code if p.item else None,
            department_id=p.department.id if p.department else None,
            department_name=p.department.name if p.department else None, handling_level=p.level,
            handling_region_id=p.region.id if p.region else None, handling_region_name=p.region.name if p.region else None,
            reason=p.reason)
    facts = _facts(session, case, True, now)
    return CaseDetail(
        **summary.model_dump(), description=case.description, track=case.track, lat=case.lat, lon=case.lon,
        address=case.address, location_outside=case.location_outside, grid_id=case.grid_id,
        grid_name=chain.get(case.grid_id) if case.grid_id else None,
        region_path_names=[chain[i] for i in chain_ids if i in chain],
        catalog_item_id=case.catalog_item_id, catalog_item_code=item.code if item else None,
        catalog_item_name=item.name if item else None, catalog_version=version.number if version else None,
        handling_level=case.handling_level, handling_region_id=case.handling_region_id, leader_id=case.leader_id,
        return_count=case.return_count, arbitrated=case.arbitrated, extension_pending=case.extension_pending,
        emergency=case.emergency, discovered_at=case.discovered_at, closed_at=case.closed_at, outcome=case.outcome,
        satisfaction=case.satisfaction, parties=parties,
        deadlines=stage_views(session, case.id, now),
        timeline=timeline, attachments=attachments, links=links,
        allowed_actions=[a.value for a in allowed_actions(facts, principal.role)
                         if not (principal.role is Role.HANDLER and case.department_id != principal.department_id)],
        route_proposal=proposal)


def _display_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())


_EXTRA_LABELS = {"register": "登记受理", "link": "关联事项", "supervise": "督办", "attach": "上传附件",
                 "intake_report": "同一问题再次反映", "intake_merge": "合并重复事项", "intake_split": "拆分为新事项",
                 "citizen_rating": "群众评价", "grade_risk": "智能研判风险"}


def _action_label(action: str) -> str:
    if action in Action._value2member_map_:
        return ACTION_LABELS[Action(action)]
    return _EXTRA_LABELS.get(action, action)
