"""Request and response models of the case API (pydantic)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

from fengqiao.cases.domain import Action
from fengqiao.cases.validation import check_id_number, check_phone
from fengqiao.deadlines.service import StageView


class CaseKind(StrEnum):
    DISPUTE = "dispute"        # 矛盾纠纷
    HAZARD = "hazard"          # 风险隐患
    FACILITY = "facility"      # 部件问题
    REQUEST = "request"        # 群众诉求
    PETITION = "petition"      # 信访
    POLICE = "police"          # 110警情

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {CaseKind.DISPUTE: "矛盾纠纷", CaseKind.HAZARD: "风险隐患", CaseKind.FACILITY: "部件问题",
               CaseKind.REQUEST: "群众诉求", CaseKind.PETITION: "信访事项", CaseKind.POLICE: "110警情"}


class Channel(StrEnum):
    WINDOW = "window"          # 窗口受理
    GRID = "grid"              # 网格员上报
    HOTLINE = "hotline"        # 12345热线
    WECHAT = "wechat"          # 微信/小程序
    EMAIL = "email"            # 电子邮件
    PETITION = "petition"      # 网上信访
    POLICE = "police"          # 110转办
    DEVICE = "device"          # 智能监测设备
    TIPLINE = "tipline"        # 扫黑除恶举报

    @property
    def label(self) -> str:
        return CHANNEL_LABELS[self]


CHANNEL_LABELS = {Channel.WINDOW: "窗口受理", Channel.GRID: "网格员上报", Channel.HOTLINE: "12345热线",
                  Channel.WECHAT: "微信/小程序", Channel.EMAIL: "电子邮件", Channel.PETITION: "网上信访",
                  Channel.POLICE: "110转办", Channel.DEVICE: "智能监测设备", Channel.TIPLINE: "扫黑除恶举报"}

RISK_GRADES = ("高", "中", "低")


class PartyIn(BaseModel):
    role: str = Field("reporter", pattern="^(reporter|party)$", description="reporter 反映人 / party 当事人")
    name: str = Field(..., min_length=1, max_length=64)
    phone: str | None = Field(None, max_length=20)
    id_number: str | None = Field(None, max_length=18)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return check_phone(v) if v else None

    @field_validator("id_number")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        return check_id_number(v) if v else None


class CaseCreate(BaseModel):
    kind: CaseKind
    channel: Channel
    title: str | None = Field(None, max_length=200)
    description: str = Field(..., min_length=2, max_length=10_000)
    discovered_at: datetime | None = Field(None, description="发现时间（默认为登记时间）")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = Field(None, max_length=300)
    region_id: int | None = Field(None, description="无坐标时的所属区划")
    risk: str = Field("低", pattern="^(高|中|低)$")
    parties: list[PartyIn] = Field(default_factory=list, max_length=50)

    @field_validator("discovered_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("时间必须带时区，例如 2026-11-24T09:30:00+08:00")
        return v


class TransitionIn(BaseModel):
    action: Action
    note: str | None = Field(None, max_length=5000)
    catalog_item_id: int | None = None
    catalog_item_code: str | None = None
    kind: CaseKind | None = None
    risk: str | None = Field(None, pattern="^(高|中|低)$")
    track: str | None = Field(None, pattern="^(马上调|联合调|包案调)$")
    department_id: int | None = None
    handling_level: str | None = Field(None, pattern="^(村|镇|县)$")
    handling_region_id: int | None = None
    extend_by: str | None = Field(None, description="延期时长，如 2工作日、3日")
    overdue_reason: str | None = Field(None, max_length=2000)
    evidence_attachment_ids: list[int] = Field(default_factory=list)


class VisitIn(BaseModel):
    reached: bool
    solved: bool | None = None
    satisfaction: str | None = Field(None, pattern="^(满意|基本满意|不满意)$")
    note: str | None = Field(None, max_length=2000)


class LinkIn(BaseModel):
    other_case_id: int
    kind: str = Field("related", pattern="^(related|duplicate)$")
    note: str | None = Field(None, max_length=300)


class PartyOut(BaseModel):
    id: int
    role: str
    name: str
    phone: str | None
    id_number: str | None


class EventOut(BaseModel):
    id: int
    at: datetime
    actor: str | None
    action: str
    action_label: str
    from_state: str | None
    to_state: str
    note: str | None
    data: dict[str, Any]


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    purpose: str
    uploaded_at: datetime


class CaseSummary(BaseModel):
    id: int
    number: str
    kind: str
    kind_label: str
    channel: str
    state: str
    state_label: str
    title: str
    risk: str
    region_id: int
    region_name: str | None
    department_id: int | None
    department_name: str | None
    registered_at: datetime
    overdue: bool


class RouteProposalOut(BaseModel):
    catalog_item_id: int | None
    catalog_item_code: str | None
    department_id: int | None
    department_name: str | None
    handling_level: str | None
    handling_region_id: int | None
    handling_region_name: str | None
    reason: str


class CaseDetail(CaseSummary):
    description: str
    track: str | None
    lat: float | None
    lon: float | None
    address: str | None
    location_outside: bool
    grid_id: int | None
    grid_name: str | None
    region_path_names: list[str]
    catalog_item_id: int | None
    catalog_item_code: str | None
    catalog_item_name: str | None
    catalog_version: int | None
    handling_level: str | None
    handling_region_id: int | None
    leader_id: int | None
    return_count: int
    arbitrated: bool
    extension_pending: str | None
    emergency: bool
    discovered_at: datetime
    closed_at: datetime | None
    outcome: str | None
    satisfaction: str | None
    parties: list[PartyOut]
    deadlines: list[StageView]
    timeline: list[EventOut]
    attachments: list[AttachmentOut]
    links: list[dict[str, Any]]
    allowed_actions: list[str]
    route_proposal: RouteProposalOut | None


class Page(BaseModel):
    items: list[CaseSummary]
    total: int
    page: int
    size: int
