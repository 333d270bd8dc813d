"""Intake rules, pure: when two reports are one problem, map cells, text similarity, signatures.

No database and no web framework here; the service feeds these functions plain values.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fengqiao.masking import mask_phone

# ---------------------------------------------------------------------------------------------
# Map cells: the dedup index keys a case by the cell it lies in, at two sizes.
# ---------------------------------------------------------------------------------------------

FINE_DEG = 0.003     # ≈ 330 m north–south; ≈ 270 m east–west at 35°N
COARSE_DEG = 0.03    # ≈ 3.3 km
MAX_FINE_CELLS = 36  # beyond this many fine cells a lookup uses the coarse ones
_M_PER_DEG = 111_320.0


def cell(lat: float, lon: float, size: float) -> int:
    """One integer per cell: row * 10^6 + column (columns stay below 10^6 for sizes ≥ 0.0004°)."""
    return int(math.floor((lat + 90.0) / size)) * 1_000_000 + int(math.floor((lon + 180.0) / size))


def cells_around(lat: float, lon: float, radius_m: float, size: float) -> list[int]:
    """Every cell that meets the square around the circle of ``radius_m`` (so no neighbour is missed)."""
    dlat = radius_m / _M_PER_DEG
    dlon = radius_m / (_M_PER_DEG * max(math.cos(math.radians(lat)), 0.01))
    rows = range(int(math.floor((lat - dlat + 90.0) / size)), int(math.floor((lat + dlat + 90.0) / size)) + 1)
    cols = range(int(math.floor((lon - dlon + 180.0) / size)), int(math.floor((lon + dlon + 180.0) / size)) + 1)
    return [r * 1_000_000 + c for r in rows for c in cols]


def lookup_cells(lat: float, lon: float, radius_m: float) -> tuple[str, list[int]]:
    """Which index column to read ("fine" or "coarse") and its cells for this radius."""
    fine = cells_around(lat, lon, radius_m, FINE_DEG)
    if len(fine) <= MAX_FINE_CELLS:
        return "fine", fine
    return "coarse", cells_around(lat, lon, radius_m, COARSE_DEG)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(min(1.0, math.sqrt(a)))


def area_of(region_path: str) -> int | None:
    """The village of a region path /county/town/village/grid/ (or the deepest region above it)."""
    ids = [int(x) for x in region_path.strip("/").split("/") if x]
    if not ids:
        return None
    return ids[2] if len(ids) >= 3 else ids[-1]


# ---------------------------------------------------------------------------------------------
# Text similarity: character bigrams, cosine. Short Chinese reports share few words but many
# bigrams ("井盖", "人民路"); a library vectoriser would need a fitted vocabulary for a
# comparison of a handful of strings.
# ---------------------------------------------------------------------------------------------

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
# Words every complaint contains; they would make unrelated reports look alike.
_FILLER = ("反映", "群众", "问题", "请求", "要求", "处理", "希望", "尽快", "解决", "你好", "您好", "投诉", "举报",
           "市民", "来电", "诉求", "情况", "相关", "部门", "有关", "现在", "目前", "我们", "他们", "一下", "进行")


def normalise(text: str) -> str:
    out = _NOISE.sub("", text.lower())
    for word in _FILLER:
        out = out.replace(word, "")
    return out


def bigrams(text: str) -> Counter[str]:
    t = normalise(text)
    if len(t) < 2:
        return Counter([t]) if t else Counter()
    return Counter(t[i:i + 2] for i in range(len(t) - 1))


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    dot = sum(n * large.get(k, 0) for k, n in small.items())
    if not dot:
        return 0.0
    return dot / math.sqrt(sum(n * n for n in a.values()) * sum(n * n for n in b.values()))


def similarity(a: str, b: str) -> float:
    return cosine(bigrams(a), bigrams(b))


# ---------------------------------------------------------------------------------------------
# When two reports are one problem: a distance and a time window that fit the kind.
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    label: str
    radius_m: float | None     # None: the same village (a land dispute is about the village, not a point)
    window: timedelta
    # How alike the words must be to link without asking; lower where the place alone says much
    # (two reports of a broken manhole cover 20 m apart rarely share their wording).
    auto_text: float = 0.45


RULES = {
    "facility": Rule("部件问题", 50, timedelta(days=3), 0.25),       # a manhole cover: metres, days
    "hazard": Rule("风险隐患", 200, timedelta(days=7), 0.35),
    "dispute": Rule("矛盾纠纷", 300, timedelta(days=30)),
    "request": Rule("群众诉求", 300, timedelta(days=30)),
    "police": Rule("110警情", 300, timedelta(days=30)),
    "petition": Rule("信访事项", None, timedelta(days=90)),
}
VILLAGE_RULE = Rule("土地类纠纷", None, timedelta(days=90))
_VILLAGE_WORDS = ("土地", "承包地", "宅基地", "征地", "拆迁", "林地", "山林", "地界", "确权", "流转", "补偿款")
PERSON_WINDOW = timedelta(days=180)

CANDIDATE_MIN = 0.3   # shown to the operator
AUTO_SCORE = 0.55     # linked without asking (and can be undone)
AUTO_TEXT_SAME_PERSON = 0.35


def rule_for(kind: str, text: str) -> Rule:
    if kind in ("dispute", "petition", "request") and any(w in text for w in _VILLAGE_WORDS):
        return VILLAGE_RULE
    return RULES.get(kind, RULES["request"])


@dataclass(frozen=True)
class Features:
    """What the matcher compares: kind, text, time, place, people, list item."""

    kind: str
    text: str
    at: datetime
    lat: float | None = None
    lon: float | None = None
    area_id: int | None = None
    phones: frozenset[str] = frozenset()
    id_numbers: frozenset[str] = frozenset()
    item_code: str | None = None


@dataclass(frozen=True)
class Probe(Features):
    """A new report (or a case) looking for the case it duplicates."""


@dataclass(frozen=True, kw_only=True)
class Candidate(Features):
    """An open case as the matcher sees it."""

    case_id: int


@dataclass
class Match:
    case_id: int
    score: float
    auto: bool
    text_similarity: float
    distance_m: float | None
    reasons: list[str] = field(default_factory=list)


def _ago(delta: timedelta) -> str:
    seconds = abs(delta.total_seconds())
    if seconds < 3600:
        return f"{max(1, int(seconds // 60))} 分钟"
    if seconds < 86400:
        return f"{int(seconds // 3600)} 小时"
    return f"{int(seconds // 86400)} 天"


def score(probe: Probe, cand: Candidate, rule: Rule | None = None) -> Match:
    """How likely ``cand`` is the same problem as ``probe``, with the reasons a person can check."""
    rule = rule or rule_for(probe.kind, probe.text)
    reasons: list[str] = []
    text_sim = similarity(probe.text, cand.text)
    place, dist = 0.0, None
    if probe.lat is not None and probe.lon is not None and cand.lat is not None and cand.lon is not None:
        dist = distance_m(probe.lat, probe.lon, cand.lat, cand.lon)
        if rule.radius_m is None:
            if probe.area_id is not None and probe.area_id == cand.area_id:
                place = 1.0
                reasons.append(f"同一村（社区），相距 {dist:.0f} 米")
        elif dist <= rule.radius_m:
            place = 1.0 - 0.5 * dist / rule.radius_m
            reasons.append(f"相距 {dist:.0f} 米（{rule.label}按 {rule.radius_m:.0f} 米内计）")
    elif probe.area_id is not None and probe.area_id == cand.area_id:
        place = 1.0 if rule.radius_m is None else 0.5
        reasons.append("同一村（社区）" + ("" if rule.radius_m is None else "（无精确坐标）"))
    delta = probe.at - cand.at
    time_score = max(0.0, 1.0 - abs(delta.total_seconds()) / rule.window.total_seconds())
    if time_score > 0:
        reasons.append(f"登记时间相差 {_ago(delta)}")
    if text_sim >= 0.2:
        reasons.append(f"描述相似度 {text_sim:.2f}")
    same_phone = probe.phones & cand.phones
    same_id = probe.id_numbers & cand.id_numbers
    same_person = bool(same_phone or same_id)
    if same_phone:
        reasons.append(f"同一反映人（手机号 {mask_phone(sorted(same_phone)[0])}）")
    elif same_id:
        reasons.append("同一反映人（身份证号相同）")
    same_item = probe.item_code is not None and probe.item_code == cand.item_code
    if same_item:
        reasons.append(f"同一清单事项 {probe.item_code}")
    same_kind = probe.kind == cand.kind
    value = 0.5 * text_sim + 0.3 * place + 0.2 * time_score
    if same_person:
        value += 0.25
    if same_item:
        value += 0.1
    if not same_kind:
        value *= 0.7
    if text_sim < 0.1 and not same_person and not same_item:
        value *= 0.5  # near in place and time but about something else: weak evidence
    value = min(1.0, value)
    auto = same_kind and time_score > 0 and (
        (place > 0 and text_sim >= rule.auto_text and value >= AUTO_SCORE)
        or (same_person and text_sim >= AUTO_TEXT_SAME_PERSON and value >= AUTO_SCORE))
    return Match(cand.case_id, round(value, 3), auto, round(text_sim, 3), None if dist is None else round(dist, 1),
                 reasons)


def rank(probe: Probe, cands: list[Candidate], limit: int = 10) -> list[Match]:
    rule = rule_for(probe.kind, probe.text)
    matches = [m for m in (score(probe, c, rule) for c in cands) if m.score >= CANDIDATE_MIN or m.auto]
    matches.sort(key=lambda m: (m.auto, m.score), reverse=True)
    return matches[:limit]


# ---------------------------------------------------------------------------------------------
# Device webhooks: HMAC-SHA256 over "<timestamp>.<body>", with a freshness window against replays.
# ---------------------------------------------------------------------------------------------

SIGNATURE_TOLERANCE = timedelta(minutes=5)


class SignatureError(Exception):
    """The signature or timestamp does not verify; ``code`` is stable for clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify_signature(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: datetime) -> None:
    if not timestamp or not signature:
        raise SignatureError("signature_missing", "缺少签名：须提供 X-Fengqiao-Timestamp 和 X-Fengqiao-Signature")
    try:
        sent = datetime.fromtimestamp(int(timestamp), tz=now.tzinfo)
    except (ValueError, OverflowError, OSError):
        raise SignatureError("bad_timestamp", "X-Fengqiao-Timestamp 应为 Unix 秒数") from None
    if abs(now - sent) > SIGNATURE_TOLERANCE:
        raise SignatureError("stale_timestamp",
                             f"时间戳与服务器时间相差超过 {int(SIGNATURE_TOLERANCE.total_seconds() // 60)} 分钟，已拒绝（防重放）")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip().lower()):
        raise SignatureError("bad_signature", "签名校验失败（HMAC-SHA256）")


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
