"""Round 5: the reference model (shipped corpus → reference types → the county's items), mixed with zero-shot.

For each text the zero-shot probabilities and the reference item probabilities are computed once;
the mixture p ∝ p_zs^(1-w) · (p_ref + floor)^w is then evaluated for a grid of (w, floor), on
- the demo county's development sets (templates, dev_cases, risk sets, independent, dev3,
  holdout3, dev4): department top-1 and item top-3;
- real text on a list nobody here wrote: the message board's messages routed over its own taxonomy
  (``public_zeroshot.py``), first-level category accuracy.
It also reports the reference risk classifier: how many 高 cases it would add to the cue grader at
several thresholds, and how many false alarms. Choose the constants in router.py from the
development sets; the test sets are measured by ``demo_bench.py``.

Run: .venv/bin/python bench/triage/reference_bench.py [--public]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, acceptable, demo_cases, demo_list, jsonl, template_high_risk  # noqa: E402
from demo_bench import DEV_SETS  # noqa: E402

from fengqiao.triage.evaluate import reliability  # noqa: E402
from fengqiao.triage.router import Router, mix_reference, reference_may_raise  # noqa: E402
from fengqiao.triage.text import prepare  # noqa: E402

GRID_W = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
GRID_FLOOR = (0.001, 0.01, 0.05)


def components(router: Router, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Zero-shot probabilities, reference item probabilities and P(高) of the reference risk model."""
    zs, ref, high = [], [], []
    for t in texts:
        text = prepare(t).text
        zs.append(router._prior(text, router._risk_kinds(text), None)[0])   # zero-shot alone: no reference mixed in
        a = router.reference.analyse(text)
        ref.append(a.item_probs)
        high.append(a.p_high)
    return np.array(zs), np.array(ref), high


def fit_calibration(rows: list, codes: list[str]) -> None:
    """Platt map σ(A·logit(p₁) + B) of the top probability of the router's mixture, fitted on these sets."""
    from scipy.optimize import minimize

    from fengqiao.triage import router as r

    p1, ok = [], []
    for _name, cases, zs, ref, _ in rows:
        p = mix_reference(zs, ref)
        for c, prow in zip(cases, p, strict=True):
            if c.get("item_code"):
                p1.append(prow.max())
                ok.append(codes[int(prow.argmax())] == c["item_code"])
    x = np.log(np.clip(p1, 1e-6, 1 - 1e-6) / (1 - np.clip(p1, 1e-6, 1 - 1e-6)))
    y = np.array(ok, dtype=float)

    def nll(ab: np.ndarray) -> float:
        q = np.clip(1 / (1 + np.exp(-(ab[0] * x + ab[1]))), 1e-9, 1 - 1e-9)
        return float(-(y * np.log(q) + (1 - y) * np.log(1 - q)).mean())

    a, b = minimize(nll, np.array([1.0, 0.0]), method="Nelder-Mead").x
    q = 1 / (1 + np.exp(-(a * x + b)))
    ece_raw = reliability(list(np.array(p1)), list(ok))[1]
    ece_fit = reliability(list(q), list(ok))[1]
    print(f"\ncalibration of the mixture (w={r.W_REFERENCE}, floor={r.REFERENCE_FLOOR}) on {len(y)} development texts: "
          f"fitted (A, B) = ({a:.2f}, {b:.2f}); ECE {ece_raw:.3f} raw → {ece_fit:.3f} fitted "
          f"(router.py now uses {r.REFERENCE_CALIBRATION})")


def demo_sets() -> list[tuple[str, list[dict]]]:
    high = template_high_risk()
    sets = [("templates", [dict(c, risk="高" if c["id"] in high else "低") for c in demo_cases()])]
    return sets + [(Path(n).stem, jsonl(n)) for n in DEV_SETS if (HERE / n).exists()]


def main() -> None:
    items = demo_list()
    dept = {it.code: it.department for it in items}
    codes = [it.code for it in items]
    router = Router.from_list(items)
    rows = []
    for name, cases in demo_sets():
        zs, ref, high = components(router, [c["text"] for c in cases])
        rows.append((name, cases, zs, ref, high))
    print("department top-1 / item top-3 by (w, floor); w = 0 is zero-shot alone, w = 1 the reference alone")
    header = f"{'w':>4s} {'floor':>6s}  " + "  ".join(f"{n[:9]:>15s}" for n, *_ in rows) + "   mean dept  mean top3"
    print(header)
    for w in GRID_W:
        for floor in GRID_FLOOR if w else (0.01,):
            cells, d_all, t_all = [], [], []
            for _name, cases, zs, ref, _ in rows:
                z = mix_reference(zs, ref, w, floor)
                d1, t3 = [], []
                for c, zrow in zip(cases, z, strict=True):
                    if not c.get("item_code"):
                        continue
                    order = np.argsort(-zrow)[:3]
                    d1.append(dept[codes[order[0]]] == dept[c["item_code"]])
                    t3.append(c["item_code"] in [codes[i] for i in order])
                cells.append(f"{np.mean(d1):.3f}/{np.mean(t3):.3f}")
                d_all.append(np.mean(d1))
                t_all.append(np.mean(t3))
            print(f"{w:4.1f} {floor:6.3f}  " + "  ".join(f"{c:>15s}" for c in cells)
                  + f"   {np.mean(d_all):.3f}      {np.mean(t_all):.3f}")
    fit_calibration(rows, codes)
    print("\nreference risk model as an extra 高 signal (on top of the cue grader)")
    grades = []
    for _, cases, _, _, high in rows:
        for c, h in zip(cases, high, strict=True):
            text = prepare(c["text"]).text
            r = router.grader.grade(text)
            # as Router._grade: the model never overrides a cue that says the danger is not present
            grades.append((c["risk"] == "高", r.grade == "高", h if reference_may_raise(text, r) else 0.0))
    gold = sum(g for g, _, _ in grades)
    base_tp = sum(g and p for g, p, _ in grades)
    base_fp = sum(p and not g for g, p, _ in grades)
    print(f"  cues alone: recall {base_tp / gold:.3f} ({base_tp}/{gold}), false alarms {base_fp}")
    for t in (0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9):
        tp = sum(g and (p or h >= t) for g, p, h in grades)
        fp = sum((p or h >= t) and not g for g, p, h in grades)
        print(f"  cues or P(高) ≥ {t:.2f}: recall {tp / gold:.3f} ({tp}/{gold}), false alarms {fp}")
    if "--public" in sys.argv:
        public(GRID_W)


def public(grid: tuple[float, ...]) -> None:
    from public_cv import load
    from public_zeroshot import board_list

    texts, y = load()
    items = board_list(set(y))
    router = Router(items)
    zs, ref, _ = components(router, texts)
    cats = np.array([it.department for it in items])
    print("\nreal messages over the board's own taxonomy: first-level category accuracy by w (floor 0.01)")
    for w in grid:
        pred = cats[mix_reference(zs, ref, w, 0.01).argmax(axis=1)]
        print(f"  w={w:.1f}: {np.mean(pred == y):.3f}")


if __name__ == "__main__":
    main()
