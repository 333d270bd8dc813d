#!/usr/bin/env python
"""Closed-loop benchmark on PostgreSQL with a year of a county's cases (default 1,000,000).

Run by hand, not by the test suite:

    .venv/bin/python bench/closed_loop.py            # 10k → 100k → 1M cases, ~5 min on 2 cores
    .venv/bin/python bench/closed_loop.py --quick    # 10k → 50k, ~30 s
    .venv/bin/python bench/closed_loop.py --cases 300000 --keep

It creates its own database (default ``fengqiao_bench`` on 127.0.0.1:5432, created and dropped
through the ``test`` database), builds the schema with ``fengqiao.bootstrap.init_database`` and
the demo county's organisation (15 towns, 76 villages, 540 grids, 28 departments, 125 list items,
users for every role), then bulk-loads cases with server-side ``INSERT … SELECT`` and measures,
at every size (10k, 100k, N):

* the supervision scan ``scan_once`` with exactly K rows due (and with none due),
* the case page ``case_detail`` for random cases,
* the case list ``list_cases`` for realistic filters, page 1 and a deep page,

each against a baseline measured in the same run. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time as dtime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.engine import Connection, Engine, make_url

import fengqiao.models  # noqa: F401  (complete metadata)
from fengqiao.auth.models import Role, User
from fengqiao.auth.service import Principal, principal_for
from fengqiao.bootstrap import init_database
from fengqiao.cases.domain import OPEN_STATES
from fengqiao.cases.models import Case
from fengqiao.cases.queries import CaseFilter, case_detail, list_cases
from fengqiao.catalog.models import CatalogItem
from fengqiao.db import Database
from fengqiao.deadlines.domain import LOCAL_TZ, Limit, Stage, Unit, add_limit, parse_limit
from fengqiao.deadlines.models import CaseDeadline
from fengqiao.deadlines.policy import SUPERVISION_KINDS, Policy
from fengqiao.deadlines.service import active_policy
from fengqiao.demo.generate import CATEGORY_KIND, KIND_CHANNELS, build_demo
from fengqiao.org.models import Department
from fengqiao.supervision.service import scan_once
from fengqiao.workcal.service import DbCalendar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgdb import create_database, drop_database  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/fengqiao_bench"
CONTENT = resources.files("fengqiao.demo") / "content"
LOADED_TABLES = ("case_record", "case_party", "case_event", "case_deadline", "supervision_action", "case_counter")
HELPER_TABLES = ("bench_gen", "bench_case", "bench_dl", "bench_dl2", "bench_grid", "bench_item", "bench_text",
                 "bench_wd")
STATE_BY_LEVEL = ["registered", "triaged", "dispatched", "accepted", "in_progress", "handled", "closed"]
STAGE_LABELS = {s.value: s.label for s in Stage}
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


# ----------------------------------------------------------------------------------------------
# Small helpers: timing, statement capture, output
# ----------------------------------------------------------------------------------------------

def ms(seconds: float) -> float:
    return seconds * 1000.0


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    data = sorted(values)
    k = max(0, min(len(data) - 1, int(round(p / 100.0 * len(data) + 0.5)) - 1))
    return data[k]


@dataclass
class Stmt:
    sql: str
    params: Any
    seconds: float


class Capture:
    """Records every SQL statement an engine sends while active (text, parameters, duration)."""

    def __init__(self, engine: Engine) -> None:
        self.active = False
        self.stmts: list[Stmt] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if self.active:
            conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if self.active and "bench_t0" in conn.info:
            self.stmts.append(Stmt(statement, parameters, time.perf_counter() - conn.info.pop("bench_t0")))

    @contextmanager
    def on(self) -> Iterator[list[Stmt]]:
        self.stmts = []
        self.active = True
        try:
            yield self.stmts
        finally:
            self.active = False


@dataclass
class Row:
    what: str
    n_cases: int
    median_ms: float
    p90_ms: float | None
    runs: int
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, what: str, n_cases: int, samples: list[float], note: str = "") -> Row:
        row = Row(what, n_cases, ms(statistics.median(samples)), ms(pct(samples, 90)) if len(samples) >= 5 else None,
                  len(samples), note)
        self.rows.append(row)
        p90 = f"{row.p90_ms:9.1f}" if row.p90_ms is not None else "        -"
        print(f"    {pad(what, 60)} {n_cases:>9,}  median {row.median_ms:9.1f} ms  p90 {p90} ms  (n={len(samples)}) {note}",
              flush=True)
        return row

    def find(self, what: str, n_cases: int) -> Row | None:
        return next((r for r in self.rows if r.what == what and r.n_cases == n_cases), None)


def pad(s: str, width: int) -> str:
    """Left-justify for a terminal: CJK characters take two columns."""
    cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)
    return s + " " * max(0, width - cols)


def banner(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(3, 92 - len(title)), flush=True)


def explain(conn: Connection, stmt: Stmt, analyze: bool = True) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a captured statement inside a transaction that is rolled back."""
    opts = "ANALYZE, BUFFERS, TIMING OFF" if analyze else "COSTS"
    trans = conn.begin()
    try:
        rows = conn.exec_driver_sql(f"EXPLAIN ({opts}) {stmt.sql}", stmt.params).all()
    finally:
        trans.rollback()
    return "\n".join(r[0] for r in rows)


def indent(block: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in block.splitlines())


def compact_sql(sql: str) -> str:
    return " ".join(sql.split())


# ----------------------------------------------------------------------------------------------
# Database lifecycle
# ----------------------------------------------------------------------------------------------

# create_database / drop_database / admin_engine: bench/pgdb.py


# ----------------------------------------------------------------------------------------------
# Organisation and lookup tables
# ----------------------------------------------------------------------------------------------

@dataclass
class World:
    operator: Principal
    town_operator: Principal
    operator_id: int
    ngrid: int
    nitem: int
    policy: Policy


def limit_parts(limit: Limit) -> tuple[str, str, int]:
    return limit.text, limit.unit.value, limit.amount


def build_world(db: Database, now: datetime) -> World:
    """The demo county's organisation (no cases) plus helper tables the bulk load joins."""
    build_demo(db, cases=0, now=now)
    rng = random.Random(11)
    templates: dict[str, list[str]] = json.loads((CONTENT / "case_templates.json").read_text(encoding="utf-8"))
    with db.unit_of_work() as s:
        policy = active_policy(s)
        operator_user = s.scalar(select(User).where(User.username == "operator"))
        assert operator_user is not None
        operator = principal_for(s, operator_user)
        town_user = s.scalar(select(User).where(User.username == "operator_cg"))
        assert town_user is not None
        town_operator = principal_for(s, town_user)
        handlers = {u.department_id: u.id for u in s.scalars(select(User).where(User.role == Role.HANDLER.value))}
        depts = {d.id: d for d in s.scalars(select(Department))}
        items = list(s.scalars(select(CatalogItem).order_by(CatalogItem.code)))
        resolve_emergency = policy.emergency.get(Stage.RESOLVE, policy.stages[Stage.RESOLVE])

        conn = s.connection()
        conn.exec_driver_sql("""
            CREATE TABLE bench_grid AS
            SELECT (row_number() OVER (ORDER BY g.code) - 1)::int AS gidx, g.id AS grid_id, g.path,
                   g.center_lat, g.center_lon, g.max_lat - g.min_lat AS dlat, g.max_lon - g.min_lon AS dlon,
                   v.id AS village_id, v.name AS village_name, t.id AS town_id, t.name AS town_name,
                   c.id AS county_id, c.name AS county_name
            FROM region g JOIN region v ON v.id = g.parent_id JOIN region t ON t.id = v.parent_id
                 JOIN region c ON c.id = t.parent_id
            WHERE g.level = 'grid'""")
        conn.exec_driver_sql("""
            CREATE TABLE bench_item (iidx int PRIMARY KEY, item_id int, version_id int, code text, name text,
                kind text, channels text[], dept_id int, dept_name text, handler_id int, level text,
                emergency bool, r_text text, r_unit text, r_amount int, ntext int)""")
        conn.exec_driver_sql("CREATE TABLE bench_text (iidx int, tidx int, body text, PRIMARY KEY (iidx, tidx))")
        item_rows, text_rows = [], []
        for i, it in enumerate(items):
            kind = CATEGORY_KIND.get(it.category)
            assert kind is not None, it.category
            limit = parse_limit(it.deadline)
            r_limit = resolve_emergency if limit.is_emergency else limit
            bodies = []
            for tmpl in templates.get(it.code) or [it.description]:
                for _ in range(3):  # a few variants of each template; {place}/{person} are filled per case
                    bodies.append(tmpl.replace("{n}", str(rng.randint(3, 40)))
                                  .replace("{amount}", str(rng.choice([3000, 8600, 12000, 25000, 46000, 130000]))))
            for t, body in enumerate(bodies):
                text_rows.append({"iidx": i, "tidx": t, "body": body})
            item_rows.append({
                "iidx": i, "item_id": it.id, "version_id": it.version_id, "code": it.code, "name": it.name,
                "kind": kind.value, "channels": [c.value for c in KIND_CHANNELS[kind]], "dept_id": it.department_id,
                "dept_name": depts[it.department_id].name, "handler_id": handlers[it.department_id],
                "level": it.level, "emergency": limit.is_emergency, "r_text": r_limit.text,
                "r_unit": r_limit.unit.value, "r_amount": r_limit.amount, "ntext": len(bodies)})
        conn.execute(text("""INSERT INTO bench_item VALUES (:iidx, :item_id, :version_id, :code, :name, :kind,
            :channels, :dept_id, :dept_name, :handler_id, :level, :emergency, :r_text, :r_unit, :r_amount, :ntext)"""),
                     item_rows)
        conn.execute(text("INSERT INTO bench_text VALUES (:iidx, :tidx, :body)"), text_rows)

        # Working-day arithmetic for the SQL side: due(d, n) = add_limit(<a time on local day d>, n工作日).
        amounts = {r["r_amount"] for r in item_rows if r["r_unit"] == Unit.WORKDAY.value}
        amounts |= {st.offset.amount for st in policy.ladder if st.offset and st.offset.unit is Unit.WORKDAY}
        for lim in list(policy.stages.values()) + list(policy.emergency.values()):
            if lim.unit is Unit.WORKDAY:
                amounts.add(lim.amount)
        calendar = DbCalendar(s)
        today = now.astimezone(LOCAL_TZ).date()
        wd_rows = []
        for k in range(-420, 120):
            d = today + timedelta(days=k)
            start = datetime.combine(d, dtime(12), LOCAL_TZ)
            for n in sorted(amounts):
                due = add_limit(start, Limit(n, Unit.WORKDAY, f"{n}工作日"), calendar)
                wd_rows.append({"d": d, "n": n, "due": due.at, "assumed": due.calendar_assumed})
        conn.exec_driver_sql("CREATE TABLE bench_wd (d date, n int, due timestamptz, assumed bool, PRIMARY KEY (d, n))")
        conn.execute(text("INSERT INTO bench_wd VALUES (:d, :n, :due, :assumed)"), wd_rows)
        conn.exec_driver_sql("ANALYZE bench_grid; ANALYZE bench_item; ANALYZE bench_text; ANALYZE bench_wd")
        ngrid = conn.exec_driver_sql("SELECT count(*) FROM bench_grid").scalar()
    return World(operator, town_operator, operator_user.id, int(ngrid or 0), len(items), policy)


# ----------------------------------------------------------------------------------------------
# Bulk load: INSERT … SELECT, one phase adds `count` cases after the ones already there
# ----------------------------------------------------------------------------------------------

def _id_check_sql(p: str) -> str:
    total = " + ".join(f"substr({p}, {i + 1}, 1)::int * {w}" for i, w in enumerate(ID_WEIGHTS))
    return f"{p} || substr('10X98765432', (({total}) % 11) + 1, 1)"


def _limit_due_sql(start: str, unit: str, amount: str, wd: str) -> str:
    """SQL for add_limit(start, limit): hours and days are exact intervals, working days come from bench_wd."""
    return (f"CASE {unit} WHEN 'hour' THEN {start} + {amount} * interval '1 hour' "
            f"WHEN 'day' THEN {start} + {amount} * interval '1 day' "
            f"WHEN 'immediate' THEN {start} + interval '1 hour' ELSE {wd}.due END")


def _ladder_sql(policy: Policy) -> tuple[list[str], list[str]]:
    """SQL expressions of each ladder step's time (over columns warn_at/due_at) and the joins they need."""
    exprs, joins = [], []
    for i, st in enumerate(policy.ladder):
        base = "d.warn_at" if st.anchor == "warn" else "d.due_at"
        if st.offset is None:
            exprs.append(base)
        elif st.offset.unit is Unit.WORKDAY:
            alias = f"lw{i}"
            joins.append(f"LEFT JOIN bench_wd {alias} ON {alias}.d = ({base} AT TIME ZONE 'Asia/Shanghai')::date "
                         f"AND {alias}.n = {st.offset.amount}")
            exprs.append(f"{alias}.due")
        elif st.offset.unit is Unit.HOUR:
            exprs.append(f"{base} + interval '{st.offset.amount} hours'")
        elif st.offset.unit is Unit.DAY:
            exprs.append(f"{base} + interval '{st.offset.amount} days'")
        else:
            exprs.append(f"{base} + interval '1 hour'")
    return exprs, joins


@dataclass
class LoadStats:
    seconds: float
    rows: dict[str, int]


def load_cases(db: Database, world: World, offset: int, count: int, now: datetime, seed: int,
               stuck_rate: float) -> LoadStats:
    """Add `count` cases (ids offset+1 …) registered over the year before `now`, with their parties,
    timeline, stage deadlines and the supervision history the job would have written."""
    policy = world.policy
    names = json.loads((CONTENT / "names.json").read_text(encoding="utf-8"))
    rep = limit_parts(policy.stages[Stage.REPORT])
    route = limit_parts(policy.stages[Stage.ROUTE])
    route_em = limit_parts(policy.emergency.get(Stage.ROUTE, policy.stages[Stage.ROUTE]))
    fb = limit_parts(policy.stages[Stage.FEEDBACK])
    steps, step_joins = _ladder_sql(policy)
    nsteps = len(steps)
    kinds = [st.kind for st in policy.ladder]
    kind_labels = [SUPERVISION_KINDS[k] for k in kinds]
    anchors = ["预警" if st.anchor == "warn" else "超期" for st in policy.ladder]
    today = now.astimezone(LOCAL_TZ).date()
    params = {"n": count, "off": offset, "now": now, "today": today, "seed": (seed % 1000) / 1000.0,
              "ngrid": world.ngrid, "nitem": world.nitem, "op": world.operator_id, "stuck": stuck_rate,
              "surnames": names["surnames"], "given": names["given"], "ratio": policy.warn_ratio}
    counts: dict[str, int] = {}
    t0 = time.perf_counter()
    with db.engine.connect() as conn:
        def run(label: str, sql: str) -> int:
            t = time.perf_counter()
            n = conn.execute(text(sql), params).rowcount
            conn.commit()
            print(f"      {label:<44} {n:>10,} rows  {time.perf_counter() - t:7.1f} s", flush=True)
            return n

        conn.exec_driver_sql("SET work_mem = '256MB'")
        conn.exec_driver_sql("SET maintenance_work_mem = '512MB'")
        conn.exec_driver_sql("SET synchronous_commit = off")
        # Foreign keys are checked by per-row triggers, which would double the load time; they are
        # switched off for this connection only and every new row's references are verified after.
        conn.exec_driver_sql("SET session_replication_role = replica")
        marks = {t: int(conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {t}").scalar() or 0)
                 for t in LOADED_TABLES if t != "case_counter"}
        for t in ("bench_gen", "bench_case", "bench_dl", "bench_dl2"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}")
        conn.execute(text("SELECT setseed(:seed)"), params)

        # 1. Per-case random draws, the registration time, grid and list item.
        run("draws (bench_gen)", """
        CREATE UNLOGGED TABLE bench_gen AS
        WITH g AS (
          SELECT s AS seq, random() AS u_day, random() AS u_tod, random() AS u_night, random() AS u_grid,
                 random() AS u_item, random() AS u_tmpl, random() AS u_chan, random() AS u_risk, random() AS u_void,
                 random() AS u_stuck, random() AS u_stst, random() AS u1, random() AS u2, random() AS u3,
                 random() AS u4, random() AS u5, random() AS u6, random() AS u_slowd, random() AS u_slow,
                 random() AS u_late, random() AS u_disc, random() AS u_out, random() AS u_sat, random() AS u_sn,
                 random() AS u_gn, random() AS u_sn2, random() AS u_gn2, random() AS u_ph1, random() AS u_ph2,
                 random() AS u_ph3, random() AS u_birth, random() AS u_idn, random() AS u_party, random() AS u_suf,
                 random() AS u_no, random() AS u_lat, random() AS u_lon, random() AS u_ph4, random() AS u_ph5
          FROM generate_series(1, :n) s
        ), d AS (
          SELECT g.*, floor(365 * u_day)::int AS day_ago FROM g
        ), t AS (
          SELECT d.*, ((CAST(:today AS date) - day_ago)::timestamp AT TIME ZONE 'Asia/Shanghai') AS midnight FROM d
        )
        SELECT t.*,
               CASE WHEN day_ago = 0 THEN midnight + u_tod * (CAST(:now AS timestamptz) - midnight)
                    WHEN u_night < 0.12 THEN midnight + u_tod * interval '24 hours'
                    ELSE midnight + interval '8 hours' + u_tod * interval '10 hours' END AS reg,
               floor(u_grid * :ngrid)::int AS gidx,
               floor(power(u_item, 1.6) * :nitem)::int AS iidx
        FROM t""")

        # 2. One row per case with everything the inserts need: ids, numbers, the step times of the
        #    loop, the state reached by `now` (or where a stuck case stopped) and the case's texts.
        run("cases (bench_case)", """
        CREATE UNLOGGED TABLE bench_case AS
        WITH a AS (
          SELECT g.*, gr.grid_id, gr.path, gr.center_lat, gr.center_lon, gr.dlat, gr.dlon, gr.village_id,
                 gr.village_name, gr.town_id, gr.town_name, gr.county_id, gr.county_name,
                 it.item_id, it.version_id, it.code AS item_code, it.name AS item_name, it.kind,
                 it.channels[1 + floor(u_chan * array_length(it.channels, 1))::int] AS channel,
                 it.dept_id, it.dept_name, it.handler_id, it.level AS item_level, it.emergency AS item_emergency,
                 it.r_text, it.r_unit, it.r_amount, tx.body,
                 (CAST(:surnames AS text[]))[1 + floor(u_sn * array_length(CAST(:surnames AS text[]), 1))::int]
                   || (CAST(:given AS text[]))[1 + floor(u_gn * array_length(CAST(:given AS text[]), 1))::int] AS reporter,
                 (CAST(:surnames AS text[]))[1 + floor(u_sn2 * array_length(CAST(:surnames AS text[]), 1))::int]
                   || (CAST(:given AS text[]))[1 + floor(u_gn2 * array_length(CAST(:given AS text[]), 1))::int] AS other_person,
                 gr.village_name || (ARRAY['', '东头', '西头', '南街', '北街', '菜市场旁', '小学门口'])[1 + floor(u_suf * 7)::int]
                   || (1 + floor(u_no * 30))::int || '号' AS address,
                 g.reg + (3 + 37 * u1) * interval '1 minute' AS t_cls,
                 g.reg + (5 + 55 * u1) * interval '1 minute' AS t_void
          FROM bench_gen g JOIN bench_grid gr ON gr.gidx = g.gidx JOIN bench_item it ON it.iidx = g.iidx
               JOIN bench_text tx ON tx.iidx = it.iidx AND tx.tidx = floor(g.u_tmpl * it.ntext)::int
        ), b AS (
          SELECT a.*, t_cls + (10 + CASE WHEN u_slowd < 0.07 THEN 590 ELSE 290 END * u2) * interval '1 minute' AS t_dis
          FROM a
        ), c AS (
          SELECT b.*, t_dis + (20 + 460 * u3) * interval '1 minute' AS t_acc FROM b
        ), e AS (
          SELECT c.*, t_acc + (10 + 230 * u4) * interval '1 minute' AS t_sta FROM c
        ), f AS (
          SELECT e.*, t_sta + (240 + CASE WHEN u_slow < 0.12 THEN 8760 ELSE 3360 END * u5) * interval '1 minute' AS t_fb
          FROM e
        ), h AS (
          SELECT f.*, t_fb + (60 + 1140 * u6) * interval '1 minute' AS t_clo,
                 u_void < 0.01 AS voiding,
                 CASE WHEN u_stuck < :stuck THEN floor(u_stst * 6)::int ELSE 6 END AS stop_lvl,
                 (t_cls <= CAST(:now AS timestamptz))::int + (t_dis <= CAST(:now AS timestamptz))::int
                   + (t_acc <= CAST(:now AS timestamptz))::int + (t_sta <= CAST(:now AS timestamptz))::int
                   + (t_fb <= CAST(:now AS timestamptz))::int AS nat5
          FROM f
        ), i AS (
          SELECT h.*,
                 CASE WHEN voiding THEN 0
                      ELSE least(stop_lvl, nat5 + (t_clo <= CAST(:now AS timestamptz))::int) END AS lvl,
                 voiding AND t_void <= CAST(:now AS timestamptz) AS is_void,
                 replace(replace(body, '{place}', address), '{person}', other_person) AS description
          FROM h
        )
        SELECT :off + row_number() OVER (ORDER BY reg, seq) AS id, i.*,
               left(split_part(description, E'\\n', 1), 40) AS title,
               CASE WHEN description ~ '(扬言|横幅|堵路|煤气|跳楼|聚集|持刀|坍塌|起火)' THEN '高'
                    WHEN u_risk < 0.2 THEN '中' ELSE '低' END AS risk,
               CASE WHEN u_late < 0.05 THEN reg - (2 + 28 * u_disc) * interval '1 hour'
                    WHEN channel = 'grid' THEN reg - (50 * u_disc) * interval '1 minute'
                    ELSE reg END AS discovered,
               item_emergency AND lvl >= 1 AS emergency,
               CASE WHEN item_level = '村' THEN village_id WHEN item_level = '镇' THEN town_id ELSE county_id END
                 AS handling_region_id,
               CASE WHEN item_level = '村' THEN village_name WHEN item_level = '镇' THEN town_name ELSE county_name END
                 AS handling_region_name,
               u_out < 0.03 AS unreachable
        FROM i""")
        conn.exec_driver_sql("CREATE INDEX ON bench_case (id)")
        conn.exec_driver_sql("ANALYZE bench_case")

        # 3. Case numbers continue each day's counter, as register() would.
        run("case_record", """
        WITH n AS (
          SELECT b.id, to_char(b.reg AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') AS day,
                 row_number() OVER (PARTITION BY to_char(b.reg AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD')
                                    ORDER BY b.reg, b.id) AS k
          FROM bench_case b
        ), nn AS (
          SELECT n.id, n.day || CASE WHEN k + coalesce(cc.last, 0) < 10000
                                     THEN lpad((k + coalesce(cc.last, 0))::text, 4, '0')
                                     ELSE (k + coalesce(cc.last, 0))::text END AS number
          FROM n LEFT JOIN case_counter cc ON cc.day = n.day
        )
        INSERT INTO case_record (id, number, kind, channel, state, title, description, risk, track, lat, lon, address,
            location_outside, grid_id, region_id, region_path, catalog_item_id, catalog_version_id, department_id,
            handling_level, handling_region_id, leader_id, return_count, arbitrated, extension_pending, emergency,
            discovered_at, registered_at, created_by, updated_at, closed_at, outcome, satisfaction, version)
        SELECT b.id, nn.number, b.kind, b.channel,
               CASE WHEN b.is_void THEN 'void' ELSE (CAST(:states AS text[]))[b.lvl + 1] END,
               b.title, b.description, b.risk,
               CASE WHEN b.lvl >= 2 THEN '马上调' END,
               round((b.center_lat + (b.u_lat - 0.5) * 0.6 * b.dlat)::numeric, 6)::float8,
               round((b.center_lon + (b.u_lon - 0.5) * 0.6 * b.dlon)::numeric, 6)::float8,
               b.address, false, b.grid_id, b.grid_id, b.path,
               CASE WHEN b.lvl >= 1 THEN b.item_id END, CASE WHEN b.lvl >= 1 THEN b.version_id END,
               CASE WHEN b.lvl >= 2 THEN b.dept_id END, CASE WHEN b.lvl >= 2 THEN b.item_level END,
               CASE WHEN b.lvl >= 2 THEN b.handling_region_id END,
               NULL, 0, false, NULL, b.emergency, b.discovered, b.reg, :op,
               CASE WHEN b.is_void THEN b.t_void ELSE (ARRAY[b.reg, b.t_cls, b.t_dis, b.t_acc, b.t_sta, b.t_fb, b.t_clo])[b.lvl + 1] END,
               CASE WHEN b.lvl = 6 THEN b.t_clo END,
               CASE WHEN b.lvl = 6 THEN CASE WHEN b.unreachable THEN 'unreachable' ELSE 'solved' END END,
               CASE WHEN b.lvl = 6 AND NOT b.unreachable THEN CASE WHEN b.u_sat < 0.9 THEN '满意' ELSE '基本满意' END END,
               1 + CASE WHEN b.is_void THEN 1 ELSE b.lvl END
        FROM bench_case b JOIN nn ON nn.id = b.id
        ORDER BY b.id""".replace(":states", "'{" + ",".join(STATE_BY_LEVEL) + "}'"))
        conn.execute(text("""
        INSERT INTO case_counter (day, last)
        SELECT to_char(reg AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD'), count(*) FROM bench_case GROUP BY 1
        ON CONFLICT (day) DO UPDATE SET last = case_counter.last + EXCLUDED.last"""))
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('case_record', 'id'), (SELECT max(id) FROM case_record))")
        conn.commit()

        # 4. Parties: the reporter, and the other side of most disputes.
        idn = _id_check_sql("p17")
        run("case_party", f"""
        INSERT INTO case_party (case_id, role, name, phone, id_number)
        SELECT id, role, name, phone, id_number FROM (
          SELECT b.id, 1 AS o, 'reporter' AS role, b.reporter AS name,
                 '1' || (ARRAY['3', '5', '7', '8'])[1 + floor(b.u_ph1 * 4)::int] || floor(b.u_ph2 * 10)::int
                   || (10000000 + floor(b.u_ph3 * 89999999))::bigint AS phone,
                 {idn} AS id_number
          FROM (SELECT bc.*, '411621' || to_char(date '1950-01-01' + floor(bc.u_birth * 365 * 55)::int, 'YYYYMMDD')
                            || (100 + floor(bc.u_idn * 900))::int AS p17 FROM bench_case bc) b
          UNION ALL
          SELECT b.id, 2, 'party', b.other_person,
                 CASE WHEN b.u_ph4 < 0.7 THEN '1' || (ARRAY['3', '5', '8'])[1 + floor(b.u_ph5 * 3)::int]
                      || (100000000 + floor(b.u_ph4 * 899999999))::bigint END,
                 NULL
          FROM bench_case b WHERE b.kind = 'dispute' AND b.u_party < 0.6
        ) p ORDER BY id, o""")

        # 5. Stage deadlines (report, route, route round 2 for 立即 items, resolve, feedback).
        run("stage rows (bench_dl)", f"""
        CREATE UNLOGGED TABLE bench_dl AS
        SELECT x.*, {_limit_due_sql('x.started', 'x.unit', 'x.amount', 'wd')} AS due_at,
               coalesce(wd.assumed, false) AS calendar_assumed
        FROM (
          SELECT id AS case_id, 'report' AS stage, 1 AS round, '{rep[0]}' AS limit_text, '{rep[1]}' AS unit,
                 {rep[2]} AS amount, discovered AS started, reg AS completed, NULL::text AS explanation,
                 true AS born_done FROM bench_case
          UNION ALL
          SELECT id, 'route', 1, '{route[0]}', '{route[1]}', {route[2]}, reg,
                 CASE WHEN is_void THEN t_void WHEN emergency THEN t_cls WHEN lvl >= 2 THEN t_dis END,
                 CASE WHEN is_void THEN '作废：重复登记，作废' END, false FROM bench_case
          UNION ALL
          SELECT id, 'route', 2, '{route_em[0]}', '{route_em[1]}', {route_em[2]}, reg,
                 CASE WHEN lvl >= 2 THEN t_dis END, NULL, false FROM bench_case WHERE emergency
          UNION ALL
          SELECT id, 'resolve', 1, r_text, r_unit, r_amount, t_dis, CASE WHEN lvl >= 5 THEN t_fb END, NULL, false
          FROM bench_case WHERE lvl >= 2
          UNION ALL
          SELECT id, 'feedback', 1, '{fb[0]}', '{fb[1]}', {fb[2]}, t_fb, CASE WHEN lvl = 6 THEN t_clo END, NULL, false
          FROM bench_case WHERE lvl >= 5
        ) x LEFT JOIN bench_wd wd ON x.unit = 'workday' AND wd.d = (x.started AT TIME ZONE 'Asia/Shanghai')::date
                                    AND wd.n = x.amount""")

        step_arr = "ARRAY[" + ", ".join(steps) + "]"
        reached = " + ".join(
            f"(CASE WHEN d.completed IS NULL THEN {s} <= CAST(:now AS timestamptz) ELSE {s} < d.completed END)::int"
            for s in steps)
        # The ladder as the job would have walked it: steps passed before completion (or before now)
        # are done, a running stage waits for its next step. Deadline ids come from the table's sequence.
        run("ladder (bench_dl2)", f"""
        CREATE UNLOGGED TABLE bench_dl2 AS
        SELECT nextval(pg_get_serial_sequence('case_deadline', 'id')) AS id, z.* FROM (
          SELECT y.*, CASE WHEN y.completed IS NULL AND y.step < {nsteps} THEN y.times[y.step + 1] END AS next_check_at
          FROM (
            SELECT d.*, {step_arr} AS times,
                   CASE WHEN d.born_done THEN 0 ELSE {reached} END AS step
            FROM (SELECT x.*, x.started + (x.due_at - x.started) * CAST(:ratio AS float8) AS warn_at FROM bench_dl x) d
            {' '.join(step_joins)}
          ) y
          ORDER BY y.started, y.case_id, y.stage, y.round
        ) z""")
        conn.exec_driver_sql("ANALYZE bench_dl2")

        run("case_deadline", """
        INSERT INTO case_deadline (id, case_id, stage, round, limit_text, started_at, due_at, warn_at, completed_at,
            calendar_assumed, supervision_step, next_check_at, explanation)
        SELECT d.id, d.case_id, d.stage, d.round, d.limit_text, d.started, d.due_at, d.warn_at, d.completed,
               d.calendar_assumed, d.step, d.next_check_at,
               CASE WHEN d.stage = 'resolve' AND d.completed > d.due_at THEN '涉及多方协调，处置时间较长'
                    ELSE d.explanation END
        FROM bench_dl2 d ORDER BY d.id""")

        arr = lambda xs: "ARRAY[" + ", ".join(f"'{x}'" for x in xs) + "]"  # noqa: E731
        stage_label = "CASE d.stage " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in STAGE_LABELS.items()) + " END"
        run("supervision_action (history)", f"""
        INSERT INTO supervision_action (case_id, deadline_id, department_id, step, kind, stage, created_at, created_by,
                                        note)
        SELECT d.case_id, d.id, CASE WHEN d.stage <> 'route' THEN b.dept_id END, s.i, ({arr(kinds)})[s.i], d.stage,
               d.times[s.i], NULL,
               {stage_label} || '环节' || ({arr(anchors)})[s.i] || '：' || ({arr(kind_labels)})[s.i]
        FROM bench_dl2 d JOIN bench_case b ON b.id = d.case_id CROSS JOIN LATERAL generate_series(1, d.step) s(i)
        WHERE d.step > 0
        ORDER BY d.times[s.i]""")

        # 6. The timeline: every move the case made, and the supervision job's entries.
        run("case_event", f"""
        INSERT INTO case_event (case_id, at, actor_id, action, from_state, to_state, note, data)
        SELECT case_id, at, actor_id, action, from_state, to_state, note, data FROM (
          SELECT id AS case_id, reg AS at, :op AS actor_id, 'register' AS action, NULL AS from_state,
                 'registered' AS to_state, NULL AS note,
                 json_build_object('channel', channel, 'outside', false) AS data FROM bench_case
          UNION ALL
          SELECT id, t_void, :op, 'void', 'registered', 'void', '重复登记，作废', '{{}}'::json FROM bench_case WHERE is_void
          UNION ALL
          SELECT id, t_cls, :op, 'classify', 'registered', 'triaged', NULL,
                 CASE WHEN emergency THEN json_build_object('item_code', item_code, 'item_name', item_name,
                                                            'version_id', version_id, 'emergency', true)
                      ELSE json_build_object('item_code', item_code, 'item_name', item_name, 'version_id', version_id) END
          FROM bench_case WHERE lvl >= 1
          UNION ALL
          SELECT id, t_dis, :op, 'dispatch', 'triaged', 'dispatched', NULL,
                 json_build_object('department_id', dept_id, 'department', dept_name, 'level', item_level,
                     'region_id', handling_region_id, 'region', handling_region_name, 'changed_from_proposal', false,
                     'proposal', '清单事项 ' || item_code || '“' || item_name || '”由' || dept_name || '负责，'
                                 || item_level || '级办理；属地为' || handling_region_name)
          FROM bench_case WHERE lvl >= 2
          UNION ALL
          SELECT id, t_acc, handler_id, 'accept', 'dispatched', 'accepted', NULL, '{{}}'::json FROM bench_case WHERE lvl >= 3
          UNION ALL
          SELECT id, t_sta, handler_id, 'start', 'accepted', 'in_progress', NULL, '{{}}'::json FROM bench_case WHERE lvl >= 4
          UNION ALL
          SELECT b.id, b.t_fb, b.handler_id, 'feedback', 'in_progress', 'handled', '已现场核实并处置完毕，当事人认可处理结果。',
                 json_build_object('result', '已现场核实并处置完毕，当事人认可处理结果。', 'evidence', json_build_array(),
                     'overdue_reason', CASE WHEN d.due_at < b.t_fb THEN '涉及多方协调，处置时间较长' END)
          FROM bench_case b JOIN bench_dl2 d ON d.case_id = b.id AND d.stage = 'resolve' WHERE b.lvl >= 5
          UNION ALL
          SELECT b.id, b.t_clo - (3 - a.k) * interval '50 minutes', :op, 'visit_attempt', 'handled', 'handled', '电话无人接听',
                 json_build_object('attempt', a.k, 'reached', false, 'solved', NULL, 'satisfaction', NULL)
          FROM bench_case b CROSS JOIN generate_series(1, 2) a(k) WHERE b.lvl = 6 AND b.unreachable
          UNION ALL
          SELECT id, t_clo, :op, 'close', 'handled', 'closed', NULL,
                 CASE WHEN unreachable THEN json_build_object('attempt', 3, 'reached', false, 'solved', NULL,
                                                              'satisfaction', NULL)
                      ELSE json_build_object('attempt', 1, 'reached', true, 'solved', true, 'satisfaction',
                                             CASE WHEN u_sat < 0.9 THEN '满意' ELSE '基本满意' END) END
          FROM bench_case WHERE lvl = 6
          UNION ALL
          SELECT d.case_id, d.times[s.i], NULL,
                 'supervise', st.state, st.state,
                 {stage_label} || '环节' || ({arr(anchors)})[s.i] || '：' || ({arr(kind_labels)})[s.i],
                 json_build_object('kind', ({arr(kinds)})[s.i], 'stage', d.stage, 'step', s.i)
          FROM bench_dl2 d JOIN bench_case b ON b.id = d.case_id CROSS JOIN LATERAL generate_series(1, d.step) s(i)
               CROSS JOIN LATERAL (SELECT CASE
                   WHEN d.stage = 'route' THEN CASE WHEN b.lvl >= 1 AND d.times[s.i] >= b.t_cls THEN 'triaged'
                                                    ELSE 'registered' END
                   WHEN d.stage = 'resolve' THEN CASE WHEN b.lvl >= 4 AND d.times[s.i] >= b.t_sta THEN 'in_progress'
                                                      WHEN b.lvl >= 3 AND d.times[s.i] >= b.t_acc THEN 'accepted'
                                                      ELSE 'dispatched' END
                   ELSE 'handled' END AS state) st
          WHERE d.step > 0
        ) e ORDER BY at, case_id""")
        for t in ("bench_gen", "bench_case", "bench_dl", "bench_dl2"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}")
        conn.commit()
        t = time.perf_counter()
        orphans = check_foreign_keys(conn, marks)
        print(f"      {'foreign keys of the new rows verified':<44} {len(orphans):>10} bad  "
              f"{time.perf_counter() - t:7.1f} s", flush=True)
        if orphans:
            raise SystemExit("rows with dangling references: " + "; ".join(orphans))
    seconds = time.perf_counter() - t0
    with db.engine.connect() as conn:
        for t in LOADED_TABLES:
            counts[t] = int(conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() or 0)
    return LoadStats(seconds, counts)


def check_foreign_keys(conn: Connection, marks: dict[str, int]) -> list[str]:
    """Every foreign key of the loaded tables, checked for the rows with id above the mark."""
    fks = conn.execute(text("""
        SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, af.attname
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
        WHERE c.contype = 'f' AND cardinality(c.conkey) = 1 AND c.conrelid::regclass::text = ANY(:t)
        ORDER BY 1, 2"""), {"t": list(marks)}).all()
    bad = []
    for child, col, parent, pcol in fks:
        n = conn.execute(text(f"""SELECT count(*) FROM {child} x WHERE x.id > :m AND x.{col} IS NOT NULL
                                  AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{pcol} = x.{col})"""),
                         {"m": marks[child]}).scalar()
        if n:
            bad.append(f"{child}.{col} → {parent}: {n}")
    return bad


def vacuum_analyze(db: Database) -> float:
    t = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in LOADED_TABLES:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
        conn.exec_driver_sql("CHECKPOINT")
    return time.perf_counter() - t


def sanity(db: Database, now: datetime) -> dict[str, Any]:
    with db.engine.connect() as conn:
        states = dict(conn.execute(text("SELECT state, count(*) FROM case_record GROUP BY 1 ORDER BY 2 DESC")).all())
        running = conn.execute(text("SELECT count(*) FROM case_deadline WHERE completed_at IS NULL")).scalar()
        waiting = conn.execute(text("SELECT count(*) FROM case_deadline WHERE next_check_at IS NOT NULL")).scalar()
        due = conn.execute(text("SELECT count(*) FROM case_deadline WHERE next_check_at <= :now"), {"now": now}).scalar()
        overdue = conn.execute(text("""SELECT count(DISTINCT case_id) FROM case_deadline
                                       WHERE completed_at IS NULL AND due_at < :now"""), {"now": now}).scalar()
        bad = conn.execute(text("""SELECT count(*) FROM case_deadline
                                   WHERE (completed_at IS NOT NULL AND next_check_at IS NOT NULL)""")).scalar()
        span = conn.execute(text("SELECT min(registered_at), max(registered_at) FROM case_record")).one()
    return {"states": states, "running": running, "waiting": waiting, "due": due, "overdue_cases": overdue,
            "bad": bad, "span": span}


# ----------------------------------------------------------------------------------------------
# 2. The supervision scan with exactly K rows due
# ----------------------------------------------------------------------------------------------

@dataclass
class DueRow:
    id: int
    case_id: int
    stage: str
    step: int           # the step the job reached before we turned the clock back
    next_check_at: datetime


def make_due(db: Database, policy: Policy, now: datetime, k: int, rng: random.Random) -> list[DueRow]:
    """Pick K running stages of open cases whose ladder has reached step s ≥ 1 and undo that last step,
    as if the job had not yet run: supervision_step = s-1, next_check_at = time of step s-1 (≤ now),
    and the action and timeline entry of step s removed. The data stays consistent; K rows are due."""
    open_states = sorted(OPEN_STATES)
    with db.unit_of_work() as s:
        ids = s.execute(select(CaseDeadline.id).join(Case, Case.id == CaseDeadline.case_id).where(
            CaseDeadline.completed_at.is_(None), CaseDeadline.supervision_step >= 1,
            Case.state.in_(open_states))).scalars().all()
        if len(ids) < k:
            raise SystemExit(f"only {len(ids)} running stages have passed a ladder step; need K={k}")
        chosen = sorted(rng.sample(list(ids), k))
        calendar = DbCalendar(s)
        rows = s.scalars(select(CaseDeadline).where(CaseDeadline.id.in_(chosen))).all()
        out = []
        s.execute(text("SET LOCAL session_replication_role = replica"))  # case_event is append-only by trigger
        for r in rows:
            step = r.supervision_step
            at = policy.step_time(policy.ladder[step - 1], r.warn_at, r.due_at, calendar)
            assert at <= now
            s.execute(text("DELETE FROM supervision_action WHERE deadline_id = :d AND step = :s"), {"d": r.id, "s": step})
            s.execute(text("""DELETE FROM case_event WHERE case_id = :c AND action = 'supervise'
                              AND data->>'stage' = :st AND (data->>'step')::int = :s"""),
                      {"c": r.case_id, "st": r.stage, "s": step})
            r.supervision_step, r.next_check_at = step - 1, at
            out.append(DueRow(r.id, r.case_id, r.stage, step - 1, at))
    with db.engine.connect() as conn:
        due = conn.execute(text("SELECT count(*) FROM case_deadline WHERE next_check_at <= :now"), {"now": now}).scalar()
    if due != k:
        raise SystemExit(f"expected exactly {k} due rows, found {due}")
    return out


def watermarks(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: int(conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {t}").scalar() or 0)
                for t in ("supervision_action", "case_event", "outbox")}


def undo_scan(db: Database, marks: dict[str, int], due: list[DueRow]) -> None:
    """Remove what one scan wrote and put the K rows back to due."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for t, m in marks.items():
            conn.execute(text(f"DELETE FROM {t} WHERE id > :m"), {"m": m})
        conn.execute(text("UPDATE case_deadline SET supervision_step = :step, next_check_at = :at WHERE id = :id"),
                     [{"step": d.step, "at": d.next_check_at, "id": d.id} for d in due])


def bench_scan(db: Database, cap: Capture, report: Report, world: World, n_cases: int, now: datetime, k: int,
               repeat: int, rng: random.Random, show_explain: bool) -> None:
    # No row due: the cost of an idle tick of every worker.
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = scan_once(db, now=now)
        samples.append(time.perf_counter() - t)
        assert r.examined == 0, r
    report.add("scan_once, 0 due", n_cases, samples)

    due = make_due(db, world.policy, now, k, rng)
    marks = watermarks(db)
    samples, stmts_per_scan, claim = [], 0, None
    for i in range(repeat):
        with cap.on() as stmts:
            t = time.perf_counter()
            r = scan_once(db, now=now)
            samples.append(time.perf_counter() - t)
        if r.examined != k or r.actions != k:
            raise SystemExit(f"scan examined {r.examined} and acted on {r.actions}, expected {k}")
        stmts_per_scan = len(stmts)
        claim = claim or next(s for s in stmts if "SKIP LOCKED" in s.sql)
        if i < repeat - 1:  # the last scan stays: the rows end where the job leaves them
            undo_scan(db, marks, due)
        if i == 0 and show_explain:
            with db.engine.connect() as conn:
                print(f"    claim query: {compact_sql(claim.sql)}")
                print(indent(explain(conn, claim)))
    row = report.add(f"scan_once, K={k} due", n_cases, samples, f"{stmts_per_scan} SQL statements/scan")
    row.note += f", {ms(statistics.median(samples)) / k:.2f} ms/row"


# ----------------------------------------------------------------------------------------------
# 3. Case page and 4. list pages
# ----------------------------------------------------------------------------------------------

def bench_case_page(db: Database, cap: Capture, report: Report, principal: Principal, n_cases: int, now: datetime,
                    samples_n: int, rng: random.Random) -> None:
    with db.engine.connect() as conn:
        lo, hi = conn.execute(text("SELECT min(id), max(id) FROM case_record")).one()
    ids = [rng.randint(lo, hi) for _ in range(samples_n)]
    base, page, counts, events = [], [], [], []
    for cid in ids:
        with db.read() as s:
            t = time.perf_counter()
            s.get(Case, cid)
            base.append(time.perf_counter() - t)
        with db.read() as s, cap.on() as stmts:
            t = time.perf_counter()
            detail = case_detail(s, principal, cid, now=now)
            page.append(time.perf_counter() - t)
        counts.append(len(stmts))
        events.append(len(detail.timeline))
    report.add("baseline: session.get(Case, id)", n_cases, base)
    report.add("case_detail (county operator)", n_cases, page,
               f"{statistics.median(counts):.0f} SQL/page, {statistics.mean(events):.1f} events/case")


@dataclass
class ListCase:
    label: str
    principal: Principal
    filt: CaseFilter


@dataclass
class ListTargets:
    town_id: int
    town: str
    dept_id: int
    dept: str


def list_targets(db: Database, world: World) -> ListTargets:
    """The town of the town-level operator, and the department with the most open cases."""
    with db.engine.connect() as conn:
        town = conn.execute(text("SELECT name FROM region WHERE id = :i"), {"i": world.town_operator.region_id}).scalar()
        dept_id, dept = conn.execute(text("""
            SELECT d.id, d.name FROM case_record c JOIN department d ON d.id = c.department_id
            WHERE c.state NOT IN ('closed', 'void') GROUP BY d.id, d.name ORDER BY count(*) DESC, d.id LIMIT 1""")).one()
    return ListTargets(world.town_operator.region_id, str(town), int(dept_id), str(dept))


def list_filters(world: World, tg: ListTargets) -> list[ListCase]:
    county_op, town_op = world.operator, world.town_operator
    open_states = sorted(OPEN_STATES)
    out = []
    for page in (1, 50):
        out += [
            ListCase(f"list: no filter, p{page}", county_op, CaseFilter(page=page)),
            ListCase(f"list: state in open states, p{page}", county_op, CaseFilter(state=open_states, page=page)),
            ListCase(f"list: kind=dispute + town, p{page}", county_op,
                     CaseFilter(kind="dispute", region_id=tg.town_id, page=page)),
            ListCase(f"list: department + overdue, p{page}", county_op,
                     CaseFilter(department_id=tg.dept_id, overdue=True, page=page)),
            ListCase(f"list: risk=高, p{page}", county_op, CaseFilter(risk="高", page=page)),
            ListCase(f"list: town operator, no filter, p{page}", town_op, CaseFilter(page=page)),
        ]
    out.sort(key=lambda c: (c.label.rsplit(",", 1)[0], c.filt.page))
    return out


_COLUMNS = re.compile(r"SELECT (?:case_record\.\w+(?: AS \w+)?, )+case_record\.\w+(?: AS \w+)? FROM")


def short_sql(sql: str) -> str:
    return _COLUMNS.sub("SELECT case_record.<all columns> FROM", compact_sql(sql))


def bench_lists(db: Database, cap: Capture, report: Report, world: World, tg: ListTargets, n_cases: int,
                now: datetime, runs: int, explain_ms: float, show_explain: bool,
                suffix: str = "") -> dict[str, list[Stmt]]:
    if not suffix:
        samples = []
        for _ in range(runs):
            with db.read() as s:
                t = time.perf_counter()
                s.execute(text("SELECT count(*) FROM case_record")).scalar()
                samples.append(time.perf_counter() - t)
        report.add("baseline: SELECT count(*) FROM case_record", n_cases, samples)
    explained: set[str] = set()
    captured: dict[str, list[Stmt]] = {}
    for lc in list_filters(world, tg):
        samples, split = [], []
        total = 0
        last: list[Stmt] = []
        for i in range(runs + 1):  # the first run warms the cache and is not counted
            with db.read() as s, cap.on() as stmts:
                t = time.perf_counter()
                page = list_cases(s, lc.principal, lc.filt, now=now)
                dt = time.perf_counter() - t
            if i == 0:
                continue
            samples.append(dt)
            total = page.total
            count_stmt = next((x for x in stmts if "count(" in x.sql.lower()), None)
            split.append(count_stmt.seconds if count_stmt else 0.0)
            last = list(stmts)
        captured[lc.label] = last
        empty = " (page beyond the end)" if total <= (lc.filt.page - 1) * lc.filt.size else ""
        row = report.add(lc.label + suffix, n_cases, samples,
                         f"total={total:,}; count part {ms(statistics.median(split)):.1f} ms; {len(last)} SQL{empty}")
        if show_explain and row.median_ms >= explain_ms:
            with db.engine.connect() as conn:
                for st in sorted(last, key=lambda x: -x.seconds)[:2]:
                    if ms(st.seconds) < explain_ms / 2:
                        continue
                    key = compact_sql(st.sql) + repr(sorted((k, v) for k, v in st.params.items()
                                                            if not k.startswith("param_")))
                    if key in explained:
                        continue
                    explained.add(key)
                    print(f"      slow statement ({ms(st.seconds):.1f} ms): {short_sql(st.sql)}")
                    print(f"      params: {st.params}")
                    print(indent(explain(conn, st), "        "))
    return captured


# Query-shape variants of the captured list statements, run as raw SQL with the same parameters.
_SCOPE = re.compile(r"\(?case_record\.region_path LIKE %\(region_path_1\)s::VARCHAR \|\| '%%' ESCAPE '/'\)?")
_EXISTS = "AND (EXISTS (SELECT"


def bench_shapes(db: Database, report: Report, captured: dict[str, list[Stmt]], n_cases: int, runs: int,
                 show_explain: bool, suffix: str = "") -> None:
    """What two query-shape changes in cases/access.py and cases/queries.py would give:
    (a) no region_path LIKE when the principal's scope is the whole county (it matches every case),
    (b) overdue=True also saying state IN open states (a running stage exists only on an open case).
    The variants of one statement run interleaved, so load from other processes hits them alike."""
    open_list = "(" + ", ".join(f"'{x}'" for x in sorted(OPEN_STATES)) + ")"
    for label, stmts in captured.items():
        if "town operator" in label:
            continue
        picks = [("count", next((x for x in stmts if "count(" in x.sql.lower()), None))]
        if label.endswith("p50"):
            picks = [("page", next((x for x in stmts if "OFFSET" in x.sql and "case_record.number" in x.sql), None))]
        for what, st in picks:
            if st is None or st.params.get("region_path_1") != "//1//":
                continue
            variants = [("as is", st.sql)]
            unscoped = _SCOPE.sub("TRUE", st.sql, count=1)
            if unscoped != st.sql:
                variants.append(("no scope LIKE", unscoped))
            if _EXISTS in st.sql:
                open_clause = f"AND case_record.state IN {open_list} {_EXISTS}"
                variants.append(("+ state IN open", st.sql.replace(_EXISTS, open_clause, 1)))
                variants.append(("both", unscoped.replace(_EXISTS, open_clause, 1)))
            base = label.removeprefix("list: ")
            samples: dict[str, list[float]] = {v: [] for v, _ in variants}
            results: dict[str, str] = {}
            with db.engine.connect() as conn:
                for i in range(runs + 1):
                    for vlabel, sql in variants:
                        t = time.perf_counter()
                        value = conn.exec_driver_sql(sql, st.params).all()
                        if i:
                            samples[vlabel].append(time.perf_counter() - t)
                        results[vlabel] = repr(value)
            if len(set(results.values())) != 1:
                raise SystemExit(f"query-shape variants of {label!r} disagree: {results}")
            for vlabel, sql in variants:
                report.add(f"shape: {base}, {what}: {vlabel}{suffix}", n_cases, samples[vlabel])
                if show_explain and (vlabel in ("+ state IN open", "both") or
                                     (vlabel == "no scope LIKE" and base.startswith("state in open") and what == "count")):
                    print(f"      {base}, {what}: {vlabel}{suffix}")
                    with db.engine.connect() as conn:
                        print(indent(explain(conn, Stmt(sql, st.params, 0.0)), "        "))


# Indexes the list queries would use; created only in the benchmark database, to measure the difference.
WHAT_IF_INDEXES = [
    ("running stages (partial)",
     "CREATE INDEX bench_whatif_deadline_running ON case_deadline (case_id, due_at) WHERE completed_at IS NULL"),
    ("region_path prefix (pattern ops)",
     "CREATE INDEX bench_whatif_case_region_path ON case_record (region_path varchar_pattern_ops)"),
    ("risk", "CREATE INDEX bench_whatif_case_risk ON case_record (risk, registered_at)"),
]


def bench_what_if(db: Database, cap: Capture, report: Report, world: World, tg: ListTargets, n_cases: int,
                  now: datetime, runs: int, explain_ms: float) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for label, ddl in WHAT_IF_INDEXES:
            t = time.perf_counter()
            conn.exec_driver_sql(ddl)
            print(f"    {label:<36} {time.perf_counter() - t:6.1f} s  {ddl}")
        conn.exec_driver_sql("ANALYZE case_deadline")
        conn.exec_driver_sql("ANALYZE case_record")
    captured = bench_lists(db, cap, report, world, tg, n_cases, now, runs, explain_ms, show_explain=True,
                           suffix=" [what-if]")
    print("    … and the query shapes of step 5 with these indexes:")
    bench_shapes(db, report, captured, n_cases, runs, show_explain=True, suffix=" [what-if]")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for _, ddl in WHAT_IF_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX {ddl.split()[2]}")


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1_000_000, help="final number of cases (default 1,000,000)")
    ap.add_argument("--quick", action="store_true", help="a short run: 50,000 cases (10k → 50k)")
    ap.add_argument("--url", default=DEFAULT_URL, help=f"database to create and use (default {DEFAULT_URL})")
    ap.add_argument("--admin-db", default="test", help="existing database used to create/drop it (default test)")
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    ap.add_argument("--replace", action="store_true", help="drop the database first if it exists")
    ap.add_argument("--due", type=int, default=200, help="K: stages due in the scan benchmark (default 200)")
    ap.add_argument("--repeat", type=int, default=7, help="runs per scan measurement (default 7)")
    ap.add_argument("--pages", type=int, default=50, help="random cases for the case page (default 50)")
    ap.add_argument("--list-runs", type=int, default=10, help="runs per list filter (default 10)")
    ap.add_argument("--stuck", type=float, default=0.03, help="share of cases stuck open at some stage (default 0.03)")
    ap.add_argument("--explain-ms", type=float, default=50.0, help="EXPLAIN list statements slower than this (ms)")
    ap.add_argument("--no-what-if", action="store_true", help="skip re-measuring the lists with candidate indexes")
    ap.add_argument("--seed", type=int, default=20261124)
    args = ap.parse_args(argv)
    if args.quick:
        args.cases = 50_000
    sizes = sorted({s for s in (10_000, 100_000) if s < args.cases} | {args.cases})

    now = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(args.seed)
    url = args.url
    print(f"fengqiao closed-loop benchmark: sizes {', '.join(f'{s:,}' for s in sizes)}; K={args.due}; now={now:%Y-%m-%d %H:%M}Z")
    create_database(url, args.admin_db, args.replace)
    db = Database(url)
    report = Report()
    t_all = time.perf_counter()
    try:
        with db.engine.connect() as conn:
            ver = conn.exec_driver_sql("SHOW server_version").scalar()
            settings = {k: conn.exec_driver_sql(f"SHOW {k}").scalar()
                        for k in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "lc_collate",
                                  "synchronous_commit")}
        print(f"PostgreSQL {ver}; " + ", ".join(f"{k}={v}" for k, v in settings.items()))

        banner("1. Load")
        t = time.perf_counter()
        init_database(db)
        world = build_world(db, now)
        print(f"    schema + demo organisation: {world.ngrid} grids, {world.nitem} list items "
              f"({time.perf_counter() - t:.1f} s)")
        cap = Capture(db.engine)
        loaded = 0
        targets: ListTargets | None = None
        for size in sizes:
            banner(f"{size:,} cases (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})")
            delta = size - loaded
            print(f"    loading {delta:,} cases (ids {loaded + 1:,}–{size:,}) …")
            stats = load_cases(db, world, loaded, delta, now, args.seed + size, args.stuck)
            loaded = size
            rows_added = sum(stats.rows.values())
            vac = vacuum_analyze(db)
            print(f"    load {stats.seconds:.1f} s  ({delta / stats.seconds:,.0f} cases/s); VACUUM ANALYZE + CHECKPOINT "
                  f"{vac:.1f} s")
            print("    table rows now: " + ", ".join(f"{t} {n:,}" for t, n in stats.rows.items()))
            info = sanity(db, now)
            total = sum(info["states"].values())
            open_n = sum(v for k, v in info["states"].items() if k in OPEN_STATES)
            print("    states: " + ", ".join(f"{k} {v:,}" for k, v in info["states"].items())
                  + f"  → open {open_n / total:.1%}")
            print(f"    registered {info['span'][0]:%Y-%m-%d} … {info['span'][1]:%Y-%m-%d %H:%M}; running stages "
                  f"{info['running']:,}, waiting for the job {info['waiting']:,}, due now {info['due']}, "
                  f"overdue cases {info['overdue_cases']:,}")
            assert info["bad"] == 0 and info["due"] == 0, info
            report.rows.append(Row("load (cases/s as 'median')", size, delta / stats.seconds, None, 1,
                                   f"{stats.seconds:.1f} s for {delta:,} cases, {rows_added:,} rows in total"))

            final = size == sizes[-1]
            banner(f"2. Supervision scan at {size:,} cases")
            bench_scan(db, cap, report, world, size, now, args.due, args.repeat, rng, show_explain=final)
            banner(f"3. Case page at {size:,} cases")
            bench_case_page(db, cap, report, world.operator, size, now, args.pages, rng)
            banner(f"4. List pages at {size:,} cases")
            if targets is None:
                targets = list_targets(db, world)
                print(f"    town = {targets.town} (region {targets.town_id}, also the town operator's scope); "
                      f"department = {targets.dept} (id {targets.dept_id})")
            captured = bench_lists(db, cap, report, world, targets, size, now, args.list_runs, args.explain_ms,
                                   show_explain=final)
            if final and not args.no_what_if:
                banner("5. What if: query shapes (raw SQL of the captured list statements, same results)")
                bench_shapes(db, report, captured, size, args.list_runs, show_explain=True)
                banner("6. What if: the same list pages with candidate indexes (bench database only)")
                bench_what_if(db, cap, report, world, targets, size, now, args.list_runs, args.explain_ms)

        summary(report, sizes, args.due)
        print(f"    load average now {' '.join(f'{x:.1f}' for x in os.getloadavg())} (1, 5, 15 min) on "
              f"{os.cpu_count()} cores; other processes on the machine affect every figure")
        print(f"\ntotal run time {time.perf_counter() - t_all:.0f} s")
    finally:
        db.dispose()
        if args.keep:
            print(f"kept database {make_url(url).database!r} ({url})")
        else:
            drop_database(url, args.admin_db)
            print(f"dropped database {make_url(url).database!r}")
    return 0


def summary(report: Report, sizes: list[int], k: int) -> None:
    banner("Summary (same run, same machine)")
    print(f"    {'what':<60} {'N cases':>9}  {'median ms':>10}  {'p90 ms':>9}  runs  note")
    order: list[str] = []
    for r in report.rows:
        if not r.what.startswith("load") and r.what not in order:
            order.append(r.what)
    for what in order:
        for r in sorted((r for r in report.rows if r.what == what), key=lambda r: r.n_cases):
            p90 = f"{r.p90_ms:9.1f}" if r.p90_ms is not None else "        -"
            print(f"    {pad(r.what, 60)} {r.n_cases:>9,}  {r.median_ms:10.1f}  {p90}  {r.runs:>4}  {r.note}")
    print()
    for r in report.rows:
        if r.what.startswith("load"):
            print(f"    load to {r.n_cases:>9,} cases: {r.median_ms:,.0f} cases/s ({r.note})")
    small, big = sizes[0], sizes[-1]
    if big > small:
        print(f"\n    growth: median at {big:,} / median at {small:,} cases ({big // small}× the cases)")
        for what in order:
            a, b = report.find(what, small), report.find(what, big)
            if a and b and a.median_ms > 0:
                print(f"      {pad(what, 60)} {b.median_ms / a.median_ms:7.2f}×")
    base = report.find("baseline: SELECT count(*) FROM case_record", big)
    if base:
        print(f"\n    list pages at {big:,} cases vs a plain SELECT count(*) FROM case_record ({base.median_ms:.1f} ms)")
        for r in report.rows:
            if r.n_cases == big and r.what.startswith("list:") and not r.what.endswith("[what-if]"):
                after = report.find(r.what + " [what-if]", big)
                extra = f"   with candidate indexes {after.median_ms:8.1f} ms ({after.median_ms / base.median_ms:6.2f}×)" \
                    if after else ""
                print(f"      {pad(r.what, 60)} {r.median_ms:8.1f} ms ({r.median_ms / base.median_ms:6.2f}×){extra}")


if __name__ == "__main__":
    sys.exit(main())
