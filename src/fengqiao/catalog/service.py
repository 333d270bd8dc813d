"""Import the responsibility list (确权清单) from CSV or .xlsx as a new version; all or nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fengqiao.catalog.models import CatalogItem, CatalogVersion
from fengqiao.catalog.parse import check_rows
from fengqiao.errors import InvalidInput, NotFound
from fengqiao.org.service import department_by_name

def parse_catalog(session: Session, raw: bytes, filename: str) -> list[dict[str, Any]]:
    """Validate every row; raise one error listing all problems by row and column."""
    departments = department_by_name(session)
    rows, errors = check_rows(raw, filename, departments)
    if errors:
        raise InvalidInput(f"清单有 {len(errors)} 处错误，未导入任何事项", "file", errors)
    return [{**row, "department_id": departments[row["department"]].id} for _, row in rows]


def import_catalog(session: Session, raw: bytes, filename: str, user_id: int | None = None) -> CatalogVersion:
    items = parse_catalog(session, raw, filename)
    number = (session.scalar(select(func.max(CatalogVersion.number))) or 0) + 1
    version = CatalogVersion(number=number, source_name=filename[:200], item_count=len(items), imported_by=user_id)
    session.add(version)
    session.flush()
    session.add_all(CatalogItem(version_id=version.id, code=r["code"], name=r["name"], category=r["category"],
                                department_id=r["department_id"], level=r["level"], deadline=r["deadline"],
                                basis=r["basis"], description=r["description"]) for r in items)
    session.flush()
    return version


def current_version(session: Session) -> CatalogVersion | None:
    return session.scalar(select(CatalogVersion).order_by(CatalogVersion.number.desc()).limit(1))


def get_item(session: Session, item_id: int) -> CatalogItem:
    item = session.get(CatalogItem, item_id)
    if item is None:
        raise NotFound(f"清单事项 {item_id} 不存在", "catalog_item_id")
    return item


def find_item(session: Session, code: str, version: CatalogVersion | None = None) -> CatalogItem:
    version = version or current_version(session)
    if version is None:
        raise NotFound("尚未导入确权清单", "catalog_item_code")
    item = session.scalar(select(CatalogItem).where(CatalogItem.version_id == version.id, CatalogItem.code == code))
    if item is None:
        raise NotFound(f"当前清单（第 {version.number} 版）中没有编码 {code}", "catalog_item_code")
    return item
