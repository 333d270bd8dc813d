"""Intake API: every channel, the operator's 一事多诉 tools, sources and devices, ledgers, Open311."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from fengqiao.auth.models import Role
from fengqiao.auth.service import Principal
from fengqiao.cases.queries import CaseFilter
from fengqiao.db import Database
from fengqiao.settings import Settings
from fengqiao.deps import DB, AppSettings, get_db, require
from fengqiao.errors import InvalidInput
from fengqiao.intake import ledger, linking, ratelimit
from fengqiao.intake.channels import citizen, device, grid, hotline
from fengqiao.intake.models import IntakeDevice, IntakeRejection, IntakeSource
from fengqiao.intake.open311 import router as open311_router
from fengqiao.intake.schemas import (
    AckIn, IntakeOut, MergeIn, PhotoOut, PublicOut, RejectionOut, SourceIn, SplitIn, WindowIn, WindowOut,
)
from fengqiao.intake.service import Incoming, Outcome, Person, deliver

Db = Annotated[Database, Depends(get_db)]
Centre = Annotated[Principal, require(Role.OPERATOR, Role.ADMIN)]
Registrar = Annotated[Principal, require(Role.OPERATOR, Role.ADMIN, Role.MEDIATOR)]
Reader = Annotated[Principal, require(Role.OPERATOR, Role.ADMIN, Role.MEDIATOR, Role.SUPERVISOR, Role.LEADER)]
GridWorker = Annotated[Principal, require(Role.GRID_WORKER)]
Admin = Annotated[Principal, require(Role.ADMIN)]
ApiKey = Annotated[str | None, Header(alias="X-Api-Key", description="来源系统的接入令牌")]
MAX_FILE = 50 * 1024 * 1024

intake = APIRouter(prefix="/api/intake", tags=["受理（多渠道）"])
public = APIRouter(prefix="/api/public", tags=["群众自报（公开）"])


def _out(o: Outcome) -> JSONResponse:
    # 201 for a new delivery, 200 when the same delivery came again and its first result is returned.
    return JSONResponse(IntakeOut.of(o).model_dump(mode="json"), status_code=200 if o.replayed else 201)


def _limited(exc: ratelimit.RateLimited) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=429, headers={"Retry-After": str(exc.retry_after)})


def _query_limit(request: Request, db: Database, settings: Settings) -> JSONResponse | None:
    """The per-address limit on public look-ups: the 429 answer when it is hit, else None."""
    ip = request.client.host if request.client else "unknown"
    try:
        ratelimit.check(db, settings.secret_key, [(ratelimit.limits(settings)["query_ip"], ip, None)])
    except ratelimit.RateLimited as exc:
        return _limited(exc)
    return None


async def _read(upload: UploadFile, limit: int = MAX_FILE) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"文件超过 {limit // 1024 // 1024} MB", "file")
    return data


def _mapping(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidInput("mapping 应为 JSON 对象，如 {\"name\": \"事件名称\"}", "mapping") from None
    if not isinstance(value, dict):
        raise InvalidInput("mapping 应为 JSON 对象", "mapping")
    return value


# ---------------------------------------------------------------------------------------------
# Window (窗口受理) and the person's history
# ---------------------------------------------------------------------------------------------

@intake.post("/window", response_model=WindowOut, status_code=201,
             summary="窗口受理：登记并给出疑似同一问题的事项和反映人的历次来访")
def window(db: Db, user: Registrar, body: WindowIn) -> WindowOut:
    people = [Person(p.name, p.phone, p.id_number, p.role) for p in body.parties]
    reporter = next((p for p in people if p.role == "reporter"), None)
    inc = Incoming(channel="window", kind=body.kind.value, description=body.description, principal=user,
                   key=f"{user.user_id}/{body.source_id}" if body.source_id else None, title=body.title,
                   discovered_at=body.discovered_at, lat=body.lat, lon=body.lon, address=body.address,
                   region_id=body.region_id, risk=body.risk, reporter=reporter,
                   parties=[p for p in people if p is not reporter],
                   source=str(user.user_id), source_ref=body.source_id,
                   payload=body.model_dump(mode="json"), auto_link=False)
    outcome = deliver(db, inc)
    with db.read() as session:
        panel = linking.case_intake(session, user, outcome.case_id)
    return WindowOut(intake=IntakeOut.of(outcome), candidates=panel["candidates"], people=panel["people"])


@intake.get("/people", summary="按手机号或身份证号查历次来访（重复访）")
def people(session: DB, user: Registrar, phone: str | None = None, id_number: str | None = None) -> dict[str, Any]:
    if not phone and not id_number:
        raise InvalidInput("请提供手机号或身份证号", "phone")
    return linking.person_history(session, user, {phone.strip()} if phone else set(),
                                  {id_number.strip().upper()} if id_number else set())


# ---------------------------------------------------------------------------------------------
# Grid workers (网格员上报)
# ---------------------------------------------------------------------------------------------

@intake.post("/grid/reports", response_model=IntakeOut, status_code=201,
             responses={200: {"model": IntakeOut, "description": "同一上报编号重发：返回第一次的结果"}},
             summary="网格员上报（带定位与时间；断网重发同一 report_id 返回同一事项）")
def grid_report(db: Db, user: GridWorker, body: grid.GridReportIn) -> JSONResponse:
    return _out(deliver(db, grid.to_incoming(body, user)))


@intake.post("/grid/reports/{report_id}/photos", response_model=PhotoOut, status_code=201,
             summary="上报照片（保留拍摄时间与位置；重传同一照片不重复保存）")
async def grid_photo(db: Db, settings: AppSettings, user: GridWorker, report_id: str, file: UploadFile = File(...),
                     taken_at: str | None = Form(None), lat: float | None = Form(None),
                     lon: float | None = Form(None)) -> JSONResponse:
    try:
        meta = grid.PhotoMeta.model_validate({"taken_at": taken_at, "lat": lat, "lon": lon})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise InvalidInput(str(first.get("msg", "输入有误")).removeprefix("Value error, "), field) from None
    data = await file.read(settings.max_attachment_bytes + 1)
    out = grid.add_photo(db, settings, user, report_id, file.filename or "照片", data, meta)
    return JSONResponse(PhotoOut(**out.__dict__).model_dump(), status_code=200 if out.replayed else 201)


# ---------------------------------------------------------------------------------------------
# One case per problem: the operator's view, merge and split
# ---------------------------------------------------------------------------------------------

@intake.get("/cases/{case_id}", summary="事项的受理信息：各渠道反映、疑似同一问题（含理由）、反映人历次来访")
def case_panel(session: DB, user: Reader, case_id: int) -> dict[str, Any]:
    return linking.case_intake(session, user, case_id)


@intake.get("/cases/{case_id}/candidates", summary="疑似同一问题的事项（按地点、时间、描述、反映人）")
def case_candidates(session: DB, user: Reader, case_id: int) -> list[dict[str, Any]]:
    return linking.candidates(session, user, case_id)


@intake.post("/cases/{case_id}/merge", summary="合并：另一事项并入本事项（被并入者作废，反映与当事人随之转入）")
def merge(session: DB, user: Centre, case_id: int, body: MergeIn) -> dict[str, Any]:
    linking.merge(session, user, case_id, body.other_case_id, body.note)
    return linking.case_intake(session, user, case_id)


@intake.post("/reports/{report_id}/split", status_code=201, summary="拆分：撤销自动关联，该反映另立新事项")
def split(session: DB, user: Centre, report_id: int, body: SplitIn) -> dict[str, Any]:
    case = linking.split(session, user, report_id, body.note)
    return {"case_id": case.id, "case_number": case.number, "state": case.state}


# ---------------------------------------------------------------------------------------------
# External systems: 12345, 110, 信访, Open311 keys
# ---------------------------------------------------------------------------------------------

@intake.get("/sources", summary="来源系统与字段映射")
def list_sources(session: DB, admin: Admin) -> list[dict[str, Any]]:
    return [hotline.source_view(s) for s in session.scalars(select(IntakeSource).order_by(IntakeSource.code))]


@intake.get("/sources/fields", summary="可映射的本平台字段")
def source_fields(admin: Admin) -> dict[str, str]:
    return hotline.FIELDS


@intake.post("/sources", status_code=201, summary="登记或更新来源系统（新来源返回一次接入令牌）")
def save_source(session: DB, admin: Admin, body: SourceIn) -> dict[str, Any]:
    source, token = hotline.save_source(session, body.code, body.name, body.channel, body.mapping, body.feedback,
                                        body.active)
    return {**hotline.source_view(source), "token": token}


@intake.post("/sources/{code}/token", summary="更换接入令牌（旧令牌立即失效）")
def rotate_token(session: DB, admin: Admin, code: str) -> dict[str, str]:
    return {"code": code, "token": hotline.rotate_token(session, code)}


@intake.post("/sources/{code}/orders", response_model=IntakeOut, status_code=201,
             responses={200: {"model": IntakeOut, "description": "同一工单重复推送：返回第一次的结果"}},
             summary="推送一个工单（JSON，字段名按该来源的映射；X-Api-Key 认证）")
async def push_order(request: Request, db: Db, code: str, api_key: ApiKey = None) -> JSONResponse:
    raw = await request.body()
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        record = None  # reported after the key is checked: a stranger learns nothing
    if record is None:
        with db.read() as session:
            hotline.authenticate(session, code, api_key)
        raise InvalidInput("请求体不是有效的 JSON", None)
    return _out(hotline.push(db, code, api_key, record, raw, request.client.host if request.client else None))


@intake.post("/sources/{code}/import", summary="批量导入工单（CSV/.xlsx，对方表头；有错则整批不导入）")
async def import_orders(db: Db, admin: Admin, code: str, file: UploadFile = File(...),
                        dry_run: bool = Form(False)) -> dict[str, Any]:
    return hotline.import_orders(db, code, await _read(file), file.filename or "orders.csv", dry_run)


@intake.get("/sources/{code}/outbound", summary="状态回传：拉取该来源工单的办理状态变化（X-Api-Key）")
def pull_outbound(session: DB, code: str, api_key: ApiKey = None, after: Annotated[int, Query(ge=0)] = 0,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    return hotline.outbound(session, hotline.authenticate(session, code, api_key), after, limit)


@intake.post("/sources/{code}/outbound/ack", summary="确认已收到的状态回传")
def ack_outbound(session: DB, code: str, body: AckIn, api_key: ApiKey = None) -> dict[str, int]:
    return {"acked": hotline.ack(session, hotline.authenticate(session, code, api_key), body.up_to)}


# ---------------------------------------------------------------------------------------------
# Devices and cameras
# ---------------------------------------------------------------------------------------------

@intake.get("/devices", summary="监测设备")
def list_devices(session: DB, admin: Admin) -> list[dict[str, Any]]:
    return [device.device_view(d) for d in session.scalars(select(IntakeDevice).order_by(IntakeDevice.code))]


@intake.post("/devices", status_code=201, summary="登记或更新设备（新设备返回一次签名密钥）")
def save_device(session: DB, admin: Admin, body: device.DeviceIn) -> dict[str, Any]:
    d, secret = device.save_device(session, body)
    return {**device.device_view(d), "secret": secret}


@intake.post("/devices/{code}/secret", summary="更换设备签名密钥")
def rotate_secret(session: DB, admin: Admin, code: str) -> dict[str, str]:
    return {"code": code, "secret": device.rotate_secret(session, code)}


@intake.post("/devices/{code}/alerts", response_model=IntakeOut, status_code=201,
             responses={200: {"model": IntakeOut, "description": "同一预警重发"},
                        401: {"description": "签名无效或时间戳过期（已记录）"}},
             summary="设备预警 Webhook（X-Fengqiao-Timestamp + X-Fengqiao-Signature: sha256=HMAC(密钥, 时间戳.请求体)）")
async def device_alert(request: Request, db: Db, code: str,
                       timestamp: Annotated[str | None, Header(alias="X-Fengqiao-Timestamp")] = None,
                       signature: Annotated[str | None, Header(alias="X-Fengqiao-Signature")] = None) -> JSONResponse:
    body = await request.body()
    remote = request.client.host if request.client else None
    return _out(device.receive(db, code, timestamp, signature, body, remote))


@intake.get("/rejections", response_model=list[RejectionOut], summary="被拒绝的投递（签名无效等）")
def rejections(session: DB, admin: Admin, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[RejectionOut]:
    rows = session.scalars(select(IntakeRejection).order_by(IntakeRejection.id.desc()).limit(limit))
    return [RejectionOut(id=r.id, at=r.at, channel=r.channel, source=r.source, reason=r.reason,
                         remote_addr=r.remote_addr) for r in rows]


# ---------------------------------------------------------------------------------------------
# Ledgers (台账)
# ---------------------------------------------------------------------------------------------

@intake.get("/ledger/fields", summary="台账标准字段（导入映射用）")
def ledger_fields(user: Registrar) -> list[dict[str, Any]]:
    return ledger.fields()


@intake.post("/ledger/preview", summary="台账导入预览：列映射、逐行校验报告、将导入为事项/历史的行数")
async def ledger_preview(session: DB, user: Centre, file: UploadFile = File(...),
                         mapping: str | None = Form(None, description="JSON：{本平台字段: 台账列名}；不填则按列名自动识别")
                         ) -> dict[str, Any]:
    return ledger.preview(session, await _read(file), file.filename or "ledger.xlsx", _mapping(mapping))


@intake.post("/ledger/import", status_code=201, summary="导入台账（全部成功才导入；有错误行则整表不导入）")
async def ledger_import(session: DB, user: Centre, file: UploadFile = File(...),
                        mapping: str | None = Form(None)) -> dict[str, Any]:
    return ledger.import_ledger(session, user, await _read(file), file.filename or "ledger.xlsx", _mapping(mapping))


@intake.get("/ledger/export", summary="按筛选条件导出事项为矛盾纠纷台账（.xlsx，标准列）",
            response_class=Response, responses={200: {"content": {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def ledger_export(session: DB, user: Reader, state: Annotated[list[str] | None, Query()] = None,
                  kind: str | None = None, region_id: int | None = None, department_id: int | None = None,
                  overdue: bool | None = None, risk: str | None = None, q: str | None = None) -> Response:
    data = ledger.export_xlsx(session, user, CaseFilter(state, kind, region_id, department_id, overdue, risk, q))
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename*=UTF-8''%E7%9F%9B%E7%9B%BE%E7%BA%A0%E7%BA%B7"
                                                    "%E5%8F%B0%E8%B4%A6.xlsx"})


# ---------------------------------------------------------------------------------------------
# Citizens (群众自报): public, rate-limited
# ---------------------------------------------------------------------------------------------

@public.post("/reports", response_model=PublicOut, status_code=201,
             responses={429: {"description": "提交过于频繁（Retry-After 给出秒数）"}},
             summary="群众自报（H5/小程序）：按手机号和网络地址限流")
def citizen_report(request: Request, db: Db, settings: AppSettings, body: citizen.CitizenReportIn) -> JSONResponse:
    limits = ratelimit.limits(settings)
    ip = request.client.host if request.client else "unknown"
    try:
        ratelimit.check(db, settings.secret_key, [(limits["report_phone"], body.phone, "phone"),
                                                  (limits["report_ip"], ip, None)])
    except ratelimit.RateLimited as exc:
        return _limited(exc)
    with db.read() as session:
        inc = citizen.to_incoming(session, body)
    o = deliver(db, inc)
    message = (f"您反映的问题已与事项 {o.case_number} 合并办理" if o.linked else f"已受理，事项编号 {o.case_number}") + \
        "。请记下事项编号，凭编号和手机号查询办理进度。"
    out = PublicOut(case_number=o.case_number, state_label=o.state_label, linked=o.linked, replayed=o.replayed,
                    message=message)
    return JSONResponse(out.model_dump(), status_code=200 if o.replayed else 201)


@public.get("/cases/{number}", summary="凭事项编号和手机号查询办理进度",
            responses={429: {"description": "查询过于频繁"}})
def citizen_status(request: Request, db: Db, settings: AppSettings, number: str,
                   phone: Annotated[str, Query(max_length=20)]) -> Any:
    if (limited := _query_limit(request, db, settings)) is not None:
        return limited
    with db.read() as session:
        return citizen.public_status(session, number, phone)


@public.post("/cases/{number}/rating", summary="群众评价办理结果（满意/基本满意/不满意）",
             responses={429: {"description": "提交过于频繁"}})
def citizen_rating(request: Request, db: Db, settings: AppSettings, number: str, body: citizen.RatingIn) -> Any:
    if (limited := _query_limit(request, db, settings)) is not None:
        return limited
    with db.unit_of_work() as session:
        return citizen.rate(session, number, body)


router = APIRouter()
router.include_router(intake)
router.include_router(public)
router.include_router(open311_router)
