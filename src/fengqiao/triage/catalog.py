"""The responsibility list (确权清单) without a database: CSV/.xlsx → validated :class:`ListItem` rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fengqiao.catalog.parse import COLUMNS, LEVELS, MAX_ROWS, REQUIRED, check_rows  # noqa: F401
from fengqiao.errors import InvalidInput
from fengqiao.triage.exceptions import ListFormatError


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
        rows, errors = check_rows(raw, filename)
    except InvalidInput as exc:
        raise ListFormatError(exc.message, exc.details, exc.field or "file") from None
    if errors:
        first = errors[0]
        raise ListFormatError(f"清单有 {len(errors)} 处错误（第一处：第 {first['row']} 行 {first['column']} 列，"
                              f"{first['message']}）", errors)
    return [ListItem(row=line, **row) for line, row in rows]


def load_list(path: str | Path) -> list[ListItem]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ListFormatError(f"无法读取清单文件 {path}：{exc.strerror}") from None
    return parse_list(raw, path.name)
