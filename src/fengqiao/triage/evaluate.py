"""Figures for a labelled set: accuracy, macro-F1, confusions, top-k, reliability, coverage vs precision."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import f1_score

THRESHOLDS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def accuracy(gold: Sequence[str], pred: Sequence[str | None]) -> float:
    return float(np.mean([g == p for g, p in zip(gold, pred, strict=True)])) if gold else 0.0


def macro_f1(gold: Sequence[str], pred: Sequence[str | None]) -> float:
    """Macro-F1 over the gold labels (a prediction outside them counts as wrong, not as a class)."""
    labels = sorted(set(gold))
    return float(f1_score(list(gold), [p if p is not None else "" for p in pred], labels=labels, average="macro",
                          zero_division=0)) if gold else 0.0


def confusions(gold: Sequence[str], pred: Sequence[str | None], limit: int = 15) -> list[tuple[str, str, int]]:
    """The most frequent (gold, predicted) mistakes."""
    c = Counter((g, p or "（无）") for g, p in zip(gold, pred, strict=True) if g != p)
    return [(g, p, n) for (g, p), n in c.most_common(limit)]


def confusion_matrix(gold: Sequence[str], pred: Sequence[str | None]) -> tuple[list[str], np.ndarray]:
    labels = sorted(set(gold) | {p for p in pred if p is not None})
    idx = {lab: i for i, lab in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=int)
    for g, p in zip(gold, pred, strict=True):
        if p is not None:
            m[idx[g], idx[p]] += 1
    return labels, m


@dataclass(frozen=True)
class CoveragePoint:
    threshold: float
    coverage: float       # share of cases with confidence ≥ threshold (auto-dispatched)
    precision: float      # share of those routed correctly
    count: int


def coverage_precision(confidence: Sequence[float], correct: Sequence[bool],
                       thresholds: Sequence[float] = THRESHOLDS) -> list[CoveragePoint]:
    """The auto-dispatch trade-off: for each threshold, how many cases go out and how many go right."""
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    out = []
    for t in thresholds:
        m = conf >= t
        out.append(CoveragePoint(t, float(m.mean()) if len(m) else 0.0,
                                 float(ok[m].mean()) if m.any() else float("nan"), int(m.sum())))
    return out


@dataclass(frozen=True)
class Bin:
    lo: float
    hi: float
    count: int
    mean_confidence: float
    accuracy: float


def reliability(confidence: Sequence[float], correct: Sequence[bool],
                edges: Sequence[float] = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0001)) -> tuple[list[Bin], float]:
    """Reliability table and expected calibration error (ECE)."""
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    bins, ece = [], 0.0
    for lo, hi in zip(edges, edges[1:], strict=False):
        m = (conf >= lo) & (conf < hi)
        if m.any():
            bins.append(Bin(lo, min(hi, 1.0), int(m.sum()), float(conf[m].mean()), float(ok[m].mean())))
            ece += m.sum() * abs(conf[m].mean() - ok[m].mean())
    return bins, float(ece / len(conf)) if len(conf) else 0.0


def top_k(gold: Sequence[str], ranked: Sequence[Sequence[str]], k: int = 3) -> float:
    return float(np.mean([g in list(r)[:k] for g, r in zip(gold, ranked, strict=True)])) if gold else 0.0


def format_table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    cells = [[str(h) for h in header]] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells)
