#!/usr/bin/env python
"""Dedup candidate lookup time at 10k, 100k and 1M open cases (PostgreSQL).

    .venv/bin/python bench/intake/dedup_lookup.py                 # 10k → 100k → 1M, ~3 min on 2 cores
    .venv/bin/python bench/intake/dedup_lookup.py --sizes 10000,50000 --probes 200

Builds a throw-away database with the demo county (540 grids, 76 villages), bulk-loads open cases
registered over the past year with their place-index rows and a reporter each, and times
``fengqiao.intake.dedup.find`` — the lookup every auto-linking delivery makes — for random probes of
every kind at random places in the county. "with locate" adds the point → grid → village lookup
the service does first. Prints the plan of the largest index read at the largest size.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).parent))
from common import DEFAULT_URL, bulk_load, create_database, drop_database, grids, point_in, setup, summary, texts  # noqa: E402

from fengqiao.cases.models import Party  # noqa: E402
from fengqiao.db import utcnow  # noqa: E402
from fengqiao.intake import dedup  # noqa: E402
from fengqiao.intake.domain import Probe, area_of, lookup_cells, rule_for  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--probes", type=int, default=400)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    rng = random.Random(11)
    create_database(args.url)
    results = []
    try:
        db = setup(args.url)
        gs, ts = grids(db), texts(db)
        now = utcnow()
        loaded = 0
        for size in sizes:
            added = size - loaded
            secs = bulk_load(db, added, now=now, seed=size)
            loaded = size
            print(f"\n== {size:,} open cases (bulk-loaded {added:,} in {secs:.1f} s)", flush=True)
            with db.read() as s:
                phones = list(s.scalars(select(Party.phone).order_by(Party.id.desc()).limit(5000)))
            by_kind: dict[str, list[float]] = defaultdict(list)
            with_locate: list[float] = []
            examined: list[int] = []
            for i in range(args.probes + 20):
                kind, body = rng.choice(ts)
                grid = rng.choice(gs)
                lat, lon = point_in(grid, rng)
                probe_phones = frozenset({rng.choice(phones)}) if rng.random() < 0.3 else frozenset()
                t0 = time.perf_counter()
                with db.read() as s:
                    area = dedup.area_for(s, lat, lon, None)
                    t1 = time.perf_counter()
                    probe = Probe(kind=kind, text=body, at=now, lat=lat, lon=lon, area_id=area, phones=probe_phones)
                    matches, rows = dedup.find(s, probe)
                    t2 = time.perf_counter()
                    if i >= 20:  # the first few warm the caches
                        rule = rule_for(kind, body)
                        examined.append(len(dedup.candidate_ids(s, probe, now - rule.window, now)))
                if i >= 20:
                    by_kind[rule_for(kind, body).label].append(t2 - t1)
                    with_locate.append(t2 - t0)
            every = [v for vs in by_kind.values() for v in vs]
            row = {"open_cases": size, "find": summary(every), "with_locate": summary(with_locate),
                   "rows_examined_avg": round(sum(examined) / len(examined), 1),
                   "by_rule": {k: summary(v) for k, v in sorted(by_kind.items())}}
            results.append(row)
            print(f"   find()            p50 {row['find']['p50']:7.2f} ms  p90 {row['find']['p90']:7.2f}  "
                  f"p99 {row['find']['p99']:7.2f}  (n={row['find']['n']}, avg candidate ids {row['rows_examined_avg']})")
            print(f"   locate + find()   p50 {row['with_locate']['p50']:7.2f} ms  p99 {row['with_locate']['p99']:7.2f}")
            for label, st in row["by_rule"].items():
                print(f"     {label:<8} p50 {st['p50']:7.2f} ms  p99 {st['p99']:7.2f}  (n={st['n']})")
        # The plan of the two index reads for a dispute and a land dispute at the largest size.
        with db.engine.connect() as conn:
            g = rng.choice(gs)
            lat, lon = point_in(g, rng)
            _, cells = lookup_cells(lat, lon, 300)
            plan = conn.execute(text(
                "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) SELECT case_id FROM intake_place WHERE cell_fine = ANY(:c) "
                "AND registered_at BETWEEN :a AND :b ORDER BY registered_at DESC LIMIT 400"),
                {"c": cells, "a": now - rule_for("dispute", "").window, "b": now}).scalars().all()
            print("\n   plan, cells within 300 m, 30 days:\n      " + "\n      ".join(plan))
            plan = conn.execute(text(
                "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) SELECT case_id FROM intake_place WHERE area_id = :a "
                "AND registered_at BETWEEN :s AND :b ORDER BY registered_at DESC LIMIT 400"),
                {"a": area_of(g.path), "s": now - rule_for("dispute", "土地").window, "b": now}).scalars().all()
            print("\n   plan, same village, 90 days:\n      " + "\n      ".join(plan))
        print("\n" + json.dumps(results, ensure_ascii=False))
    finally:
        if not args.keep:
            drop_database(args.url)


if __name__ == "__main__":
    main()
