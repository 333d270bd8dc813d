"""群众自报: the public H5 page / mini-program reports a problem and follows it by number plus phone."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fengqiao.cases.domain import Action, CaseState
from fengqiao.cases.models import Case, CaseEvent, CaseLink, Outbox, Party
from fengqiao.cases.schemas import KIND_LABELS, CaseKind, VisitIn
from fengqiao.cases.service import record_visit
from fengqiao.cases.validation import check_phone
from fengqiao.deadlines.models import CaseDeadline
from fengqiao.db import utcnow
from fengqiao.errors import Conflict, NotFound
from fengqiao.intake.service import Incoming, Person, region_from_address, system_principal
from fengqiao.org.models import Department


class CitizenReportIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=64, description="姓名")
    phone: str = Field(..., max_length=20, description="手机号（凭事项编号和手机号查询进度）")
    kind: Literal["request", "dispute", "hazard", "facility"] = "request"
    title: str | None = Field(None, max_length=200)
    description: str = Field(..., min_length=5, max_length=4000)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = Field(None, max_length=300)
    client_id: str | None = Field(None, min_length=6, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                                  description="页面生成的提交编号；网络重试时重发同一编号不会重复登记")

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        return check_phone(v)


def to_incoming(session: Session, body: CitizenReportIn) -> Incoming:
    region_id = None if body.lat is not None else region_from_address(session, body.address)
    return Incoming(
        channel="citizen", kind=body.kind, description=body.description, principal=system_principal(session),
        key=f"{body.phone}/{body.client_id}" if body.client_id else None, title=body.title,
        lat=body.lat, lon=body.lon, address=body.address, region_id=region_id,
        reporter=Person(body.name, body.phone), source="public", source_ref=body.client_id,
        payload=body.model_dump(mode="json", exclude={"phone"}))


# What a citizen sees of each step (no names, no internal notes except the result).
PUBLIC_STEPS = {"register": "已受理", "dispatch": "已交办", "decide": "已交办", "joint_review": "联合研判中",
                "accept": "承办部门已签收", "start": "正在处置", "feedback": "已办理，等待回访",
                "close": "已办结", "reopen": "重新办理", "escalate": "提交上级办理", "take_charge": "领导包案办理",
                "void": "已撤销", "intake_report": "收到同一问题的其他反映，合并办理",
                "citizen_rating": "您已评价"}


def _own_case(session: Session, number: str, phone: str, for_update: bool = False) -> Case:
    """The case with this number if this phone reported it; anyone else gets the same 404."""
    try:
        phone = check_phone(phone)
    except ValueError:
        phone = ""
    query = select(Case).where(Case.number == number.strip())
    case = session.scalar(query.with_for_update() if for_update else query)
    phones = set(session.scalars(select(Party.phone).where(Party.case_id == case.id))) if case else set()
    if case is None or not phone or phone not in phones:
        raise NotFound("未找到该事项：请核对事项编号和提交时填写的手机号", "number")
    return case


def public_status(session: Session, number: str, phone: str) -> dict[str, Any]:
    """The progress of a case for the person who reported it; anyone else gets the same 404."""
    case = _own_case(session, number, phone)
    note = None
    if case.state == CaseState.VOID.value:
        target_id = session.scalar(select(CaseLink.case_id).where(CaseLink.other_case_id == case.id,
                                                                   CaseLink.kind == "duplicate").limit(1))
        target = session.get(Case, target_id) if target_id else None
        if target is not None:
            note = f"您反映的问题与事项 {target.number} 为同一问题，已合并办理"
            case = target
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                             .order_by(CaseEvent.at, CaseEvent.id)).all()
    steps = []
    result = None
    for e in events:
        label = PUBLIC_STEPS.get(e.action)
        if label is None:
            continue
        if e.action in ("dispatch", "decide") and (e.data or {}).get("department"):
            label = f"已交办：{e.data['department']}"
        steps.append({"at": e.at, "label": label})
        if e.action == "feedback":
            result = e.note
    due = session.scalar(select(CaseDeadline.due_at).where(
        CaseDeadline.case_id == case.id, CaseDeadline.completed_at.is_(None),
        CaseDeadline.stage.in_(["resolve", "route"])).order_by(CaseDeadline.due_at.desc()).limit(1))
    dept = session.get(Department, case.department_id) if case.department_id else None
    return {"number": case.number, "title": case.title, "kind_label": KIND_LABELS[CaseKind(case.kind)],
            "state": case.state, "state_label": CaseState(case.state).label,
            "closed": case.state in (CaseState.CLOSED.value, CaseState.VOID.value),
            "registered_at": case.registered_at, "updated_at": case.updated_at, "expected_at": due,
            "department": dept.name if dept else None, "result": result, "note": note, "steps": steps,
            "rating": _rating(session, case), "can_rate": _can_rate(session, case)}


class RatingIn(BaseModel):
    phone: str = Field(..., max_length=20)
    satisfaction: Literal["满意", "基本满意", "不满意"]
    comment: str | None = Field(None, max_length=500)


def _last_feedback_at(session: Session, case: Case) -> Any:
    return session.scalar(select(func.max(CaseEvent.at)).where(CaseEvent.case_id == case.id,
                                                              CaseEvent.action == Action.FEEDBACK.value))


def _rating(session: Session, case: Case) -> dict[str, Any] | None:
    """The citizen's rating of the latest result, if any."""
    since = _last_feedback_at(session, case)
    if since is None:
        return None
    event = session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "citizen_rating",
                                                   CaseEvent.at >= since).order_by(CaseEvent.id.desc()).limit(1))
    return {"satisfaction": event.data.get("satisfaction"), "at": event.at} if event else None


def _can_rate(session: Session, case: Case) -> bool:
    return case.state in (CaseState.HANDLED.value, CaseState.CLOSED.value) and _rating(session, case) is None


def rate(session: Session, number: str, body: RatingIn, now: datetime | None = None) -> dict[str, Any]:
    """双向评价: the citizen rates the result. While the case waits for its return visit the rating is
    the visit's outcome (satisfied closes, dissatisfied reopens); after closure it is recorded, and a
    dissatisfied rating raises an alert so the centre can reopen it (反弹)."""
    now = now or utcnow()
    case = _own_case(session, number, body.phone, for_update=True)
    if case.state not in (CaseState.HANDLED.value, CaseState.CLOSED.value):
        raise Conflict("事项还在办理中，办理完毕后才能评价", "satisfaction", code="not_ready")
    if _rating(session, case) is not None:
        raise Conflict("您已评价过这次办理结果，谢谢", "satisfaction", code="already_rated")
    principal = system_principal(session)
    if case.state == CaseState.HANDLED.value:
        record_visit(session, principal, case.id, VisitIn(
            reached=True, solved=body.satisfaction != "不满意", satisfaction=body.satisfaction,
            note=f"群众在线评价：{body.satisfaction}" + (f"。{body.comment}" if body.comment else "")), now=now)
    elif body.satisfaction == "不满意":
        session.add(Outbox(topic="alert", case_id=case.id, payload={
            "number": case.number, "reason": "群众对已办结事项评价不满意", "risk": case.risk, "title": case.title}))
    session.add(CaseEvent(case_id=case.id, at=now, actor_id=None, action="citizen_rating", from_state=case.state,
                          to_state=case.state, note=body.comment,
                          data={"satisfaction": body.satisfaction, "source": "public"}))
    session.add(Outbox(topic="case.citizen_rating", case_id=case.id,
                       payload={"number": case.number, "state": case.state, "action": "citizen_rating"}))
    session.flush()
    return public_status(session, case.number, body.phone)
