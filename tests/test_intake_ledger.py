"""台账: import a county's dispute ledger (mapping, preview, validation report, all or nothing) and export."""

from __future__ import annotations

import io
import json
from datetime import datetime

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from fengqiao.cases.models import Case
from fengqiao.intake.ledger import EXPORT_COLUMNS, parse_parties
from fengqiao.intake.models import LedgerEntry
from intake_support import Api, api  # noqa: F401

HEADER = ["序号", "纠纷编号", "事件名称", "登记日期", "发生地点", "纠纷类型", "涉及人数", "简要情况", "当事人",
          "调解方式", "调解组织", "调解员", "是否化解", "化解情况", "网格编码"]
GOOD = [
    [1, "FG-2025-001", "王家与李家宅基地纠纷", datetime(2025, 3, 1), "甲镇1村", "宅基地纠纷", 2,
     "两家因宅基地界址争执", "王大（13800001111）、李二 11010519491231002X", "人民调解", "甲镇1村调委会", "张调解",
     "是", "双方签订调解协议", "T0V0G0"],
    [2, "FG-2025-002", "某工地拖欠工资", "2025/04/15", "乙镇1村", "劳资纠纷", "12人", "12 名工人讨要工资",
     "赵工头 13900002222", "行政调解", "县人社局", "孙科长", "", "", "T1V0G0"],
    [3, "FG-2025-003", "邻里噪音", "2025年5月6日", "甲镇2村", "邻里纠纷", 2, "楼上装修噪音", "钱某", "人民调解",
     "甲镇2村调委会", "周调解", "否", "调解不成，引导诉讼", ""],
]


def _xlsx(rows: list[list], header: list[str] = HEADER) -> bytes:  # type: ignore[type-arg]
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_preview_detects_the_columns_and_says_what_each_row_becomes(api: Api) -> None:
    r = api.post("operator", "/api/intake/ledger/preview", files={"file": ("台账.xlsx", _xlsx(GOOD))})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mapping"]["name"] == "事件名称" and body["mapping"]["ledger_no"] == "纠纷编号"
    assert body["unmapped"] == ["序号"] and body["errors"] == []
    assert body["rows"] == 3 and body["to_cases"] == 1 and body["history"] == 2
    assert body["sample"][1]["导入为"] == "事项（未化解）"


def test_import_keeps_history_and_opens_cases_for_unresolved_rows(api: Api) -> None:
    data = _xlsx(GOOD)
    r = api.post("operator", "/api/intake/ledger/import", files={"file": ("台账.xlsx", data)})
    assert r.status_code == 201, r.text
    assert r.json() == {"import_id": 1, "rows": 3, "imported": 3, "cases": 1, "history": 2, "already_imported": 0}
    with api.county.db.read() as s:
        entries = s.scalars(select(LedgerEntry).order_by(LedgerEntry.row)).all()
        assert [e.success for e in entries] == [True, None, False]
        assert entries[1].people_count == 12 and entries[0].occurred_on.isoformat() == "2025-03-01"
        case = s.get(Case, entries[1].case_id)
        assert case is not None and case.title == "某工地拖欠工资" and case.kind == "dispute"
    # The ledger's people count when they come back.
    history = api.get("operator", "/api/intake/people", params={"phone": "13800001111"}).json()
    assert history["visits"] == 1 and history["ledger_entries"] == 1
    again = api.post("operator", "/api/intake/ledger/import", files={"file": ("台账.xlsx", data)})
    assert again.status_code == 409 and again.json()["code"] == "already_imported"
    # Saved again with one more row, and without the numbers: the known rows are still known.
    unnumbered = [[*row[:1], None, *row[2:]] for row in GOOD]
    more = _xlsx(unnumbered + [[4, None, "新纠纷", "2025-06-01", "乙镇2村", "", 1, "土地流转租金未付", "", "", "", "",
                                "", "", ""]])
    r = api.post("operator", "/api/intake/ledger/import", files={"file": ("台账2.xlsx", more)})
    assert r.json()["already_imported"] == 3 and r.json()["imported"] == 1


def test_a_ledger_with_broken_rows_is_rejected_whole_with_every_reason(api: Api) -> None:
    broken = GOOD + [
        [4, "FG-2025-001", "编号重复", "2025-06-01", "", "", 1, "内容", "", "", "", "", "", "", ""],
        GOOD[0][:1] + ["FG-2025-099"] + GOOD[0][2:],
        [6, "FG-2025-005", "", "2025-13-45", "", "", "很多", "内容", "王五（138）", "", "", "", "也许", "", "NOPE"],
        [6, "FG-2025-006", "未来的纠纷", "2099-01-01", "", "", 1, "", "", "", "", "", "", "", ""],
    ]
    r = api.post("operator", "/api/intake/ledger/import", files={"file": ("台账.xlsx", _xlsx(broken))})
    assert r.status_code == 422 and "未导入任何数据" in r.json()["message"]
    found = {(d["row"], d["column"]) for d in r.json()["details"]}
    assert found == {(5, "纠纷编号"), (6, "事件名称"), (7, "事件名称"), (7, "登记日期"), (7, "涉及人数"), (7, "当事人"),
                     (7, "是否化解"), (7, "网格编码"), (8, "登记日期"), (8, "简要情况")}
    with api.county.db.read() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 0
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_an_administrator_maps_unusual_columns(api: Api) -> None:
    header = ["案由", "时间", "情况说明", "结果"]
    data = _xlsx([["山林地界纠纷", "2025-02-02", "两村山林地界不清", "已化解"]], header)
    missing = api.post("operator", "/api/intake/ledger/preview", files={"file": ("a.xlsx", data)})
    assert missing.status_code == 422 and missing.json()["field"] == "mapping"
    mapping = json.dumps({"name": "案由", "occurred_on": "时间", "summary": "情况说明", "success": "结果"})
    r = api.post("operator", "/api/intake/ledger/import", files={"file": ("a.xlsx", data)}, data={"mapping": mapping})
    assert r.status_code == 201 and r.json()["history"] == 1
    bad = api.post("operator", "/api/intake/ledger/preview", files={"file": ("a.xlsx", data)},
                   data={"mapping": json.dumps({"colour": "案由"})})
    assert bad.status_code == 422 and bad.json()["field"] == "mapping.colour"


def test_export_has_the_standard_dispute_columns_for_the_filtered_list(api: Api) -> None:
    api.post("operator", "/api/intake/ledger/import", files={"file": ("台账.xlsx", _xlsx(GOOD))})
    grid = api.grid_report(kind="dispute", description="两户因排水沟堵塞争吵").json()
    api.move("operator", grid["case_id"], "classify", catalog_item_code="T-001")
    r = api.get("operator", "/api/intake/ledger/export", params={"state": "triaged"})
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == EXPORT_COLUMNS
    assert [row[0] for row in rows[1:]] == [grid["case_number"]]
    row = dict(zip(EXPORT_COLUMNS, rows[1]))
    assert row["纠纷类型"] == "邻里纠纷" and row["网格编码"] == "T0V0G0" and row["办理状态"] == "待分流"
    everything = load_workbook(io.BytesIO(api.get("operator", "/api/intake/ledger/export").content)).active
    assert everything.max_row == 3  # header, the ledger's open row, the grid report
    masked = load_workbook(io.BytesIO(api.get("leader", "/api/intake/ledger/export").content)).active
    assert any("****" in str(c.value) for c in masked["I"])  # leaders see masked phones


def test_parties_are_read_from_free_text() -> None:
    people = parse_parties("张三（13812345678）、李四 11010519491231002X；王五")
    assert people == [{"name": "张三", "phone": "13812345678", "id_number": None},
                      {"name": "李四", "phone": None, "id_number": "11010519491231002X"},
                      {"name": "王五", "phone": None, "id_number": None}]
