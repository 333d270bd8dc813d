"""Does the county's *unlabelled* text help? Public 7-class set, same folds as public_cv.py.

A county's history is more than its labelled cases: every message ever received is text the
platform holds. Here the unlabelled pool is the board's other messages in ../shared/data/raw
(附件3, 测试数据, 附件4: message title + body only, no labels, no replies), minus every text that
also appears in the labelled training split. Variants, each against the current classifier in the
same run:

- self-training: fit on the fold's labelled cases, label the pool, add the pool texts predicted
  with confidence ≥ τ, refit (one round);
- pooled IDF: TF-IDF vocabularies and IDF fitted on labelled + pool texts.
Run: .venv/bin/python bench/triage/public_semi.py
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA  # noqa: E402
from public_cv import load  # noqa: E402

from fengqiao.triage.learned import TextClassifier  # noqa: E402

POOL_FILES = ("附件3.xlsx", "测试数据.xlsx", "附件4.xlsx")


def pool(exclude: set[str]) -> list[str]:
    import openpyxl

    out: dict[str, None] = {}
    for name in POOL_FILES:
        wb = openpyxl.load_workbook(SHARED_DATA / "raw" / "tipdm2020c" / name, read_only=True)
        rows = list(wb.active.iter_rows(values_only=True))
        cols = [i for i, c in enumerate(rows[0]) if c in ("留言主题", "留言详情")]
        for r in rows[1:]:
            t = re.sub(r"\s+", "", "".join(str(r[i] or "") for i in cols))
            if len(t) >= 10 and t not in exclude:
                out[t] = None
    return list(out)


class PooledIdf(TextClassifier):
    """TextClassifier whose vectorizers are fitted on labelled + unlabelled texts."""

    unlabelled: list[str] = []

    def _fit_features(self, texts):
        from scipy import sparse

        self.blocks_ = self._blocks()
        n = len(texts)
        both = list(texts) + self.unlabelled
        return sparse.hstack([v.fit_transform(self._inputs(name, both))[:n] for name, v in self.blocks_]).tocsr()


def main() -> None:
    texts, y = load()
    unl = pool(set(texts))
    print(f"{len(texts)} labelled messages; unlabelled pool {len(unl)} texts (train texts removed)\n")
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(texts, y))
    variants = ["current", "self-train τ=0.9", "self-train τ=0.7", "pooled IDF"]
    preds = {v: np.empty(len(y), dtype=object) for v in variants}
    t0 = time.perf_counter()
    for k, (tr, te) in enumerate(folds):
        trt, tet = [texts[i] for i in tr], [texts[i] for i in te]
        base = TextClassifier(words=True).fit(trt, y[tr])
        preds["current"][te] = base.predict(tet)
        pu = base.predict_proba(unl)
        for tau in (0.9, 0.7):
            keep = pu.max(1) >= tau
            extra = [t for t, m in zip(unl, keep, strict=True) if m]
            clf = TextClassifier(words=True).fit(trt + extra, np.concatenate([y[tr], base.classes_[pu.argmax(1)][keep]]),
                                                 calibrate=False)
            preds[f"self-train τ={tau}"][te] = clf.predict(tet)
        PooledIdf.unlabelled = unl
        preds["pooled IDF"][te] = PooledIdf(words=True).fit(trt, y[tr], calibrate=False).predict(tet)
        print(f"fold {k + 1}/5 done ({time.perf_counter() - t0:.0f}s); pool kept at 0.9: {(pu.max(1) >= .9).mean():.2f}")
    for v in variants:
        per = [f1_score(y[te], preds[v][te], average="macro") for _, te in folds]
        print(f"{v:20s} macro-F1 {f1_score(y, preds[v], average='macro'):.4f} "
              f"(folds {min(per):.3f}–{max(per):.3f})  accuracy {(preds[v] == y).mean():.4f}")


if __name__ == "__main__":
    main()
