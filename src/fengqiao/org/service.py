"""Region tree import (GeoJSON), point → grid resolution, subtree scoping, departments."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shapely.geometry import Point, shape
from shapely.validation import explain_validity
from sqlalchemy import select
from sqlalchemy.orm import Session

from fengqiao.errors import InvalidInput, NotFound
from fengqiao.org.models import Department, Presence, Region, RegionLevel
from fengqiao.tabular import csv_dicts

LEVEL_ALIASES = {
    "county": RegionLevel.COUNTY, "县": RegionLevel.COUNTY, "区": RegionLevel.COUNTY, "县/区": RegionLevel.COUNTY,
    "town": RegionLevel.TOWN, "镇": RegionLevel.TOWN, "乡": RegionLevel.TOWN, "乡镇": RegionLevel.TOWN,
    "街道": RegionLevel.TOWN, "village": RegionLevel.VILLAGE, "村": RegionLevel.VILLAGE,
    "社区": RegionLevel.VILLAGE, "grid": RegionLevel.GRID, "网格": RegionLevel.GRID,
}
_CHILD_LEVEL = {RegionLevel.COUNTY: None, RegionLevel.TOWN: RegionLevel.COUNTY,
                RegionLevel.VILLAGE: RegionLevel.TOWN, RegionLevel.GRID: RegionLevel.VILLAGE}


def _row_error(index: int, field: str, message: str) -> dict[str, Any]:
    return {"row": index + 1, "field": field, "message": message}


def import_regions_geojson(session: Session, raw: bytes | str) -> int:
    """Import a FeatureCollection of regions; all or nothing, every bad feature listed.

    Each feature has properties ``code``, ``name``, ``level`` (county/town/village/grid or
    县/镇/村/网格) and ``parent_code`` (empty for the county); grids need a Polygon or
    MultiPolygon in WGS-84 (lon, lat). Existing codes are updated in place.
    """
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"不是有效的 GeoJSON：{exc}", "file") from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list) or not features:
        raise InvalidInput("GeoJSON 必须是包含 features 的 FeatureCollection", "features")

    errors: list[dict[str, Any]] = []
    parsed: list[dict[str, Any]] = []
    codes: set[str] = set()
    for i, feat in enumerate(features):
        props = (feat or {}).get("properties") or {}
        code = str(props.get("code") or "").strip()
        name = str(props.get("name") or "").strip()
        level = LEVEL_ALIASES.get(str(props.get("level") or "").strip())
        parent = str(props.get("parent_code") or "").strip() or None
        if not code:
            errors.append(_row_error(i, "code", "缺少区划代码"))
        elif code in codes:
            errors.append(_row_error(i, "code", f"区划代码 {code} 重复"))
        codes.add(code)
        if not name:
            errors.append(_row_error(i, "name", "缺少名称"))
        if level is None:
            errors.append(_row_error(i, "level", f"层级“{props.get('level')}”无效，应为 县/镇/村/网格"))
        geom = None
        if feat.get("geometry"):
            try:
                geom = shape(feat["geometry"])
                if geom.geom_type not in ("Polygon", "MultiPolygon"):
                    errors.append(_row_error(i, "geometry", f"边界必须是面（Polygon），收到 {geom.geom_type}"))
                elif not geom.is_valid:
                    errors.append(_row_error(i, "geometry", f"边界无效：{explain_validity(geom)}"))
                else:
                    minx, miny, maxx, maxy = geom.bounds
                    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
                        errors.append(_row_error(i, "geometry", "坐标超出 WGS-84 经纬度范围"))
            except Exception as exc:  # shapely raises several types for broken input
                errors.append(_row_error(i, "geometry", f"无法解析边界：{exc}"))
                geom = None
        elif level is RegionLevel.GRID:
            errors.append(_row_error(i, "geometry", "网格必须有边界多边形"))
        parsed.append({"i": i, "code": code, "name": name, "level": level, "parent": parent,
                       "geom": geom, "raw_geom": feat.get("geometry")})

    existing = {r.code: r for r in session.scalars(select(Region))}
    levels = {p["code"]: p["level"] for p in parsed}
    levels.update({c: RegionLevel(r.level) for c, r in existing.items() if c not in levels})
    for p in parsed:
        if p["level"] is None:
            continue
        want = _CHILD_LEVEL[p["level"]]
        if want is None:
            if p["parent"]:
                errors.append(_row_error(p["i"], "parent_code", "县级区划不应有上级"))
            continue
        if not p["parent"]:
            errors.append(_row_error(p["i"], "parent_code", "缺少上级区划代码"))
        elif p["parent"] not in levels:
            errors.append(_row_error(p["i"], "parent_code", f"上级区划 {p['parent']} 不存在"))
        elif levels[p["parent"]] is not want:
            errors.append(_row_error(p["i"], "parent_code", f"上级区划 {p['parent']} 的层级不对"))
    if errors:
        raise InvalidInput(f"区划文件有 {len(errors)} 处错误，未导入任何数据", "file", errors)

    order = [RegionLevel.COUNTY, RegionLevel.TOWN, RegionLevel.VILLAGE, RegionLevel.GRID]
    by_code = dict(existing)
    for p in sorted(parsed, key=lambda p: order.index(p["level"])):
        region = by_code.get(p["code"]) or Region(code=p["code"])
        region.name, region.level = p["name"], p["level"].value
        parent = by_code.get(p["parent"]) if p["parent"] else None
        region.parent_id = parent.id if parent else None
        if p["geom"] is not None:
            minx, miny, maxx, maxy = p["geom"].bounds
            c = p["geom"].representative_point()
            region.geometry = p["raw_geom"]
            region.min_lon, region.min_lat, region.max_lon, region.max_lat = minx, miny, maxx, maxy
            region.center_lon, region.center_lat = c.x, c.y
        if region.id is None:
            session.add(region)
            session.flush()
        region.path = f"{parent.path if parent else '/'}{region.id}/"
        by_code[region.code] = region
    session.flush()
    return len(parsed)


@dataclass(frozen=True)
class Location:
    grid: Region | None
    village: Region | None
    town: Region | None
    county: Region | None

    @property
    def deepest(self) -> Region | None:
        return self.grid or self.village or self.town or self.county


def ancestors(session: Session, region: Region) -> dict[str, Region]:
    """The region and its ancestors keyed by level."""
    ids = [int(x) for x in region.path.strip("/").split("/") if x]
    rows = session.scalars(select(Region).where(Region.id.in_(ids))).all()
    return {r.level: r for r in rows}


def locate(session: Session, lat: float, lon: float) -> Location:
    """Resolve a WGS-84 point to its grid and all its ancestors (bounding box first, then polygon)."""
    candidates = session.scalars(
        select(Region).where(
            Region.level == RegionLevel.GRID.value,
            Region.min_lat <= lat, Region.max_lat >= lat,
            Region.min_lon <= lon, Region.max_lon >= lon,
        )
    ).all()
    point = Point(lon, lat)
    for grid in candidates:
        if grid.geometry and shape(grid.geometry).covers(point):
            chain = ancestors(session, grid)
            return Location(grid, chain.get("village"), chain.get("town"), chain.get("county"))
    return Location(None, None, None, None)


def county(session: Session) -> Region:
    region = session.scalar(select(Region).where(Region.level == RegionLevel.COUNTY.value).order_by(Region.id))
    if region is None:
        raise NotFound("尚未导入县级区划，请先运行 fengqiao import-regions")
    return region


def get_region(session: Session, region_id: int) -> Region:
    region = session.get(Region, region_id)
    if region is None:
        raise NotFound(f"区划 {region_id} 不存在", "region_id")
    return region


def in_subtree(region: Region, scope: Region) -> bool:
    return region.path.startswith(scope.path)


def import_departments_csv(session: Session, raw: bytes | str) -> int:
    """Import departments from CSV with header ``code,name,presence``; all or nothing."""
    errors: list[dict[str, Any]] = []
    rows = []
    for line, row in csv_dicts(raw, ("code", "name"), "code,name,presence"):
        code, name = row["code"], row["name"]
        presence = row.get("presence") or Presence.ON_CALL.value
        if not code:
            errors.append({"row": line, "field": "code", "message": "缺少部门代码"})
        if not name:
            errors.append({"row": line, "field": "name", "message": "缺少部门名称"})
        if presence not in {p.value for p in Presence}:
            errors.append({"row": line, "field": "presence", "message": f"进驻方式“{presence}”无效，应为 常驻/轮驻/随驻"})
        rows.append((code, name, presence))
    if errors:
        raise InvalidInput(f"部门文件有 {len(errors)} 处错误，未导入任何数据", "file", errors)
    home = county(session)
    existing = {d.code: d for d in session.scalars(select(Department))}
    for code, name, presence in rows:
        dept = existing.get(code) or Department(code=code, region_id=home.id)
        dept.name, dept.presence = name, presence
        session.add(dept)
    session.flush()
    return len(rows)


def department_by_name(session: Session) -> dict[str, Department]:
    return {d.name: d for d in session.scalars(select(Department))}
