"""Learning from a county's history: operators' confirmed/corrected routings → a calibrated text classifier,
combined with the zero-shot prior so that an item with no history still routes.

- :class:`TextClassifier`: TF-IDF over char 1–3-grams (+ the opening characters as their own block,
  where the subject usually is; + jieba words, optional) and a linear SVM. Its scores become
  probabilities by a softmax whose temperature is fitted on out-of-fold scores (3-fold), so a
  confidence of 0.9 means right about 9 times in 10 on this county's own cases.
- :class:`LearnedRouter`: log-linear mixture ``a·log p_learned + b·log p_zeroshot`` over the list's
  items; ``a`` and ``b`` are chosen on out-of-fold predictions of the history. Items without history
  keep a small share of the learned mass, so the zero-shot prior can still put them on top.
"""

from __future__ import annotations

import logging
import pickle
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import minimize_scalar

from fengqiao.triage.exceptions import ModelFileError
from fengqiao.triage.text import char_grams, normalise, tfidf_row

MODEL_FORMAT = "fengqiao-triage-model"
MODEL_VERSION = 1
MIN_HISTORY = 10
UNSEEN_MASS = 0.05        # learned probability spread over items without history
EXAMPLES_PER_ITEM = 20    # past cases kept per item to show "similar past cases"
BIAS_PRIOR_CASES = 10.0   # TextClassifier(bias=True): how many cases a class needs before its bias moves much


_jieba_ready = False


@lru_cache(maxsize=100_000)
def jieba_words(text: str) -> tuple[str, ...]:
    """Words of a text by jieba (loaded on first use, quietly); cached because training re-reads texts."""
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        jieba.setLogLevel(logging.WARNING)   # jieba prints its dictionary loading to stderr otherwise
        _jieba_ready = True
    return tuple(w for w in jieba.lcut(text) if w.strip())


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _class_bias(z: np.ndarray, gold: np.ndarray, prior_cases: float = BIAS_PRIOR_CASES) -> np.ndarray:
    """A bias per class added to tempered out-of-fold scores ``z``, fitted by log-loss: it corrects classes the
    classifier over- or under-predicts. An L2 pull towards 0 worth ``prior_cases`` cases keeps a class with
    little history near no correction."""
    from scipy.optimize import minimize

    n, k = z.shape
    onehot = np.zeros((n, k))
    onehot[np.arange(n), gold] = 1.0
    lam = prior_cases / n

    def loss(b: np.ndarray) -> tuple[float, np.ndarray]:
        logp = _log_softmax(z + b)
        value = -logp[np.arange(n), gold].mean() + lam * float(b @ b)
        return float(value), (np.exp(logp) - onehot).mean(axis=0) + 2 * lam * b

    return np.asarray(minimize(loss, np.zeros(k), jac=True, method="L-BFGS-B").x)


class TextClassifier:
    """Calibrated linear text classifier; labels are any strings (item codes, categories).

    Probabilities are softmax(temperature · SVM scores), the temperature fitted on out-of-fold scores; with
    ``bias`` also a bias per class fitted on the same scores (what a county's router uses: on the public messages
    5-fold macro-F1 0.9005 → 0.9043; on the demo county's development sets, leave-one-set-out, no change)."""

    def __init__(self, words: bool = False, head: int = 40, C: float = 0.5, max_features: int = 60_000,
                 bias: bool = False) -> None:
        self.words, self.head, self.C, self.max_features, self.bias = words, head, C, max_features, bias
        self.temperature = 1.0
        self.classes_: np.ndarray = np.array([])

    def _blocks(self) -> list[tuple[str, Any]]:
        from sklearn.feature_extraction.text import TfidfVectorizer   # only to fit: loading a model skips sklearn

        blocks = [("char", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2,
                                           max_df=0.8, max_features=self.max_features, dtype=np.float32))]
        if self.head:
            blocks.append(("head", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2,
                                                   max_features=self.max_features // 4, dtype=np.float32)))
        if self.words:
            blocks.append(("words", TfidfVectorizer(analyzer=jieba_words, sublinear_tf=True, min_df=1,
                                                    max_df=0.8, max_features=self.max_features, dtype=np.float32)))
        return blocks

    def _inputs(self, name: str, texts: Sequence[str]) -> Sequence[str]:
        return [t[:self.head] for t in texts] if name == "head" else texts

    def _fit_features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        self.blocks_ = self._blocks()
        return sparse.hstack([v.fit_transform(self._inputs(n, texts)) for n, v in self.blocks_]).tocsr()

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Feature rows of texts (same values as the fitted vectorizers would give)."""
        indptr, indices, data = [0], [], []
        for t in texts:
            cols, vals = self.vector(normalise(t))
            indices.append(cols)
            data.append(vals)
            indptr.append(indptr[-1] + len(cols))
        return sparse.csr_matrix((np.concatenate(data) if data else np.zeros(0),
                                  np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64), indptr),
                                 shape=(len(texts), self._n_features))

    def _fit_svm(self, X: sparse.csr_matrix, y: np.ndarray) -> Any:
        from sklearn.svm import LinearSVC

        with warnings.catch_warnings():
            # a county history has many items and few cases each; sklearn then guesses "regression?"
            warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
            return LinearSVC(C=self.C, class_weight="balanced").fit(X, y)

    def fit(self, texts: Sequence[str], labels: Sequence[str], calibrate: bool = True) -> TextClassifier:
        texts = [normalise(t) for t in texts]
        y = self._labels(labels)
        bias = np.zeros(0)
        if calibrate:
            self.temperature, bias = self._fit_calibration(texts, y)
        X = self._fit_features(texts)
        self._set_coef(self._fit_svm(X, y))
        self._fold_bias(bias)
        # keep what routing needs as plain dicts/arrays; the sklearn vectorizers are not kept
        self._fast = []
        offset = 0
        for name, v in self.blocks_:
            lo, hi = v.ngram_range
            self._fast.append((name, v.vocabulary_, np.asarray(v.idf_, dtype=np.float64), lo, hi, offset))
            offset += len(v.vocabulary_)
        self._n_features = offset
        del self.blocks_
        self._prepare_fast()
        return self

    def fit_sharing(self, features: TextClassifier, texts: Sequence[str], labels: Sequence[str]) -> TextClassifier:
        """Another set of labels over an already fitted classifier's features: one feature vector of a text
        then serves both (:meth:`proba_vector`), which halves the cost of asking two questions of a text."""
        X = features.transform(texts)
        y = self._labels(labels)
        self.words, self.head, self._fast, self._n_features = features.words, features.head, features._fast, \
            features._n_features
        self.temperature, bias = self._fit_calibration_on(X, y)
        self._set_coef(self._fit_svm(X, y))
        self._fold_bias(bias)
        self._prepare_fast()
        return self

    def _labels(self, labels: Sequence[str]) -> np.ndarray:
        y = np.asarray(labels)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError("至少需要两个不同的类别")
        return y

    def _set_coef(self, svm: Any) -> None:
        self.coef_ = np.asarray(svm.coef_, dtype=np.float32)
        self.intercept_ = np.asarray(svm.intercept_, dtype=np.float32)
        if len(self.classes_) == 2:   # LinearSVC keeps one row for two classes
            self.coef_ = np.vstack([-self.coef_, self.coef_])
            self.intercept_ = np.concatenate([-self.intercept_, self.intercept_])

    def _fold_bias(self, bias: np.ndarray) -> None:
        """Put a fitted class bias into the intercept: probabilities are softmax(temperature · scores + bias)."""
        if len(bias):
            self.intercept_ = self.intercept_ + (bias / self.temperature).astype(np.float32)

    def _prepare_fast(self) -> None:
        """coef by feature, so one text's scores are a gather and a dot product (~0.1 ms)."""
        self._coef_by_feature = np.ascontiguousarray(self.coef_.T, dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        # the by-feature copy of coef_ is rebuilt on load: model files stay small
        state = dict(self.__dict__)
        state.pop("_coef_by_feature", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "_fast" in state:
            self._prepare_fast()

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Feature indices and values of one (normalised) text, equal to :meth:`transform`'s row."""
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for name, vocab, idf, lo, hi, offset in self._fast:
            t = text[:self.head] if name == "head" else text
            grams = Counter(jieba_words(t)) if name == "words" else char_grams(t, lo, hi)
            c, v = tfidf_row(grams, vocab, idf)
            cols.append(c + offset)
            vals.append(v)
        return (np.concatenate(cols), np.concatenate(vals)) if cols else (np.zeros(0, dtype=np.int64), np.zeros(0))

    def proba_one(self, text: str) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        vec = self.vector(normalise(text))
        return self.proba_vector(vec), vec

    def proba_vector(self, vec: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Class probabilities of a feature vector from :meth:`vector` (of this classifier's features)."""
        cols, vals = vec
        d = (vals @ self._coef_by_feature[cols] if len(cols) else np.zeros(len(self.classes_))) + self.intercept_
        z = self.temperature * d
        z -= z.max()
        e = np.exp(z)
        return e / e.sum()

    def _fit_calibration(self, texts: list[str], y: np.ndarray) -> tuple[float, np.ndarray]:
        """Softmax temperature (and class bias) from out-of-fold scores (3-fold; features refitted per fold)."""
        def fold_scores(tr: np.ndarray, te: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            sub = TextClassifier(self.words, self.head, self.C, self.max_features)   # no bias: raw scores
            sub.fit([texts[i] for i in tr], y[tr], calibrate=False)
            return sub.decision([texts[i] for i in te]), sub.classes_

        return self._calibration_from_folds(y, fold_scores)

    def _fit_calibration_on(self, X: sparse.csr_matrix, y: np.ndarray) -> tuple[float, np.ndarray]:
        """The same over fixed features (:meth:`fit_sharing`); their vocabulary and IDF saw every text, which
        flatters the held-out folds a little."""
        def fold_scores(tr: np.ndarray, te: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            svm = self._fit_svm(X[tr], y[tr])
            d = np.asarray(svm.decision_function(X[te]))
            return (np.column_stack([-d, d]) if d.ndim == 1 else d), svm.classes_

        return self._calibration_from_folds(y, fold_scores)

    def _calibration_from_folds(self, y: np.ndarray, fold_scores: Callable[[np.ndarray, np.ndarray],
                                tuple[np.ndarray, np.ndarray]]) -> tuple[float, np.ndarray]:
        """(temperature, class bias): the bias is empty unless ``self.bias``, or when history is too thin."""
        from sklearn.model_selection import StratifiedKFold

        counts = Counter(y)
        folds = min(3, min(counts.values()))
        if folds < 2:
            return 3.0, np.zeros(0)   # too little history to fit; a moderate default
        scores = np.zeros((len(y), len(self.classes_)))
        seen = np.zeros(len(y), dtype=bool)
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(np.zeros(len(y)), y):
            d, classes = fold_scores(tr, te)
            cols = np.searchsorted(self.classes_, classes)
            scores[np.ix_(te, cols)] = d
            scores[np.ix_(te, np.setdiff1d(np.arange(len(self.classes_)), cols))] = -10.0
            seen[te] = True
        gold = np.searchsorted(self.classes_, y)

        rows = np.arange(int(seen.sum()))

        def nll(t: float) -> float:
            return float(-_log_softmax(t * scores[seen])[rows, gold[seen]].mean())

        t = float(minimize_scalar(nll, bounds=(0.1, 50.0), method="bounded").x)
        return t, (_class_bias(t * scores[seen], gold[seen]) if self.bias else np.zeros(0))

    def decision(self, texts: Sequence[str] | None = None, X: sparse.csr_matrix | None = None) -> np.ndarray:
        if X is None:
            X = self.transform(texts or [])
        return np.asarray(X @ self.coef_.T) + self.intercept_

    def predict_proba(self, texts: Sequence[str] | None = None, X: sparse.csr_matrix | None = None) -> np.ndarray:
        z = self.temperature * self.decision(texts, X)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.classes_[self.decision(texts).argmax(axis=1)]


class ExampleIndex:
    """A few example texts per label, to show the ones closest to a text ("similar past cases")."""

    def __init__(self, clf: TextClassifier, examples: dict[str, list[str]]) -> None:
        self.examples = examples
        # per label, a small dense block (its examples × the features they use) and those features sorted:
        # one text's similarities are a searchsorted and a dot product, no sparse slicing per call
        self._blocks: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}
        for code, texts in examples.items():
            if not texts:
                continue
            m = clf.transform(texts)
            feats = np.unique(m.indices)
            self._blocks[code] = (feats, m[:, feats].toarray().astype(np.float32), texts)

    def similar(self, vec: tuple[np.ndarray, np.ndarray], code: str, limit: int = 1) -> list[str]:
        block = self._blocks.get(code)
        cols, vals = vec
        if block is None or not len(cols):
            return []
        feats, dense, texts = block
        pos = np.minimum(np.searchsorted(feats, cols), len(feats) - 1)
        hit = feats[pos] == cols
        sims = dense[:, pos[hit]] @ vals[hit]
        return [texts[i] for i in np.argsort(-sims)[:limit] if sims[i] > 0.1]


@dataclass(frozen=True)
class TrainReport:
    cases: int
    used: int
    unknown_codes: dict[str, int]
    items_with_history: int
    items_total: int
    weight_learned: float
    weight_zeroshot: float
    oof_accuracy_learned: float | None      # the combined router on held-out folds
    oof_accuracy_zeroshot: float | None     # zero-shot alone on the same cases

    def lines(self) -> list[str]:
        out = [f"历史案件 {self.cases} 件，可用 {self.used} 件；"
               f"有历史的清单事项 {self.items_with_history}/{self.items_total} 项"]
        if self.unknown_codes:
            top = "、".join(f"{c}（{n}件）" for c, n in sorted(self.unknown_codes.items(), key=lambda kv: -kv[1])[:5])
            out.append(f"清单中没有的编码已跳过：{top}")
        if self.oof_accuracy_learned is not None:
            out.append(f"交叉验证 top-1 准确率：学习模型 {self.oof_accuracy_learned:.3f}，"
                       f"零样本 {self.oof_accuracy_zeroshot:.3f}")
        out.append(f"组合权重：学习 {self.weight_learned:g}，零样本 {self.weight_zeroshot:g}")
        return out


class LearnedRouter:
    """History-trained probabilities over a list's items, mixed with the zero-shot prior."""

    def __init__(self, codes: Sequence[str], words: bool = False) -> None:
        self.codes = list(codes)
        self.words = words
        self.a, self.b = 1.0, 0.5
        self.examples: dict[str, list[str]] = {}

    # -- training -------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[str],
            zeroshot_probs: Callable[[str], np.ndarray]) -> TrainReport:
        index = {c: i for i, c in enumerate(self.codes)}
        unknown = Counter(lab for lab in labels if lab not in index)
        pairs = [(t, lab) for t, lab in zip(texts, labels, strict=True) if lab in index and normalise(t)]
        if len(pairs) < MIN_HISTORY or len({lab for _, lab in pairs}) < 2:
            raise ValueError(f"可用的历史案件太少（{len(pairs)} 件，至少 {MIN_HISTORY} 件且涉及两个以上事项）")
        X = [t for t, _ in pairs]
        y = np.array([lab for _, lab in pairs])
        zs = np.vstack([zeroshot_probs(t) for t in X])
        gold = np.array([index[lab] for lab in y])
        oof = self._oof(X, y)
        acc_l = acc_z = None
        if oof is not None:
            self.a, self.b = self._fit_weights(oof, zs, gold)
            mixed = self._mix(oof, zs)
            acc_l = float((mixed.argmax(axis=1) == gold).mean())
            acc_z = float((zs.argmax(axis=1) == gold).mean())
        self.clf = TextClassifier(words=self.words, bias=True).fit(X, y)
        self._cols = np.array([index[c] for c in self.clf.classes_])
        by_item: dict[str, list[str]] = defaultdict(list)
        for t, lab in pairs:
            if len(by_item[lab]) < EXAMPLES_PER_ITEM:
                by_item[lab].append(normalise(t)[:80])
        self.examples = dict(by_item)
        self._examples = ExampleIndex(self.clf, self.examples)
        return TrainReport(len(texts), len(pairs), dict(unknown), len(set(y)), len(self.codes), round(self.a, 2),
                           round(self.b, 2), acc_l, acc_z)

    def _oof(self, X: list[str], y: np.ndarray) -> np.ndarray | None:
        from sklearn.model_selection import StratifiedKFold

        counts = Counter(y)
        if len(y) < 30:
            return None
        out = np.zeros((len(y), len(self.codes)))
        index = {c: i for i, c in enumerate(self.codes)}
        # stratify only on labels with ≥3 cases; rare ones are spread by the shuffle
        strata = np.array([lab if counts[lab] >= 3 else "_rare" for lab in y])
        for tr, te in StratifiedKFold(3, shuffle=True, random_state=0).split(X, strata):
            if len(set(y[tr])) < 2:
                return None
            clf = TextClassifier(words=self.words, bias=True).fit([X[i] for i in tr], y[tr])
            p = clf.predict_proba([X[i] for i in te])
            out[np.ix_(te, [index[c] for c in clf.classes_])] = p
        return out

    def _spread(self, p_seen: np.ndarray) -> np.ndarray:
        """Learned probabilities over all items: most mass on seen items, a little on every item."""
        return (1 - UNSEEN_MASS) * p_seen + UNSEEN_MASS / len(self.codes)

    def _mix(self, learned: np.ndarray, zs: np.ndarray, a: float | None = None, b: float | None = None) -> np.ndarray:
        a = self.a if a is None else a
        b = self.b if b is None else b
        z = a * np.log(self._spread(learned)) + b * np.log(zs + 1e-9)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _fit_weights(self, oof: np.ndarray, zs: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
        best = (np.inf, 1.0, 0.0)
        # a = 0 is allowed: when a history does not help on held-out folds, fall back to zero-shot
        for a in (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
            for b in (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.25):
                if a == b == 0.0:
                    continue
                p = self._mix(oof, zs, a, b)
                nll = float(-np.log(p[np.arange(len(gold)), gold] + 1e-12).mean())
                if nll < best[0]:
                    best = (nll, a, b)
        return best[1], best[2]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_examples", None)   # rebuilt from `examples` on load
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if hasattr(self, "clf"):
            self._examples = ExampleIndex(self.clf, self.examples)

    # -- use ------------------------------------------------------------------------------------
    def probabilities(self, text: str, zs: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Mixed probabilities over all items, and the text's feature vector (for :meth:`similar`)."""
        p, vec = self.clf.proba_one(text)
        p_seen = np.zeros(len(self.codes))
        p_seen[self._cols] = p
        return self._mix(p_seen[None, :], zs[None, :])[0], vec

    def similar(self, vec: tuple[np.ndarray, np.ndarray], code: str, limit: int = 1) -> list[str]:
        """The past cases of ``code`` closest to the text (cosine on the classifier's features)."""
        return self._examples.similar(vec, code, limit)

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | Path, list_fingerprint: str) -> None:
        state = {"format": MODEL_FORMAT, "version": MODEL_VERSION, "list": list_fingerprint, "codes": self.codes,
                 "router": self}
        with open(path, "wb") as fh:
            pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def load(path: str | Path, codes: Sequence[str]) -> LearnedRouter:
        # Model files are the county's own (built by `fengqiao triage train`); pickle is not for files
        # from elsewhere, which is why we check the header and the list it was built for.
        try:
            with open(path, "rb") as fh:
                state: Any = pickle.load(fh)
        except FileNotFoundError:
            raise ModelFileError(f"模型文件不存在：{path}") from None
        except Exception as exc:  # a broken or foreign file raises many types
            raise ModelFileError(f"无法读取模型文件 {path}：{type(exc).__name__}") from None
        if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
            raise ModelFileError(f"{path} 不是分流模型文件（请用 fengqiao triage train 生成）")
        if state.get("version") != MODEL_VERSION:
            raise ModelFileError(f"模型文件版本 {state.get('version')} 与本程序不符，请重新训练")
        router: LearnedRouter = state["router"]
        if list(codes) != router.codes:
            missing = len(set(router.codes) - set(codes))
            raise ModelFileError(f"模型是按另一版清单训练的（{missing} 个事项编码在当前清单中不存在，"
                                 "或事项顺序不同），请用当前清单重新训练")
        return router
