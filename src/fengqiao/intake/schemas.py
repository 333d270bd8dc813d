"""Request and response models of the intake API (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from fengqiao.cases.schemas import CaseCreate
from fengqiao.intake.service import Outcome


class IntakeOut(BaseModel):
    """What a delivery produced. ``replayed``: this delivery was seen before and its first result returned."""

    case_id: int
    case_number: str
    state: str
    state_label: str
    report_id: int | None
    created: bool = Field(description="登记了新事项")
    linked: bool = Field(description="并入已有事项（一事多诉）")
    link_reason: str | None
    replayed: bool = Field(description="重复投递：返回第一次的结果")
    payload_differs: bool = Field(description="重复投递但内容与第一次不同（仍以第一次为准）")
    location_outside: bool = Field(description="位置在本县范围外，已保留并提示受理员核实")
    earlier_visits: int = Field(description="同一手机号/身份证号此前反映的次数（重复访）")

    @classmethod
    def of(cls, o: Outcome) -> "IntakeOut":
        return cls(case_id=o.case_id, case_number=o.case_number, state=o.state, state_label=o.state_label,
                   report_id=o.report_id, created=o.created, linked=o.linked, link_reason=o.link_reason,
                   replayed=o.replayed, payload_differs=o.payload_differs, location_outside=o.location_outside,
                   earlier_visits=o.earlier_visits)


class PublicOut(BaseModel):
    case_number: str
    state_label: str
    linked: bool
    replayed: bool
    message: str


class WindowIn(CaseCreate):
    source_id: str | None = Field(None, max_length=64, description="窗口受理单号（可选；重复提交同一单号不重复登记）")


class WindowOut(BaseModel):
    intake: IntakeOut
    candidates: list[dict[str, Any]]
    people: list[dict[str, Any]]


class MergeIn(BaseModel):
    other_case_id: int = Field(description="被并入（将作废）的事项")
    note: str | None = Field(None, max_length=300)


class SplitIn(BaseModel):
    note: str | None = Field(None, max_length=300)


class SourceIn(BaseModel):
    code: str = Field(..., min_length=2, max_length=40)
    name: str = Field(..., min_length=1, max_length=100)
    channel: str = Field(..., pattern="^(hotline|police|petition|open311)$")
    mapping: dict[str, Any] = Field(default_factory=dict)
    feedback: bool = True
    active: bool = True


class AckIn(BaseModel):
    up_to: int = Field(..., ge=0, description="确认此编号及之前的回传记录")


class PhotoOut(BaseModel):
    photo_id: int
    attachment_id: int
    case_id: int
    sha256: str
    replayed: bool


class RejectionOut(BaseModel):
    id: int
    at: datetime
    channel: str
    source: str | None
    reason: str
    remote_addr: str | None
