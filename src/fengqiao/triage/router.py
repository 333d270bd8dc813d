"""The triage facade: one call per case → top-3 items, department, level, calibrated confidence,
risk grade with its cues, handling track and reasons an operator can read.

Handling track (处置方式), decided in this order:
1. 包案调 (a leader takes charge): risk 高 together with signs of a long-running or collective
   matter — repeated reports (cue or ``reporter_history`` ≥ 2), a petition item, or ≥50 people.
2. 联合调 (joint session at the centre): the top two candidates belong to different departments
   and the second is close (≥ half the first's confidence); or the best item is county-level (县)
   and candidates from several departments each hold ≥15%.
   Any other 高-risk case is also 联合调: the police and the owning department act together.
3. 马上调 (handled on the spot by the village/town or the one department): everything else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fengqiao.triage.catalog import ListItem
from fengqiao.triage.learned import LearnedRouter, TrainReport
from fengqiao.triage.reference import Analysis, ReferenceMap, shipped_reference
from fengqiao.triage.risk import VERY_MANY_PEOPLE, Cue, RiskGrader, RiskResult, says_no_danger_now
from fengqiao.triage.text import prepare
from fengqiao.triage.zeroshot import CALIBRATION, ZeroShotRouter

TOP_K = 3
DEFAULT_THRESHOLD = 0.8
CHANNEL_BOOST = 3.0       # a 110 report is more likely a 警情 item, a petition a 信访 item (round 4: 10 was too strong;
                          # independent writers code most 110 referrals as the underlying dispute)
_POLICE = ("110", "警")
_PETITION = ("信访", "来信", "来访", "petition")
_POLICE_TEXT = ("110", "派出所", "民警", "报警", "报了警", "出警", "警情")
UNRELIABLE_CAP = 0.3      # confidence ceiling when the text itself is a problem
# zero-shot and reference probabilities mix log-linearly: p ∝ p_zs^(1-W) · (p_ref + FLOOR)^W; the floor keeps
# items that no reference type maps to within reach. Chosen on the demo county's development sets (rounds 6 and 7: w 0.4
# of 0–1, floor 0.01; bench/triage/reference_bench.py), and it also helps on real messages over the board's own list.
W_REFERENCE = 0.4
REFERENCE_FLOOR = 0.01
# the reference risk model marks a case 高 that no cue caught when P(高) reaches this, unless a cue says the
# danger is not present (past, hearsay, checked); None turns it off. Round 7: chosen on three new writers' texts
# before they joined the corpus (bench/triage/corpus_check.py; 2,028 texts, 246 高): 0.8 → 0.5 caught 25 more
# 高 cases (recall 0.79 → 0.89) for 12 more false alarms. The demo development sets gain nothing there (their
# 高 cases are the cues' own tuning data) and get 14 more false alarms in 1,954 texts. Round 9, the same check on
# three more new writers (2,028 texts, 232 高; one of them writing calm, understated dangers and loud harmless
# venting on purpose): 0.5 → 0.4 caught 7 more 高 cases (recall 0.845 → 0.875) for 20 more false alarms; on the
# two writers in ordinary voices 0.93 → 0.95 for 2 more. Development sets: 6 more false alarms in 1,954 texts.
REFERENCE_HIGH: float | None = 0.4
# Platt map of the mixture's top probability (zeroshot.CALIBRATION is for zero-shot alone); fitted on the
# development sets by bench/triage/reference_bench.py
REFERENCE_CALIBRATION = (0.56, 0.88)
# what a case is about is read from its first characters (a long letter names its matter in the opening lines);
# risk cues are looked for in the whole text (text.MAX_CHARS). On the message board's real messages (median 244,
# p99 2,600 characters) routing on the first 1,000 characters instead of all of them changed zero-shot first-level
# accuracy 0.764 → 0.765 and the learned classifier's 5-fold macro-F1 0.8953 → 0.8976, and p99 time per message
# 14.5 → 8.6 ms (bench/triage/speed_bench.py).
TOPIC_CHARS = 1000


def mix_reference(p_zs: np.ndarray, p_ref: np.ndarray, w: float = W_REFERENCE,
                  floor: float = REFERENCE_FLOOR) -> np.ndarray:
    """p ∝ p_zs^(1-w) · (p_ref + floor)^w over the last axis (one text, or one row per text)."""
    z = (1 - w) * np.log(p_zs + 1e-12) + w * np.log(p_ref + floor)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def reference_may_raise(text: str, risk: RiskResult) -> bool:
    """Whether the reference risk model may make this case 高: not when the cues already did, nor when a
    cue or the text says the danger is not present now (past, hearsay, checked, dealt with)."""
    return risk.grade != "高" and not any(c.demoted for c in risk.cues) and not says_no_danger_now(text)


@dataclass(frozen=True)
class Candidate:
    item_code: str
    name: str
    department: str
    level: str
    confidence: float
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"item_code": self.item_code, "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class Suggestion:
    item_code: str | None
    department: str | None
    level: str | None
    confidence: float
    risk: str
    risk_cues: tuple[str, ...]
    track: str
    reasons: tuple[str, ...]
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)
    auto_dispatch: bool = False

    def to_dict(self, case_id: Any = None) -> dict[str, Any]:
        """The batch command's output line: id, item_code, department, level, confidence, risk, reasons, candidates."""
        return {"id": case_id, "item_code": self.item_code, "department": self.department, "level": self.level,
                "confidence": round(self.confidence, 4), "risk": self.risk, "reasons": list(self.reasons),
                "candidates": [c.to_dict() for c in self.candidates]}


def list_fingerprint(items: Sequence[ListItem]) -> str:
    h = hashlib.sha256()
    for it in items:
        h.update("\x1f".join([it.code, it.name, it.category, it.department, it.level, it.description]).encode())
    return h.hexdigest()[:16]


class Router:
    """Build once per list (and model); :meth:`route` is cheap and safe to call per arriving case."""

    def __init__(self, items: Sequence[ListItem], learned: LearnedRouter | None = None,
                 grader: RiskGrader | None = None, threshold: float = DEFAULT_THRESHOLD,
                 reference: bool = True) -> None:
        if not items:
            raise ValueError("清单为空")
        self.items = list(items)
        self.codes = [it.code for it in self.items]
        self._index = {c: i for i, c in enumerate(self.codes)}
        self.zeroshot = ZeroShotRouter(self.items)
        self.reference = ReferenceMap(shipped_reference(), self.zeroshot) if reference else None
        self.learned = learned
        self.grader = grader or RiskGrader()
        self.threshold = threshold
        self.train_report: TrainReport | None = None
        cats = [it.category for it in self.items]
        self._police = np.array([any(k in c for k in ("警情",)) for c in cats])
        self._petition = np.array([("信访" in c) for c in cats])

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_list(cls, items: Sequence[ListItem], history: Sequence[dict[str, Any]] | None = None,
                  grader: RiskGrader | None = None, threshold: float = DEFAULT_THRESHOLD,
                  words: bool = False, reference: bool = True) -> Router:
        """Zero-shot on the list (with the shipped reference model unless ``reference`` is False); with
        ``history`` ({text, item_code} dicts) also a learned model."""
        router = cls(items, grader=grader, threshold=threshold, reference=reference)
        if history:
            router.train(history, words=words)
        return router

    @classmethod
    def load(cls, items: Sequence[ListItem], model_path: str | Path, grader: RiskGrader | None = None,
             threshold: float = DEFAULT_THRESHOLD) -> Router:
        return cls(items, LearnedRouter.load(model_path, [it.code for it in items]), grader, threshold)

    def train(self, history: Sequence[dict[str, Any]], words: bool = False) -> TrainReport:
        learned = LearnedRouter(self.codes, words=words)
        texts = [prepare(h.get("text")).text[:TOPIC_CHARS] for h in history]
        labels = [str(h.get("item_code") or "") for h in history]
        self.train_report = learned.fit(texts, labels, self._zs_probs)
        self.learned = learned
        return self.train_report

    def save(self, path: str | Path) -> None:
        if self.learned is None:
            raise ValueError("没有训练好的模型可保存")
        self.learned.save(path, list_fingerprint(self.items))

    # -- routing --------------------------------------------------------------------------------
    def _analyse(self, text: str) -> Analysis | None:
        return self.reference.analyse(text) if self.reference is not None else None

    def _zs_probs(self, text: str) -> np.ndarray:
        ref = self._analyse(text)
        return self._prior(text, self._risk_kinds(text, self._grade(text, ref=ref)), ref)[0]

    def _prior(self, text: str, kinds: set[str], ref: Analysis | None) -> tuple[np.ndarray, dict[int, str]]:
        """What the router knows without the county's history: zero-shot on the list's wording, mixed
        with the reference model's item probabilities; and the concepts found, for reasons."""
        scores, found = self.zeroshot.scores(text, kinds)
        p = self.zeroshot.probabilities(scores)
        if ref is not None:
            p = mix_reference(p, ref.item_probs)
        return p, found

    def _risk_kinds(self, text: str, risk: RiskResult | None = None) -> set[str]:
        """Kinds of the present 高 cues: they point at the list's risk items (see zeroshot.W_RISK)."""
        risk = risk or self.grader.grade(text)
        return {c.kind for c in risk.cues if c.grade == "高"}

    def probabilities(self, text: str, channel: str | None = None) -> np.ndarray:
        """Calibrated probability per list item (list order) for a prepared text."""
        ref = self._analyse(text[:TOPIC_CHARS])
        return self._route_probs(text[:TOPIC_CHARS], channel, self._grade(text, ref=ref), ref)[0]

    def _route_probs(self, text: str, channel: str | None, risk: RiskResult,
                     ref: Analysis | None) -> tuple[np.ndarray, dict[int, str], Any]:
        kinds = self._risk_kinds(text, risk)
        boost = self._channel_mask(channel, text)
        if boost is not None and boost.any() and channel:
            # the channel is part of what the case is: say it in the words lists use for it
            text = text + ("，110报警" if boost is self._police else "，来访信访")
        p, found = self._prior(text, kinds, ref)
        X = None
        if self.learned is not None:
            p, X = self.learned.probabilities(text, p)   # calibrated on the county's own history
        if boost is not None and boost.any():
            # Bayes with a channel likelihood: P(110 | a 警情 item) ≈ 1, P(110 | any other) ≈ 0.1
            p = np.where(boost, p * CHANNEL_BOOST, p)
            p = p / p.sum()
        if self.learned is None:
            p = self.zeroshot.calibrate(p, REFERENCE_CALIBRATION if self.reference is not None else CALIBRATION)
        return p, found, X

    def _channel_mask(self, channel: str | None, text: str = "") -> np.ndarray | None:
        if not channel:
            # a case that says it came from the police ("110转来", "派出所移交") carries its channel inside
            if text and any(k in text for k in _POLICE_TEXT):
                return self._police
            return None
        ch = str(channel).lower()
        if any(k in ch for k in _POLICE):
            return self._police
        if any(k in ch for k in _PETITION):
            return self._petition
        return None

    def route(self, text: object, lat: float | None = None, lon: float | None = None, channel: str | None = None,
              reporter_history: int = 0) -> Suggestion:
        """Suggest routing for one case. ``lat``/``lon`` are accepted for the jurisdiction step, which
        belongs to the case service (属地 from the grid map); they do not change the item."""
        prepared = prepare(text)
        topic = prepared.text[:TOPIC_CHARS]
        ref = self._analyse(topic) if topic else None
        risk = self._grade(prepared.text, reporter_history, ref)
        risk_cues = tuple(c.describe() for c in risk.cues)
        if not prepared.text or prepared.cjk_ratio == 0:
            reasons = prepared.problems + risk_cues + ("置信度为 0：请人工分流",)
            track = "联合调" if risk.grade == "高" else "马上调"
            return Suggestion(None, None, None, 0.0, risk.grade, risk_cues, track, reasons)
        p, found, X = self._route_probs(topic, channel, risk, ref)
        order = np.argsort(-p)[:TOP_K]
        cap = UNRELIABLE_CAP if prepared.problems and (prepared.cjk_ratio < 0.3 or len(prepared.text) < 6) else 1.0
        candidates = tuple(self._candidate(int(i), min(float(p[i]), cap), topic, found,
                                           X if k == 0 else None, ref if k == 0 else None)
                           for k, i in enumerate(order))
        best = candidates[0]
        track, why = self._track(candidates, risk, reporter_history)
        auto = best.confidence >= self.threshold and not prepared.problems
        reasons = list(prepared.problems)
        reasons.append(f"建议事项：{best.name}（{best.item_code}），{best.department}，{best.level}级办理，"
                       f"置信度 {best.confidence:.0%}" + ("，可自动交办" if auto else "，待座席确认"))
        reasons += best.reasons
        mask = self._channel_mask(channel, prepared.text)
        if mask is not None and mask.any():
            kind = "警情类" if mask is self._police else "信访类"
            reasons.append(f"来源渠道“{channel or '110/派出所'}”：优先考虑{kind}事项")
        reasons += list(risk_cues) or ["未发现风险线索：低风险"]
        reasons.append(f"处置方式：{track}（{why}）")
        return Suggestion(best.item_code, best.department, self._level(best.item_code), best.confidence, risk.grade,
                          risk_cues, track, tuple(reasons), candidates, auto)

    def _grade(self, text: str, reporter_history: int = 0, ref: Analysis | None = None) -> RiskResult:
        """Cue grading, plus the reference risk model for present dangers worded in ways no cue knows."""
        risk = self.grader.grade(text, reporter_history=reporter_history)
        if (ref is None or self.reference is None or REFERENCE_HIGH is None or ref.p_high < REFERENCE_HIGH
                or not reference_may_raise(text, risk)):
            return risk
        kind = self.reference.type_name(ref.type_index)
        cue = Cue("高", f"与“{kind}”参考案例相似", f"参考模型概率 {ref.p_high:.0%}")
        return RiskResult("高", (cue, *risk.cues), risk.people, risk.amount)

    def _level(self, code: str) -> str:
        return self.items[self._index[code]].level

    def _candidate(self, i: int, conf: float, text: str, found: dict[int, str], X: Any,
                   ref: Analysis | None = None) -> Candidate:
        it = self.items[i]
        match = self.zeroshot.explain(i, text, found)
        reasons = []
        if match.concepts:
            reasons.append("匹配词：" + "、".join(f"“{w}”→{c}" if w != c else f"“{w}”" for w, c in match.concepts))
        if match.phrases:
            reasons.append("与清单描述相同的说法：" + "、".join(f"“{w}”" for w in match.phrases))
        if self.learned is not None and X is not None:
            similar = self.learned.similar(X, it.code)
            if similar:
                reasons.append(f"相似历史案件：“{similar[0][:40]}”")
        if self.reference is not None and ref is not None and self.reference.matrix[ref.type_index, i] > 0:
            reasons += self.reference.explain(ref.type_index, ref.vector)
        return Candidate(it.code, it.name, it.department, it.level, conf, tuple(reasons))

    def _track(self, cands: Sequence[Candidate], risk: RiskResult, reporter_history: int) -> tuple[str, str]:
        kinds = risk.kinds()
        best = cands[0]
        if risk.grade == "高":
            if "重复反映" in kinds or reporter_history >= 2:
                return "包案调", "高风险且反复反映"
            if "信访" in self.items[self._index[best.item_code]].category:
                return "包案调", "高风险信访事项"
            if (risk.people or 0) >= VERY_MANY_PEOPLE:
                return "包案调", f"高风险且涉及约{risk.people}人"
        if risk.grade == "高":
            return "联合调", f"高风险，需{best.department}会同公安等部门联合处置"
        if len(cands) > 1 and cands[1].department != best.department and cands[1].confidence >= 0.5 * best.confidence:
            return "联合调", f"{best.department}与{cands[1].department}权属相近，需联合研判"
        if best.level == "县":
            depts = {c.department for c in cands if c.confidence >= 0.15}
            if len(depts) >= 2:
                return "联合调", "县级事项涉及" + "、".join(sorted(depts))
        return "马上调", f"{best.level}级事项，由{best.department}直接办理"

    def route_many(self, records: Sequence[dict[str, Any]]) -> list[Suggestion]:
        return [self.route(r.get("text"), r.get("lat"), r.get("lon"), r.get("channel"),
                           int(r.get("reporter_history") or 0)) for r in records]
