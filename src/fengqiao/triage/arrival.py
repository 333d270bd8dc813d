"""What triage does the moment a case arrives: grade its risk, and dispatch it when sure enough.

Risk grading only ever raises the grade a person gave (a 高 raises an alert at once); dispatch
happens only above the administrator's threshold, as the platform itself, and is recorded like
any operator's routing, so an operator can see and correct it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fengqiao.auth.service import Principal, system_principal
from fengqiao.cases.domain import Action, CaseState
from fengqiao.cases.models import Case, Party
from fengqiao.cases.schemas import TransitionIn
from fengqiao.errors import FengqiaoError
from fengqiao.options.service import triage_options
from fengqiao.triage.service import router_for

log = logging.getLogger("fengqiao.triage")
_RANK = {"低": 0, "中": 1, "高": 2}


def earlier_reports(session: Session, case: Case) -> int:
    """How many earlier cases the same phone or ID number brought (重复访)."""
    people = session.execute(select(Party.phone, Party.id_number).where(Party.case_id == case.id)).all()
    phones = {p for p, _ in people if p}
    ids = {i for _, i in people if i}
    if not phones and not ids:
        return 0
    match = Party.phone.in_(phones) if phones else Party.id_number.in_(ids)
    if phones and ids:
        match = match | Party.id_number.in_(ids)
    return session.scalar(select(func.count(func.distinct(Party.case_id))).where(match, Party.case_id != case.id)) or 0


def on_arrival(session: Session, case: Case, now: datetime) -> dict[str, object]:
    """Grade and maybe dispatch a just-registered case; returns what it did (for the event)."""
    from fengqiao.cases.service import alert, apply, note_event  # the case service calls us: import late

    options = triage_options(session)
    router = router_for(session)
    if router is None:
        return {}
    suggestion = router.route(case.description, channel=case.channel, reporter_history=earlier_reports(session, case))
    done: dict[str, object] = {"item_code": suggestion.item_code, "confidence": round(suggestion.confidence, 3),
                               "risk": suggestion.risk, "track": suggestion.track}
    if options.get("risk_grading", True) and _RANK[suggestion.risk] > _RANK.get(case.risk, 0):
        note_event(session, case, None, "grade_risk", f"智能研判风险等级：{case.risk} → {suggestion.risk}",
                   {"from": case.risk, "to": suggestion.risk, "cues": list(suggestion.risk_cues)}, now)
        case.risk = suggestion.risk
        if case.risk == "高":
            alert(session, case, "智能研判为高风险：" + "、".join(suggestion.risk_cues[:3]))
    threshold = options.get("threshold")
    if threshold is None or suggestion.item_code is None or suggestion.confidence < float(threshold):
        return done
    if case.state != CaseState.REGISTERED.value or case.location_outside:
        return done  # a place outside the county needs a person to check the jurisdiction first
    actor: Principal = system_principal(session)
    note = f"智能分流自动交办（置信度 {suggestion.confidence:.2f}，阈值 {float(threshold):.2f}）"
    try:
        with session.begin_nested():
            apply(session, actor, case.id, TransitionIn(action=Action.CLASSIFY, catalog_item_code=suggestion.item_code,
                                                        note=note), now=now)
            apply(session, actor, case.id, TransitionIn(action=Action.DISPATCH, note=note), now=now)
        done["auto_dispatched"] = True
    except FengqiaoError as exc:  # the operator queue gets it instead, with the suggestion
        log.info("自动交办未成功（%s）：%s", case.number, exc.message)
    return done


