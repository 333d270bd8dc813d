"""Reference knowledge learned from text: a generic list of case types and a corpus written for it.

The concept lexicon matches words; people describe the same situation in endless words. So the
package also ships a **reference list** (参考事项, ``corpus/taxonomy.csv``: 169 case types a
county centre handles, written from general domain knowledge, not any county's list) and a **reference
corpus** (``corpus/corpus.jsonl``: several thousand case texts, many voices and channels, each
labelled with its reference type and risk grade). A classifier learns text → reference type and
text → risk from the corpus once (``fengqiao triage build-reference``; the model file is built from
these two files, never downloaded).

For a county's own list, :class:`ReferenceMap` translates reference types to the county's items by
routing each type's name and description through the zero-shot router (official wording against
official wording, which the lexicon does well), so the learned half needs no county data either.
The router mixes these item probabilities with the zero-shot ones (see ``router.W_REFERENCE``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import pickle
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fengqiao.triage.catalog import ListItem
from fengqiao.triage.learned import ExampleIndex, TextClassifier
from fengqiao.triage.text import normalise

if TYPE_CHECKING:
    from fengqiao.triage.zeroshot import ZeroShotRouter

log = logging.getLogger(__name__)
_DATA = "fengqiao.triage.corpus"
MODEL_VERSION = 3          # 3: one feature space (char 1–3-grams) for the topic and the risk classifier
MAX_FEATURES = 40_000     # char 1–3-grams kept (no separate block for the opening characters): ~30 MB
MAP_TOP = 3               # a reference type spreads over at most this many of the county's items
MAP_TEMPERATURE = 12.0    # sharpness of that spread (zero-shot scores of the type's own wording)
MAP_EXAMPLES = 8          # corpus texts per type routed too when translating a type into the county's items
EXAMPLES_PER_TYPE = 12


@dataclass(frozen=True)
class CorpusText:
    text: str
    type_code: str
    risk: str


def _read_bytes(name: str) -> bytes:
    return resources.files(_DATA).joinpath(name).read_bytes()


def reference_types() -> list[ListItem]:
    """The reference case types (code, name, category, department, level, description): no deadlines,
    they are never routed to, only translated into a county's items."""
    rows = list(csv.DictReader(io.StringIO(_read_bytes("taxonomy.csv").decode("utf-8"))))
    out = []
    for n, r in enumerate(rows, start=2):
        missing = [k for k in ("code", "name", "category", "department", "level", "description") if not r.get(k)]
        if missing:
            raise ValueError(f"corpus/taxonomy.csv 第 {n} 行缺少：{', '.join(missing)}")
        out.append(ListItem(r["code"], r["name"], r["category"], r["department"], r["level"], "", "",
                            r["description"], n))
    return out


def reference_corpus(codes: set[str] | None = None) -> list[CorpusText]:
    """The corpus; a line naming an unknown type or grade is a packaging error and says where."""
    out = []
    for n, line in enumerate(_read_bytes("corpus.jsonl").decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        rec = json.loads(line)
        code, risk = rec.get("type"), rec.get("risk")
        if codes is not None and code not in codes:
            raise ValueError(f"corpus/corpus.jsonl 第 {n} 行：参考事项编码 {code!r} 不在 taxonomy.csv 中")
        if risk not in ("高", "中", "低"):
            raise ValueError(f"corpus/corpus.jsonl 第 {n} 行：风险等级 {risk!r} 应为 高/中/低")
        out.append(CorpusText(str(rec["text"]), str(code), str(risk)))
    return out


def digest() -> str:
    """Identity of the data and the model recipe: a model file is reused only if this matches."""
    h = hashlib.sha256(f"{MODEL_VERSION}/{MAX_FEATURES}".encode())
    for name in ("taxonomy.csv", "corpus.jsonl"):
        h.update(_read_bytes(name))
    return h.hexdigest()[:16]


class ReferenceModel:
    """text → reference type probabilities (with similar corpus texts) and text → P(高)."""

    def __init__(self, types: list[ListItem], topic: TextClassifier, risk: TextClassifier,
                 examples: dict[str, list[str]], key: str) -> None:
        self.types, self.topic, self.risk, self.key = types, topic, risk, key
        codes = [t.code for t in types]
        self._cols = np.array([codes.index(c) for c in topic.classes_])
        self._high = list(risk.classes_).index("高")
        self.examples = ExampleIndex(topic, examples)

    @classmethod
    def build(cls) -> ReferenceModel:
        types = reference_types()
        corpus = reference_corpus({t.code for t in types})
        texts = [c.text for c in corpus]
        topic = TextClassifier(head=0, max_features=MAX_FEATURES).fit(texts, [c.type_code for c in corpus])
        risk = TextClassifier().fit_sharing(topic, texts, [c.risk for c in corpus])
        examples: dict[str, list[str]] = defaultdict(list)
        for c in corpus:
            if len(examples[c.type_code]) < EXAMPLES_PER_TYPE:
                examples[c.type_code].append(normalise(c.text)[:80])
        return cls(types, topic, risk, dict(examples), digest())

    def type_probs(self, text: str) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Probability per reference type (taxonomy order) and the text's feature vector."""
        p, vec = self.topic.proba_one(text)
        out = np.zeros(len(self.types))
        out[self._cols] = p
        return out, vec

    def high_risk(self, vec: tuple[np.ndarray, np.ndarray]) -> float:
        """P(高) of a text from its feature vector (the one :meth:`type_probs` returned)."""
        return float(self.risk.proba_vector(vec)[self._high])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["examples"] = self.examples.examples   # the index is rebuilt on load
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.examples = ExampleIndex(self.topic, state["examples"])

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".reference-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump({"key": self.key, "model": self}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)   # readers never see half a file


def model_paths(key: str) -> list[Path]:
    """Where the built model may live: $FENGQIAO_REFERENCE_MODEL, next to the data, the user's cache."""
    name = f"model-{key}.pkl"
    env = os.environ.get("FENGQIAO_REFERENCE_MODEL")
    paths = [Path(env)] if env else []
    paths.append(Path(str(resources.files(_DATA))) / name)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    paths.append(cache / "fengqiao" / name)
    return paths


def _try_load(path: Path, key: str) -> ReferenceModel | None:
    try:
        with path.open("rb") as fh:
            state = pickle.load(fh)   # only files this package wrote, at paths it chose, with the data's key
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 — a broken file is rebuilt, never a crash
        log.warning("参考模型文件 %s 无法读取（%s），将重新构建", path, type(exc).__name__)
        return None
    if not isinstance(state, dict) or state.get("key") != key:
        return None
    return state["model"]


def build_and_save() -> tuple[ReferenceModel, Path | None]:
    """Build from the shipped data and save to the first writable place (None: kept in memory only)."""
    model = ReferenceModel.build()
    for path in model_paths(model.key):
        try:
            model.save(path)
            return model, path
        except OSError:
            continue
    return model, None


@lru_cache(maxsize=1)
def shipped_reference() -> ReferenceModel:
    """The reference model: loaded from its file (≈0.5 s), or built once (≈20 s) when there is none."""
    key = digest()
    for path in model_paths(key):
        model = _try_load(path, key)
        if model is not None:
            return model
    log.warning("未找到参考模型文件，正在构建（fengqiao triage build-reference 可预先构建）")
    return build_and_save()[0]


@dataclass(frozen=True)
class Analysis:
    item_probs: np.ndarray               # per county item, list order
    type_index: int                      # the most likely reference type
    vector: tuple[np.ndarray, np.ndarray]  # the text's features (for similar corpus texts)
    p_high: float                        # P(高) of the reference risk model


class ReferenceMap:
    """A county list seen through the reference types: P(item | text) = Σ P(type | text) · P(item | type)."""

    def __init__(self, model: ReferenceModel, zeroshot: ZeroShotRouter) -> None:
        self.model = model
        n_items = len(zeroshot.items)
        self.matrix = np.zeros((len(model.types), n_items))
        top = min(MAP_TOP, n_items)
        for r, t in enumerate(model.types):
            # the type's own wording counts twice; a few of its corpus texts show how it shows up in cases
            row = 2 * self._spread(zeroshot, "，".join([t.name, t.name, t.category, t.description]))
            for example in model.examples.examples.get(t.code, [])[:MAP_EXAMPLES]:
                row += self._spread(zeroshot, example)
            keep = np.argsort(-row)[:top]
            self.matrix[r, keep] = row[keep] / row[keep].sum()

    @staticmethod
    def _spread(zeroshot: ZeroShotRouter, text: str) -> np.ndarray:
        return zeroshot.probabilities(zeroshot.scores(normalise(text))[0], MAP_TEMPERATURE)

    def analyse(self, text: str) -> Analysis:
        """One pass of the reference model over a text: item probabilities, best type, P(高)."""
        p, vec = self.model.type_probs(text)
        return Analysis(p @ self.matrix, int(p.argmax()), vec, self.model.high_risk(vec))

    def type_name(self, type_index: int) -> str:
        return self.model.types[type_index].name

    def explain(self, type_index: int, vec: tuple[np.ndarray, np.ndarray]) -> list[str]:
        t = self.model.types[type_index]
        similar = self.model.examples.similar(vec, t.code)
        out = [f"参考事项：{t.name}"]
        if similar:
            out.append(f"相似参考案例：“{similar[0][:40]}”")
        return out
