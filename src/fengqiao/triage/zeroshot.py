"""Zero-shot routing over a county's own list: char n-grams + shipped concept groups, no training data.

Each list item becomes a document (name, weighted up; category; description). A case text is
matched two ways, and the two cosine similarities are added:
- character 2/3-grams with TF-IDF weights computed on the list itself (a term that many items
  share, like 纠纷, counts little);
- concepts from the shipped lexicon (井盖 → 窨井盖, 工钱 → 工资 ...), which bridge the gap between
  how people speak and how lists are written. Shared concepts are the "matched phrases" shown
  to the operator.
Scores become probabilities by a softmax whose temperature was fitted once on the demo county
(see bench/triage/demo_bench.py); the constant is what makes confidences comparable across lists.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse

from fengqiao.triage.catalog import ListItem
from fengqiao.triage.lexicon import Concept, PhraseMatcher, shipped_concepts, shipped_risk_routes
from fengqiao.triage.text import char_grams, normalise, tfidf_row

NGRAMS = (2, 3)
NAME_REPEAT = 3            # the item's name says most; repeat it in the document
W_CHAR, W_CONCEPT = 1.0, 1.0
# a concept evoked by several different phrases of the text (工钱, 包工头, 讨薪) is stronger evidence
# than one evoked once: its query weight is idf · (1 + EVIDENCE · ln(distinct phrases))
EVIDENCE = 1.0
# a present 高-risk cue (from the risk grader) adds this to the items the list sets aside for such
# dangers (lexicon/risk_routes.tsv: 扬言伤人 → 矛盾纠纷激化风险, 燃气泄漏 → 燃气泄漏隐患 ...)
W_RISK = 0.9
TEMPERATURE = 9.5          # softmax sharpness; fitted (NLL) on the demo county's two development sets
# Platt map of the top probability: confidence = σ(A·logit(p₁) + B). A softmax alone is
# over-confident in the 0.7–0.9 band; this was fitted on the demo development sets (templates +
# bench/triage/dev_cases.jsonl) and checked on the independently written cases
# (bench/triage/demo_bench.py prints the reliability tables).
CALIBRATION = (0.46, 0.23)
_GENERIC = ("纠纷", "问题", "隐患", "诉求", "事项", "投诉", "风险", "及", "引发", "等问题", "之间")
_FUNCTION_CHARS = set("的了是在和与及或等因为被把从对向也都还就又而")


@dataclass(frozen=True)
class Match:
    """Why an item matched: shared concepts (with the case's own words) and shared phrases."""
    concepts: tuple[tuple[str, str], ...]   # (case phrase, concept)
    phrases: tuple[str, ...]                # substrings shared with the item's name/description


class CharNgrams:
    """TF-IDF over character n-grams with a fast single-text path (sklearn's is ~10× slower per call)."""

    def __init__(self, docs: Sequence[str], ngrams: tuple[int, int] = NGRAMS) -> None:
        self.lo, self.hi = ngrams
        counts = [self._count(d) for d in docs]
        vocab: dict[str, int] = {}
        for c in counts:
            for g in c:
                vocab.setdefault(g, len(vocab))
        df = np.zeros(len(vocab))
        for c in counts:
            for g in c:
                df[vocab[g]] += 1
        self.vocab = vocab
        self.idf = np.log((1 + len(docs)) / (1 + df)) + 1.0
        self.matrix = self._matrix(counts)       # docs × n-grams, rows l2-normalised

    def _count(self, text: str) -> Counter[str]:
        return char_grams(text, self.lo, self.hi)

    def _matrix(self, counts: list[Counter[str]]) -> sparse.csr_matrix:
        rows = [tfidf_row(c, self.vocab, self.idf) for c in counts]
        indptr = np.concatenate([[0], np.cumsum([len(cols) for cols, _ in rows])])
        indices = np.concatenate([cols for cols, _ in rows]) if rows else np.zeros(0, dtype=np.int64)
        data = np.concatenate([vals for _, vals in rows]) if rows else np.zeros(0)
        return sparse.csr_matrix((data, indices, indptr), shape=(len(counts), len(self.vocab)))

    def query(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and l2-normalised weights of one text (unknown n-grams dropped)."""
        return tfidf_row(self._count(text), self.vocab, self.idf)


def _rows_dot(m: sparse.csr_matrix, rows: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``w @ m[rows]`` for a few rows of a very sparse matrix, without scipy's per-call slicing overhead."""
    if not len(rows):
        return np.zeros(m.shape[1])
    start = m.indptr[rows]
    n = m.indptr[rows + 1] - start
    total = int(n.sum())
    if not total:
        return np.zeros(m.shape[1])
    pos = np.repeat(start - (np.cumsum(n) - n), n) + np.arange(total)
    return np.bincount(m.indices[pos], weights=m.data[pos] * np.repeat(w, n), minlength=m.shape[1])


class ZeroShotRouter:
    """Rank the items of one list for a case text, with reasons."""

    def __init__(self, items: Sequence[ListItem], concepts: Sequence[Concept] | None = None,
                 temperature: float = TEMPERATURE) -> None:
        self.items = list(items)
        self.temperature = temperature
        docs = [self._doc(it) for it in self.items]
        self.chars = CharNgrams(docs)
        self._chars_t = sparse.csr_matrix(self.chars.matrix.T)   # n-gram → items, for fast scoring
        concepts = list(shipped_concepts() if concepts is None else concepts)
        self.concept_names = [c.name for c in concepts]
        self.matcher: PhraseMatcher[int] = PhraseMatcher((p, k) for k, c in enumerate(concepts) for p in c.phrases)
        item_concepts = np.zeros((len(self.items), len(concepts)))
        for r, it in enumerate(self.items):
            for _, _, ks in self.matcher.finditer(normalise(it.name)):
                for k in ks:
                    item_concepts[r, k] = 2.0
            for _, _, ks in self.matcher.finditer(normalise(it.category + it.description)):
                for k in ks:
                    item_concepts[r, k] = max(item_concepts[r, k], 1.0)
        df = (item_concepts > 0).sum(axis=0)
        # a concept no item mentions cannot route; one that every item mentions cannot either
        weights = np.array([c.weight for c in concepts])
        self.concept_idf = np.where(df > 0, np.log((1 + len(self.items)) / (1 + df)) + 1.0, 0.0) * weights
        weighted = item_concepts * self.concept_idf
        norms = np.linalg.norm(weighted, axis=1)
        norms[norms == 0] = 1.0
        self.item_concepts = weighted / norms[:, None]
        self._item_texts = [normalise(it.name + "，" + it.description) for it in self.items]
        names = [normalise(it.name) for it in self.items]
        self.risk_routes: dict[str, np.ndarray] = {}
        for kind, words in shipped_risk_routes():
            mask = np.array([any(w in n for w in words) for n in names], dtype=float)
            if mask.any():
                self.risk_routes[kind] = mask

    @staticmethod
    def _doc(it: ListItem) -> str:
        name = normalise(it.name)
        return "，".join([name] * NAME_REPEAT + [normalise(it.category), normalise(it.description)])

    def concepts_in(self, text: str) -> dict[int, str]:
        """Concept index → the first phrase of the text that evoked it."""
        return {k: phrases[0] for k, phrases in self.evidence(text).items()}

    def evidence(self, text: str) -> dict[int, list[str]]:
        """Concept index → the distinct phrases of the text that evoked it, first one first.

        Longest match wins: 下水井盖 evokes 窨井盖, and the 水井 inside it must not evoke 灌溉.
        """
        hits = sorted(self.matcher.finditer(text), key=lambda h: (-len(h[1]), h[0]))
        taken = bytearray(len(text))
        found: dict[int, list[tuple[int, str]]] = {}
        for start, phrase, ks in hits:
            end = start + len(phrase)
            if all(taken[start:end]):
                continue
            taken[start:end] = b"\x01" * (end - start)
            for k in ks:
                seen = found.setdefault(k, [])
                if all(p != phrase for _, p in seen):
                    seen.append((start, phrase))
        return {k: [p for _, p in sorted(v)] for k, v in found.items()}

    def scores(self, text: str, risk_kinds: Collection[str] = ()) -> tuple[np.ndarray, dict[int, str]]:
        """Raw similarity per item (same order as ``items``) and the concepts found in the text.

        ``risk_kinds``: kinds of the case's present 高-risk cues; items set aside for them get ``W_RISK``."""
        cols, vals = self.chars.query(text)
        s = W_CHAR * _rows_dot(self._chars_t, cols, vals)
        evidence = self.evidence(text)
        found = {k: phrases[0] for k, phrases in evidence.items()}
        if found:
            ks = np.fromiter(found, dtype=np.int64)
            q = self.concept_idf[ks] * (1.0 + EVIDENCE * np.log([len(evidence[k]) for k in found]))
            n = float(np.linalg.norm(q))
            if n:
                s = s + W_CONCEPT * (self.item_concepts[:, ks] @ (q / n))
        s = np.asarray(s).ravel()
        masks = [self.risk_routes[k] for k in risk_kinds if k in self.risk_routes]
        if masks:
            s = s + W_RISK * np.max(masks, axis=0)
        return s, found

    def probabilities(self, scores: np.ndarray, temperature: float | None = None) -> np.ndarray:
        z = (self.temperature if temperature is None else temperature) * (scores - scores.max())
        e = np.exp(z)
        return e / e.sum()

    @staticmethod
    def calibrate(p: np.ndarray, calibration: tuple[float, float] = CALIBRATION) -> np.ndarray:
        """Probabilities whose top value is a calibrated confidence; the rest keep their proportions."""
        i = int(p.argmax())
        p1 = float(np.clip(p[i], 1e-6, 1 - 1e-6))
        a, b = calibration
        c1 = 1.0 / (1.0 + math.exp(-(a * math.log(p1 / (1 - p1)) + b)))
        out = p * ((1 - c1) / (1 - p1))
        out[i] = c1
        return out

    def explain(self, index: int, text: str, found: dict[int, str], limit: int = 4) -> Match:
        shared = sorted((k for k in found if self.item_concepts[index, k] > 0), key=lambda k: -self.concept_idf[k])
        concepts = tuple((found[k], self.concept_names[k]) for k in shared[:limit])
        return Match(concepts, shared_phrases(text, self._item_texts[index], limit))


@lru_cache(maxsize=4096)
def _substrings(item_text: str, longest: int = 8) -> frozenset[str]:
    """Every substring of 2..``longest`` characters of an item's wording (a set lookup beats a search)."""
    return frozenset(item_text[i:i + n] for n in range(2, longest + 1) for i in range(len(item_text) - n + 1))


@lru_cache(maxsize=16)
def _bigrams(text: str) -> tuple[str, ...]:
    """The text's 2-character pieces by position; cached: a route explains its top 3 items over one text."""
    return tuple(text[i:i + 2] for i in range(len(text) - 1))


def shared_phrases(text: str, item_text: str, limit: int = 4) -> tuple[str, ...]:
    """Longest substrings (≥2 chars, not generic words) that the case and the item share."""
    found: list[str] = []
    subs = _substrings(item_text)
    n, resume = len(text), 0
    # most positions share not even 2 characters with the item: find the others in one pass, then scan left to
    # right from each, skipping what a shared piece already covered
    for i in [i for i, g in enumerate(_bigrams(text)) if g in subs]:
        if i < resume:
            continue
        best = 2
        # a longer shared piece contains the shorter ones: grow while it is still shared (most stop at 2)
        for length in range(3, min(8, n - i) + 1):
            if text[i:i + length] not in subs:
                break
            best = length
        piece = text[i:i + best]
        if (piece not in _GENERIC and not any(piece in f for f in found)
                and all("\u4e00" <= ch <= "\u9fff" for ch in piece) and not set(piece) <= _FUNCTION_CHARS):
            found = [f for f in found if f not in piece] + [piece]
        resume = i + best
    found.sort(key=len, reverse=True)
    return tuple(found[:limit])
