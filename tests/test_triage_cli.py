"""`fengqiao triage route/train/eval` end to end with click's CliRunner, on temporary files."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from test_triage_learned import _cases
from test_triage_support import ROWS, csv_bytes

from fengqiao.triage.cli import triage

KEYS = {"id", "item_code", "department", "level", "confidence", "risk", "reasons", "candidates"}


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


def test_route_prints_one_json_line_per_case_with_the_exact_keys(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_bytes(csv_bytes())
    cases = _write(tmp_path / "in.jsonl", [
        {"id": "a1", "text": "学校门口的下水井盖没了", "lat": 34.05, "lon": 114.39, "channel": "app"},
        {"id": "a2", "text": "楼道里一股很重的煤气味"},
        {"id": "a3", "text": ""},
    ])
    result = CliRunner().invoke(triage, ["route", "--list", str(tmp_path / "list.csv"), str(cases)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert [set(x) for x in lines] == [KEYS] * 3
    assert [x["id"] for x in lines] == ["a1", "a2", "a3"]
    assert lines[0]["item_code"] == "T-01" and lines[0]["department"] == "城管局"
    assert all(set(c) == {"item_code", "confidence"} for c in lines[0]["candidates"]) and len(lines[0]["candidates"]) == 3
    assert lines[1]["risk"] == "高"
    assert lines[2]["item_code"] is None and lines[2]["confidence"] == 0.0


def test_route_survives_a_broken_input_line(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_bytes(csv_bytes())
    (tmp_path / "in.jsonl").write_text('{"id": 1, "text": "路灯不亮"}\n{oops\n', encoding="utf-8")
    result = CliRunner().invoke(triage, ["route", "--list", str(tmp_path / "list.csv"), str(tmp_path / "in.jsonl")])
    assert result.exit_code == 0
    second = json.loads(result.output.splitlines()[1])
    assert second["item_code"] is None and "第 2 行不是合法的 JSON" in second["reasons"][0]


def test_route_with_a_bad_list_fails_with_row_and_column(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_bytes(csv_bytes(ROWS + [ROWS[0]]))
    _write(tmp_path / "in.jsonl", [{"id": 1, "text": "路灯不亮"}])
    result = CliRunner().invoke(triage, ["route", "--list", str(tmp_path / "list.csv"), str(tmp_path / "in.jsonl")])
    assert result.exit_code == 2
    assert "编码 T-01 与第 2 行重复" in result.output and "row=10" in result.output


def test_train_then_route_with_the_model_and_eval(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_bytes(csv_bytes())
    _write(tmp_path / "closed.jsonl", _cases(1, 12))
    model = tmp_path / "model.pkl"
    runner = CliRunner()
    result = runner.invoke(triage, ["train", "--list", str(tmp_path / "list.csv"), "--history",
                                    str(tmp_path / "closed.jsonl"), "--out", str(model)])
    assert result.exit_code == 0, result.output
    assert model.exists() and "模型已保存" in result.output
    gold = _write(tmp_path / "gold.jsonl", [dict(c, id=i) for i, c in enumerate(_cases(2, 3))])
    result = runner.invoke(triage, ["eval", str(gold), "--list", str(tmp_path / "list.csv"), "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert "准确率" in result.output and "macro-F1" in result.output and "交办比例" in result.output
    first = result.output.splitlines()[1]
    assert float(first.split()[1]) >= 0.8, result.output


def test_eval_by_department_from_route_predictions(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_bytes(csv_bytes())
    gold = _write(tmp_path / "gold.jsonl", [{"id": 1, "text": "下水井盖没了", "department": "城管局", "risk": "低"},
                                            {"id": 2, "text": "煤气味很重", "department": "住建局", "risk": "高"}])
    runner = CliRunner()
    routed = runner.invoke(triage, ["route", "--list", str(tmp_path / "list.csv"), str(gold)])
    (tmp_path / "pred.jsonl").write_text(routed.output, encoding="utf-8")
    result = runner.invoke(triage, ["eval", str(gold), "--list", str(tmp_path / "list.csv"), "--predictions",
                                    str(tmp_path / "pred.jsonl")])
    assert result.exit_code == 0, result.output
    assert "按 department 比较" in result.output and "准确率 1.000" in result.output
    assert "高风险召回率 1.000" in result.output
