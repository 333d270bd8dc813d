"""智能监测设备预警: a signed webhook per device; repeated alerts about one thing fold into one case."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fengqiao.cases.schemas import CaseKind
from fengqiao.db import Database, utcnow
from fengqiao.errors import Conflict, FengqiaoError, InvalidInput, NotFound
from fengqiao.intake.domain import SignatureError, verify_signature
from fengqiao.intake.models import IntakeDevice, IntakeRejection
from fengqiao.intake.service import Incoming, Outcome, deliver, region_from_address, system_principal

log = logging.getLogger(__name__)
LEVEL_RISK = {"high": "高", "medium": "中", "low": "低", "高": "高", "中": "中", "低": "低"}


class SignatureRefused(FengqiaoError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, "X-Fengqiao-Signature", code=code, status=401)


class DeviceIn(BaseModel):
    code: str = Field(..., min_length=2, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(..., min_length=1, max_length=100)
    kind: CaseKind = CaseKind.HAZARD
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = Field(None, max_length=300)
    fold_minutes: int = Field(60, ge=0, le=7 * 24 * 60, description="同类预警在此时长内合并为一件")


class AlertIn(BaseModel):
    alert_id: str = Field(..., min_length=1, max_length=100, description="设备侧预警编号（重发不重复登记）")
    type: str = Field(..., min_length=1, max_length=60, description="预警类型，如 water_level、smoke、crowd")
    message: str = Field(..., min_length=2, max_length=2000)
    level: str | None = Field(None, description="high/medium/low 或 高/中/低")
    occurred_at: datetime | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    snapshot_url: str | None = Field(None, max_length=500)

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("时间必须带时区")
        return v

    @field_validator("level")
    @classmethod
    def _level(cls, v: str | None) -> str | None:
        if v is not None and v.strip().lower() not in LEVEL_RISK:
            raise ValueError("level 应为 high、medium、low（或 高、中、低）")
        return v


def save_device(session: Session, body: DeviceIn) -> tuple[IntakeDevice, str | None]:
    """Register a device (its secret is returned once) or update its place and window."""
    if body.lat is None and not body.address:
        raise InvalidInput("设备须有位置：坐标或地址", "lat")
    if (body.lat is None) != (body.lon is None):
        raise InvalidInput("经度和纬度须同时提供", "lon" if body.lon is None else "lat")
    device = session.scalar(select(IntakeDevice).where(IntakeDevice.code == body.code))
    secret = None
    if device is None:
        secret = secrets.token_hex(32)
        device = IntakeDevice(code=body.code, secret=secret)
        session.add(device)
    device.name, device.kind, device.lat, device.lon = body.name, body.kind.value, body.lat, body.lon
    device.address, device.fold_minutes, device.active = body.address, body.fold_minutes, True
    session.flush()
    return device, secret


def device_view(d: IntakeDevice) -> dict[str, Any]:
    return {"code": d.code, "name": d.name, "kind": d.kind, "lat": d.lat, "lon": d.lon, "address": d.address,
            "fold_minutes": d.fold_minutes, "active": d.active, "last_seen_at": d.last_seen_at}


def reject(db: Database, code: str, reason: str, remote: str | None, channel: str = "device") -> None:
    """Log a refused delivery and keep it for the administrator (in its own transaction)."""
    log.warning("%s delivery refused: source=%s reason=%s remote=%s", channel, code, reason, remote)
    with db.unit_of_work() as session:
        session.add(IntakeRejection(channel=channel, source=code[:60], reason=reason[:300], remote_addr=remote))


def receive(db: Database, code: str, timestamp: str | None, signature: str | None, body: bytes,
            remote: str | None = None, now: datetime | None = None) -> Outcome:
    now = now or utcnow()
    # Read what is needed and close the session before writing anything: on SQLite every
    # transaction holds the write lock, so a rejection written inside it would wait on itself.
    with db.read() as session:
        device = session.scalar(select(IntakeDevice).where(IntakeDevice.code == code))
        secret = device.secret if device is not None and device.active else None
    if device is None or secret is None:
        reject(db, code, "unknown_device", remote)
        # The same answer as a bad signature: a caller learns nothing about which codes exist.
        raise SignatureRefused("bad_signature", "签名校验失败（HMAC-SHA256）")
    try:
        verify_signature(secret, timestamp, signature, body, now)
    except SignatureError as exc:
        reject(db, code, exc.code, remote)
        raise SignatureRefused(exc.code, exc.message) from None
    try:
        alert = AlertIn.model_validate(json.loads(body))
    except json.JSONDecodeError:
        raise InvalidInput("请求体不是有效的 JSON", None) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(str(first.get("msg", "")).removeprefix("Value error, "),
                           ".".join(str(p) for p in first.get("loc", ())) or None) from None
    lat, lon = (alert.lat, alert.lon) if alert.lat is not None and alert.lon is not None else (device.lat, device.lon)
    with db.read() as session:
        principal = system_principal(session)
        region_id = None if lat is not None else region_from_address(session, device.address)
    inc = Incoming(
        channel="device", kind=device.kind, description=f"{device.name}预警（{alert.type}）：{alert.message}",
        principal=principal, key=f"{device.code}/{alert.alert_id}", title=f"{device.name}：{alert.type}预警",
        discovered_at=alert.occurred_at, lat=lat, lon=lon, address=device.address, region_id=region_id,
        risk=LEVEL_RISK[alert.level.strip().lower()] if alert.level else "中", source=device.code,
        source_ref=alert.alert_id, subject=alert.type, payload=json.loads(body), raw=body,
        device_id=device.id, fold_minutes=device.fold_minutes)
    outcome = deliver(db, inc, now)
    with db.unit_of_work() as session:
        session.execute(update(IntakeDevice).where(IntakeDevice.code == code).values(last_seen_at=now))
    return outcome


def get_device(session: Session, code: str) -> IntakeDevice:
    device = session.scalar(select(IntakeDevice).where(IntakeDevice.code == code))
    if device is None:
        raise NotFound(f"设备 {code} 不存在", "code")
    return device


def rotate_secret(session: Session, code: str) -> str:
    device = get_device(session, code)
    if not device.active:
        raise Conflict(f"设备 {code} 已停用", "code")
    device.secret = secrets.token_hex(32)
    return device.secret
