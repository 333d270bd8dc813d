"""The responsibility list (确权清单) without a database: CSV/.xlsx → validated :class:`ListItem` rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fengqiao.catalog.service import read_table
from fengqiao.deadlines.domain import DeadlineFormatError, parse_limit
from fengqiao.errors import InvalidInput
from fengqiao.triage.exceptions import ListFormatError

COLUMNS = ("code", "name", "category", "department", "level", "deadline", "basis", "description")
REQUIRED = ("code", "name", "category", "department", "level", "deadline")
LEVELS = ("村", "镇", "县")
MAX_ROWS = 20_000


@dataclass(frozen=True)
class ListItem:
    code: str
    name: str
    category: str
    department: str   # the department's name as written in the list
    level: str        # 村 / 镇 / 县
    deadline: str
    basis: str = ""
    description: str = ""
    row: int = 0      # line in the source file, for messages


def parse_list(raw: bytes, filename: str) -> list[ListItem]:
    """Validate every row; raise one :class:`ListFormatError` naming each bad row and column."""
    try:
        header, rows = read_table(raw, filename)
    except InvalidInput as exc:
        raise ListFormatError(exc.message, exc.details) from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ListFormatError(f"清单缺少列：{', '.join(missing)}（表头应为 {','.join(COLUMNS)}）",
                              [{"row": 1, "column": c, "message": "缺少此列"} for c in missing], "header")
    if not rows:
        raise ListFormatError("清单没有任何事项")
    if len(rows) > MAX_ROWS:
        raise ListFormatError(f"清单超过 {MAX_ROWS} 行")
    errors: list[dict[str, Any]] = []
    items: list[ListItem] = []
    seen: dict[str, int] = {}
    index = {col: header.index(col) for col in COLUMNS}
    for line, cells in rows:
        cells = cells + [""] * (len(header) - len(cells))
        row = {col: cells[i] for col, i in index.items()}

        def bad(column: str, message: str, line: int = line) -> None:
            errors.append({"row": line, "column": column, "message": message})

        for col in REQUIRED:
            if not row[col]:
                bad(col, "不能为空")
        if row["code"]:
            if row["code"] in seen:
                bad("code", f"编码 {row['code']} 与第 {seen[row['code']]} 行重复")
            seen.setdefault(row["code"], line)
        if row["level"] and row["level"] not in LEVELS:
            bad("level", f"层级“{row['level']}”无效，应为 村、镇 或 县")
        if row["deadline"]:
            try:
                parse_limit(row["deadline"])
            except DeadlineFormatError as exc:
                bad("deadline", str(exc))
        items.append(ListItem(row=line, **row))
    if errors:
        first = errors[0]
        raise ListFormatError(f"清单有 {len(errors)} 处错误（第一处：第 {first['row']} 行 {first['column']} 列，"
                              f"{first['message']}）", errors)
    return items


def load_list(path: str | Path) -> list[ListItem]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ListFormatError(f"无法读取清单文件 {path}：{exc.strerror}") from None
    return parse_list(raw, path.name)
