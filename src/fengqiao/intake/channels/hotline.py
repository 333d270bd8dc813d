"""External order systems: 12345 hotline, 110 police referrals, petitions (信访), Open311 clients.

Every system names its fields differently, so each source carries a field mapping an
administrator configures (stored in the database). Orders arrive by push (JSON) or batch
import (CSV/.xlsx); status changes flow back as outbound records the system pulls.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fengqiao.cases.domain import ACTION_LABELS, Action, CaseState
from fengqiao.cases.schemas import CaseKind
from fengqiao.cases.validation import check_id_number, check_phone
from fengqiao.tabular import read_table
from fengqiao.db import Database, utcnow
from fengqiao.deadlines.domain import LOCAL_TZ
from fengqiao.errors import Conflict, InvalidInput, NotFound, Unauthorized
from fengqiao.intake.models import IntakeDelivery, IntakeOutbound, IntakeSource
from fengqiao.intake.service import (
    RETRIES, Incoming, Outcome, Person, deliver, deliver_in, is_delivery_race, region_from_address, system_principal,
)
from fengqiao.org.models import Region

# Our fields an administrator can map their fields to (source_id and description are required).
FIELDS = {
    "source_id": "工单编号（必填）", "description": "诉求内容（必填）", "title": "标题", "kind": "事项类型",
    "discovered_at": "来电/发生时间", "lat": "纬度", "lon": "经度", "address": "地址", "region_code": "区划代码",
    "reporter_name": "反映人姓名", "phone": "反映人电话", "id_number": "反映人身份证号", "item_code": "清单事项编码",
    "risk": "风险等级",
}
REQUIRED = ("source_id", "description")
SOURCE_CHANNELS = {"hotline": "request", "police": "police", "petition": "petition", "open311": "request"}
CHANNEL_NAMES = {"hotline": "12345热线", "police": "110警情", "petition": "信访", "open311": "Open311 客户端"}
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d",
                "%Y/%m/%d", "%Y%m%d%H%M%S")
MAX_ROWS = 20_000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_mapping(mapping: dict[str, Any], channel: str) -> dict[str, Any]:
    """A mapping as stored: ``fields`` (ours → theirs), optional ``values``, ``defaults``, ``time_format``."""
    if not isinstance(mapping, dict):
        raise InvalidInput("映射必须是 JSON 对象", "mapping")
    fields = mapping.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise InvalidInput("映射缺少 fields（本平台字段 → 对方字段）", "mapping.fields")
    for ours, theirs in fields.items():
        if ours not in FIELDS:
            raise InvalidInput(f"未知字段 {ours}：可映射的字段为 {', '.join(FIELDS)}", f"mapping.fields.{ours}")
        if not isinstance(theirs, str) or not theirs.strip():
            raise InvalidInput(f"字段 {ours} 须对应对方的一个字段名", f"mapping.fields.{ours}")
    for ours in REQUIRED:
        if ours not in fields:
            raise InvalidInput(f"映射必须包含 {ours}（{FIELDS[ours]}）", f"mapping.fields.{ours}")
    values = mapping.get("values") or {}
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise InvalidInput("values 应为 {字段: {对方取值: 本平台取值}}", "mapping.values")
    for target in (values.get("kind") or {}).values():
        if target not in CaseKind._value2member_map_:
            raise InvalidInput(f"类型取值 {target} 无效，应为 {', '.join(k.value for k in CaseKind)}",
                               "mapping.values.kind")
    defaults = mapping.get("defaults") or {}
    if not isinstance(defaults, dict) or any(k not in FIELDS for k in defaults):
        raise InvalidInput("defaults 只能包含可映射的字段", "mapping.defaults")
    defaults.setdefault("kind", SOURCE_CHANNELS[channel])
    out = {"fields": {k: v.strip() for k, v in fields.items()}, "values": values, "defaults": defaults}
    if mapping.get("time_format"):
        out["time_format"] = str(mapping["time_format"])
    return out


def _get(record: dict[str, Any], path: str) -> Any:
    """A field by name, or by a dotted path into nested JSON (caller.phone)."""
    if path in record:
        return record[path]
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def parse_time(value: Any, fmt: str | None) -> datetime:
    """ISO 8601 with zone, or a local time (Asia/Shanghai) in the configured or a common format."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        dt = None
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            for f in ((fmt,) if fmt else ()) + TIME_FORMATS:
                try:
                    dt = datetime.strptime(text, f)
                    break
                except ValueError:
                    continue
        if dt is None:
            raise ValueError(f"时间“{text}”无法识别，应如 2026-11-24 09:30:00")
    return dt if dt.tzinfo else dt.replace(tzinfo=LOCAL_TZ)


def map_record(mapping: dict[str, Any], record: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Their record → our values, with every problem named by *their* field name."""
    fields, values_map = mapping["fields"], mapping.get("values") or {}
    out: dict[str, Any] = {}
    errors: list[dict[str, str]] = []

    def bad(ours: str, message: str) -> None:
        errors.append({"field": fields.get(ours, ours), "message": f"{message}（{FIELDS[ours]}）"})

    for ours in FIELDS:
        raw = _get(record, fields[ours]) if ours in fields else None
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raw = (mapping.get("defaults") or {}).get(ours)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if ours in REQUIRED:
                bad(ours, "不能为空")
            continue
        if ours in values_map:
            raw = values_map[ours].get(str(raw).strip(), raw)
        try:
            out[ours] = _convert(ours, raw, mapping.get("time_format"))
        except ValueError as exc:
            bad(ours, str(exc).removeprefix("Value error, "))
    if ("lat" in out) != ("lon" in out):
        bad("lat" if "lat" not in out else "lon", "经纬度须同时提供")
    return out, errors


_LIMITS = {"source_id": 100, "title": 200, "address": 300, "reporter_name": 64, "item_code": 40,
           "region_code": 20, "description": 10_000}


def _convert(ours: str, raw: Any, time_format: str | None) -> Any:
    if ours in ("lat", "lon"):
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"“{raw}”不是数字") from None
        if not (-90 <= value <= 90 if ours == "lat" else -180 <= value <= 180):
            raise ValueError(f"{value} 超出范围")
        return value
    if ours == "discovered_at":
        return parse_time(raw, time_format)
    text = str(raw).strip()
    if ours == "kind":
        if text not in CaseKind._value2member_map_:
            raise ValueError(f"类型“{text}”无法对应：请在映射 values.kind 中配置")
        return text
    if ours == "risk":
        if text not in ("高", "中", "低"):
            raise ValueError(f"风险等级“{text}”应为 高、中 或 低")
        return text
    if ours == "phone":
        return check_phone(text)
    if ours == "id_number":
        return check_id_number(text)
    if ours == "description" and len(text) < 2:
        raise ValueError("内容太短")
    limit = _LIMITS.get(ours)
    if limit and len(text) > limit:
        raise ValueError(f"超过 {limit} 字")
    return text


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------

def save_source(session: Session, code: str, name: str, channel: str, mapping: dict[str, Any],
                feedback: bool = True, active: bool = True) -> tuple[IntakeSource, str | None]:
    """Create or update a source; a new source gets its push token (shown once)."""
    if channel not in SOURCE_CHANNELS:
        raise InvalidInput(f"来源类型应为 {', '.join(SOURCE_CHANNELS)}", "channel")
    if not code or len(code) > 40 or not all(c.isalnum() or c in "-_." for c in code):
        raise InvalidInput("来源代码只能包含字母、数字、-、_、.（不超过 40 位）", "code")
    checked = check_mapping(mapping, channel) if channel != "open311" or mapping else {"fields": {}, "defaults": {}}
    source = session.scalar(select(IntakeSource).where(IntakeSource.code == code))
    token = None
    if source is None:
        token = secrets.token_urlsafe(32)
        source = IntakeSource(code=code, token_hash=token_hash(token))
        session.add(source)
    elif source.channel != channel:
        raise Conflict(f"来源 {code} 已登记为 {source.channel}，不能改为 {channel}", "channel")
    source.name, source.channel, source.mapping = name, channel, checked
    source.feedback, source.active = feedback, active
    session.flush()
    return source, token


def rotate_token(session: Session, code: str) -> str:
    source = get_source(session, code)
    token = secrets.token_urlsafe(32)
    source.token_hash = token_hash(token)
    return token


def get_source(session: Session, code: str) -> IntakeSource:
    source = session.scalar(select(IntakeSource).where(IntakeSource.code == code))
    if source is None:
        raise NotFound(f"来源 {code} 不存在", "code")
    return source


def authenticate(session: Session, code: str | None, token: str | None) -> IntakeSource:
    """The source a push token belongs to (and, when given, it must be the source in the URL)."""
    if not token:
        raise Unauthorized("缺少接入令牌（X-Api-Key）")
    source = session.scalar(select(IntakeSource).where(IntakeSource.token_hash == token_hash(token)))
    if source is None or not source.active or (code is not None and source.code != code):
        raise Unauthorized("接入令牌无效或已停用")
    return source


def source_view(s: IntakeSource) -> dict[str, Any]:
    return {"code": s.code, "name": s.name, "channel": s.channel, "channel_label": CHANNEL_NAMES[s.channel],
            "mapping": s.mapping, "feedback": s.feedback, "active": s.active, "created_at": s.created_at}


# ---------------------------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------------------------

def incoming(session: Session, source: IntakeSource, values: dict[str, Any], payload: dict[str, Any],
             raw: bytes | None = None, field_of: dict[str, str] | None = None) -> Incoming:
    region_id = None
    if values.get("region_code"):
        region_id = session.scalar(select(Region.id).where(Region.code == values["region_code"]))
        if region_id is None:
            where = (field_of or source.mapping["fields"]).get("region_code", "region_code")
            raise InvalidInput(f"区划代码 {values['region_code']} 不存在", where)
    elif values.get("lat") is None:
        region_id = region_from_address(session, values.get("address"))
    reporter = None
    if values.get("phone") or values.get("id_number") or values.get("reporter_name"):
        reporter = Person(values.get("reporter_name") or "匿名", values.get("phone"), values.get("id_number"))
    address = values.get("address")
    if not address and values.get("lat") is None and region_id is None:
        address = CHANNEL_NAMES[source.channel] + "工单（未提供地址）"
    return Incoming(
        channel=source.channel, kind=values["kind"], description=values["description"],
        principal=system_principal(session), key=f"{source.code}/{values['source_id']}", title=values.get("title"),
        discovered_at=values.get("discovered_at"), lat=values.get("lat"), lon=values.get("lon"), address=address,
        region_id=region_id, risk=values.get("risk", "低"), reporter=reporter, source=source.code,
        source_ref=values["source_id"], intake_source_id=source.id, feedback=source.feedback,
        item_code=values.get("item_code"), payload=payload, raw=raw)


def push(db: Database, code: str, token: str | None, record: Any, raw: bytes, remote: str | None = None) -> Outcome:
    """One order pushed as JSON in the source's own field names."""
    try:
        with db.read() as session:
            authenticate(session, code, token)
    except Unauthorized as exc:
        from fengqiao.intake.channels.device import reject

        reject(db, code, "bad_token" if token else "missing_token", remote, channel="hotline")
        raise exc from None
    with db.read() as session:
        source = authenticate(session, code, token)
        if not isinstance(record, dict):
            raise InvalidInput("工单应为一个 JSON 对象", None)
        values, errors = map_record(source.mapping, record)
        if errors:
            raise InvalidInput(errors[0]["message"], errors[0]["field"], details=errors)
        inc = incoming(session, source, values, record, raw)
    return deliver(db, inc)


def _rows(header: list[str], rows: list[tuple[int, list[str]]]) -> list[tuple[int, dict[str, Any]]]:
    return [(line, {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header)}) for line, cells in rows]


def import_orders(db: Database, code: str, raw: bytes, filename: str, dry_run: bool = False,
                  now: datetime | None = None) -> dict[str, Any]:
    """A batch of orders (CSV/.xlsx with their headers): every bad row listed, all or nothing."""
    now = now or utcnow()
    header, table = read_table(raw, filename)
    if len(table) > MAX_ROWS:
        raise InvalidInput(f"一次最多导入 {MAX_ROWS} 行", "file")
    with db.read() as session:
        source = get_source(session, code)
        # read_table lower-cases headers; their names in the mapping are matched the same way.
        mapping = dict(source.mapping)
        mapping["fields"] = {k: v.lower() for k, v in source.mapping["fields"].items()}
        missing = sorted({v for k, v in source.mapping["fields"].items() if k in REQUIRED and v.lower() not in header})
        if missing:
            raise InvalidInput(f"缺少列：{'、'.join(missing)}", "header",
                               [{"row": 1, "field": m, "message": "缺少此列"} for m in missing])
        errors: list[dict[str, Any]] = []
        incs: list[Incoming] = []
        seen: dict[str, int] = {}
        for line, record in _rows(header, table):
            values, problems = map_record(mapping, record)
            errors.extend({"row": line, **p} for p in problems)
            if problems:
                continue
            if values["source_id"] in seen:
                errors.append({"row": line, "field": source.mapping["fields"]["source_id"],
                               "message": f"工单编号 {values['source_id']} 与第 {seen[values['source_id']]} 行重复"})
                continue
            seen[values["source_id"]] = line
            try:
                incs.append(incoming(session, source, values, record, field_of=mapping["fields"]))
            except InvalidInput as exc:
                errors.append({"row": line, "field": exc.field, "message": exc.message})
        if errors:
            raise InvalidInput(f"工单文件有 {len(errors)} 处错误，未导入任何工单", "file", errors)
        keys = [i.key for i in incs]
        already = set()
        for start in range(0, len(keys), 500):
            already.update(session.scalars(select(IntakeDelivery.source_id).where(
                IntakeDelivery.channel == source.channel, IntakeDelivery.source_id.in_(keys[start:start + 500]))))
    if dry_run:
        return {"rows": len(incs), "new": len(incs) - len(already), "already_imported": len(already),
                "sample": [{"source_id": i.source_ref, "kind": i.kind, "description": i.description[:100],
                            "address": i.address} for i in incs[:20]]}
    for _ in range(RETRIES):
        try:
            with db.unit_of_work() as session:
                outcomes = [deliver_in(session, inc, now) for inc in incs]
            break
        except IntegrityError as exc:
            if not is_delivery_race(exc):
                raise
    else:
        raise Conflict("同批工单正被另一请求导入，请稍后重试", "file", code="delivery_busy")
    return {"rows": len(outcomes), "created": sum(o.created for o in outcomes),
            "linked": sum(o.linked and not o.replayed for o in outcomes),
            "already_imported": sum(o.replayed for o in outcomes)}


# ---------------------------------------------------------------------------------------------
# Status flowing back
# ---------------------------------------------------------------------------------------------

_EXTRA_ACTIONS = {"register": "受理", "intake_report": "合并办理", "intake_merge": "合并办理"}


def outbound(session: Session, source: IntakeSource, after: int = 0, limit: int = 100) -> dict[str, Any]:
    """Status records after a cursor, oldest first; the source pulls them and acknowledges."""
    rows = session.scalars(select(IntakeOutbound).where(IntakeOutbound.source_id == source.id,
                                                        IntakeOutbound.id > after)
                           .order_by(IntakeOutbound.id).limit(limit)).all()
    items = [{"id": r.id, "order_id": r.order_ref, "case_number": r.case_number, "action": r.action,
              "action_label": ACTION_LABELS[Action(r.action)] if r.action in Action._value2member_map_
              else _EXTRA_ACTIONS.get(r.action, r.action),
              "state": r.state, "state_label": CaseState(r.state).label, "note": r.note, "at": r.at,
              "acked": r.acked_at is not None} for r in rows]
    return {"items": items, "next_after": rows[-1].id if rows else after}


def ack(session: Session, source: IntakeSource, up_to: int) -> int:
    result = session.execute(update(IntakeOutbound).where(
        IntakeOutbound.source_id == source.id, IntakeOutbound.id <= up_to, IntakeOutbound.acked_at.is_(None))
        .values(acked_at=utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
