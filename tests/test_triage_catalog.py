"""The db-free list parser: good lists load, bad ones raise one typed error naming rows and columns."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from test_triage_support import HEADER, ROWS, csv_bytes

from fengqiao.errors import InvalidInput
from fengqiao.triage.catalog import parse_list
from fengqiao.triage.exceptions import ListFormatError


def test_csv_list_parses_into_items() -> None:
    items = parse_list(csv_bytes(), "清单.csv")
    assert [it.code for it in items] == [r.split(",")[0] for r in ROWS]
    assert items[0].department == "城管局" and items[0].level == "县" and items[0].row == 2


def test_xlsx_list_parses_like_csv() -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.strip().split(","))
    for r in ROWS:
        ws.append(r.split(","))
    buf = io.BytesIO()
    wb.save(buf)
    items = parse_list(buf.getvalue(), "清单.xlsx")
    assert [it.name for it in items][:2] == ["窨井盖缺失破损", "拖欠农民工工资"]


def test_duplicate_code_names_both_rows() -> None:
    rows = ROWS[:2] + [ROWS[0].replace("窨井盖缺失破损", "井盖丢失")]
    with pytest.raises(ListFormatError) as err:
        parse_list(csv_bytes(rows), "list.csv")
    assert isinstance(err.value, InvalidInput)
    assert err.value.details == [{"row": 4, "column": "code", "message": "编码 T-01 与第 2 行重复"}]
    assert "第 4 行" in err.value.message


def test_missing_columns_are_listed() -> None:
    header = "code,name,department,level\n"
    with pytest.raises(ListFormatError) as err:
        parse_list(csv_bytes(["T-01,井盖,城管局,县"], header), "list.csv")
    assert "category" in err.value.message and "deadline" in err.value.message
    assert {d["column"] for d in err.value.details} == {"category", "deadline", "basis", "description"}


def test_bad_cells_reported_by_row_and_column() -> None:
    rows = ["T-01,井盖,部件问题,城管局,省,3日,,", "T-02,欠薪,矛盾纠纷,人社局,县,下周,,", "T-03,,矛盾纠纷,村委会,村,3日,,"]
    with pytest.raises(ListFormatError) as err:
        parse_list(csv_bytes(rows), "list.csv")
    where = {(d["row"], d["column"]) for d in err.value.details}
    assert where == {(2, "level"), (3, "deadline"), (4, "name")}


def test_not_utf8_and_empty_files_are_clear_errors() -> None:
    with pytest.raises(ListFormatError, match="UTF-8"):
        parse_list(csv_bytes().decode("utf-8").encode("gbk"), "list.csv")
    with pytest.raises(ListFormatError, match="为空"):
        parse_list(b"", "list.csv")
    with pytest.raises(ListFormatError, match="没有任何事项"):
        parse_list(HEADER.encode(), "list.csv")
