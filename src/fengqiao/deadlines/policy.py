"""Deadline policies as data: the default "14310" and the supervision ladder, validated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fengqiao.deadlines.domain import DeadlineFormatError, Limit, Stage, WorkCalendar, add_limit, parse_limit

SUPERVISION_KINDS = {
    "reminder": "提醒",
    "urging": "催办",
    "notice": "督办",
    "interview": "约谈",
    "transfer": "移交",
}

DEFAULT_POLICY: dict[str, Any] = {
    "name": "14310",
    "description": "1小时上报、4小时分流、3日办结（或清单事项时限）、1日反馈；立即类事项零延迟预警",
    "warn_ratio": 0.7,
    "stages": {"report": "1小时", "route": "4小时", "resolve": "3日", "feedback": "1日"},
    # An item whose deadline is 立即 is an emergency: routed within this, resolved within that.
    "emergency": {"route": "1小时", "resolve": "24小时"},
    "ladder": [
        {"kind": "reminder", "at": "warn"},
        {"kind": "urging", "at": "due"},
        {"kind": "notice", "at": "due+1日"},
        {"kind": "interview", "at": "due+3工作日"},
        {"kind": "transfer", "at": "due+5工作日"},
    ],
}


class PolicyError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LadderStep:
    kind: str
    anchor: str              # "warn" or "due"
    offset: Limit | None     # after the anchor


@dataclass(frozen=True)
class Policy:
    name: str
    warn_ratio: float
    stages: dict[Stage, Limit]
    emergency: dict[Stage, Limit]
    ladder: tuple[LadderStep, ...]

    def step_time(self, step: LadderStep, warn: datetime, due: datetime, calendar: WorkCalendar) -> datetime:
        base = warn if step.anchor == "warn" else due
        return base if step.offset is None else add_limit(base, step.offset, calendar).at


def _limit(text: Any, field: str) -> Limit:
    try:
        return parse_limit(str(text))
    except DeadlineFormatError as exc:
        raise PolicyError(str(exc), field) from None


def parse_policy(rules: dict[str, Any]) -> Policy:
    """Validate a policy document; errors name the field at fault."""
    ratio = rules.get("warn_ratio", 0.7)
    if not isinstance(ratio, (int, float)) or not 0 < ratio < 1:
        raise PolicyError("预警比例 warn_ratio 必须在 0 和 1 之间", "warn_ratio")
    raw_stages = rules.get("stages") or {}
    stages: dict[Stage, Limit] = {}
    for stage in Stage:
        if stage.value not in raw_stages:
            raise PolicyError(f"缺少环节“{stage.label}”的时限", f"stages.{stage.value}")
        stages[stage] = _limit(raw_stages[stage.value], f"stages.{stage.value}")
    emergency = {Stage(k): _limit(v, f"emergency.{k}") for k, v in (rules.get("emergency") or {}).items()
                 if k in Stage._value2member_map_}
    ladder: list[LadderStep] = []
    for i, raw in enumerate(rules.get("ladder") or []):
        kind = raw.get("kind")
        if kind not in SUPERVISION_KINDS:
            raise PolicyError(f"督办方式“{kind}”无效，可选：{'、'.join(SUPERVISION_KINDS)}", f"ladder[{i}].kind")
        at = str(raw.get("at", ""))
        anchor, _, offset = at.partition("+")
        if anchor not in {"warn", "due"}:
            raise PolicyError(f"督办时点“{at}”无效，应为 warn、due 或 due+时限", f"ladder[{i}].at")
        ladder.append(LadderStep(kind, anchor, _limit(offset, f"ladder[{i}].at") if offset else None))
    return Policy(str(rules.get("name", "")), float(ratio), stages, emergency, tuple(ladder))
