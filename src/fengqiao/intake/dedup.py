"""Finding the open cases a report may duplicate: indexed by place and time, scored in Python."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shapely.geometry import Point, shape
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fengqiao.cases.domain import OPEN_STATES
from fengqiao.cases.models import Case, CaseLink, Party
from fengqiao.catalog.models import CatalogItem
from fengqiao.intake.domain import PERSON_WINDOW, Candidate, Match, Probe, area_of, lookup_cells, rank, rule_for
from fengqiao.intake.models import IntakePlace, IntakeReport
from fengqiao.org.models import Region, RegionLevel

# Each index read returns at most this many rows (most recent first): the lookup stays bounded
# even in a cell that has seen thousands of reports.
PER_QUERY = 400
_OPEN = [s.value for s in OPEN_STATES]


def area_for(session: Session, lat: float | None, lon: float | None, region_id: int | None) -> int | None:
    """The village a report is in: from its point (grid polygon), else from the region given."""
    if lat is not None and lon is not None:
        point = Point(lon, lat)
        for grid in session.scalars(select(Region).where(
                Region.level == RegionLevel.GRID.value, Region.min_lat <= lat, Region.max_lat >= lat,
                Region.min_lon <= lon, Region.max_lon >= lon)):
            # The grid's path names its village: no need for the ancestors locate() also loads.
            if grid.geometry and shape(grid.geometry).covers(point):
                return area_of(grid.path)
    if region_id is not None:
        region = session.get(Region, region_id)
        if region is not None:
            return area_of(region.path)
    return None


def probe_for_case(session: Session, case: Case) -> Probe:
    parties = session.execute(select(Party.phone, Party.id_number).where(Party.case_id == case.id)).all()
    code = session.scalar(select(CatalogItem.code).where(CatalogItem.id == case.catalog_item_id)) \
        if case.catalog_item_id else session.scalar(select(IntakeReport.item_code).where(
            IntakeReport.case_id == case.id, IntakeReport.link == "origin").limit(1))
    return Probe(kind=case.kind, text=f"{case.title} {case.description}", at=case.registered_at, lat=case.lat,
                 lon=case.lon, area_id=area_of(case.region_path),
                 phones=frozenset(p for p, _ in parties if p), id_numbers=frozenset(i for _, i in parties if i),
                 item_code=code)


def candidate_ids(session: Session, probe: Probe, since: datetime, until: datetime) -> set[int]:
    """Case ids near the probe in place and time, or with the same person: index range scans only."""
    rule = rule_for(probe.kind, probe.text)
    ids: set[int] = set()
    window = IntakePlace.registered_at.between(since, until)
    recent = IntakePlace.registered_at.desc()
    if probe.lat is not None and probe.lon is not None and rule.radius_m is not None:
        which, cells = lookup_cells(probe.lat, probe.lon, rule.radius_m)
        col = IntakePlace.cell_fine if which == "fine" else IntakePlace.cell_coarse
        ids.update(session.scalars(select(IntakePlace.case_id).where(col.in_(cells), window)
                                   .order_by(recent).limit(PER_QUERY)))
    if probe.area_id is not None:
        query = select(IntakePlace.case_id).where(IntakePlace.area_id == probe.area_id, window)
        if rule.radius_m is not None and probe.lat is not None:
            # A point report also meets same-village reports that came without coordinates (a hotline
            # order with only an address); those with coordinates were covered by the cells above.
            query = query.where(IntakePlace.cell_fine.is_(None))
        ids.update(session.scalars(query.order_by(recent).limit(PER_QUERY)))
    if probe.phones or probe.id_numbers:
        who = []
        if probe.phones:
            who.append(Party.phone.in_(sorted(probe.phones)))
        if probe.id_numbers:
            who.append(Party.id_number.in_(sorted(probe.id_numbers)))
        ids.update(session.scalars(
            select(Party.case_id).join(IntakePlace, IntakePlace.case_id == Party.case_id)
            .where(or_(*who), IntakePlace.registered_at >= probe.at - PERSON_WINDOW)
            .order_by(IntakePlace.registered_at.desc()).limit(PER_QUERY)))
    return ids


def load_candidates(session: Session, ids: set[int], exclude: set[int]) -> tuple[list[Candidate], dict[int, Any]]:
    """The open cases among ``ids`` as the matcher sees them, and their rows for display."""
    ids = ids - exclude
    if not ids:
        return [], {}
    rows = session.execute(
        select(Case.id, Case.number, Case.kind, Case.title, Case.description, Case.lat, Case.lon, Case.region_path,
               Case.registered_at, Case.state, CatalogItem.code)
        .outerjoin(CatalogItem, CatalogItem.id == Case.catalog_item_id)
        .where(Case.id.in_(ids), Case.state.in_(_OPEN))).all()
    if not rows:
        return [], {}
    phones: dict[int, set[str]] = {}
    id_numbers: dict[int, set[str]] = {}
    for case_id, phone, id_number in session.execute(
            select(Party.case_id, Party.phone, Party.id_number).where(Party.case_id.in_([r.id for r in rows]))):
        if phone:
            phones.setdefault(case_id, set()).add(phone)
        if id_number:
            id_numbers.setdefault(case_id, set()).add(id_number)
    cands = [Candidate(case_id=r.id, kind=r.kind, text=f"{r.title} {r.description[:1000]}", at=r.registered_at,
                       lat=r.lat, lon=r.lon, area_id=area_of(r.region_path),
                       phones=frozenset(phones.get(r.id, ())), id_numbers=frozenset(id_numbers.get(r.id, ())),
                       item_code=r.code) for r in rows]
    return cands, {r.id: r for r in rows}


def find(session: Session, probe: Probe, exclude: set[int] | None = None, limit: int = 10,
         until: datetime | None = None) -> tuple[list[Match], dict[int, Any]]:
    """Ranked candidates for a new report (``until`` defaults to the probe's time)."""
    rule = rule_for(probe.kind, probe.text)
    ids = candidate_ids(session, probe, probe.at - rule.window, until or probe.at)
    cands, rows = load_candidates(session, ids, exclude or set())
    return rank(probe, cands, limit), rows


def for_case(session: Session, case: Case, limit: int = 10) -> tuple[list[Match], dict[int, Any]]:
    """Candidates for an existing case: before and after it, minus itself and cases already linked."""
    probe = probe_for_case(session, case)
    rule = rule_for(probe.kind, probe.text)
    linked = {a if b == case.id else b for a, b in session.execute(
        select(CaseLink.case_id, CaseLink.other_case_id).where(
            (CaseLink.case_id == case.id) | (CaseLink.other_case_id == case.id))).all()}
    ids = candidate_ids(session, probe, probe.at - rule.window, probe.at + rule.window)
    cands, rows = load_candidates(session, ids, linked | {case.id})
    return rank(probe, cands, limit), rows


def reindex_missing(session: Session, batch: int = 5000) -> int:
    """Add index rows for cases that have none (rows written around the ORM, e.g. bulk loads)."""
    from sqlalchemy import insert

    from fengqiao.intake.events import place_row

    done = 0
    while True:
        rows = session.execute(
            select(Case.id, Case.lat, Case.lon, Case.region_path, Case.registered_at)
            .outerjoin(IntakePlace, IntakePlace.case_id == Case.id).where(IntakePlace.case_id.is_(None))
            .order_by(Case.id).limit(batch)).all()
        if not rows:
            return done
        session.execute(insert(IntakePlace), [place_row(*r) for r in rows])
        done += len(rows)
