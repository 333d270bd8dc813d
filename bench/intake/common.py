"""Shared pieces of the intake benchmarks: a throw-away PostgreSQL database with the demo county,
report texts and places, a bulk loader of open cases, percentiles."""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

import fengqiao.models  # noqa: F401  (complete metadata)
from fengqiao.bootstrap import init_database
from fengqiao.catalog.models import CatalogItem
from fengqiao.db import Database, utcnow
from fengqiao.demo.generate import build_demo
from fengqiao.intake.domain import COARSE_DEG, FINE_DEG
from fengqiao.org.models import Region, RegionLevel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pgdb import create_database, drop_database  # noqa: E402,F401  (re-exported to the intake benches)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/fengqiao_bench_intake"
CATEGORY_KIND = {"矛盾纠纷": "dispute", "风险隐患": "hazard", "部件问题": "facility", "群众诉求": "request",
                 "信访事项": "petition", "警情纠纷": "police"}



def setup(url: str) -> Database:
    """Schema (Alembic) and the demo county's organisation, list and users; no cases."""
    db = Database(url)
    init_database(db)
    build_demo(db, cases=0)
    return db


@dataclass(frozen=True)
class Grid:
    id: int
    path: str
    lat: float
    lon: float
    dlat: float
    dlon: float


def grids(db: Database) -> list[Grid]:
    with db.read() as s:
        rows = s.scalars(select(Region).where(Region.level == RegionLevel.GRID.value)).all()
        return [Grid(r.id, r.path, r.center_lat or 0, r.center_lon or 0, (r.max_lat or 0) - (r.min_lat or 0),
                     (r.max_lon or 0) - (r.min_lon or 0)) for r in rows]


def texts(db: Database) -> list[tuple[str, str]]:
    """(kind, text) pairs from the demo templates of every list item."""
    templates = json.loads((resources.files("fengqiao.demo") / "content" / "case_templates.json").read_text("utf-8"))
    with db.read() as s:
        items = s.scalars(select(CatalogItem)).all()
        out = []
        for it in items:
            kind = CATEGORY_KIND.get(it.category, "request")
            for t in templates.get(it.code) or [it.description]:
                out.append((kind, t.replace("{place}", "").replace("{person}", "老王").replace("{n}", "12")
                            .replace("{amount}", "8600")))
        return out


def point_in(grid: Grid, rng: random.Random) -> tuple[float, float]:
    return (round(grid.lat + (rng.random() - 0.5) * 0.6 * grid.dlat, 6),
            round(grid.lon + (rng.random() - 0.5) * 0.6 * grid.dlon, 6))


def bulk_load(db: Database, n: int, days: int = 365, now: datetime | None = None, seed: int = 7) -> float:
    """Add ``n`` open cases (registered, spread over ``days``) with their index rows and a reporter each.

    Server-side INSERT … SELECT, as bench/closed_loop.py does: the ORM would take hours for 1M.
    Returns the seconds it took.
    """
    now = now or utcnow()
    t0 = time.perf_counter()
    gs = grids(db)
    ts = texts(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bi_grid; DROP TABLE IF EXISTS bi_text")
        conn.exec_driver_sql("CREATE UNLOGGED TABLE bi_grid (gidx int PRIMARY KEY, id int, path text, lat float8, "
                             "lon float8, dlat float8, dlon float8)")
        conn.exec_driver_sql("CREATE UNLOGGED TABLE bi_text (tidx int PRIMARY KEY, kind text, body text)")
        conn.execute(text("INSERT INTO bi_grid VALUES (:gidx, :id, :path, :lat, :lon, :dlat, :dlon)"),
                     [{"gidx": i, "id": g.id, "path": g.path, "lat": g.lat, "lon": g.lon, "dlat": g.dlat,
                       "dlon": g.dlon} for i, g in enumerate(gs)])
        conn.execute(text("INSERT INTO bi_text VALUES (:tidx, :kind, :body)"),
                     [{"tidx": i, "kind": k, "body": b} for i, (k, b) in enumerate(ts)])
        off = int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM case_record").scalar() or 0)
        conn.execute(text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000})
        conn.exec_driver_sql("DROP TABLE IF EXISTS bi_case")
        conn.execute(text("""
            CREATE UNLOGGED TABLE bi_case AS
            WITH r AS (  -- volatile, so materialised: one draw per case
              SELECT s, floor(random() * :ng)::int AS gi, floor(random() * :nt)::int AS ti, random() AS u_lat,
                     random() AS u_lon, random() AS u_reg, random() AS u_p1, random() AS u_p2
              FROM generate_series(1, :n) s
            )
            SELECT :off + r.s AS id, g.id AS grid_id, g.path,
                   round((g.lat + (r.u_lat - 0.5) * 0.6 * g.dlat)::numeric, 6)::float8 AS lat,
                   round((g.lon + (r.u_lon - 0.5) * 0.6 * g.dlon)::numeric, 6)::float8 AS lon,
                   t.kind, t.body,
                   CAST(:now AS timestamptz) - r.u_reg * (:days * interval '1 day') AS reg,
                   '1' || (ARRAY['3','5','7','8'])[1 + floor(r.u_p1 * 4)::int]
                       || (100000000 + floor(r.u_p2 * 899999999))::bigint AS phone
            FROM r JOIN bi_grid g ON g.gidx = r.gi JOIN bi_text t ON t.tidx = r.ti"""),
                     {"off": off, "n": n, "now": now, "days": days, "ng": len(gs), "nt": len(ts)})
        conn.execute(text("""
            INSERT INTO case_record (id, number, kind, channel, state, title, description, risk, lat, lon, address,
                location_outside, grid_id, region_id, region_path, return_count, arbitrated, emergency,
                discovered_at, registered_at, updated_at, version)
            SELECT id, 'B' || lpad(id::text, 11, '0'), kind, 'grid', 'registered', left(body, 40), body, '低',
                   lat, lon, NULL, false, grid_id, grid_id, path, 0, false, false, reg, reg, reg, 1
            FROM bi_case ORDER BY id"""))
        conn.execute(text(f"""
            INSERT INTO intake_place (case_id, cell_fine, cell_coarse, area_id, registered_at)
            SELECT id, floor((lat + 90) / {FINE_DEG})::bigint * 1000000 + floor((lon + 180) / {FINE_DEG})::bigint,
                   floor((lat + 90) / {COARSE_DEG})::bigint * 1000000 + floor((lon + 180) / {COARSE_DEG})::bigint,
                   split_part(path, '/', 4)::int, reg
            FROM bi_case"""))
        conn.execute(text("""INSERT INTO case_party (case_id, role, name, phone)
                             SELECT id, 'reporter', '群众', phone FROM bi_case"""))
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('case_record', 'id'), "
                             "(SELECT max(id) FROM case_record))")
        conn.exec_driver_sql("DROP TABLE bi_case; DROP TABLE bi_grid; DROP TABLE bi_text")
        conn.commit()
        conn.exec_driver_sql("ANALYZE case_record; ANALYZE intake_place; ANALYZE case_party")
        conn.commit()
    return time.perf_counter() - t0


def pct(values: list[float], p: float) -> float:
    data = sorted(values)
    k = max(0, min(len(data) - 1, int(round(p / 100.0 * len(data) + 0.5)) - 1))
    return data[k]


def summary(values: list[float]) -> dict[str, Any]:
    """Milliseconds: median, p90, p99, max."""
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50": round(statistics.median(ms), 2), "p90": round(pct(ms, 90), 2),
            "p99": round(pct(ms, 99), 2), "max": round(max(ms), 2)}


def recent(now: datetime, days: int, rng: random.Random) -> datetime:
    return now - timedelta(seconds=rng.random() * days * 86400)
