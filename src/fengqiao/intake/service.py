"""Intake use case: a report from any channel becomes a case, or joins the case it duplicates, once.

``deliver`` is the one entry point. It runs its own unit of work because an idempotent delivery
needs a retry in a fresh transaction when another process wins the race for the same key.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fengqiao.auth.service import Principal, system_principal  # noqa: F401  (re-exported for channels)
from fengqiao.cases.domain import OPEN_STATES, CaseState
from fengqiao.cases.models import Case, CaseEvent, Outbox, Party
from fengqiao.cases.schemas import CaseCreate, Channel
from fengqiao.cases.service import register
from fengqiao.db import Database, utcnow
from fengqiao.errors import Conflict, InvalidInput
from fengqiao.intake import dedup
from fengqiao.intake.domain import Probe, payload_hash
from fengqiao.intake.models import IntakeDelivery, IntakeDevice, IntakeOutbound, IntakeReport
from fengqiao.org.models import Region, RegionLevel

log = logging.getLogger(__name__)

# Which case channel a report channel registers as.
CASE_CHANNEL = {"window": Channel.WINDOW, "grid": Channel.GRID, "hotline": Channel.HOTLINE, "police": Channel.POLICE,
                "petition": Channel.PETITION, "device": Channel.DEVICE, "citizen": Channel.WECHAT,
                "open311": Channel.WECHAT, "ledger": Channel.WINDOW, "email": Channel.EMAIL}
CHANNEL_LABELS = {"window": "窗口受理", "grid": "网格员上报", "hotline": "12345热线", "police": "110警情",
                  "petition": "信访", "device": "智能监测设备", "citizen": "群众自报", "open311": "Open311",
                  "ledger": "台账导入", "email": "电子邮件"}
RETRIES = 3


@dataclass
class Person:
    name: str
    phone: str | None = None
    id_number: str | None = None
    role: str = "reporter"


@dataclass
class Incoming:
    """A report as every channel hands it over, already checked for shape by the channel."""

    channel: str
    kind: str
    description: str
    principal: Principal
    key: str | None = None               # the channel's own id, unique within ``channel``
    title: str | None = None
    discovered_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    region_id: int | None = None
    risk: str = "低"
    reporter: Person | None = None
    parties: list[Person] = field(default_factory=list)
    source: str | None = None
    source_ref: str | None = None
    intake_source_id: int | None = None
    feedback: bool = False
    item_code: str | None = None
    subject: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    raw: bytes | None = None
    auto_link: bool = True
    device_id: int | None = None         # device alerts fold by device and subject
    fold_minutes: int = 0
    count_visits: bool = True            # bulk imports skip the 重复访 count in the answer

    def digest(self) -> str:
        return payload_hash(self.raw if self.raw is not None else
                            json.dumps(self.payload, ensure_ascii=False, sort_keys=True, default=str).encode())


@dataclass
class Outcome:
    """What a delivery produced, safe to use after the session is gone."""

    case_id: int
    case_number: str
    state: str
    report_id: int | None
    created: bool
    linked: bool
    link_reason: str | None = None
    replayed: bool = False
    payload_differs: bool = False
    location_outside: bool = False
    earlier_visits: int = 0

    @property
    def state_label(self) -> str:
        return CaseState(self.state).label


def deliver(db: Database, inc: Incoming, now: datetime | None = None) -> Outcome:
    """Register or link one report; the same key twice returns the first outcome, also under a race."""
    for _ in range(RETRIES):
        try:
            with db.unit_of_work() as session:
                return deliver_in(session, inc, now)
        except IntegrityError as exc:
            if not (inc.key and is_delivery_race(exc)):
                raise
            # Another process committed this key between our check and our insert: the next
            # round reads its result.
            log.info("delivery race on %s/%s, reading the winner", inc.channel, inc.key)
    raise Conflict("同一投递正在处理中，请稍后重试", "source_id", code="delivery_busy")


def is_delivery_race(exc: IntegrityError) -> bool:
    text = str(exc.orig)
    return "uq_intake_delivery_channel" in text or "intake_delivery.channel" in text


def deliver_in(session: Session, inc: Incoming, now: datetime | None = None) -> Outcome:
    """The delivery inside the caller's transaction (batch imports run many in one)."""
    now = now or utcnow()
    digest = inc.digest()
    delivery = None
    if inc.key:
        found = session.scalar(select(IntakeDelivery).where(IntakeDelivery.channel == inc.channel,
                                                            IntakeDelivery.source_id == inc.key))
        if found is not None:
            return replay(session, found, digest)
        # Inserted before anything else: on PostgreSQL a concurrent twin blocks here until we
        # commit and then fails on the unique constraint; SQLite's BEGIN IMMEDIATE serialises.
        delivery = IntakeDelivery(channel=inc.channel, source_id=inc.key, payload_hash=digest, received_at=now)
        session.add(delivery)
        session.flush()
    outcome = accept(session, inc, now)
    if delivery is not None:
        delivery.report_id, delivery.case_id = outcome.report_id, outcome.case_id
    session.flush()
    return outcome


def replay(session: Session, delivery: IntakeDelivery, digest: str) -> Outcome:
    case = session.get(Case, delivery.case_id)
    assert case is not None
    report = session.get(IntakeReport, delivery.report_id) if delivery.report_id else None
    return Outcome(case.id, case.number, case.state, delivery.report_id, created=False,
                   linked=bool(report and report.link != "origin"), link_reason=report.link_reason if report else None,
                   replayed=True, payload_differs=digest != delivery.payload_hash,
                   location_outside=case.location_outside)


def accept(session: Session, inc: Incoming, now: datetime) -> Outcome:
    """Fold into an open case when it is the same problem, else register a new case."""
    target, reason, score = None, None, None
    if inc.device_id is not None:
        target, reason = _fold_target(session, inc, now)
    elif inc.auto_link:
        probe = _probe(session, inc, now)
        matches, _ = dedup.find(session, probe, limit=3)
        best = next((m for m in matches if m.auto), None)
        if best is not None:
            target = session.get(Case, best.case_id, with_for_update=True)
            reason, score = "；".join(best.reasons), best.score
    if target is not None and target.state in {s.value for s in OPEN_STATES}:
        report = attach(session, target, inc, "auto", reason, score, now)
        return _outcome(session, target, report, created=False, inc=inc)
    case = register(session, inc.principal, _case_create(inc), now=now)
    report = _report(session, case, inc, "origin", None, None, now)
    session.flush()
    if report.feedback and report.intake_source_id:
        session.add(IntakeOutbound(source_id=report.intake_source_id, order_ref=report.source_ref or "",
                                   case_id=case.id, case_number=case.number, action="register", state=case.state,
                                   note=f"已受理，事项编号 {case.number}", at=now))
    return _outcome(session, case, report, created=True, inc=inc)


def _outcome(session: Session, case: Case, report: IntakeReport, created: bool, inc: Incoming) -> Outcome:
    phones = {p.phone for p in [inc.reporter, *inc.parties] if p and p.phone}
    ids = {p.id_number for p in [inc.reporter, *inc.parties] if p and p.id_number}
    # Earlier contacts: not this report, and for a new case nothing on the case itself.
    earlier = visits(session, phones, ids, exclude_report=report.id, exclude_case=case.id if created else None) \
        if (phones or ids) and inc.count_visits else 0
    return Outcome(case.id, case.number, case.state, report.id, created=created, linked=not created,
                   link_reason=report.link_reason, location_outside=case.location_outside, earlier_visits=earlier)


def _probe(session: Session, inc: Incoming, now: datetime) -> Probe:
    people = [p for p in [inc.reporter, *inc.parties] if p]
    return Probe(kind=inc.kind, text=f"{inc.title or ''} {inc.description}", at=now, lat=inc.lat, lon=inc.lon,
                 area_id=dedup.area_for(session, inc.lat, inc.lon, inc.region_id),
                 phones=frozenset(p.phone for p in people if p.phone),
                 id_numbers=frozenset(p.id_number for p in people if p.id_number), item_code=inc.item_code)


def _fold_target(session: Session, inc: Incoming, now: datetime) -> tuple[Case | None, str | None]:
    """Repeated alerts of one device about one thing within its window fold into the open case."""
    # Locking the device row serialises one device's alerts, so two alerts at the same moment
    # cannot both open a case.
    session.get(IntakeDevice, inc.device_id, with_for_update=True)
    since = now - timedelta(minutes=inc.fold_minutes)
    row = session.execute(
        select(IntakeReport.case_id, IntakeReport.received_at).join(Case, Case.id == IntakeReport.case_id)
        .where(IntakeReport.channel == "device", IntakeReport.source == inc.source,
               IntakeReport.subject == inc.subject, IntakeReport.received_at >= since,
               Case.state.in_([s.value for s in OPEN_STATES]))
        .order_by(IntakeReport.received_at.desc()).limit(1)).first()
    if row is None:
        return None, None
    minutes = max(1, int((now - row.received_at).total_seconds() // 60))
    return (session.get(Case, row.case_id, with_for_update=True),
            f"同一设备（{inc.source}）同类预警（{inc.subject}）{minutes} 分钟内重复，{inc.fold_minutes} 分钟内合并为一件")


def _case_create(inc: Incoming) -> CaseCreate:
    people = list(inc.parties)
    if inc.reporter and not any(p.phone and p.phone == inc.reporter.phone and p.name == inc.reporter.name
                                for p in people):
        people.insert(0, inc.reporter)
    data = {"kind": inc.kind, "channel": CASE_CHANNEL[inc.channel].value, "title": inc.title,
            "description": inc.description, "discovered_at": inc.discovered_at, "lat": inc.lat, "lon": inc.lon,
            "address": inc.address, "region_id": inc.region_id, "risk": inc.risk,
            "parties": [{"role": p.role, "name": p.name, "phone": p.phone, "id_number": p.id_number} for p in people]}
    try:
        return CaseCreate.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput(str(first.get("msg", "输入有误")).removeprefix("Value error, "), where or None) from None


def _report(session: Session, case: Case, inc: Incoming, link: str, reason: str | None, score: float | None,
            now: datetime) -> IntakeReport:
    rep = inc.reporter
    report = IntakeReport(
        case_id=case.id, channel=inc.channel, source=inc.source, source_ref=inc.source_ref,
        intake_source_id=inc.intake_source_id, feedback=inc.feedback, received_at=now,
        reported_at=inc.discovered_at, kind=inc.kind, title=inc.title, description=inc.description,
        reporter_name=rep.name if rep else None, phone=rep.phone if rep else None,
        id_number=rep.id_number if rep else None, lat=inc.lat, lon=inc.lon, address=inc.address,
        item_code=inc.item_code, subject=inc.subject, payload=inc.payload, link=link,
        link_reason=reason[:300] if reason else None, link_score=score, created_by=inc.principal.user_id)
    session.add(report)
    return report


def attach(session: Session, case: Case, inc: Incoming, link: str, reason: str | None, score: float | None,
           now: datetime) -> IntakeReport:
    """一事多诉: the report joins an open case; its reporter becomes a party to call back."""
    report = _report(session, case, inc, link, reason, score, now)
    rep = inc.reporter
    if rep and (rep.phone or rep.id_number):
        known = session.scalar(select(Party.id).where(
            Party.case_id == case.id,
            (Party.phone == rep.phone) if rep.phone else (Party.id_number == rep.id_number)).limit(1))
        if known is None:
            party = Party(case_id=case.id, role="reporter", name=rep.name, phone=rep.phone, id_number=rep.id_number)
            session.add(party)
            session.flush()
            report.party_id = party.id
    session.flush()
    label = CHANNEL_LABELS.get(inc.channel, inc.channel)
    note = f"一事多诉：{label}" + (f" {inc.source_ref}" if inc.source_ref else "") + " 并入本事项"
    session.add(CaseEvent(case_id=case.id, at=now, actor_id=inc.principal.user_id, action="intake_report",
                          from_state=case.state, to_state=case.state, note=note,
                          data={"report_id": report.id, "channel": inc.channel, "link": link, "reason": reason,
                                "score": score}))
    session.add(Outbox(topic="case.intake_report", case_id=case.id,
                       payload={"number": case.number, "report_id": report.id, "channel": inc.channel}))
    if report.feedback and report.intake_source_id:
        session.add(IntakeOutbound(source_id=report.intake_source_id, order_ref=report.source_ref or "",
                                   case_id=case.id, case_number=case.number, action="intake_report", state=case.state,
                                   note=f"与已受理事项 {case.number} 为同一问题，合并办理", at=now))
    case.updated_at = now
    return report


def visits(session: Session, phones: set[str], id_numbers: set[str], exclude_report: int | None = None,
           exclude_case: int | None = None) -> int:
    """How many times this person came (重复访): reports, walk-in cases without a report, ledger rows."""
    return len(history_rows(session, phones, id_numbers, exclude_report, exclude_case)[0])


def history_rows(session: Session, phones: set[str], id_numbers: set[str], exclude_report: int | None = None,
                 exclude_case: int | None = None) -> tuple[list[tuple[str, int]], set[int]]:
    """Every contact of the person as (kind, id), and the ids of the cases they appear on."""
    from fengqiao.intake.models import LedgerParty

    phones, id_numbers = {p for p in phones if p}, {i for i in id_numbers if i}
    if not phones and not id_numbers:
        return [], set()

    def who(phone_col: Any, id_col: Any) -> Any:
        clauses = []
        if phones:
            clauses.append(phone_col.in_(sorted(phones)))
        if id_numbers:
            clauses.append(id_col.in_(sorted(id_numbers)))
        return clauses[0] if len(clauses) == 1 else clauses[0] | clauses[1]

    reports = session.execute(select(IntakeReport.id, IntakeReport.case_id, IntakeReport.party_id).where(
        who(IntakeReport.phone, IntakeReport.id_number))).all()
    parties = session.execute(select(Party.id, Party.case_id, Party.role).where(
        who(Party.phone, Party.id_number))).all()
    ledger = session.scalars(select(LedgerParty.entry_id).where(who(LedgerParty.phone, LedgerParty.id_number))).all()
    contacts: list[tuple[str, int]] = []
    report_cases = {r.case_id for r in reports}
    report_parties = {r.party_id for r in reports if r.party_id}
    for r in reports:
        if r.id != exclude_report and r.case_id != exclude_case:
            contacts.append(("report", r.id))
    # A walk-in registered through the case API has no report row: its reporter party counts.
    for p in parties:
        if (p.role == "reporter" and p.case_id not in report_cases and p.id not in report_parties
                and p.case_id != exclude_case):
            contacts.append(("case", p.case_id))
    contacts.extend(("ledger", e) for e in sorted(set(ledger)))
    cases = ({r.case_id for r in reports} | {p.case_id for p in parties}) - ({exclude_case} if exclude_case else set())
    return contacts, cases


def region_from_address(session: Session, address: str | None) -> int | None:
    """The village (else town) whose name the address contains, when exactly one does."""
    if not address:
        return None
    names = session.info.get("intake_region_names")
    if names is None:
        names = [(r.name, r.id, r.level) for r in session.scalars(select(Region).where(
            Region.level.in_([RegionLevel.VILLAGE.value, RegionLevel.TOWN.value])))]
        session.info["intake_region_names"] = names
    for level in (RegionLevel.VILLAGE.value, RegionLevel.TOWN.value):
        hits = {(name, rid) for name, rid, lvl in names if lvl == level and len(name) >= 2 and name in address}
        # "大张庄村" also contains "张庄村": the longer name is the place meant.
        kept = {rid for name, rid in hits if not any(name != other and name in other for other, _ in hits)}
        if len(kept) == 1:
            return kept.pop()
    return None
