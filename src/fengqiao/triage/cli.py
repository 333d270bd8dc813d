"""`fengqiao triage …`: route, evaluate and train without a server or a database.

Register in the main CLI with ``main.add_command(triage)``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click

from fengqiao.errors import FengqiaoError
from fengqiao.triage.exceptions import HistoryFormatError

MAX_BAD_SHARE = 0.5


def _fail(exc: FengqiaoError) -> None:
    click.echo(f"错误：{exc.message}", err=True)
    for d in exc.details[:50]:
        where = "，".join(f"{k}={v}" for k, v in d.items() if k != "message")
        click.echo(f"  {where}：{d.get('message')}", err=True)
    sys.exit(2)


def _jsonl(stream: IO[str]) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, record or None, problem) for every non-empty line."""
    for n, line in enumerate(stream, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, None, f"第 {n} 行不是合法的 JSON（{exc.msg}）"
            continue
        if not isinstance(rec, dict):
            yield n, None, f"第 {n} 行应为 JSON 对象"
            continue
        yield n, rec, None


def read_history(path: Path) -> list[dict[str, Any]]:
    """Closed cases {text, item_code}; bad lines are skipped, but a mostly broken file is an error."""
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8-sig") as fh:
            for n, rec, problem in _jsonl(fh):
                if rec is not None and (not isinstance(rec.get("text"), str) or not rec.get("item_code")):
                    problem = f"第 {n} 行缺少 text 或 item_code"
                if problem:
                    bad.append({"row": n, "message": problem})
                else:
                    good.append(rec)  # type: ignore[arg-type]
    except UnicodeDecodeError:
        raise HistoryFormatError(f"{path.name} 必须是 UTF-8 编码的 JSON lines 文件") from None
    if not good or len(bad) > MAX_BAD_SHARE * (len(good) + len(bad)):
        raise HistoryFormatError(f"历史案件文件 {path.name} 无法使用：{len(bad)} 行有错，{len(good)} 行可用", bad)
    if bad:
        click.echo(f"提示：历史案件文件有 {len(bad)} 行格式错误，已跳过（第一处：{bad[0]['message']}）", err=True)
    return good


def _router(list_path: Path, history: Path | None, model: Path | None, threshold: float, words: bool = False):  # type: ignore[no-untyped-def]
    from fengqiao.triage.catalog import load_list
    from fengqiao.triage.router import Router

    items = load_list(list_path)
    if model is not None:
        return Router.load(items, model, threshold=threshold)
    router = Router.from_list(items, threshold=threshold)
    if history is not None:
        try:
            router.train(read_history(history), words=words)
        except ValueError as exc:
            raise HistoryFormatError(str(exc)) from None
    return router


@click.group()
def triage() -> None:
    """智能分流：按确权清单推荐事项与部门、评定风险等级（无需服务器和数据库）。"""


_list_opt = click.option("--list", "list_path", required=True,
                         type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         help="确权清单（CSV 或 .xlsx，列：code,name,category,department,level,deadline,"
                              "basis,description）")
_history_opt = click.option("--history", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                            help="已办结案件（JSON lines：{\"text\",\"item_code\"}），用来现场训练学习模型")
_model_opt = click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                          help="fengqiao triage train 生成的模型文件（与 --history 二选一）")
_threshold_opt = click.option("--threshold", type=click.FloatRange(0, 1), default=0.8, show_default=True,
                              help="自动交办的置信度阈值")


@triage.command(short_help="批量分流：每个案件输出推荐事项、部门、置信度、风险等级和理由")
@_list_opt
@_history_opt
@_model_opt
@_threshold_opt
@click.argument("infile", type=click.File("r", encoding="utf-8-sig"), default="-")
def route(list_path: Path, history: Path | None, model: Path | None, threshold: float, infile: IO[str]) -> None:
    """为每个案件推荐分流：读取 JSON lines（{"id","text"[,"lat","lon","channel","reporter_history"]}，
    文件名为 - 或省略时读标准输入），每行输出一个 JSON：
    {"id","item_code","department","level","confidence","risk","reasons","candidates"}，
    candidates 为前 3 个事项（item_code、confidence）。无法分流的行 item_code 为 null、confidence 为 0，
    reasons 说明原因。"""
    if history and model:
        raise click.UsageError("--history 与 --model 只能用一个")
    try:
        router = _router(list_path, history, model, threshold)
    except FengqiaoError as exc:
        _fail(exc)
        return
    for _n, rec, problem in _jsonl(infile):
        if rec is None:
            out = {"id": None, "item_code": None, "department": None, "level": None, "confidence": 0.0, "risk": "低",
                   "reasons": [f"{problem}，未处理"], "candidates": []}
        else:
            try:
                history_count = int(rec.get("reporter_history") or 0)
            except (TypeError, ValueError):
                history_count = 0
            s = router.route(rec.get("text"), rec.get("lat"), rec.get("lon"), rec.get("channel"), history_count)
            out = s.to_dict(rec.get("id"))
        click.echo(json.dumps(out, ensure_ascii=False))


@triage.command(short_help="用本县已办结案件训练分流模型")
@_list_opt
@click.option("--history", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="已办结案件（JSON lines：{\"text\",\"item_code\"}），座席确认或改派后的事项编码")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="模型文件输出路径")
@click.option("--words/--no-words", default=False, show_default=True, help="另加 jieba 分词特征（加载慢约 1 秒）")
def train(list_path: Path, history: Path, out_path: Path, words: bool) -> None:
    """用本县已办结案件训练分流模型；打印交叉验证下学习模型与零样本的对比。"""
    from fengqiao.triage.catalog import load_list
    from fengqiao.triage.router import Router

    try:
        items = load_list(list_path)
        router = Router.from_list(items)
        t0 = time.perf_counter()
        try:
            report = router.train(read_history(history), words=words)
        except ValueError as exc:
            raise HistoryFormatError(str(exc)) from None
        router.save(out_path)
    except FengqiaoError as exc:
        _fail(exc)
        return
    for line in report.lines():
        click.echo(line)
    size = out_path.stat().st_size
    click.echo(f"模型已保存：{out_path}（{size / 1e6:.1f} MB，训练用时 {time.perf_counter() - t0:.1f} 秒）")


@triage.command("build-reference", short_help="由随包的参考事项与参考语料构建参考模型（安装后执行一次）")
@click.option("--force", is_flag=True, help="即使已有与数据一致的模型文件也重新构建")
def build_reference(force: bool) -> None:
    """构建参考模型：参考语料（corpus/corpus.jsonl）→ 参考事项与风险分类器，保存在包目录或用户缓存目录。"""
    from fengqiao.triage import reference

    key = reference.digest()
    if not force:
        for path in reference.model_paths(key):
            if path.exists():
                click.echo(f"参考模型已是最新：{path}")
                return
    t0 = time.perf_counter()
    model, path = reference.build_and_save()
    where = f"已保存：{path}（{path.stat().st_size / 1e6:.1f} MB）" if path else "无可写目录，未保存"
    click.echo(f"参考模型：{len(model.types)} 个参考事项，{sum(len(v) for v in model.examples.examples.values())} "
               f"条示例；用时 {time.perf_counter() - t0:.1f} 秒；{where}")


@triage.command("eval", short_help="评估：准确率、macro-F1、错分、可靠性、自动交办比例 vs 准确率")
@click.argument("gold_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_list_opt
@_history_opt
@_model_opt
@click.option("--predictions", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="route 的输出（按 id 对应）；不给则由本命令现场分流")
@click.option("--by", type=click.Choice(["auto", "item", "department", "category"]), default="auto", show_default=True,
              help="按什么比较：auto = 金标有 item_code 时按事项，否则有 department 按部门，否则按 category")
@_threshold_opt
def evaluate_cmd(gold_path: Path, list_path: Path, history: Path | None, model: Path | None, predictions: Path | None,
                 by: str, threshold: float) -> None:
    """评估分流效果。GOLD_PATH 为带金标的 JSON lines：{"id","text", 以及 "item_code" 或 "department" 或
    "category"[, "risk"]}。打印准确率、macro-F1、事项 top-3、最常见的错分、可靠性表和“自动交办比例 vs 准确率”表；
    金标有 risk（高/中/低）时另打印高风险召回率。--history 的案件请勿与 GOLD_PATH 重叠。"""
    from fengqiao.triage.evaluate import (
        confusions,
        coverage_precision,
        format_table,
        macro_f1,
        reliability,
    )

    try:
        router = _router(list_path, history, model, threshold)
        with gold_path.open(encoding="utf-8-sig") as fh:
            gold = [rec for _, rec, problem in _jsonl(fh) if rec is not None and isinstance(rec.get("text"), str)]
    except FengqiaoError as exc:
        _fail(exc)
        return
    if not gold:
        raise click.UsageError(f"{gold_path.name} 中没有带 text 的记录")
    if by == "auto":
        key = next((k for k in ("item_code", "department", "category") if gold[0].get(k)), "item_code")
    else:
        key = by
    key = {"item": "item_code"}.get(key, key)
    items = {it.code: it for it in router.items}
    preds: dict[Any, dict[str, Any]] = {}
    if predictions is not None:
        with predictions.open(encoding="utf-8-sig") as fh:
            preds = {rec.get("id"): rec for _, rec, _ in _jsonl(fh) if rec is not None}

    def label(code: str | None) -> str | None:
        if code is None or code not in items:
            return code
        return {"item_code": code, "department": items[code].department, "category": items[code].category}[key]

    golds, predicted, conf, ranked, risk_pairs = [], [], [], [], []
    for rec in gold:
        if not rec.get(key):
            continue
        if predictions is not None:
            p = preds.get(rec.get("id")) or {}
            code, c = p.get("item_code"), float(p.get("confidence") or 0.0)
            cand = [x.get("item_code") for x in p.get("candidates") or []]
            risk = p.get("risk")
        else:
            s = router.route(rec["text"], channel=rec.get("channel"))
            code, c, cand, risk = s.item_code, s.confidence, [x.item_code for x in s.candidates], s.risk
        golds.append(str(rec[key]))
        predicted.append(label(code))
        conf.append(c)
        ranked.append([label(x) for x in cand])
        if rec.get("risk") in ("高", "中", "低"):
            risk_pairs.append((rec["risk"], risk))
    n = len(golds)
    correct = [g == p for g, p in zip(golds, predicted, strict=True)]
    click.echo(f"样本 {n} 条，按 {key} 比较")
    click.echo(f"准确率 {sum(correct) / n:.3f}   macro-F1 {macro_f1(golds, predicted):.3f}   "
               f"top-3 {sum(g in r[:3] for g, r in zip(golds, ranked, strict=True)) / n:.3f}")
    if risk_pairs:
        hi = [p for g, p in risk_pairs if g == "高"]
        flagged = [g for g, p in risk_pairs if p == "高"]
        click.echo(f"高风险召回率 {sum(p == '高' for p in hi) / max(1, len(hi)):.3f}（{len(hi)} 条）  "
                   f"高风险精确率 {sum(g == '高' for g in flagged) / max(1, len(flagged)):.3f}")
    click.echo("\n最常见的错分（金标 → 预测：条数）")
    for g, p, k in confusions(golds, predicted):
        click.echo(f"  {g} → {p}：{k}")
    click.echo("\n自动交办阈值：交办比例与准确率")
    click.echo(format_table([(f"≥{pt.threshold:.2f}", pt.coverage, pt.precision, pt.count)
                             for pt in coverage_precision(conf, correct)], ["阈值", "交办比例", "准确率", "条数"]))
    bins, ece = reliability(conf, correct)
    click.echo(f"\n可靠性（置信度 vs 实际准确率），ECE {ece:.3f}")
    click.echo(format_table([(f"{b.lo:.1f}–{b.hi:.1f}", b.count, b.mean_confidence, b.accuracy) for b in bins],
                            ["置信度区间", "条数", "平均置信度", "准确率"]))
