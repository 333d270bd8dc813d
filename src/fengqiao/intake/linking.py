"""The operator's side of 一事多诉: see a case's reports and candidates, merge two cases, split a report off."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fengqiao.auth.service import Principal, mask_id_number, mask_phone
from fengqiao.cases.access import can_see
from fengqiao.cases.domain import Action, CaseState
from fengqiao.cases.models import Attachment, Case, CaseEvent, CaseLink, Outbox, Party
from fengqiao.cases.schemas import KIND_LABELS, CaseCreate, CaseKind, TransitionIn
from fengqiao.cases.service import apply, load_case, register
from fengqiao.db import utcnow
from fengqiao.errors import Conflict, InvalidInput, NotFound
from fengqiao.intake import dedup
from fengqiao.intake.models import IntakeDelivery, IntakeOutbound, IntakePhoto, IntakeReport
from fengqiao.intake.service import CASE_CHANNEL, CHANNEL_LABELS, history_rows

MERGEABLE = (CaseState.REGISTERED.value, CaseState.TRIAGED.value)


def report_view(r: IntakeReport, photos: list[IntakePhoto] | None = None, pii: bool = True) -> dict[str, Any]:
    return {"id": r.id, "channel": r.channel, "channel_label": CHANNEL_LABELS.get(r.channel, r.channel),
            "source": r.source, "source_ref": r.source_ref, "received_at": r.received_at,
            "reported_at": r.reported_at, "kind": r.kind, "title": r.title, "description": r.description,
            "reporter_name": r.reporter_name, "phone": r.phone if pii else mask_phone(r.phone),
            "id_number": r.id_number if pii else mask_id_number(r.id_number), "lat": r.lat, "lon": r.lon,
            "address": r.address, "item_code": r.item_code, "subject": r.subject, "link": r.link,
            "link_reason": r.link_reason, "link_score": r.link_score,
            "photos": [{"attachment_id": p.attachment_id, "taken_at": p.taken_at, "lat": p.lat, "lon": p.lon}
                       for p in photos or []]}


def match_view(m: Any, row: Any) -> dict[str, Any]:
    return {"case_id": m.case_id, "number": row.number, "title": row.title, "kind": row.kind,
            "kind_label": KIND_LABELS[CaseKind(row.kind)], "state": row.state,
            "state_label": CaseState(row.state).label, "registered_at": row.registered_at, "score": m.score,
            "auto": m.auto, "text_similarity": m.text_similarity, "distance_m": m.distance_m, "reasons": m.reasons}


def person_history(session: Session, principal: Principal, phones: set[str], id_numbers: set[str],
                   exclude_case: int | None = None) -> dict[str, Any]:
    """重复访: how many times the person came, and the earlier cases the user may see."""
    contacts, case_ids = history_rows(session, phones, id_numbers, exclude_case=exclude_case)
    cases = session.scalars(select(Case).where(Case.id.in_(case_ids)).order_by(Case.registered_at.desc())
                            .limit(50)).all() if case_ids else []
    visible = [c for c in cases if can_see(principal, c)]
    return {"visits": len(contacts), "cases_total": len(case_ids),
            "ledger_entries": sum(1 for kind, _ in contacts if kind == "ledger"),
            "cases": [{"case_id": c.id, "number": c.number, "title": c.title, "channel": c.channel,
                       "state": c.state, "state_label": CaseState(c.state).label, "registered_at": c.registered_at}
                      for c in visible]}


def case_intake(session: Session, principal: Principal, case_id: int) -> dict[str, Any]:
    """The intake panel of a case: its reports, candidate duplicates with reasons, the people's history."""
    case = load_case(session, principal, case_id)
    reports = session.scalars(select(IntakeReport).where(IntakeReport.case_id == case.id)
                              .order_by(IntakeReport.received_at, IntakeReport.id)).all()
    photos: dict[int, list[IntakePhoto]] = {}
    if reports:
        for p in session.scalars(select(IntakePhoto).where(IntakePhoto.report_id.in_([r.id for r in reports]))):
            photos.setdefault(p.report_id, []).append(p)
    matches, rows = dedup.for_case(session, case)
    parties = session.execute(select(Party.name, Party.phone, Party.id_number).where(Party.case_id == case.id)).all()
    people = []
    for name, phone, id_number in parties:
        if phone or id_number:
            h = person_history(session, principal, {phone} if phone else set(), {id_number} if id_number else set(),
                               exclude_case=case.id)
            people.append({"name": name, **h})
    return {"case_id": case.id, "number": case.number, "report_count": len(reports),
            "reports": [report_view(r, photos.get(r.id), principal.sees_pii) for r in reports],
            "candidates": [match_view(m, rows[m.case_id]) for m in matches if _visible(principal, rows[m.case_id])],
            "people": people}


def _visible(principal: Principal, row: Any) -> bool:
    # The panel is for the centre's roles, which see by region (handlers are refused at the route).
    return bool(row.region_path.startswith(principal.region_path))


def candidates(session: Session, principal: Principal, case_id: int) -> list[dict[str, Any]]:
    case = load_case(session, principal, case_id)
    matches, rows = dedup.for_case(session, case)
    return [match_view(m, rows[m.case_id]) for m in matches if _visible(principal, rows[m.case_id])]


def merge(session: Session, principal: Principal, case_id: int, other_id: int, note: str | None = None,
          now: datetime | None = None) -> Case:
    """Merge ``other`` into ``case``: its reports, people, photos and deliveries move; it is voided."""
    now = now or utcnow()
    if case_id == other_id:
        raise InvalidInput("不能与自身合并", "other_case_id")
    # Lock in id order so two operators merging the same pair both ways cannot deadlock.
    first, second = sorted((case_id, other_id))
    load_case(session, principal, first, for_update=True)
    load_case(session, principal, second, for_update=True)
    case, other = load_case(session, principal, case_id), load_case(session, principal, other_id)
    if case.state in (CaseState.CLOSED.value, CaseState.VOID.value):
        raise Conflict(f"事项 {case.number} 已{CaseState(case.state).label}，不能再并入", "case_id")
    if other.state not in MERGEABLE:
        raise Conflict(f"事项 {other.number} 已{CaseState(other.state).label}，只能合并尚未交办的事项；"
                       "已交办的请用“关联事项”", "other_case_id")
    moved = session.scalars(select(IntakeReport).where(IntakeReport.case_id == other.id)).all()
    reason = note or f"操作员确认与事项 {case.number} 为同一问题"
    for r in moved:
        r.case_id, r.link, r.link_reason = case.id, "merged", reason[:300]
    session.execute(update(IntakeDelivery).where(IntakeDelivery.case_id == other.id).values(case_id=case.id))
    known = {(p.phone, p.id_number, p.name) for p in session.scalars(select(Party).where(Party.case_id == case.id))}
    for p in session.scalars(select(Party).where(Party.case_id == other.id)).all():
        if (p.phone, p.id_number, p.name) not in known:
            session.add(Party(case_id=case.id, role=p.role, name=p.name, phone=p.phone, id_number=p.id_number))
    have = set(session.scalars(select(Attachment.sha256).where(Attachment.case_id == case.id)))
    for a in session.scalars(select(Attachment).where(Attachment.case_id == other.id)).all():
        if a.sha256 not in have:  # files are stored by content hash: a second row shares the file
            session.add(Attachment(case_id=case.id, filename=a.filename, content_type=a.content_type, size=a.size,
                                   sha256=a.sha256, purpose=a.purpose, uploaded_by=a.uploaded_by,
                                   uploaded_at=a.uploaded_at))
    session.flush()
    # Reports moved first: the void below then sends nothing back to the sources as "作废".
    apply(session, principal, other.id, TransitionIn(action=Action.VOID, note=f"与事项 {case.number} 为同一问题，已合并"),
          now=now)
    if session.scalar(select(CaseLink.id).where(CaseLink.case_id == case.id, CaseLink.other_case_id == other.id)) is None:
        session.add(CaseLink(case_id=case.id, other_case_id=other.id, kind="duplicate", note=reason[:300],
                             created_by=principal.user_id, created_at=now))
    session.add(CaseEvent(case_id=case.id, at=now, actor_id=principal.user_id, action="intake_merge",
                          from_state=case.state, to_state=case.state, note=f"并入事项 {other.number}：{reason}",
                          data={"other": other.number, "reports": [r.id for r in moved]}))
    session.add(Outbox(topic="case.intake_merge", case_id=case.id, payload={"number": case.number,
                                                                           "merged": other.number}))
    for r in moved:
        if r.feedback and r.intake_source_id:
            session.add(IntakeOutbound(source_id=r.intake_source_id, order_ref=r.source_ref or "", case_id=case.id,
                                       case_number=case.number, action="intake_merge", state=case.state,
                                       note=f"与事项 {case.number} 为同一问题，合并办理", at=now))
    case.updated_at = now
    session.flush()
    return case


def split(session: Session, principal: Principal, report_id: int, note: str | None = None,
          now: datetime | None = None) -> Case:
    """Undo a link: the report becomes a case of its own (registered now, with its own deadlines)."""
    now = now or utcnow()
    report = session.get(IntakeReport, report_id)
    if report is None:
        raise NotFound(f"反映记录 {report_id} 不存在", "report_id")
    old = load_case(session, principal, report.case_id, for_update=True)
    if report.link == "origin" or report.link == "split":
        raise Conflict("这是该事项的原始反映，无需拆分", "report_id")
    people = []
    if report.reporter_name:
        people.append({"role": "reporter", "name": report.reporter_name, "phone": report.phone,
                       "id_number": report.id_number})
    data = CaseCreate.model_validate({
        "kind": report.kind, "channel": CASE_CHANNEL.get(report.channel, CASE_CHANNEL["window"]).value,
        "title": report.title, "description": report.description, "discovered_at": report.reported_at,
        "lat": report.lat, "lon": report.lon, "address": report.address or (None if report.lat else old.address),
        "region_id": None if report.lat is not None or report.address else old.region_id, "parties": people})
    case = register(session, principal, data, now=now)
    if report.party_id:
        party = session.get(Party, report.party_id)
        report.party_id = None
        session.flush()
        if party is not None and party.case_id == old.id:
            session.delete(party)
    reason = note or "操作员判断不是同一问题，拆分为新事项"
    report.case_id, report.link, report.link_reason, report.link_score = case.id, "split", reason[:300], None
    session.execute(update(IntakeDelivery).where(IntakeDelivery.report_id == report.id).values(case_id=case.id))
    session.add(CaseEvent(case_id=old.id, at=now, actor_id=principal.user_id, action="intake_split",
                          from_state=old.state, to_state=old.state,
                          note=f"拆分：反映 #{report.id} 另立事项 {case.number}（{reason}）",
                          data={"report_id": report.id, "new_case": case.number}))
    if report.feedback and report.intake_source_id:
        session.add(IntakeOutbound(source_id=report.intake_source_id, order_ref=report.source_ref or "",
                                   case_id=case.id, case_number=case.number, action="register", state=case.state,
                                   note=f"已单独受理，事项编号 {case.number}", at=now))
    session.flush()
    return case
