"""Administration API: regions, departments, the responsibility list, calendar, policies, users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from fengqiao.auth.models import Role
from fengqiao.auth.service import Principal, create_user
from fengqiao.catalog.models import CatalogItem, CatalogVersion
from fengqiao.catalog.service import import_catalog
from fengqiao.deadlines.models import DeadlinePolicy
from fengqiao.deadlines.service import save_policy
from fengqiao.deps import DB, User, require
from fengqiao.errors import InvalidInput
from fengqiao.options.service import set_triage_options, triage_options
from fengqiao.org.models import Department, Region
from fengqiao.org.service import get_region, import_departments_csv, import_regions_geojson, locate
from fengqiao.workcal.service import import_year_csv, year_schedule

router = APIRouter(prefix="/api", tags=["管理"])
Admin = Annotated[Principal, require(Role.ADMIN)]
MAX_IMPORT_BYTES = 50 * 1024 * 1024


async def _read(upload: UploadFile) -> bytes:
    data = await upload.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput("导入文件超过 50 MB", "file")
    return data


class RegionOut(BaseModel):
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    center_lat: float | None
    center_lon: float | None


def _region_out(r: Region) -> RegionOut:
    return RegionOut(id=r.id, code=r.code, name=r.name, level=r.level, parent_id=r.parent_id,
                     center_lat=r.center_lat, center_lon=r.center_lon)


@router.get("/regions", response_model=list[RegionOut], summary="区划列表（本人管辖范围内）")
def list_regions(session: DB, user: User, parent_id: int | None = None, level: str | None = None) -> list[RegionOut]:
    query = select(Region).where(Region.path.startswith(user.region_path, autoescape=True))
    if parent_id is not None:
        query = query.where(Region.parent_id == parent_id)
    if level:
        query = query.where(Region.level == level)
    return [_region_out(r) for r in session.scalars(query.order_by(Region.code).limit(5000))]


@router.get("/regions/locate", summary="坐标定位到网格及其上级")
def locate_point(session: DB, user: User, lat: Annotated[float, Query(ge=-90, le=90)],
                 lon: Annotated[float, Query(ge=-180, le=180)]) -> dict[str, Any]:
    place = locate(session, lat, lon)
    return {k: (_region_out(v) if v else None) for k, v in
            {"grid": place.grid, "village": place.village, "town": place.town, "county": place.county}.items()}


@router.get("/regions/{region_id}/geojson", summary="区划及下级边界（GeoJSON）")
def region_geojson(session: DB, user: User, region_id: int) -> dict[str, Any]:
    region = get_region(session, region_id)
    rows = session.scalars(select(Region).where(Region.path.startswith(region.path, autoescape=True),
                                                Region.geometry.is_not(None)))
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": r.geometry, "properties": {"id": r.id, "code": r.code, "name": r.name,
                                                                     "level": r.level}} for r in rows]}


@router.post("/admin/regions/import", summary="导入区划与网格边界（GeoJSON）")
async def import_regions(session: DB, admin: Admin, file: UploadFile = File(...)) -> dict[str, int]:
    return {"imported": import_regions_geojson(session, await _read(file))}


class DepartmentOut(BaseModel):
    id: int
    code: str
    name: str
    presence: str


@router.get("/departments", response_model=list[DepartmentOut], summary="职能部门")
def list_departments(session: DB, user: User) -> list[DepartmentOut]:
    return [DepartmentOut(id=d.id, code=d.code, name=d.name, presence=d.presence)
            for d in session.scalars(select(Department).order_by(Department.code))]


@router.post("/admin/departments/import", summary="导入职能部门（CSV：code,name,presence）")
async def import_departments(session: DB, admin: Admin, file: UploadFile = File(...)) -> dict[str, int]:
    return {"imported": import_departments_csv(session, await _read(file))}


@router.post("/admin/catalog/import", summary="导入确权清单（CSV 或 .xlsx），生成新版本")
async def import_list(session: DB, admin: Admin, file: UploadFile = File(...)) -> dict[str, int]:
    version = import_catalog(session, await _read(file), file.filename or "upload.csv", admin.user_id)
    return {"version": version.number, "items": version.item_count}


@router.get("/catalog/versions", summary="确权清单版本")
def catalog_versions(session: DB, user: User) -> list[dict[str, Any]]:
    return [{"version": v.number, "id": v.id, "source": v.source_name, "items": v.item_count,
             "imported_at": v.imported_at.isoformat()}
            for v in session.scalars(select(CatalogVersion).order_by(CatalogVersion.number.desc()))]


@router.get("/catalog/items", summary="确权清单事项（默认最新版本）")
def catalog_items(session: DB, user: User, version: int | None = None, q: str | None = None) -> list[dict[str, Any]]:
    v = session.scalar(select(CatalogVersion).where(CatalogVersion.number == version) if version else
                       select(CatalogVersion).order_by(CatalogVersion.number.desc()).limit(1))
    if v is None:
        return []
    query = select(CatalogItem).where(CatalogItem.version_id == v.id)
    if q:
        query = query.where(CatalogItem.name.like(f"%{q}%") | CatalogItem.description.like(f"%{q}%"))
    return [{"id": i.id, "code": i.code, "name": i.name, "category": i.category, "department_id": i.department_id,
             "level": i.level, "deadline": i.deadline, "basis": i.basis, "description": i.description}
            for i in session.scalars(query.order_by(CatalogItem.code))]


@router.get("/calendar/{year}", summary="某年节假日与调休安排")
def get_calendar(session: DB, user: User, year: int) -> dict[str, Any]:
    return year_schedule(session, year)


@router.post("/admin/calendar/{year}", summary="录入某年节假日安排（CSV：date,type,name；type 为 休 或 班）")
async def put_calendar(session: DB, admin: Admin, year: int, file: UploadFile = File(...)) -> dict[str, int]:
    return {"days": import_year_csv(session, year, await _read(file))}


@router.get("/admin/policies", summary="时限策略")
def list_policies(session: DB, admin: Admin) -> list[dict[str, Any]]:
    return [{"name": p.name, "active": p.active, "rules": p.rules} for p in session.scalars(select(DeadlinePolicy))]


@router.put("/admin/policies", summary="保存并启用时限策略")
def put_policy(session: DB, admin: Admin, rules: dict[str, Any]) -> dict[str, Any]:
    row = save_policy(session, rules)
    return {"name": row.name, "active": row.active}


class UserCreate(BaseModel):
    username: str
    password: str = Field(..., min_length=8)
    display_name: str
    role: Role
    region_id: int
    department_id: int | None = None
    phone: str | None = None


@router.post("/admin/users", status_code=201, summary="创建用户")
def add_user(session: DB, admin: Admin, body: UserCreate) -> dict[str, Any]:
    region = get_region(session, body.region_id)
    if not region.path.startswith(admin.region_path):
        raise InvalidInput("区划不在您的管辖范围内", "region_id")
    user = create_user(session, **body.model_dump())
    return {"id": user.id, "username": user.username, "role": user.role}


class TriageOptionsIn(BaseModel):
    threshold: float | None = Field(None, description="自动交办的置信度阈值（0.5–0.99）；留空表示不自动交办")
    risk_grading: bool | None = Field(None, description="受理时是否智能研判风险等级")


@router.get("/admin/triage", summary="智能分流设置")
def get_triage(session: DB, admin: Admin) -> dict[str, Any]:
    return triage_options(session)


@router.put("/admin/triage", summary="设置智能分流：自动交办阈值与风险研判")
def put_triage(session: DB, admin: Admin, body: TriageOptionsIn) -> dict[str, Any]:
    return set_triage_options(session, body.threshold, body.risk_grading, admin.user_id)
