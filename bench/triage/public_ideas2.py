"""More CPU ideas on the public 7-class set, same folds as public_cv.py (5-fold, seed 0); the baseline and
fengqiao's TextClassifier(words=True) are re-run in the same process. Bench-only: nothing here is used by the
product. Reads the data from ../shared/data at run time; ships nothing.

Rows (LinearSVC C=0.5, class_weight="balanced", the TextClassifier defaults, unless said):
- TC: TextClassifier(words=True), unchanged (`RecordingClassifier` only keeps the out-of-fold scores that its
  own 3-fold temperature fit computes anyway; features are refitted in every inner fold there);
- TC + per-class bias / + vector scaling / + matrix scaling: the single softmax temperature of TC replaced by
  (temperature + a bias per class) / (a scale and a bias per class) / (a 7×7 multinomial LR on the 7 scores),
  fitted by log-loss on those same out-of-fold scores of the training fold. Bias and vector scaling fold into
  coef_ and intercept_, so the model keeps its size and speed (checked at the end);
- fixed-feature rows: vectorizers fitted on the outer training fold only (texts normalised as TC does):
  char 1–4 / 1–5, jieba word 1–2-grams, a "title" block (the real title where the CSV has one, else the first
  40 characters), no class weights, C chosen by an inner 3-fold CV, logistic regression, NB-SVM
  (Wang & Manning 2012: binarised char 1–4 + word 1–2, one-vs-rest LinearSVC on log-count-ratio-scaled,
  row-normalised features), a calibrated-probability average of 4 models and a stacked LR over them. The inner
  3-fold CV of these rows reuses the outer-fold vectorizers (their vocabulary/IDF saw the inner held-out texts,
  never the test fold).
- "(optimistic)" marks settings that were picked by looking at these same CV folds while exploring.
Each row also gets a paired bootstrap (2,000 resamples of the messages) of its macro-F1 minus TC's.
Run: .venv/bin/python bench/triage/public_ideas2.py   (about 6 minutes on one core)
"""

from __future__ import annotations

import csv
import pickle
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.optimize import minimize
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA  # noqa: E402
from public_cv import baseline, load  # noqa: E402

from fengqiao.triage.learned import TextClassifier, jieba_words  # noqa: E402
from fengqiao.triage.text import char_grams, normalise  # noqa: E402

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", message=".*converge.*")

Scores = np.ndarray          # (n, 7) class scores, columns in np.unique(labels) order
Blocks = dict[str, tuple[sparse.csr_matrix, sparse.csr_matrix]]   # name -> (train rows, test rows)


# -- calibration maps fitted on out-of-fold scores -------------------------------------------------------------
def _softmax_nll(z: np.ndarray, gold: np.ndarray) -> float:
    z = z - z.max(1, keepdims=True)
    return float(-(z[np.arange(len(z)), gold] - np.log(np.exp(z).sum(1))).mean())


def fit_scaling(scores: Scores, gold: np.ndarray, mode: str, reg: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Per-class scale a and bias b minimising log-loss of softmax(a·s + b); mode "bias": one common a."""
    k = scores.shape[1]

    def unpack(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.full(k, np.exp(p[0])), p[1:]) if mode == "bias" else (np.exp(p[:k]), p[k:])

    def loss(p: np.ndarray) -> float:
        a, b = unpack(p)
        return _softmax_nll(scores * a + b, gold) + reg * float(b @ b)

    p0 = np.r_[np.log(3.0), np.zeros(k)] if mode == "bias" else np.r_[np.full(k, np.log(3.0)), np.zeros(k)]
    return unpack(minimize(loss, p0, method="L-BFGS-B").x)


def fit_temperature(scores: Scores, gold: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar
    return float(minimize_scalar(lambda t: _softmax_nll(t * scores, gold), bounds=(0.01, 100), method="bounded").x)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


# -- TextClassifier, unchanged, keeping its out-of-fold scores ----------------------------------------------
class RecordingClassifier(TextClassifier):
    """TextClassifier whose temperature fit also keeps the out-of-fold scores it computes (same fit, same
    predictions); :meth:`folded` gives a plain TextClassifier with per-class scale/bias folded into coef_."""

    def _calibration_from_folds(self, y, fold_scores):  # type: ignore[no-untyped-def]
        seen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

        def spy(tr: np.ndarray, te: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            d, classes = fold_scores(tr, te)
            seen.append((te, d, classes))
            return d, classes

        fitted = super()._calibration_from_folds(y, spy)
        scores = np.full((len(y), len(self.classes_)), -10.0)   # as the parent: a class missing from a fold
        for te, d, classes in seen:
            scores[np.ix_(te, np.searchsorted(self.classes_, classes))] = d
        self.oof_scores_, self.oof_gold_ = scores, np.searchsorted(self.classes_, y)
        return fitted

    def folded(self, a: np.ndarray, b: np.ndarray) -> TextClassifier:
        """softmax(a·(x·W + c) + b) == softmax(x·(a·W) + (a·c + b)): same size, same cost per text."""
        out = pickle.loads(pickle.dumps(self))
        out.__class__ = TextClassifier
        out.coef_ = (a[:, None] * self.coef_).astype(np.float32)
        out.intercept_ = (a * self.intercept_ + b).astype(np.float32)
        out.temperature = 1.0
        del out.oof_scores_, out.oof_gold_
        out._prepare_fast()
        return out


# -- fixed-feature ideas -------------------------------------------------------------------------------------
def words12(t: str) -> list[str]:
    w = list(jieba_words(t))
    return w + [x + " " + y for x, y in zip(w, w[1:])]


def words1(t: str) -> list[str]:
    return list(jieba_words(t))


def _char(lo: int, hi: int, max_features: int | None, max_df: float = 0.8) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char", ngram_range=(lo, hi), sublinear_tf=True, min_df=2, max_df=max_df,
                           max_features=max_features, dtype=np.float32)


BLOCKS: dict[str, tuple[Callable[[], TfidfVectorizer], str]] = {   # name -> (vectorizer, which input)
    "c13": (lambda: _char(1, 3, 60_000), "text"),                      # = TC's blocks
    "head": (lambda: _char(1, 3, 15_000, 1.0), "head"),
    "w1": (lambda: TfidfVectorizer(analyzer=words1, sublinear_tf=True, min_df=1, max_df=0.8, max_features=60_000,
                                   dtype=np.float32), "text"),
    "c14": (lambda: _char(1, 4, None), "text"),
    "c15": (lambda: _char(1, 5, None), "text"),
    "w12": (lambda: TfidfVectorizer(analyzer=words12, sublinear_tf=True, min_df=2, max_df=0.8, dtype=np.float32),
            "text"),
    "title": (lambda: _char(1, 3, 15_000, 1.0), "title"),
}


def featurise(inputs: dict[str, list[str]], tr: np.ndarray, te: np.ndarray) -> Blocks:
    out: Blocks = {}
    for name, (make, src) in BLOCKS.items():
        v = make()
        out[name] = (v.fit_transform([inputs[src][i] for i in tr]).tocsr(),
                     v.transform([inputs[src][i] for i in te]).tocsr())
    return out


def stack_blocks(f: Blocks, names: list[str]) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    return (sparse.hstack([f[n][0] for n in names]).tocsr(), sparse.hstack([f[n][1] for n in names]).tocsr())


def svm(names: list[str], C: float = 0.5, cw: str | None = "balanced") -> Callable[[Blocks, np.ndarray], Scores]:
    def run(f: Blocks, y: np.ndarray) -> Scores:
        A, B = stack_blocks(f, names)
        return LinearSVC(C=C, class_weight=cw).fit(A, y).decision_function(B)
    return run


def logreg(names: list[str], C: float) -> Callable[[Blocks, np.ndarray], Scores]:
    def run(f: Blocks, y: np.ndarray) -> Scores:
        A, B = stack_blocks(f, names)
        return LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(A, y).decision_function(B)
    return run


def nbsvm(f: Blocks, y: np.ndarray, C: float = 1.0, alpha: float = 1.0) -> Scores:
    """One-vs-rest LinearSVC on binarised char 1–4 + word 1–2 features scaled by each class's log-count ratio."""
    A, B = stack_blocks(f, ["c14", "w12"])
    A, B = (A > 0).astype(np.float32), (B > 0).astype(np.float32)
    classes = np.unique(y)
    out = np.zeros((B.shape[0], len(classes)))
    for j, c in enumerate(classes):
        pos = y == c
        p = alpha + np.asarray(A[pos].sum(0)).ravel()
        q = alpha + np.asarray(A[~pos].sum(0)).ravel()
        r = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
        m = LinearSVC(C=C, class_weight="balanced").fit(normalize(A.multiply(r).tocsr()), pos)
        out[:, j] = m.decision_function(normalize(B.multiply(r).tocsr()))
    return out


def cnb(f: Blocks, y: np.ndarray) -> Scores:
    A, B = stack_blocks(f, ["w12"])
    return ComplementNB(alpha=0.3).fit(A, y).predict_log_proba(B)


def inner_split(f: Blocks, itr: np.ndarray, ite: np.ndarray) -> Blocks:
    """Inner fold over the outer training rows (vectorizers stay those of the outer training fold)."""
    return {k: (v[0][itr], v[0][ite]) for k, v in f.items()}


def inner_folds(y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(StratifiedKFold(3, shuffle=True, random_state=1).split(np.zeros(len(y)), y))


def inner_C(names: list[str], grid: tuple[float, ...]) -> Callable[[Blocks, np.ndarray], Scores]:
    """LinearSVC whose C maximises macro-F1 of an inner 3-fold CV on the training fold."""
    def run(f: Blocks, y: np.ndarray) -> Scores:
        classes, best = np.unique(y), (-1.0, grid[0])
        for C in grid:
            pred = np.empty(len(y), dtype=object)
            for itr, ite in inner_folds(y):
                pred[ite] = classes[svm(names, C)(inner_split(f, itr, ite), y[itr]).argmax(1)]
            best = max(best, (f1_score(y, pred, average="macro"), C))
        run.chosen.append(best[1])  # type: ignore[attr-defined]
        return svm(names, best[1])(f, y)
    run.chosen = []  # type: ignore[attr-defined]
    return run


MEMBERS: dict[str, Callable[[Blocks, np.ndarray], Scores]] = {
    "char+head+words SVM": svm(["c13", "head", "w1"]), "NB-SVM": nbsvm, "word 1-2 CNB": cnb,
    "word 1-2 + title SVM": svm(["w12", "title"])}


def ensembles(f: Blocks, y: np.ndarray) -> dict[str, Scores]:
    """Calibrated average and stacked LR of MEMBERS; temperatures / the stacker fitted on inner 3-fold
    out-of-fold scores of the training fold."""
    gold = np.searchsorted(np.unique(y), y)
    oof = {k: np.zeros((len(y), len(np.unique(y)))) for k in MEMBERS}
    for itr, ite in inner_folds(y):
        sub = inner_split(f, itr, ite)
        for k, fn in MEMBERS.items():
            oof[k][ite] = fn(sub, y[itr])
    test = {k: fn(f, y) for k, fn in MEMBERS.items()}
    avg = sum(softmax(fit_temperature(oof[k], gold) * test[k]) for k in MEMBERS)
    meta = LogisticRegression(C=1.0, max_iter=5000).fit(np.hstack([oof[k] for k in MEMBERS]), y)
    two = ["char+head+words SVM", "NB-SVM"]
    meta2 = LogisticRegression(C=1.0, max_iter=5000).fit(np.hstack([oof[k] for k in two]), y)
    return {"ensemble: calibrated average of 4 (SVM, NB-SVM, CNB, word SVM)": np.log(avg / 4),
            "ensemble: stacked LR over the 4 (inner 3-fold)": meta.decision_function(np.hstack([test[k] for k in MEMBERS])),
            "ensemble: stacked LR over SVM + NB-SVM": meta2.decision_function(np.hstack([test[k] for k in two]))}


# -- evaluation ----------------------------------------------------------------------------------------------
def bootstrap_diff(gold: np.ndarray, a: np.ndarray, b: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% interval of macro-F1(a) − macro-F1(b) over messages resampled with replacement (paired)."""
    rng = np.random.default_rng(seed)
    k = int(gold.max()) + 1
    w = rng.multinomial(len(gold), np.full(len(gold), 1 / len(gold)), size=n).astype(np.float64)

    def macro(pred: np.ndarray) -> np.ndarray:
        hits = w @ (np.eye(k)[gold] * (pred == gold)[:, None])        # weighted true positives per class
        n_gold, n_pred = w @ np.eye(k)[gold], w @ np.eye(k)[pred]
        return (2 * hits / np.maximum(n_gold + n_pred, 1e-9)).mean(1)  # F1 = 2TP / (gold + predicted)

    d = macro(a) - macro(b)
    return float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))


def speed(clf: TextClassifier, texts: list[str]) -> tuple[float, float]:
    """Texts per second and p99 ms of proba_one on one core, caches emptied first (cold texts)."""
    jieba_words.cache_clear()
    char_grams.cache_clear()
    clf.proba_one("预热")
    times = []
    for t in texts:
        t0 = time.perf_counter()
        clf.proba_one(t)
        times.append(time.perf_counter() - t0)
    return len(texts) / sum(times), float(np.percentile(times, 99) * 1000)


def main() -> None:
    texts, y = load()
    with (SHARED_DATA / "gov_messages_7class_train.csv").open(encoding="utf-8") as fh:
        titles = [r["title"] or "" for r in csv.DictReader(fh)]
    norm = [normalise(t) for t in texts]
    inputs = {"text": norm, "head": [t[:40] for t in norm],
              "title": [normalise(ti) if ti.strip() else t[:40] for ti, t in zip(titles, norm)]}
    classes = np.unique(y)
    gold = np.searchsorted(classes, y)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(texts, y))
    print(f"{len(texts)} messages, {len(classes)} categories, 5-fold stratified CV (seed 0)\n", flush=True)

    preds: dict[str, np.ndarray] = {}
    secs: dict[str, float] = {}

    def add(name: str, te: np.ndarray, labels_or_scores: np.ndarray, dt: float) -> None:
        p = preds.setdefault(name, np.full(len(y), -1))
        p[te] = labels_or_scores if labels_or_scores.ndim == 1 else labels_or_scores.argmax(1)
        secs[name] = secs.get(name, 0.0) + dt

    TC = "fengqiao TextClassifier(words=True)"
    last_tc: RecordingClassifier | None = None
    last_scaled: TextClassifier | None = None
    chosen = inner_C(["c13", "head", "w1"], (0.25, 0.5, 1.0, 2.0))
    ideas: dict[str, Callable[[Blocks, np.ndarray], Scores]] = {
        "TC features, fixed (replica, no temperature)": svm(["c13", "head", "w1"]),
        "char 1-4 + head + words": svm(["c14", "head", "w1"]),
        "char 1-5 + head + words": svm(["c15", "head", "w1"]),
        "char 1-3 + head + word 1-2 (bigrams)": svm(["c13", "head", "w12"]),
        "char 1-3 + title-or-head + words": svm(["c13", "title", "w1"]),
        "TC features, no class weights": svm(["c13", "head", "w1"], cw=None),
        "TC features, C by inner 3-fold CV {.25,.5,1,2}": chosen,
        "TC features, LogisticRegression C=30 (optimistic)": logreg(["c13", "head", "w1"], 30.0),
        "NB-SVM char 1-4 + word 1-2 (C=1, optimistic)": nbsvm,
    }
    for fold, (tr, te) in enumerate(folds):
        train, test = [texts[i] for i in tr], [texts[i] for i in te]
        t0 = time.perf_counter()
        add("baseline char 1-3 TF-IDF + LinearSVC", te, np.searchsorted(classes, baseline(train, y[tr], test)),
            time.perf_counter() - t0)

        t0 = time.perf_counter()
        clf = RecordingClassifier(words=True).fit(train, y[tr])
        d = clf.decision(test)
        add(TC, te, d, time.perf_counter() - t0)
        for mode in ("bias", "vector"):
            t0 = time.perf_counter()
            a, b = fit_scaling(clf.oof_scores_, clf.oof_gold_, mode)
            add(f"TC + {'per-class bias' if mode == 'bias' else 'vector scaling (scale+bias per class)'}", te,
                d * a + b, time.perf_counter() - t0)
            if mode == "vector":
                last_scaled = clf.folded(a, b)
        t0 = time.perf_counter()
        meta = LogisticRegression(C=1.0, max_iter=5000).fit(clf.oof_scores_, clf.oof_gold_)
        add("TC + matrix scaling (7x7 LR on its OOF scores)", te, meta.decision_function(d), time.perf_counter() - t0)
        last_tc = clf

        t0 = time.perf_counter()
        f = featurise(inputs, tr, te)
        secs["(shared features of the fixed-feature rows)"] = secs.get("(shared features of the fixed-feature rows)", 0) \
            + time.perf_counter() - t0
        for name, fn in ideas.items():
            t0 = time.perf_counter()
            add(name, te, fn(f, y[tr]), time.perf_counter() - t0)
        t0 = time.perf_counter()
        ens = ensembles(f, y[tr])
        dt = time.perf_counter() - t0
        for name, s in ens.items():
            add(name, te, s, dt / len(ens))
        print(f"  fold {fold + 1} done", flush=True)

    print(f"\n{'idea':62s} {'macro-F1':>8s} {'folds':>11s} {'Δ vs TC (95% CI)':>24s} {'s/5 folds':>9s}")
    for name, p in preds.items():
        per_fold = [f1_score(gold[te], p[te], average="macro") for _, te in folds]
        f1 = f1_score(gold, p, average="macro")
        lo, hi = bootstrap_diff(gold, p, preds[TC])
        delta = f1 - f1_score(gold, preds[TC], average="macro")
        print(f"{name:62s} {f1:8.4f} {min(per_fold):.3f}–{max(per_fold):.3f} "
              f"{delta:+.4f} [{lo:+.4f},{hi:+.4f}] {secs[name]:8.1f}")
    print(f"{'(shared features of the fixed-feature rows)':62s} {'':8s} {'':11s} {'':24s} "
          f"{secs['(shared features of the fixed-feature rows)']:8.1f}")
    print("Seconds of the TC + … rows are only the extra fitting on top of TC's own fit (same OOF scores).")
    print(f"C chosen by inner CV per fold: {chosen.chosen}")  # type: ignore[attr-defined]

    # product check: TC with vector scaling folded into coef_/intercept_ vs TC, last fold's model
    assert last_tc is not None and last_scaled is not None
    te = folds[-1][1]
    sample = texts[:1000]   # distinct texts; caches are emptied before timing
    same = np.array_equal(last_scaled.predict_proba([texts[i] for i in te]).argmax(1),
                          preds["TC + vector scaling (scale+bias per class)"][te])
    print(f"\nFolded vector-scaled model gives the same argmax as above on the last fold: {same}")
    del last_tc.oof_scores_, last_tc.oof_gold_
    for name, m in (("TC", last_tc), ("TC + vector scaling (folded)", last_scaled)):
        tps, p99 = speed(m, sample)
        print(f"{name:30s} pickle {len(pickle.dumps(m)) / 1e6:5.1f} MB   {tps:6.0f} texts/s   p99 {p99:5.2f} ms "
              "(1,000 calls of proba_one, cold caches)")


if __name__ == "__main__":
    main()
