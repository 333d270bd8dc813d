"""New corpus writers' texts as a fresh test, before they are merged into the shipped corpus.

Texts written for the reference taxonomy by writers whose texts the shipped reference model has not seen
test that model the way a new county's residents would: reference type top-1/top-3 (the writer's
``alt`` types count as right for "top-1 or alt"), and 高 risk of the whole grader (cues, then the
reference risk model at several thresholds, as ``Router._grade`` does). Run it before merging a batch;
afterwards the batch is training data and the figures mean nothing.

Run: .venv/bin/python bench/triage/corpus_check.py FILE.jsonl [FILE.jsonl ...]
"""

from __future__ import annotations

import json
import sys

import numpy as np

from fengqiao.triage.evaluate import format_table
from fengqiao.triage.reference import shipped_reference
from fengqiao.triage.risk import RiskGrader
from fengqiao.triage.router import REFERENCE_HIGH, reference_may_raise
from fengqiao.triage.text import prepare

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def read(paths: list[str]) -> list[dict]:
    rows = []
    for p in paths:
        with open(p, encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


def main() -> None:
    rows = read([a for a in sys.argv[1:] if not a.startswith("--")])
    model = shipped_reference()
    codes = [t.code for t in model.types]
    grader = RiskGrader()
    top1 = top3 = alt1 = 0
    gold, cue_high, p_high, may = [], [], [], []
    for r in rows:
        text = prepare(r["text"]).text
        p, vec = model.type_probs(text)
        order = [codes[i] for i in np.argsort(-p)[:3]]
        top1 += order[0] == r["type"]
        alt1 += order[0] in {r["type"], *r.get("alt", [])}
        top3 += r["type"] in order
        risk = grader.grade(text)
        gold.append(r["risk"] == "高")
        cue_high.append(risk.grade == "高")
        p_high.append(model.high_risk(vec))
        may.append(reference_may_raise(text, risk))
    n = len(rows)
    print(f"{n} texts, {sum(gold)} 高; reference type top-1 {top1 / n:.3f} (or the writer's alt {alt1 / n:.3f}), "
          f"top-3 {top3 / n:.3f}")
    gold_a, cue_a, p_a, may_a = map(np.array, (gold, cue_high, p_high, may))
    table = []
    for t in THRESHOLDS:
        pred = cue_a | (may_a & (p_a >= t))
        tp = int((pred & gold_a).sum())
        table.append(("cues only" if t > 1 else f"cues + P(高) ≥ {t:.2f}" + (" (now)" if t == REFERENCE_HIGH else ""),
                      tp / max(1, gold_a.sum()), tp / max(1, pred.sum()), int(pred.sum()) - tp))
    print(format_table(table, ["高 by", "recall", "precision", "false 高"]))


if __name__ == "__main__":
    main()
