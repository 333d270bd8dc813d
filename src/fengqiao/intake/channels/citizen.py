"""群众自报: the public H5 page / mini-program reports a problem and follows it by number plus phone."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from fengqiao.cases.domain import CaseState
from fengqiao.cases.models import Case, CaseEvent, CaseLink, Party
from fengqiao.cases.schemas import KIND_LABELS, CaseKind
from fengqiao.cases.validation import check_phone
from fengqiao.deadlines.models import CaseDeadline
from fengqiao.errors import NotFound
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
                "void": "已撤销", "intake_report": "收到同一问题的其他反映，合并办理"}


def public_status(session: Session, number: str, phone: str) -> dict[str, Any]:
    """The progress of a case for the person who reported it; anyone else gets the same 404."""
    try:
        phone = check_phone(phone)
    except ValueError:
        phone = ""
    case = session.scalar(select(Case).where(Case.number == number.strip()))
    phones = set(session.scalars(select(Party.phone).where(Party.case_id == case.id))) if case else set()
    if case is None or not phone or phone not in phones:
        raise NotFound("未找到该事项：请核对事项编号和提交时填写的手机号", "number")
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
            "department": dept.name if dept else None, "result": result, "note": note, "steps": steps}
