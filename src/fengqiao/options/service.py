"""Read and write administrator options; every option has a typed default."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from fengqiao.db import utcnow
from fengqiao.errors import InvalidInput
from fengqiao.options.models import AppOption

# Triage: auto-dispatch above this confidence (None: never), and grade risk on arrival.
TRIAGE_DEFAULT: dict[str, Any] = {"threshold": None, "risk_grading": True}
THRESHOLD_RANGE = (0.5, 0.99)


def get_option(session: Session, key: str, default: dict[str, Any]) -> dict[str, Any]:
    row = session.get(AppOption, key)
    return {**default, **(row.value if row else {})}


def set_option(session: Session, key: str, value: dict[str, Any], user_id: int | None) -> dict[str, Any]:
    row = session.get(AppOption, key)
    if row is None:
        row = AppOption(key=key, value=value)
        session.add(row)
    row.value, row.updated_at, row.updated_by = value, utcnow(), user_id
    session.flush()
    return value


def triage_options(session: Session) -> dict[str, Any]:
    return get_option(session, "triage", TRIAGE_DEFAULT)


def set_triage_options(session: Session, threshold: float | None, risk_grading: bool | None,
                       user_id: int | None) -> dict[str, Any]:
    if threshold is not None and not THRESHOLD_RANGE[0] <= threshold <= THRESHOLD_RANGE[1]:
        raise InvalidInput(f"自动交办阈值须在 {THRESHOLD_RANGE[0]} 到 {THRESHOLD_RANGE[1]} 之间，或留空表示不自动交办",
                           "threshold")
    current = triage_options(session)
    current["threshold"] = threshold
    if risk_grading is not None:
        current["risk_grading"] = risk_grading
    return set_option(session, "triage", current, user_id)
