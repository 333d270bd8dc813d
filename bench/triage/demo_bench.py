"""Demo county (扶沟): zero-shot routing and risk on two case sets, then learning from history.

Sets:
- templates: src/fengqiao/demo/content/case_templates.json (500 texts, written together with the
  list; also the development set the lexicon and the calibration were tuned on → optimistic);
- dev: bench/triage/dev_cases.jsonl (130 texts written after reading the list; second development set);
- risk_dev: bench/triage/risk_dev.jsonl (124 texts, 61 高; written for the second risk-cue round, tuned on);
- risk_holdout: bench/triage/risk_holdout.jsonl (40 texts, 20 高; written in the same round before any
  tuning on it, measured once at the end of the round);
- independent: bench/triage/independent_cases.jsonl (180 texts written before reading the list's
  wording; 174 have an item in the list and are scored; never tuned on). See README.md in this folder.
Run: .venv/bin/python bench/triage/demo_bench.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    demo_cases,
    demo_list,
    dev_cases,
    independent_cases,
    risk_dev,
    risk_holdout,
    template_high_risk,
)

from fengqiao.triage.evaluate import (  # noqa: E402
    coverage_precision,
    format_table,
    macro_f1,
    reliability,
)
from fengqiao.triage.router import Router  # noqa: E402


def run(router: Router, cases: list[dict], dept: dict[str, str]) -> dict:
    out = {"item1": [], "item3": [], "dept1": [], "conf": [], "risk": [], "pred": [], "alt1": []}
    for c in cases:
        s = router.route(c["text"])
        top = [x.item_code for x in s.candidates]
        out["pred"].append(s.item_code)
        out["item1"].append(s.item_code == c["item_code"])
        out["alt1"].append(s.item_code in [c["item_code"], *c.get("alt_codes", [])])
        out["item3"].append(c["item_code"] in top)
        out["dept1"].append(s.department == dept[c["item_code"]])
        out["conf"].append(s.confidence)
        out["risk"].append(s.risk)
    return out


def report(name: str, cases: list[dict], r: dict, gold_high: list[bool] | None) -> None:
    n = len(cases)
    line = (f"{name:28s} n={n:3d}  department top-1 {np.mean(r['dept1']):.3f}  item top-1 {np.mean(r['item1']):.3f}  "
            f"item top-3 {np.mean(r['item3']):.3f}  item macro-F1 {macro_f1([c['item_code'] for c in cases], r['pred']):.3f}")
    if any(c.get("alt_codes") for c in cases):
        line += f"  (top-1 counting listed alternates {np.mean(r['alt1']):.3f})"
    print(line)
    if gold_high is not None:
        pred_high = [x == "高" for x in r["risk"]]
        tp = sum(g and p for g, p in zip(gold_high, pred_high))
        print(f"{'':28s} 高 risk: recall {tp / max(1, sum(gold_high)):.3f} ({tp}/{sum(gold_high)}), "
              f"precision {tp / max(1, sum(pred_high)):.3f} ({tp}/{sum(pred_high)})")


def tables(conf: list[float], ok: list[bool]) -> None:
    bins, ece = reliability(conf, ok)
    print(f"  reliability (item top-1), ECE {ece:.3f}")
    print("  " + format_table([(f"{b.lo:.1f}–{b.hi:.1f}", b.count, b.mean_confidence, b.accuracy) for b in bins],
                              ["confidence", "n", "mean conf", "accuracy"]).replace("\n", "\n  "))
    print("  auto-dispatch trade-off (threshold → share auto-dispatched, routing precision of those)")
    print("  " + format_table([(f">={p.threshold:.2f}", p.coverage, p.precision, p.count) for p in coverage_precision(conf, ok)],
                              ["threshold", "coverage", "precision", "n"]).replace("\n", "\n  "))


def main() -> None:
    items = demo_list()
    dept = {it.code: it.department for it in items}
    templates, independent = demo_cases(), independent_cases()
    all_independent = independent_cases(scored_only=False)
    high = template_high_risk()
    zs = Router.from_list(items)

    print("== Zero-shot (list only, no history) ==")
    rt, ri = run(zs, templates, dept), run(zs, independent, dept)
    dev = dev_cases()
    report("templates (dev set)", templates, rt, [c["id"] in high for c in templates])
    report("dev_cases (dev set)", dev, run(zs, dev, dept), [c["risk"] == "高" for c in dev])
    rdev = risk_dev()
    report("risk_dev (dev set)", rdev, run(zs, rdev, dept), [c["risk"] == "高" for c in rdev])
    hold = risk_holdout()
    report("risk_holdout (test set)", hold, run(zs, hold, dept), [c["risk"] == "高" for c in hold])
    report("independent (test set)", independent, ri, None)
    risk_all = [zs.route(c["text"]).risk for c in all_independent]
    gold = [c["risk"] == "高" for c in all_independent]
    tp = sum(g and p == "高" for g, p in zip(gold, risk_all))
    flagged = sum(p == "高" for p in risk_all)
    print(f"{'':28s} 高 risk on all {len(all_independent)} independent texts: recall {tp / sum(gold):.3f} ({tp}/{sum(gold)}), "
          f"precision {tp / max(1, flagged):.3f} ({tp}/{flagged})")
    print("\nindependent set, zero-shot:")
    tables(ri["conf"], ri["item1"])
    print("\ntemplates, zero-shot:")
    tables(rt["conf"], rt["item1"])

    print("\n== Learning from history ==")
    print("(a) leave-one-template-out: train on 3 of the 4 texts per item, test on the 4th (4 rounds)")
    acc_l, acc_z, dep_l, dep_z = [], [], [], []
    for k in range(4):
        train = [{"text": c["text"], "item_code": c["item_code"]} for c in templates if c["template"] != k]
        test = [c for c in templates if c["template"] == k]
        learned = Router.from_list(items, history=train)
        rl, rz = run(learned, test, dept), run(zs, test, dept)
        acc_l += rl["item1"]
        acc_z += rz["item1"]
        dep_l += rl["dept1"]
        dep_z += rz["dept1"]
    print(f"    item top-1: learned {np.mean(acc_l):.3f} vs zero-shot {np.mean(acc_z):.3f};  "
          f"department top-1: learned {np.mean(dep_l):.3f} vs zero-shot {np.mean(dep_z):.3f}")
    print("    (zero-shot is flattered here: the lexicon and calibration were tuned on these templates)")
    print("(b) train on all 500 templates as the county's history, test on the independent set")
    learned = Router.from_list(items, history=[{"text": c["text"], "item_code": c["item_code"]} for c in templates])
    rl = run(learned, independent, dept)
    report("learned (independent)", independent, rl, None)
    report("zero-shot (independent)", independent, ri, None)
    print("\nindependent set, learned:")
    tables(rl["conf"], rl["item1"])


if __name__ == "__main__":
    main()
