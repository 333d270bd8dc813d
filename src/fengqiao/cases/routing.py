"""Routing proposal: responsible department, handling level and the concrete jurisdiction (属地)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from fengqiao.cases.models import Case
from fengqiao.catalog.models import CatalogItem
from fengqiao.org.models import Department, Region, RegionLevel
from fengqiao.org.service import ancestors

_LEVEL_TO_REGION = {"村": RegionLevel.VILLAGE.value, "镇": RegionLevel.TOWN.value, "县": RegionLevel.COUNTY.value}


@dataclass(frozen=True)
class RouteProposal:
    item: CatalogItem | None
    department: Department | None
    level: str | None
    region: Region | None
    reason: str


def jurisdiction(session: Session, region: Region, level: str) -> Region:
    """The region of the case's location at the handling level (village, town or county)."""
    chain = ancestors(session, region)
    want = _LEVEL_TO_REGION[level]
    if want in chain:
        return chain[want]
    # A location known only to a higher level: the lowest known ancestor handles it.
    for lvl in (RegionLevel.VILLAGE.value, RegionLevel.TOWN.value, RegionLevel.COUNTY.value):
        if lvl in chain and _rank(lvl) >= _rank(want):
            return chain[lvl]
    return chain.get(RegionLevel.COUNTY.value, region)


def _rank(level: str) -> int:
    return [RegionLevel.GRID.value, RegionLevel.VILLAGE.value, RegionLevel.TOWN.value, RegionLevel.COUNTY.value].index(level)


def propose(session: Session, case: Case) -> RouteProposal:
    region = session.get(Region, case.region_id)
    assert region is not None
    if case.catalog_item_id is None:
        return RouteProposal(None, None, None, None, "尚未匹配确权清单事项，请先分类")
    item = session.get(CatalogItem, case.catalog_item_id)
    assert item is not None
    level = case.handling_level if case.handling_level and _rank(_LEVEL_TO_REGION[case.handling_level]) > \
        _rank(_LEVEL_TO_REGION[item.level]) else item.level
    target = jurisdiction(session, region, level)
    dept = session.get(Department, item.department_id)
    reason = f"清单事项 {item.code}“{item.name}”由{dept.name if dept else '未知部门'}负责，{level}级办理；属地为{target.name}"
    if case.location_outside:
        reason += "（位置在本县范围外，请人工核实属地）"
    if level != item.level:
        reason += f"（已上交至{level}级）"
    return RouteProposal(item, dept, level, target, reason)
