"""Two cheap ideas on the public 7-class set, same folds as public_cv.py (5-fold, seed 0), with the
baseline re-run in the same process. Bench-only: nothing here is used by the product yet.

- A: char 1–4-gram TF-IDF (no max_features cap) + LinearSVC(C=0.5, balanced)
- B: ensemble — softmax-averaged decision scores of char 1–3 LinearSVC, jieba-word 1–2 LinearSVC,
     and the class-probabilities of Complement NB on the words (equal weights)
Run: .venv/bin/python bench/triage/public_ideas.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from public_cv import baseline, load  # noqa: E402

from fengqiao.triage.learned import jieba_words  # noqa: E402


def softmax(z: np.ndarray, t: float = 1.0) -> np.ndarray:
    z = (z - z.max(1, keepdims=True)) / t
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def idea_a(train: list[str], y: np.ndarray, test: list[str]) -> np.ndarray:
    v = TfidfVectorizer(analyzer="char", ngram_range=(1, 4), sublinear_tf=True, min_df=2, max_df=0.8)
    return LinearSVC(C=0.5, class_weight="balanced").fit(v.fit_transform(train), y).predict(v.transform(test))


def idea_b(train: list[str], y: np.ndarray, test: list[str]) -> np.ndarray:
    vc = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, max_df=0.8)
    vw = TfidfVectorizer(analyzer=lambda t: (lambda w: w + [a + b for a, b in zip(w, w[1:])])(list(jieba_words(t))),
                         sublinear_tf=True, min_df=2, max_df=0.8)
    Xc, Xw = vc.fit_transform(train), vw.fit_transform(train)
    Tc, Tw = vc.transform(test), vw.transform(test)
    sc = LinearSVC(C=0.5, class_weight="balanced").fit(Xc, y)
    sw = LinearSVC(C=0.5, class_weight="balanced").fit(Xw, y)
    nb = ComplementNB(alpha=0.3).fit(Xw, y)
    p = softmax(sc.decision_function(Tc), 0.3) + softmax(sw.decision_function(Tw), 0.3) + nb.predict_proba(Tw)
    return sc.classes_[p.argmax(1)]


def main() -> None:
    texts, y = load()
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(texts, y))
    for name, fn in [("baseline char-TFIDF+LinearSVC", baseline), ("A char 1-4 LinearSVC", idea_a),
                     ("B char+word SVC + word CNB ensemble", idea_b)]:
        pred = np.empty(len(y), dtype=object)
        t0 = time.perf_counter()
        for tr, te in folds:
            pred[te] = fn([texts[i] for i in tr], y[tr], [texts[i] for i in te])
        print(f"{name:40s} macro-F1 {f1_score(y, pred, average='macro'):.4f}  accuracy {(pred == y).mean():.4f}  "
              f"{time.perf_counter() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
