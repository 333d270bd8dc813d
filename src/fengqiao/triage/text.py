"""Text clean-up shared by the routers and the risk grader."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat

import numpy as np

MAX_CHARS = 4000          # longer texts are cut: the first screen of a complaint says what it is about
_SPACE = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


@dataclass(frozen=True)
class Prepared:
    text: str                 # normalised text used for matching
    original_length: int
    cjk_ratio: float          # share of Chinese characters among the non-space characters
    problems: tuple[str, ...]  # operator-readable reasons why the answer may be poor


def normalise(text: str) -> str:
    """NFKC (full-width digits/letters → half-width), lower case, no whitespace."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).lower()


def prepare(text: object) -> Prepared:
    raw = "" if text is None else str(text)
    clean = normalise(raw)
    problems: list[str] = []
    if len(clean) > MAX_CHARS:
        problems.append(f"文本过长（{len(clean)} 字），只分析了前 {MAX_CHARS} 字")
        clean = clean[:MAX_CHARS]
    cjk = len(_CJK.findall(clean))
    ratio = cjk / len(clean) if clean else 0.0
    if not clean:
        problems.append("案件描述为空，无法分流，请人工登记事项内容")
    elif cjk == 0:
        problems.append("案件描述不含中文，无法按清单可靠分流，请人工处理")
    elif cjk < 4:
        problems.append("案件描述过短，分流建议仅供参考")
    elif ratio < 0.3:
        problems.append("案件描述中文很少，分流建议仅供参考")
    return Prepared(clean, len(raw), ratio, tuple(problems))


@lru_cache(maxsize=16)
def char_grams(text: str, lo: int, hi: int) -> Counter[str]:
    """Character n-gram counts (read-only). Cached: the reference model's two classifiers, and a router's
    learned one, read the same text's n-grams one after another."""
    return Counter(text[i:i + n] for n in range(lo, hi + 1) for i in range(len(text) - n + 1))


def tfidf_row(grams: Counter[str], vocab: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One text's sublinear TF-IDF row (columns, l2-normalised values) over a fitted vocabulary; n-grams not
    in it are dropped. Vectorised: routing calls this for every text, twice or three times."""
    if not grams:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    cols = np.fromiter(map(vocab.get, grams, repeat(-1)), dtype=np.int64, count=len(grams))
    keep = cols >= 0
    cols = cols[keep]
    if not len(cols):
        return cols, np.zeros(0)
    vals = (1.0 + np.log(np.fromiter(grams.values(), dtype=np.float64, count=len(grams))[keep])) * idf[cols]
    return cols, vals / np.sqrt(vals @ vals)
