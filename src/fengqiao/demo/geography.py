"""Synthetic but plausible boundaries for the demo county: a perturbed lattice of grids.

Real grid boundaries are not public, so the demo tiles the county's extent with quadrilateral
cells whose shared corners are jittered: every grid is a proper polygon, neighbours share
edges exactly, and villages and towns are unions of their grids.
"""

from __future__ import annotations

import json
import random
from typing import Any

from shapely.geometry import Polygon, mapping
from shapely.ops import unary_union

# Fugou County's extent, roughly (WGS-84).
WEST, EAST, SOUTH, NORTH = 114.20, 114.60, 33.93, 34.21
TOWN_COLS, TOWN_ROWS = 5, 3
VILLAGE_COLS, VILLAGE_ROWS = 3, 2
GRID_COLS, GRID_ROWS = 2, 3


def build_geojson(regions: dict[str, Any], seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    cols = TOWN_COLS * VILLAGE_COLS * GRID_COLS
    rows = TOWN_ROWS * VILLAGE_ROWS * GRID_ROWS
    dx, dy = (EAST - WEST) / cols, (NORTH - SOUTH) / rows
    corner = {}
    for i in range(cols + 1):
        for j in range(rows + 1):
            inner = 0 < i < cols and 0 < j < rows
            jx = rng.uniform(-0.3, 0.3) * dx if inner else 0.0
            jy = rng.uniform(-0.3, 0.3) * dy if inner else 0.0
            corner[i, j] = (round(WEST + i * dx + jx, 6), round(SOUTH + j * dy + jy, 6))

    county = regions["county"]
    features = [_feature(county["code"], county["name"], "county", None, None)]
    towns = regions["towns"][: TOWN_COLS * TOWN_ROWS]
    for t, town in enumerate(towns):
        tc, tr = t % TOWN_COLS, TOWN_ROWS - 1 - t // TOWN_COLS
        town_cells = []
        villages = town["villages"]
        slots = VILLAGE_COLS * VILLAGE_ROWS
        for s in range(slots):
            village = villages[min(s, len(villages) - 1)]  # spare slots widen the last village
            vc, vr = s % VILLAGE_COLS, s // VILLAGE_COLS
            for g in range(GRID_COLS * GRID_ROWS):
                gc, gr = g % GRID_COLS, g // GRID_COLS
                i = (tc * VILLAGE_COLS + vc) * GRID_COLS + gc
                j = (tr * VILLAGE_ROWS + vr) * GRID_ROWS + gr
                cell = Polygon([corner[i, j], corner[i + 1, j], corner[i + 1, j + 1], corner[i, j + 1]])
                town_cells.append(cell)
                village.setdefault("_cells", []).append(cell)
        for village in villages:
            cells = village.pop("_cells", [])
            if not cells:
                continue
            features.append(_feature(village["code"], village["name"], "village", town["code"], unary_union(cells)))
            for n, cell in enumerate(cells, start=1):
                code = f"{village['code']}{n:03d}"
                features.append(_feature(code, f"{village['name']}第{n}网格", "grid", village["code"], cell))
        features.append(_feature(town["code"], town["name"], "town", county["code"], unary_union(town_cells)))
    return {"type": "FeatureCollection", "features": features}


def _feature(code: str, name: str, level: str, parent: str | None, geom: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"code": code, "name": name, "level": level, "parent_code": parent},
            "geometry": mapping(geom) if geom is not None else None}


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False)
