"""Reading the tables administrators upload: CSV (UTF-8) and .xlsx, with errors people can act on."""

from __future__ import annotations

import csv
import io

from fengqiao.errors import InvalidInput


def decode_csv(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("CSV 文件必须是 UTF-8 编码（可在 Excel 中另存为“CSV UTF-8”）", "file") from None


def csv_dicts(raw: bytes | str, required: tuple[str, ...], header_hint: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs of a CSV whose header must contain ``required``; values stripped."""
    reader = csv.DictReader(io.StringIO(decode_csv(raw)))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(f"缺少列：{'、'.join(missing)}（表头应为 {header_hint}）", "header")
    return [(line, {k: (v or "").strip() for k, v in row.items() if k}) for line, row in enumerate(reader, start=2)]


def read_table(raw: bytes, filename: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, cells) rows of a CSV (UTF-8) or .xlsx file; blank lines dropped."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a broken file
            raise InvalidInput(f"无法读取 Excel 文件：{exc}", "file") from None
        sheet = wb.worksheets[0]
        all_rows = [(i, ["" if c is None else str(c).strip() for c in row])
                    for i, row in enumerate(sheet.iter_rows(values_only=True), start=1)]
        wb.close()
    else:
        text = decode_csv(raw)
        all_rows = [(i, [c.strip() for c in row]) for i, row in enumerate(csv.reader(io.StringIO(text)), start=1)]
    all_rows = [(i, r) for i, r in all_rows if any(r)]
    if not all_rows:
        raise InvalidInput("文件为空", "file")
    header = [h.strip().lower() for h in all_rows[0][1]]
    return header, all_rows[1:]
