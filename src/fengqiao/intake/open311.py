"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): existing civic-issue clients report here.

Services are the responsibility list (确权清单); a service request is a case, its id the case
number. Responses come as JSON or XML as the specification defines, errors as a list of
{code, description}. Only requests that arrived through Open311 are listed (the API is public).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from fengqiao.cases import routing
from fengqiao.cases.domain import CaseState
from fengqiao.cases.models import Case, CaseEvent, CaseLink
from fengqiao.cases.validation import check_phone
from fengqiao.catalog.models import CatalogItem
from fengqiao.catalog.service import current_version
from fengqiao.db import Database, utcnow
from fengqiao.deadlines.domain import LOCAL_TZ
from fengqiao.deadlines.models import CaseDeadline
from fengqiao.errors import FengqiaoError
from fengqiao.intake import ratelimit
from fengqiao.intake.channels.hotline import token_hash
from fengqiao.intake.models import IntakeReport, IntakeSource
from fengqiao.intake.service import Incoming, Person, deliver, region_from_address, system_principal
from fengqiao.org.models import Department
from fengqiao.org.service import county

router = APIRouter(prefix="/open311", tags=["Open311 GeoReport v2"])
SPEC = "http://wiki.open311.org/GeoReport_v2"
CATEGORY_KIND = {"矛盾纠纷": "dispute", "风险隐患": "hazard", "部件问题": "facility", "群众诉求": "request",
                 "信访事项": "petition", "警情纠纷": "police"}
MAX_SPAN = timedelta(days=90)
MAX_RESULTS = 1000
REQUEST_FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url")


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


# ---------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------

def w3(dt: datetime | None) -> str | None:
    """The specification's w3 datetime with the zone, shown in China time: 2026-11-24T09:30:00+08:00."""
    return dt.astimezone(LOCAL_TZ).isoformat(timespec="seconds") if dt else None


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    el = ET.SubElement(parent, name)
    if isinstance(value, list):
        singular = {"attributes": "attribute", "values": "value", "endpoints": "endpoint",
                    "formats": "format"}.get(name, "item")
        for v in value:
            if isinstance(v, dict):
                child = ET.SubElement(el, singular)
                for k, x in v.items():
                    _xml_value(child, k, x)
            else:
                ET.SubElement(el, singular).text = str(v)
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = str(value)


def render(fmt: str, root: str, item: str | None, data: Any, status: int = 200) -> Response:
    if fmt == "xml":
        top = ET.Element(root)
        for entry in (data if item else [data]):
            node = ET.SubElement(top, item) if item else top
            for k, v in entry.items():
                _xml_value(node, k, v)
        body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="utf-8")
        return Response(body, status_code=status, media_type="text/xml; charset=utf-8")
    return Response(json.dumps(data, ensure_ascii=False).encode(), status_code=status,
                    media_type="application/json; charset=utf-8")


def error(fmt: str, status: int, description: str) -> Response:
    return render(fmt if fmt in ("json", "xml") else "json", "errors", "error",
                  [{"code": status, "description": description}], status)


def _fmt(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise Open311Error(404, f"不支持的格式 .{fmt}：应为 .json 或 .xml")
    return fmt


def _db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def _jurisdiction(session: Session, value: str | None) -> None:
    if value and value.strip() and value.strip() != county(session).code:
        raise Open311Error(404, f"jurisdiction_id {value} 不存在（本接口只服务 {county(session).code}）")


def _guard(fmt: str, fn: Any) -> Response:
    try:
        return fn(_fmt(fmt)) if fmt in ("json", "xml") else error("json", 404, f"不支持的格式 .{fmt}：应为 .json 或 .xml")
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    except ratelimit.RateLimited:
        raise
    except FengqiaoError as exc:
        return error(fmt, 404 if exc.status == 404 else 400, exc.message)


# ---------------------------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------------------------

def _items(session: Session) -> list[CatalogItem]:
    version = current_version(session)
    if version is None:
        return []
    return list(session.scalars(select(CatalogItem).where(CatalogItem.version_id == version.id)
                                .order_by(CatalogItem.code)))


def service_view(item: CatalogItem, dept: str | None) -> dict[str, Any]:
    return {"service_code": item.code, "service_name": item.name, "description": item.description or item.name,
            "metadata": False, "type": "realtime",
            "keywords": ", ".join(x for x in (item.category, dept) if x), "group": item.category}


@router.get("/discovery.{fmt}", summary="Open311 服务发现")
def discovery(request: Request, fmt: str) -> Response:
    base = str(request.base_url).rstrip("/")
    doc = {"changeset": "2026-11-24T00:00:00+08:00", "contact": "综治中心", "key_service": "管理员签发 api_key",
           "endpoints": [{"specification": SPEC, "url": f"{base}/open311/v2", "changeset": "2026-11-24T00:00:00+08:00",
                          "type": "production", "formats": ["text/xml", "application/json"]}]}
    return _guard(fmt, lambda f: render(f, "discovery", None, doc))


@router.get("/v2/services.{fmt}", summary="GET Service List（确权清单事项）")
def services(request: Request, fmt: str, jurisdiction_id: str | None = None) -> Response:
    def run(f: str) -> Response:
        with _db(request).read() as session:
            _jurisdiction(session, jurisdiction_id)
            items = _items(session)
            depts = dict(session.execute(select(Department.id, Department.name)).all())
            return render(f, "services", "service", [service_view(i, depts.get(i.department_id)) for i in items])
    return _guard(fmt, run)


@router.get("/v2/services/{service_code}.{fmt}", summary="GET Service Definition")
def service_definition(request: Request, service_code: str, fmt: str, jurisdiction_id: str | None = None) -> Response:
    def run(f: str) -> Response:
        with _db(request).read() as session:
            _jurisdiction(session, jurisdiction_id)
            if not any(i.code == service_code for i in _items(session)):
                raise Open311Error(404, f"service_code {service_code} 不存在")
            return render(f, "service_definition", None, {"service_code": service_code, "attributes": []})
    return _guard(fmt, run)


# ---------------------------------------------------------------------------------------------
# Creating a request
# ---------------------------------------------------------------------------------------------

def _float(form: Any, name: str, low: float, high: float) -> float | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} 应为数字（WGS84）") from None
    if not low <= value <= high:
        raise Open311Error(400, f"{name} 超出范围")
    return value


@router.post("/v2/requests.{fmt}", summary="POST Service Request（表单编码，需 api_key）")
async def create_request(request: Request, fmt: str) -> Response:
    form = await request.form()
    ip = request.client.host if request.client else "unknown"
    idem = request.headers.get("Idempotency-Key")

    def run(f: str) -> Response:
        db = _db(request)
        with db.read() as session:
            _jurisdiction(session, form.get("jurisdiction_id"))  # type: ignore[arg-type]
            # The key comes in the form body; some clients put it in the query string.
            key = (form.get("api_key") or request.query_params.get("api_key") or "").strip()  # type: ignore[union-attr]
            source = session.scalar(select(IntakeSource).where(IntakeSource.token_hash == token_hash(key))) \
                if key else None
            if source is None or not source.active or source.channel != "open311":
                raise Open311Error(403, "api_key 缺失或无效，无法提交（Invalid api_key received）")
            code = (form.get("service_code") or "").strip()  # type: ignore[union-attr]
            if not code:
                raise Open311Error(400, "缺少 service_code")
            item = next((i for i in _items(session) if i.code == code), None)
            if item is None:
                raise Open311Error(404, f"service_code {code} 不存在")
            lat, lon = _float(form, "lat", -90, 90), _float(form, "long", -180, 180)
            if (lat is None) != (lon is None):
                raise Open311Error(400, "lat 和 long 须同时提供")
            address = (form.get("address_string") or "").strip()[:300] or None  # type: ignore[union-attr]
            address_id = (form.get("address_id") or "").strip() or None  # type: ignore[union-attr]
            if lat is None and not address and not address_id:
                raise Open311Error(400, "须提供位置：lat 与 long，或 address_string，或 address_id")
            description = (form.get("description") or "").strip()  # type: ignore[union-attr]
            if len(description) > 4000:
                raise Open311Error(400, "description 不能超过 4000 字")
            phone = (form.get("phone") or "").strip() or None  # type: ignore[union-attr]
            if phone:
                try:
                    phone = check_phone(phone)
                except ValueError as exc:
                    raise Open311Error(400, f"phone 无效：{exc}") from None
            media_url = (form.get("media_url") or "").strip() or None  # type: ignore[union-attr]
            if media_url and (not media_url.startswith(("http://", "https://")) or len(media_url) > 500):
                raise Open311Error(400, "media_url 应为 http(s) 地址，且不超过 500 字符")
            name = f"{form.get('last_name') or ''}{form.get('first_name') or ''}".strip()[:64]
            account_id = (form.get("account_id") or "").strip() or None  # type: ignore[union-attr]
            payload = {k: v for k, v in form.items() if k != "api_key" and isinstance(v, str)}
            principal = system_principal(session)
            region_id = None if lat is not None else region_from_address(session, address)
        limits = ratelimit.limits(request.app.state.settings)
        checks = [(limits["report_ip"], f"open311:{source.code}:{ip}", None)]
        if phone:
            checks.append((limits["report_phone"], phone, "phone"))
        ratelimit.check(db, request.app.state.settings.secret_key, checks)
        inc = Incoming(
            channel="open311", kind=CATEGORY_KIND.get(item.category, "request"),
            description=description or item.name, principal=principal,
            key=f"{source.code}/{idem}" if idem else None, title=item.name if not description else None,
            lat=lat, lon=lon, address=address or (f"地址编号 {address_id}" if address_id else None),
            region_id=region_id, reporter=Person(name or "匿名", phone) if (name or phone) else None,
            source=source.code, source_ref=idem, intake_source_id=source.id, feedback=False, item_code=item.code,
            payload=payload)
        outcome = deliver(db, inc)
        notice = (f"与已受理的同一问题合并办理，事项编号 {outcome.case_number}" if outcome.linked
                  else f"已受理，事项编号 {outcome.case_number}；清单时限 {item.deadline}")
        return render(f, "service_requests", "request", [{"service_request_id": outcome.case_number,
                                                          "service_notice": notice, "account_id": account_id}])

    try:
        return _guard(fmt, run)
    except ratelimit.RateLimited as exc:
        resp = error(fmt, 429, exc.message)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp


# ---------------------------------------------------------------------------------------------
# Reading requests
# ---------------------------------------------------------------------------------------------

def _parse_w3(name: str, value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} 应为 w3 时间格式，如 2010-01-01T00:00:00Z") from None
    if dt.tzinfo is None:
        raise Open311Error(400, f"{name} 须带时区（Z 或 +08:00）")
    return dt


def _open311_cases(session: Session) -> Any:
    return select(IntakeReport.case_id).where(IntakeReport.channel == "open311")


def request_views(session: Session, cases: list[Case], now: datetime) -> list[dict[str, Any]]:
    """The specification's request fields for each case, loaded in a handful of queries."""
    if not cases:
        return []
    ids = [c.id for c in cases]
    reports: dict[int, IntakeReport] = {}
    for r in session.scalars(select(IntakeReport).where(IntakeReport.case_id.in_(ids), IntakeReport.channel == "open311")
                             .order_by(IntakeReport.id)):
        reports.setdefault(r.case_id, r)
    items = {i.id: i for i in session.scalars(select(CatalogItem).where(
        CatalogItem.id.in_({c.catalog_item_id for c in cases if c.catalog_item_id})))}
    listed = {i.code: i for i in _items(session)}
    depts = dict(session.execute(select(Department.id, Department.name)).all())
    due: dict[int, datetime] = {}
    for case_id, due_at in session.execute(select(CaseDeadline.case_id, CaseDeadline.due_at).where(
            CaseDeadline.case_id.in_(ids), CaseDeadline.completed_at.is_(None),
            CaseDeadline.stage.in_(["route", "resolve"]))):
        due[case_id] = max(due_at, due.get(case_id, due_at))
    results: dict[int, str] = {}
    for case_id, note in session.execute(select(CaseEvent.case_id, CaseEvent.note).where(
            CaseEvent.case_id.in_(ids), CaseEvent.action == "feedback").order_by(CaseEvent.at)):
        results[case_id] = note or ""
    merged: dict[int, str] = {}
    for other_id, number in session.execute(select(CaseLink.other_case_id, Case.number).join(
            Case, Case.id == CaseLink.case_id).where(CaseLink.other_case_id.in_(ids), CaseLink.kind == "duplicate")):
        merged[other_id] = number
    out = []
    for c in cases:
        report = reports.get(c.id)
        item = items.get(c.catalog_item_id) if c.catalog_item_id else listed.get(report.item_code if report else "")
        closed = c.state in (CaseState.CLOSED.value, CaseState.VOID.value)
        notes = CaseState(c.state).label
        if c.id in merged:
            notes = f"与事项 {merged[c.id]} 为同一问题，合并办理"
        elif c.id in results and c.state in (CaseState.HANDLED.value, CaseState.CLOSED.value):
            notes += f"：{results[c.id]}"
        agency = depts.get(c.department_id) if c.department_id else None
        if agency is None and c.catalog_item_id:
            agency = (p.department.name if (p := routing.propose(session, c)).department else None)
        if agency is None and item is not None:
            agency = depts.get(item.department_id)
        out.append({
            "service_request_id": c.number, "status": "closed" if closed else "open", "status_notes": notes,
            "service_name": item.name if item else None, "service_code": item.code if item else None,
            "description": c.description, "agency_responsible": agency, "service_notice": None,
            "requested_datetime": w3(c.registered_at),
            "updated_datetime": w3(c.closed_at if c.state == CaseState.CLOSED.value and c.closed_at else c.updated_at),
            "expected_datetime": None if closed else w3(due.get(c.id)), "address": c.address, "address_id": None,
            "zipcode": None, "lat": c.lat, "long": c.lon,
            "media_url": (report.payload or {}).get("media_url") if report else None})
    return out


@router.get("/v2/requests/{service_request_id}.{fmt}", summary="GET Service Request")
def get_request(request: Request, service_request_id: str, fmt: str, jurisdiction_id: str | None = None) -> Response:
    def run(f: str) -> Response:
        with _db(request).read() as session:
            _jurisdiction(session, jurisdiction_id)
            case = session.scalar(select(Case).where(Case.number == service_request_id,
                                                     Case.id.in_(_open311_cases(session))))
            if case is None:
                raise Open311Error(404, f"service_request_id {service_request_id} 不存在")
            return render(f, "service_requests", "request", request_views(session, [case], utcnow()))
    return _guard(fmt, run)


@router.get("/v2/requests.{fmt}", summary="GET Service Requests（按编号、类别、时间、状态筛选）")
def list_requests(request: Request, fmt: str, jurisdiction_id: str | None = None,
                  service_request_id: str | None = None, service_code: str | None = None,
                  start_date: str | None = None, end_date: str | None = None,
                  status: str | None = None) -> Response:
    def run(f: str) -> Response:
        now = utcnow()
        with _db(request).read() as session:
            _jurisdiction(session, jurisdiction_id)
            query = select(Case).where(Case.id.in_(_open311_cases(session)))
            if service_request_id and service_request_id.strip():
                # "This overrides all other arguments."
                numbers = [x.strip() for x in service_request_id.split(",") if x.strip()]
                query = query.where(Case.number.in_(numbers))
            else:
                end = _parse_w3("end_date", end_date) if end_date else None
                start = _parse_w3("start_date", start_date) if start_date else None
                if start and end and end - start > MAX_SPAN:
                    raise Open311Error(400, "start_date 与 end_date 相差不能超过 90 天")
                if start and end and end < start:
                    raise Open311Error(400, "end_date 不能早于 start_date")
                end = end or ((start + MAX_SPAN) if start else now)
                start = start or end - MAX_SPAN
                query = query.where(Case.registered_at >= start, Case.registered_at <= end)
                if status and status.strip():
                    wanted = {s.strip() for s in status.split(",") if s.strip()}
                    if not wanted <= {"open", "closed"}:
                        raise Open311Error(400, "status 只能为 open、closed")
                    done = [CaseState.CLOSED.value, CaseState.VOID.value]
                    if wanted == {"open"}:
                        query = query.where(Case.state.not_in(done))
                    elif wanted == {"closed"}:
                        query = query.where(Case.state.in_(done))
                if service_code and service_code.strip():
                    codes = [x.strip() for x in service_code.split(",") if x.strip()]
                    by_report = select(IntakeReport.case_id).where(IntakeReport.channel == "open311",
                                                                   IntakeReport.item_code.in_(codes))
                    by_item = select(CatalogItem.id).where(CatalogItem.code.in_(codes))
                    query = query.where(Case.id.in_(by_report) | Case.catalog_item_id.in_(by_item))
            cases = list(session.scalars(query.order_by(Case.registered_at.desc()).limit(MAX_RESULTS)))
            return render(f, "service_requests", "request", request_views(session, cases, now))
    return _guard(fmt, run)
