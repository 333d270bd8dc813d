"""Public data (gov_messages_7class_train.csv) as a county's history: 5-fold CV, macro-F1.

Compares, on the same folds: the baseline (char 1–3-gram TF-IDF + LinearSVC, sklearn defaults),
fengqiao's TextClassifier (the learned half of `fengqiao triage train`), and the whole of
`fengqiao triage train` for a county whose list has one item per category (the classifier mixed with
the zero-shot router over that list; items described by the board's second-level class names), plus
reliability and the auto-dispatch trade-off. Reads the data from ../shared/data at run time; ships nothing.
Run: .venv/bin/python bench/triage/public_cv.py [--quick] [--curve]
(--curve: only the learning curve — the same folds, training on a share of each training fold — to see how far
more history would carry the classifier and the baseline)
"""

from __future__ import annotations

import csv
import re
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA  # noqa: E402

from fengqiao.triage.catalog import ListItem  # noqa: E402
from fengqiao.triage.evaluate import coverage_precision, format_table, reliability  # noqa: E402
from fengqiao.triage.learned import TextClassifier  # noqa: E402
from fengqiao.triage.router import Router  # noqa: E402


def load() -> tuple[list[str], np.ndarray]:
    path = SHARED_DATA / "gov_messages_7class_train.csv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    texts = [re.sub(r"\s+", "", (r["title"] or "") + (r["body"] or "")) for r in rows]
    return texts, np.array([r["category"] for r in rows])


def baseline(train: list[str], y: np.ndarray, test: list[str]) -> np.ndarray:
    v = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    return LinearSVC().fit(v.fit_transform(train), y).predict(v.transform(test))


def category_list(categories: list[str]) -> list[ListItem]:
    """One list item per category, described by the board's second-level classes under it (附件1)."""
    from public_zeroshot import board_list

    names: dict[str, list[str]] = {c: [] for c in categories}
    for it in board_list(set(categories)):
        names[it.department].append(it.name)
    return [ListItem(f"C-{k}", c, c, c, "县", "15日", "", "、".join(names[c])) for k, c in enumerate(categories)]


def train_and_route(items: list[ListItem], train: list[str], labels: np.ndarray,
                    test: list[str]) -> tuple[list[str], list[float]]:
    """`fengqiao triage train` on the fold's history, then route the held-out texts."""
    code = {it.name: it.code for it in items}
    router = Router.from_list(items, history=[{"text": t, "item_code": code[lab]} for t, lab in zip(train, labels)])
    out = [router.route(t) for t in test]
    return [s.department or "" for s in out], [s.confidence for s in out]


def curve(texts: list[str], y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> None:
    rng = np.random.default_rng(0)
    print("learning curve: macro-F1 by share of each training fold (same test folds)")
    for share in (0.25, 0.5, 0.75, 1.0):
        pred_b = np.empty(len(y), dtype=object)
        pred_f = np.empty(len(y), dtype=object)
        for tr, te in folds:
            sub = rng.permutation(tr)[:int(len(tr) * share)]
            train_texts, test_texts = [texts[i] for i in sub], [texts[i] for i in te]
            pred_b[te] = baseline(train_texts, y[sub], test_texts)
            clf = TextClassifier(words=True).fit(train_texts, y[sub])
            pred_f[te] = clf.classes_[clf.predict_proba(test_texts).argmax(1)]
        print(f"  {share:4.0%} ({int(len(folds[0][0]) * share):4d} texts): baseline {f1_score(y, pred_b, average='macro'):.4f}  "
              f"fengqiao (char+head+words) {f1_score(y, pred_f, average='macro'):.4f}", flush=True)


def main() -> None:
    texts, y = load()
    if "--curve" in sys.argv:
        curve(texts, y, list(StratifiedKFold(5, shuffle=True, random_state=0).split(texts, y)))
        return
    variants = {"baseline char-TFIDF+LinearSVC": None,
                "fengqiao TextClassifier (char+head)": dict(words=False),
                "fengqiao TextClassifier (char+head+jieba words)": dict(words=True),
                "fengqiao TextClassifier (… + class bias)": dict(words=True, bias=True),
                "fengqiao triage train (7-item list, + zero-shot)": "router"}
    items = category_list(sorted(set(y)))
    if "--quick" in sys.argv:
        variants.pop("fengqiao TextClassifier (char+head)")
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(texts, y))
    print(f"{len(texts)} messages, {len(set(y))} categories, 5-fold stratified CV (seed 0)\n")
    results = {}
    for name, kw in variants.items():
        pred = np.empty(len(y), dtype=object)
        conf = np.zeros(len(y))
        t0 = time.perf_counter()
        for tr, te in folds:
            train_texts, test_texts = [texts[i] for i in tr], [texts[i] for i in te]
            if kw is None:
                pred[te] = baseline(train_texts, y[tr], test_texts)
            elif kw == "router":
                pred[te], conf[te] = train_and_route(items, train_texts, y[tr], test_texts)
            else:
                clf = TextClassifier(**kw).fit(train_texts, y[tr])
                p = clf.predict_proba(test_texts)
                pred[te] = clf.classes_[p.argmax(1)]
                conf[te] = p.max(1)
        secs = time.perf_counter() - t0
        per_fold = [f1_score(y[te], pred[te], average="macro") for _, te in folds]
        f1 = f1_score(y, pred, average="macro")
        results[name] = (f1, pred, conf)
        print(f"{name:48s} macro-F1 {f1:.4f} (folds {min(per_fold):.3f}–{max(per_fold):.3f})  "
              f"accuracy {(pred == y).mean():.4f}  {secs:.0f}s for 5 folds")
    best = max((k for k in results if "fengqiao" in k), key=lambda k: results[k][0])
    _, pred, conf = results[best]
    ok = pred == y
    print(f"\nPer-class F1 of {best}:")
    for c in sorted(set(y)):
        print(f"  {c:8s} {f1_score(y == c, pred == c):.3f}")
    bins, ece = reliability(conf, ok)
    print(f"\nReliability of its confidences (out-of-fold), ECE {ece:.3f}")
    print(format_table([(f"{b.lo:.1f}–{b.hi:.1f}", b.count, b.mean_confidence, b.accuracy) for b in bins],
                       ["confidence", "n", "mean conf", "accuracy"]))
    print("\nAuto-dispatch trade-off (share dispatched vs precision)")
    print(format_table([(f">={pt.threshold:.2f}", pt.coverage, pt.precision, pt.count)
                        for pt in coverage_precision(conf, ok)], ["threshold", "coverage", "precision", "n"]))


if __name__ == "__main__":
    main()
