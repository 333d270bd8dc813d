"""Shipped domain knowledge: concept groups (colloquial phrase → term) and risk cues, plus a phrase matcher."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
_DATA = "fengqiao.triage.lexicon"


class PhraseMatcher(Generic[T]):
    """Find every occurrence of many short phrases in a text; payloads are sets per phrase.

    Why not one big regex alternation: Python's ``re`` tries the alternatives one by one at each
    position; a dict lookup per (position, phrase length) is ~10× faster for a few thousand phrases.
    """

    def __init__(self, phrases: Iterable[tuple[str, T]]) -> None:
        self._table: dict[str, list[T]] = {}
        for phrase, payload in phrases:
            phrase = phrase.strip()
            if phrase:
                self._table.setdefault(phrase, []).append(payload)
        # the phrase lengths that occur after each first character, longest first: most characters
        # start no phrase at all, and the others only a few lengths
        by_first: dict[str, set[int]] = {}
        for p in self._table:
            by_first.setdefault(p[0], set()).add(len(p))
        self._lengths = {ch: sorted(ls, reverse=True) for ch, ls in by_first.items()}

    def __len__(self) -> int:
        return len(self._table)

    def finditer(self, text: str) -> Iterator[tuple[int, str, list[T]]]:
        """(start, phrase, payloads) for every match, overlapping ones included."""
        table, lengths, n = self._table, self._lengths, len(text)
        for i, ch in enumerate(text):
            for length in lengths.get(ch, ()):
                if i + length <= n:
                    hit = table.get(text[i:i + length])
                    if hit is not None:
                        yield i, text[i:i + length], hit


@dataclass(frozen=True)
class Concept:
    name: str
    phrases: tuple[str, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class CueSpec:
    grade: str           # 高 or 中; 否 = an exclusion: these phrases mask any cue they overlap (打不着火 ⊃ 着火)
    kind: str            # e.g. 扬言伤人
    phrases: tuple[str, ...]
    requires: tuple[str, ...] = ()   # all-of-one: one of these must occur in the same sentence


def _lines(text: str) -> Iterator[list[str]]:
    for raw in text.splitlines():
        line = raw.rstrip("\r\n")
        if line.strip() and not line.lstrip().startswith("#"):
            yield line.split("\t")


def parse_concepts(text: str) -> list[Concept]:
    out = []
    for cols in _lines(text):
        if len(cols) < 2:
            raise ValueError(f"概念词表格式错误：{cols!r}（应为 概念<TAB>说法|说法）")
        name = cols[0].strip()
        phrases = tuple(dict.fromkeys([name, *(p.strip() for p in cols[1].split("|") if p.strip())]))
        try:
            weight = float(cols[2]) if len(cols) > 2 and cols[2].strip() else 1.0
        except ValueError:
            raise ValueError(f"概念“{name}”的权重“{cols[2]}”不是数字") from None
        out.append(Concept(name, phrases, weight))
    return out


def parse_cues(text: str) -> list[CueSpec]:
    out = []
    for n, cols in enumerate(_lines(text), start=1):
        if len(cols) < 3 or cols[0].strip() not in ("高", "中", "否"):
            raise ValueError(f"风险线索词表第 {n} 条格式错误：应为 等级(高/中/否)<TAB>类别<TAB>说法|说法[<TAB>须同现说法]")
        requires = tuple(p.strip() for p in cols[3].split("|") if p.strip()) if len(cols) > 3 else ()
        out.append(CueSpec(cols[0].strip(), cols[1].strip(),
                           tuple(p.strip() for p in cols[2].split("|") if p.strip()), requires))
    return out


def _read(name: str) -> str:
    return resources.files(_DATA).joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def shipped_concepts() -> tuple[Concept, ...]:
    return tuple(parse_concepts(_read("concepts.tsv")))


@lru_cache(maxsize=1)
def shipped_cues() -> tuple[CueSpec, ...]:
    return tuple(parse_cues(_read("risk_cues.tsv")))


@lru_cache(maxsize=1)
def shipped_risk_routes() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(risk cue kind, words of list item names that such a case belongs to), from risk_routes.tsv."""
    out = []
    for cols in _lines(_read("risk_routes.tsv")):
        if len(cols) < 2:
            raise ValueError(f"风险路由词表格式错误：{cols!r}（应为 线索类别<TAB>说法|说法）")
        out.append((cols[0].strip(), tuple(p.strip() for p in cols[1].split("|") if p.strip())))
    return tuple(out)


def load_cues(path: str | Path) -> list[CueSpec]:
    """An administrator's extra cue file, same format as the shipped one."""
    return parse_cues(Path(path).read_text(encoding="utf-8"))
