"""Import the responsibility list (确权清单) from CSV or .xlsx as a new version; all or nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fengqiao.catalog.models import CatalogItem, CatalogVersion
from fengqiao.deadlines.domain import DeadlineFormatError, parse_limit
from fengqiao.errors import InvalidInput, NotFound
from fengqiao.org.service import department_by_name
from fengqiao.tabular import read_table

COLUMNS = ("code", "name", "category", "department", "level", "deadline", "basis", "description")
REQUIRED = ("code", "name", "category", "department", "level", "deadline")
LEVELS = ("村", "镇", "县")
MAX_ROWS = 20_000


def parse_catalog(session: Session, raw: bytes, filename: str) -> list[dict[str, Any]]:
    """Validate every row; raise one error listing all problems by row and column."""
    header, rows = read_table(raw, filename)
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InvalidInput(f"缺少列：{', '.join(missing)}（表头应为 {','.join(COLUMNS)}）", "header",
                           [{"row": 1, "column": c, "message": "缺少此列"} for c in missing])
    if not rows:
        raise InvalidInput("清单没有任何事项", "file")
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"清单超过 {MAX_ROWS} 行", "file")
    departments = department_by_name(session)
    errors: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, cells in rows:
        cells = cells + [""] * (len(header) - len(cells))
        row = {col: cells[header.index(col)] for col in COLUMNS}

        def bad(column: str, message: str) -> None:
            errors.append({"row": line, "column": column, "message": message})

        for col in REQUIRED:
            if not row[col]:
                bad(col, "不能为空")
        if row["code"]:
            if row["code"] in seen:
                bad("code", f"编码 {row['code']} 与第 {seen[row['code']]} 行重复")
            seen.setdefault(row["code"], line)
        if row["department"] and row["department"] not in departments:
            bad("department", f"部门“{row['department']}”不存在，请先在部门管理中添加")
        if row["level"] and row["level"] not in LEVELS:
            bad("level", f"层级“{row['level']}”无效，应为 村、镇 或 县")
        if row["deadline"]:
            try:
                parse_limit(row["deadline"])
            except DeadlineFormatError as exc:
                bad("deadline", str(exc))
        items.append(row)
    if errors:
        raise InvalidInput(f"清单有 {len(errors)} 处错误，未导入任何事项", "file", errors)
    for row in items:
        row["department_id"] = departments[row["department"]].id
    return items


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
