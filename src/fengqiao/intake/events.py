"""Listeners that keep the intake tables in step with every case change, whatever code path made it.

Why listeners: cases are registered by ``cases.service.register`` from many places (the window
API, the demo, imports) and moved by ``apply`` and the return visit. Writing the place index and
the outbound status records from mapper events puts them in the same transaction as the change
without touching those use cases, so nothing is missed and nothing is lost on a crash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.engine import Connection

from fengqiao.cases.models import Case, CaseEvent
from fengqiao.db import utcnow
from fengqiao.intake.domain import COARSE_DEG, FINE_DEG, area_of, cell
from fengqiao.intake.models import IntakeOutbound, IntakePlace, IntakeReport

# Moves a source system hears about. Internal steps (classification, attachments, supervision,
# extension requests) stay inside the centre; the receipt and merges are written by the service.
FLOW_BACK = frozenset({
    "dispatch", "decide", "joint_review", "accept", "return", "start", "approve_extension", "feedback",
    "close", "reopen", "escalate", "take_charge", "void",
})


def place_row(case_id: int, lat: float | None, lon: float | None, region_path: str,
              registered_at: datetime) -> dict[str, Any]:
    has_point = lat is not None and lon is not None
    return {"case_id": case_id, "registered_at": registered_at, "area_id": area_of(region_path),
            "cell_fine": cell(lat, lon, FINE_DEG) if has_point else None,  # type: ignore[arg-type]
            "cell_coarse": cell(lat, lon, COARSE_DEG) if has_point else None}  # type: ignore[arg-type]


@event.listens_for(Case, "after_insert")
def _index_place(_mapper: Any, connection: Connection, case: Case) -> None:
    connection.execute(insert(IntakePlace).values(
        **place_row(case.id, case.lat, case.lon, case.region_path, case.registered_at or utcnow())))


@event.listens_for(CaseEvent, "after_insert")
def _flow_back(_mapper: Any, connection: Connection, ev: CaseEvent) -> None:
    if ev.action not in FLOW_BACK:
        return
    rows = connection.execute(
        select(IntakeReport.intake_source_id, IntakeReport.source_ref, Case.number)
        .join(Case, Case.id == IntakeReport.case_id)
        .where(IntakeReport.case_id == ev.case_id, IntakeReport.feedback.is_(True),
               IntakeReport.intake_source_id.is_not(None))).all()
    seen: set[tuple[int, str]] = set()
    values = []
    for source_id, ref, number in rows:
        if (source_id, ref) in seen:
            continue
        seen.add((source_id, ref))
        values.append({"source_id": source_id, "order_ref": ref or "", "case_id": ev.case_id, "case_number": number,
                       "action": ev.action, "state": ev.to_state, "note": ev.note, "at": ev.at or utcnow()})
    if values:
        connection.execute(insert(IntakeOutbound), values)
