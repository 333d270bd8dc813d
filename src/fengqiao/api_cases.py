"""Case API: register, list, read, move through the loop, attachments, visits, supervision."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import func, select

from fengqiao.auth.models import Role
from fengqiao.auth.service import Principal
from fengqiao.cases import queries, service
from fengqiao.cases.attachments import add_attachment, open_attachment
from fengqiao.cases.models import Case
from fengqiao.cases.schemas import AttachmentOut, CaseCreate, CaseDetail, LinkIn, Page, TransitionIn, VisitIn
from fengqiao.deps import DB, AppSettings, User, require
from fengqiao.org.models import Department
from fengqiao.supervision.models import SupervisionAction
from fengqiao.supervision.service import record_manual

router = APIRouter(prefix="/api", tags=["事项"])
Registrar = Annotated[Principal, require(Role.OPERATOR, Role.GRID_WORKER, Role.ADMIN, Role.MEDIATOR)]
Supervisor = Annotated[Principal, require(Role.SUPERVISOR, Role.LEADER, Role.ADMIN)]
Visitor = Annotated[Principal, require(Role.OPERATOR, Role.ADMIN)]


@router.post("/cases", response_model=CaseDetail, status_code=201, summary="登记事项（受理）")
def register_case(session: DB, user: Registrar, body: CaseCreate) -> CaseDetail:
    case = service.register(session, user, body)
    return queries.case_detail(session, user, case.id)


@router.get("/cases", response_model=Page, summary="事项列表（分页、筛选）")
def list_cases(session: DB, user: User,
               state: Annotated[list[str] | None, Query(description="状态，可多选")] = None,
               kind: str | None = None, region_id: int | None = None, department_id: int | None = None,
               overdue: bool | None = None, risk: str | None = None, q: str | None = None,
               page: Annotated[int, Query(ge=1)] = 1, size: Annotated[int, Query(ge=1, le=200)] = 20) -> Page:
    return queries.list_cases(session, user, queries.CaseFilter(state, kind, region_id, department_id, overdue,
                                                                risk, q, page, size))


@router.get("/cases/by-number/{number}", response_model=CaseDetail, summary="按编号查询事项")
def case_by_number(session: DB, user: User, number: str) -> CaseDetail:
    return queries.case_detail(session, user, service.get_by_number(session, user, number).id)


@router.get("/cases/{case_id}", response_model=CaseDetail, summary="事项详情（含时间线与各环节期限）")
def get_case(session: DB, user: User, case_id: int) -> CaseDetail:
    return queries.case_detail(session, user, case_id)


@router.post("/cases/{case_id}/transitions", response_model=CaseDetail, summary="流转事项（分类、交办、签收、退回……）")
def transition_case(session: DB, user: User, case_id: int, body: TransitionIn) -> CaseDetail:
    service.apply(session, user, case_id, body)
    return queries.case_detail(session, user, case_id)


@router.post("/cases/{case_id}/visits", response_model=CaseDetail, summary="记录回访")
def visit_case(session: DB, user: Visitor, case_id: int, body: VisitIn) -> CaseDetail:
    service.record_visit(session, user, case_id, body)
    return queries.case_detail(session, user, case_id)


@router.post("/cases/{case_id}/links", status_code=201, summary="关联事项")
def link_case(session: DB, user: User, case_id: int, body: LinkIn) -> dict[str, Any]:
    row = service.link(session, user, case_id, body)
    return {"id": row.id, "case_id": row.case_id, "other_case_id": row.other_case_id, "kind": row.kind}


@router.post("/cases/{case_id}/attachments", response_model=AttachmentOut, status_code=201, summary="上传附件")
async def upload(session: DB, settings: AppSettings, user: User, case_id: int, file: UploadFile = File(...),
                 purpose: str = Form("report")) -> AttachmentOut:
    data = await file.read(settings.max_attachment_bytes + 1)
    row = add_attachment(session, settings, user, case_id, file.filename or "附件", data, purpose)
    return AttachmentOut(id=row.id, filename=row.filename, content_type=row.content_type, size=row.size,
                         sha256=row.sha256, purpose=row.purpose, uploaded_at=row.uploaded_at)


@router.get("/attachments/{attachment_id}", summary="下载附件", response_class=FileResponse)
def download(session: DB, settings: AppSettings, user: User, attachment_id: int) -> FileResponse:
    row, path = open_attachment(session, settings, user, attachment_id)
    return FileResponse(path, media_type=row.content_type, filename=row.filename)


class ManualSupervision(BaseModel):
    kind: str
    note: str | None = None


@router.post("/cases/{case_id}/supervision", status_code=201, summary="人工督办（提醒、催办、督办、约谈、移交）")
def supervise(session: DB, user: Supervisor, case_id: int, body: ManualSupervision) -> dict[str, Any]:
    case = service.load_case(session, user, case_id)
    row = record_manual(session, case, body.kind, user.user_id, body.note)
    session.flush()
    return {"id": row.id, "kind": row.kind, "stage": row.stage}


@router.get("/supervision/actions", summary="督办记录")
def supervision_actions(session: DB, user: User, case_id: int | None = None, department_id: int | None = None,
                        page: Annotated[int, Query(ge=1)] = 1,
                        size: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    query = (select(SupervisionAction, Case.number, Department.name)
             .join(Case, Case.id == SupervisionAction.case_id)
             .outerjoin(Department, Department.id == SupervisionAction.department_id)
             .where(queries.scope_filter(user)))
    if case_id:
        query = query.where(SupervisionAction.case_id == case_id)
    if department_id:
        query = query.where(SupervisionAction.department_id == department_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(SupervisionAction.created_at.desc(), SupervisionAction.id.desc())
                           .offset((page - 1) * size).limit(size)).all()
    return {"total": total, "page": page, "size": size, "items": [
        {"id": a.id, "case_id": a.case_id, "case_number": number, "department": dept, "kind": a.kind,
         "stage": a.stage, "step": a.step, "created_at": a.created_at.isoformat(), "note": a.note,
         "manual": a.created_by is not None} for a, number, dept in rows]}


