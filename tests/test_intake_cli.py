"""The intake commands as an administrator uses them: a hotline mapping, order and ledger files, export."""

from __future__ import annotations

import io
import json
from pathlib import Path

from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from fengqiao.cli import main
from fengqiao.db import Database
from intake_support import HOTLINE_MAPPING
from support import CATALOG_CSV, DEPARTMENTS_CSV, county_geojson


def _run(runner: CliRunner, base: list[str], *args: str, code: int = 0) -> str:
    result = runner.invoke(main, base + list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_administrator_feeds_hotline_orders_and_a_ledger_from_files(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path)]
    (tmp_path / "r.geojson").write_text(json.dumps(county_geojson(), ensure_ascii=False), encoding="utf-8")
    (tmp_path / "d.csv").write_text(DEPARTMENTS_CSV, encoding="utf-8")
    (tmp_path / "l.csv").write_text(CATALOG_CSV, encoding="utf-8")
    for args in (["init"], ["import-regions", str(tmp_path / "r.geojson")], ["import-departments", str(tmp_path / "d.csv")],
                 ["import-list", str(tmp_path / "l.csv")]):
        _run(runner, base, *args)

    (tmp_path / "map.json").write_text(json.dumps(HOTLINE_MAPPING, ensure_ascii=False), encoding="utf-8")
    out = _run(runner, base, "intake-source", "zk12345", "--name", "周口12345", "--channel", "hotline",
               "--mapping", str(tmp_path / "map.json"))
    assert "接入令牌（只显示一次）" in out
    assert "接入令牌" not in _run(runner, base, "intake-source", "zk12345", "--name", "周口市12345", "--channel",
                                  "hotline", "--mapping", str(tmp_path / "map.json"))
    (tmp_path / "orders.csv").write_text("工单编号,诉求内容,诉求类型,来电号码,事发地址\n"
                                         "C1,路灯不亮,投诉,13900001111,甲镇1村\nC2,占道经营,投诉,13900002222,乙镇1村\n",
                                         encoding="utf-8")
    assert "新工单 2" in _run(runner, base, "import-orders", "zk12345", str(tmp_path / "orders.csv"), "--dry-run")
    assert "新登记 2" in _run(runner, base, "import-orders", "zk12345", str(tmp_path / "orders.csv"))
    (tmp_path / "bad.csv").write_text("工单编号,诉求内容\nC3,\n", encoding="utf-8")
    out = _run(runner, base, "import-orders", "zk12345", str(tmp_path / "bad.csv"), code=2)
    assert "row=2" in out and "诉求内容" in out

    wb = Workbook()
    ws = wb.active
    ws.append(["纠纷名称", "发生日期", "简要情况", "当事人", "化解是否成功"])
    ws.append(["宅基地纠纷", "2025-03-01", "两家因宅基地界址争执", "王大（13800001111）", "是"])
    ws.append(["欠薪", "2025-04-01", "工人讨薪", "", ""])
    buf = io.BytesIO()
    wb.save(buf)
    (tmp_path / "台账.xlsx").write_bytes(buf.getvalue())
    assert "将登记事项 1，历史台账 1" in _run(runner, base, "import-ledger", str(tmp_path / "台账.xlsx"), "--dry-run")
    assert "登记事项 1，历史台账 1" in _run(runner, base, "import-ledger", str(tmp_path / "台账.xlsx"))
    ws.append(["坏行", "明天", "x", "", "也许"])
    buf = io.BytesIO()
    wb.save(buf)
    (tmp_path / "坏台账.xlsx").write_bytes(buf.getvalue())
    out = _run(runner, base, "import-ledger", str(tmp_path / "坏台账.xlsx"), code=2)
    assert "未导入任何数据" in out and "row=4" in out

    _run(runner, base, "export-ledger", str(tmp_path / "out.xlsx"), "--state", "registered")
    rows = list(load_workbook(tmp_path / "out.xlsx").active.iter_rows(values_only=True))
    assert rows[0][1] == "纠纷名称" and len(rows) == 4  # two hotline orders and the open ledger row

    db = Database(f"sqlite:///{tmp_path / 'fengqiao.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM intake_place"))
    db.dispose()
    assert "已补建 3 个" in _run(runner, base, "intake-reindex")
