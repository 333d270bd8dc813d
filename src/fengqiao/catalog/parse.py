"""Checking a responsibility list file row by row, without a database (the import and triage share it)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fengqiao.deadlines.domain import DeadlineFormatError, parse_limit
from fengqiao.errors import InvalidInput
from fengqiao.tabular import read_table

COLUMNS = ("code", "name", "category", "department", "level", "deadline", "basis", "description")
REQUIRED = ("code", "name", "category", "department", "level", "deadline")
LEVELS = ("村", "镇", "县")
MAX_ROWS = 20_000


def check_rows(raw: bytes, filename: str, departments: Collection[str] | None = None
               ) -> tuple[list[tuple[int, dict[str, str]]], list[dict[str, Any]]]:
    """The rows (line number, cells by column) and every problem by row and column.

    Raises :class:`InvalidInput` for a file that cannot be read as a list at all (missing columns,
    no rows, too many). ``departments``, when given, are the names a row's department must be one of.
    """
    header, rows = read_table(raw, filename)
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InvalidInput(f"清单缺少列：{', '.join(missing)}（表头应为 {','.join(COLUMNS)}）", "header",
                           [{"row": 1, "column": c, "message": "缺少此列"} for c in missing])
    if not rows:
        raise InvalidInput("清单没有任何事项", "file")
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"清单超过 {MAX_ROWS} 行", "file")
    index = {col: header.index(col) for col in COLUMNS}
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, dict[str, str]]] = []
    seen: dict[str, int] = {}
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
        if departments is not None and row["department"] and row["department"] not in departments:
            bad("department", f"部门“{row['department']}”不存在，请先在部门管理中添加")
        if row["level"] and row["level"] not in LEVELS:
            bad("level", f"层级“{row['level']}”无效，应为 村、镇 或 县")
        if row["deadline"]:
            try:
                parse_limit(row["deadline"])
            except DeadlineFormatError as exc:
                bad("deadline", str(exc))
        parsed.append((line, row))
    return parsed, errors
