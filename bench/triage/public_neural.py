"""Bench experiment: a fastText-style neural classifier on the public 7-class set, and ensembles with
fengqiao's TextClassifier (TF-IDF + LinearSVC, temperature-calibrated). Same 5 folds as public_cv.py.

Model: bag of hashed char 1–3-grams (+ optional jieba words, + optional opening-40-char n-grams as their
own block), embeddings averaged (EmbeddingBag mean), dropout, linear softmax; SparseAdam/Adam with a
linearly decaying learning rate. CPU only. Needs torch in the venv (a bench-only dependency, not in
pyproject): `.venv/bin/pip install torch==2.13.0`.

Out-of-fold probabilities are cached in /tmp/fengqiao_public_neural/ so the ensembles are cheap.
Run: .venv/bin/python bench/triage/public_neural.py [--fresh]
"""

from __future__ import annotations

import sys
import time
import zlib
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from public_cv import baseline, load  # noqa: E402

from fengqiao.triage.learned import TextClassifier, jieba_words  # noqa: E402

CACHE = Path("/tmp/fengqiao_public_neural")
torch.set_num_threads(2)


def grams(text: str, words: bool, head: int) -> list[str]:
    out = [text[i:i + n] for n in (1, 2, 3) for i in range(len(text) - n + 1)]
    if words:
        out += ["w:" + w for w in jieba_words(text)]
    if head:
        h = text[:head]
        out += ["h:" + h[i:i + n] for n in (1, 2, 3) for i in range(len(h) - n + 1)]
    return out


def hashed(texts: list[str], buckets: int, words: bool, head: int) -> list[np.ndarray]:
    return [np.array([zlib.crc32(g.encode("utf-8")) % buckets for g in grams(t, words, head)] or [0], dtype=np.int64)
            for t in texts]


class FastText(torch.nn.Module):
    def __init__(self, buckets: int, dim: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.emb = torch.nn.EmbeddingBag(buckets, dim, mode="mean", sparse=True)
        torch.nn.init.uniform_(self.emb.weight, -1.0 / dim, 1.0 / dim)
        self.drop = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(dim, n_classes)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.emb(ids, offsets)))


def batch(seqs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    lens = np.array([len(s) for s in seqs])
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
    return torch.from_numpy(np.concatenate(seqs)), torch.from_numpy(offsets)


def fit_predict_nn(train: list[np.ndarray], y: np.ndarray, test: list[np.ndarray], n_classes: int, *,
                   buckets: int, dim: int = 100, epochs: int = 30, lr: float = 0.01, bs: int = 32,
                   dropout: float = 0.3, smoothing: float = 0.0, seed: int = 0,
                   soft: np.ndarray | None = None) -> tuple[np.ndarray, FastText]:
    """Train on (train, y) — or on soft targets `soft` (n×C) when given — and return test probabilities."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = FastText(buckets, dim, n_classes, dropout)
    opt_s = torch.optim.SparseAdam(list(model.emb.parameters()), lr=lr)
    opt_d = torch.optim.Adam(list(model.out.parameters()), lr=lr)
    steps = epochs * int(np.ceil(len(train) / bs))
    sched = [torch.optim.lr_scheduler.LambdaLR(o, lambda s: max(0.0, 1 - s / steps)) for o in (opt_s, opt_d)]
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=smoothing)
    yt = torch.from_numpy(y)
    st = torch.from_numpy(soft).float() if soft is not None else None
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(train))
        for k in range(0, len(order), bs):
            idx = order[k:k + bs]
            ids, off = batch([train[i] for i in idx])
            logits = model(ids, off)
            if st is None:
                loss = loss_fn(logits, yt[idx])
            else:
                loss = -(st[idx] * torch.log_softmax(logits, 1)).sum(1).mean()
            opt_s.zero_grad()
            opt_d.zero_grad()
            loss.backward()
            opt_s.step()
            opt_d.step()
            for s in sched:
                s.step()
    model.eval()
    with torch.no_grad():
        ids, off = batch(test)
        p = torch.softmax(model(ids, off), 1).numpy()
    return p, model


def macro(y: np.ndarray, p: np.ndarray) -> float:
    return f1_score(y, p.argmax(1), average="macro")


def main() -> None:
    texts, labels = load()
    classes = np.unique(labels)
    y = np.searchsorted(classes, labels)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(texts, labels))
    CACHE.mkdir(exist_ok=True)
    fresh = "--fresh" in sys.argv
    rows: list[tuple[str, float, str, float]] = []   # name, macro-F1, fold range, s/fold
    oof: dict[str, np.ndarray] = {}

    def report(name: str, p: np.ndarray, secs: float) -> None:
        per = [macro(y[te], p[te]) for _, te in folds]
        f1 = macro(y, p)
        rows.append((name, f1, f"{min(per):.3f}–{max(per):.3f}", secs / len(folds)))
        oof[name] = p
        print(f"{name:58s} macro-F1 {f1:.4f} ({min(per):.3f}–{max(per):.3f})  {secs / len(folds):6.1f}s/fold",
              flush=True)

    # baseline, same run
    t0 = time.perf_counter()
    p = np.zeros((len(y), len(classes)))
    for tr, te in folds:
        pred = baseline([texts[i] for i in tr], labels[tr], [texts[i] for i in te])
        p[te, np.searchsorted(classes, pred)] = 1.0
    report("baseline char-TFIDF+LinearSVC", p, time.perf_counter() - t0)

    # fengqiao TextClassifier (char+head+jieba words), calibrated probabilities
    path = CACHE / "svm_words.npy"
    t0 = time.perf_counter()
    if path.exists() and not fresh:
        p, secs = np.load(path), float(np.load(CACHE / "svm_words_secs.npy"))
    else:
        p = np.zeros((len(y), len(classes)))
        for tr, te in folds:
            clf = TextClassifier(words=True).fit([texts[i] for i in tr], labels[tr])
            p[np.ix_(te, np.searchsorted(classes, clf.classes_))] = clf.predict_proba([texts[i] for i in te])
        secs = time.perf_counter() - t0
        np.save(path, p)
        np.save(CACHE / "svm_words_secs.npy", secs)
    report("fengqiao TextClassifier (char+head+words, calibrated)", p, secs)

    # fastText-style variants
    variants = {
        "ft char1-3 d100 e30 2^18": dict(words=False, head=0, buckets=2 ** 18),
        "ft char1-3+words d100 e30 2^18": dict(words=True, head=0, buckets=2 ** 18),
        "ft char1-3+words+head d100 e30 2^18": dict(words=True, head=40, buckets=2 ** 18),
        "ft char1-3+words+head d200 e40 2^18": dict(words=True, head=40, buckets=2 ** 18, dim=200, epochs=40),
        "ft char1-3+words+head d100 e30 2^18 ls0.1": dict(words=True, head=40, buckets=2 ** 18, smoothing=0.1),
        "ft char1-3+words+head d100 e30 2^16": dict(words=True, head=40, buckets=2 ** 16),
    }
    only = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")]
    feats_cache: dict[tuple, list[np.ndarray]] = {}
    for name, kw in variants.items():
        if only and not any(o in name for o in only):
            continue
        key = name.replace(" ", "_").replace("^", "")
        path = CACHE / f"{key}.npy"
        if path.exists() and not fresh:
            report(name, np.load(path), float(np.load(CACHE / f"{key}_secs.npy")))
            continue
        fk = (kw["words"], kw["head"], kw["buckets"])
        if fk not in feats_cache:
            feats_cache[fk] = hashed(texts, kw["buckets"], kw["words"], kw["head"])
        seqs = feats_cache[fk]
        nn_kw = {k: v for k, v in kw.items() if k not in ("words", "head")}
        p = np.zeros((len(y), len(classes)))
        t0 = time.perf_counter()
        for tr, te in folds:
            p[te], _ = fit_predict_nn([seqs[i] for i in tr], y[tr], [seqs[i] for i in te], len(classes), **nn_kw)
        secs = time.perf_counter() - t0
        np.save(path, p)
        np.save(CACHE / f"{key}_secs.npy", secs)
        report(name, p, secs)

    # ensembles: average of calibrated SVM probabilities and the NN's
    svm = oof["fengqiao TextClassifier (char+head+words, calibrated)"]
    nn_names = [n for n in oof if n.startswith("ft ")]
    for n in nn_names:
        for w in (0.5,):
            report(f"ens {w:.1f}·SVM + {1 - w:.1f}·[{n}]", w * svm + (1 - w) * oof[n], 0.0)
    if len(nn_names) > 1:
        allnn = np.mean([oof[n] for n in nn_names], axis=0)
        report("ens 0.5·SVM + 0.5·mean(all ft variants)", 0.5 * svm + 0.5 * allnn, 0.0)

    print("\n| variant | macro-F1 | fold range | s/fold | ≥0.93 |\n| --- | ---: | --- | ---: | --- |")
    for name, f1, rng, s in rows:
        print(f"| {name} | {f1:.4f} | {rng} | {s:.1f} | {'yes' if f1 >= 0.93 else 'no'} |")


if __name__ == "__main__":
    main()
