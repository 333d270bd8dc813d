"""网格员上报: a report from a phone with GPS, capture time and photos; retried deliveries are one report."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from fengqiao.auth.service import Principal
from fengqiao.cases.attachments import add_attachment
from fengqiao.cases.models import Attachment, Case
from fengqiao.cases.schemas import CaseKind, PartyIn
from fengqiao.db import Database
from fengqiao.errors import Conflict, InvalidInput, NotFound
from fengqiao.intake.models import IntakeDelivery, IntakePhoto, IntakeReport
from fengqiao.intake.service import Incoming, Person
from fengqiao.settings import Settings

MAX_PHOTOS = 9


def _aware(v: datetime | None) -> datetime | None:
    if v is not None and v.tzinfo is None:
        raise ValueError("时间必须带时区，例如 2026-11-24T09:30:00+08:00")
    return v


class GridReportIn(BaseModel):
    report_id: str = Field(..., min_length=6, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                           description="手机端生成的上报编号（如 UUID）；重发同一编号返回同一事项")
    kind: CaseKind = CaseKind.HAZARD
    title: str | None = Field(None, max_length=200)
    description: str = Field(..., min_length=2, max_length=10_000)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    accuracy_m: float | None = Field(None, ge=0, le=100_000, description="定位精度（米）")
    captured_at: datetime = Field(..., description="发现/拍摄时间（手机时间，带时区）")
    address: str | None = Field(None, max_length=300)
    risk: str = Field("低", pattern="^(高|中|低)$")
    parties: list[PartyIn] = Field(default_factory=list, max_length=50)

    @field_validator("captured_at")
    @classmethod
    def _captured(cls, v: datetime) -> datetime | None:
        return _aware(v)


def to_incoming(body: GridReportIn, principal: Principal) -> Incoming:
    return Incoming(
        channel="grid", kind=body.kind.value, description=body.description, principal=principal,
        key=f"{principal.user_id}/{body.report_id}", title=body.title, discovered_at=body.captured_at,
        lat=body.lat, lon=body.lon, address=body.address, risk=body.risk,
        parties=[Person(p.name, p.phone, p.id_number, p.role) for p in body.parties],
        source=str(principal.user_id), source_ref=body.report_id,
        payload=body.model_dump(mode="json"))


class PhotoMeta(BaseModel):
    taken_at: datetime | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)

    @field_validator("taken_at")
    @classmethod
    def _taken(cls, v: datetime | None) -> datetime | None:
        return _aware(v)


@dataclasses.dataclass
class PhotoOutcome:
    photo_id: int
    attachment_id: int
    case_id: int
    sha256: str
    replayed: bool


def add_photo(db: Database, settings: Settings, principal: Principal, report_id: str, filename: str, data: bytes,
              meta: PhotoMeta) -> PhotoOutcome:
    """One photo of a report; the same bytes sent again return the first upload."""
    digest = hashlib.sha256(data).hexdigest()
    for _ in range(3):
        try:
            with db.unit_of_work() as session:
                delivery = session.scalar(select(IntakeDelivery).where(
                    IntakeDelivery.channel == "grid", IntakeDelivery.source_id == f"{principal.user_id}/{report_id}"))
                if delivery is None or delivery.report_id is None:
                    raise NotFound(f"上报 {report_id} 不存在：请先提交上报，再上传照片", "report_id")
                report = session.get(IntakeReport, delivery.report_id)
                assert report is not None
                found = session.scalar(select(IntakePhoto).where(IntakePhoto.report_id == report.id,
                                                                 IntakePhoto.sha256 == digest))
                if found is not None:
                    return PhotoOutcome(found.id, found.attachment_id, report.case_id, digest, True)
                count = session.scalar(select(func.count()).select_from(IntakePhoto)
                                       .where(IntakePhoto.report_id == report.id)) or 0
                if count >= MAX_PHOTOS:
                    raise InvalidInput(f"每条上报最多 {MAX_PHOTOS} 张照片", "file")
                case = session.get(Case, report.case_id)
                assert case is not None
                # The worker's own report may lie outside their grid (a neighbour's street): they
                # may add photos to exactly that case, nothing wider.
                delegate = dataclasses.replace(principal, region_path=case.region_path)
                att: Attachment = add_attachment(session, settings, delegate, case.id, filename, data, "report")
                photo = IntakePhoto(report_id=report.id, attachment_id=att.id, sha256=digest, taken_at=meta.taken_at,
                                    lat=meta.lat, lon=meta.lon)
                session.add(photo)
                session.flush()
                return PhotoOutcome(photo.id, att.id, case.id, digest, False)
        except IntegrityError:
            continue  # the same photo arrived twice at once: the next round returns the first
    raise Conflict("照片正在处理中，请稍后重试", "file")
