#!/usr/bin/env python
"""Sustained intake throughput over HTTP on PostgreSQL, with dedup on.

    .venv/bin/python bench/intake/http_intake.py                        # 4,000 reports or 120 s
    .venv/bin/python bench/intake/http_intake.py --requests 1000 --concurrency 8 --workers 1

Creates a database (dropped at the end), the demo county and ``--preload`` open cases (bulk), starts
uvicorn with ``--workers`` processes on loopback, and from a second process sends grid-worker
reports (``POST /api/intake/grid/reports``, logged-in grid worker) with ``--concurrency`` threads
until ``--requests`` are sent or ``--seconds`` pass. 10% are re-deliveries of an earlier report id
(must return the same case), 10% are the same problem reported again 10 m away (auto-linked);
every other report is a new problem somewhere in the county. Every delivery runs the whole path:
token check, idempotency row, place lookup, candidate search, registration with deadlines.
Afterwards the database is checked: one case per created outcome, one delivery per report id.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import func, select

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from common import DEFAULT_URL, bulk_load, create_database, drop_database, grids, setup, summary, texts  # noqa: E402

from fengqiao.cases.models import Case  # noqa: E402
from fengqiao.demo.generate import DEMO_PASSWORD  # noqa: E402
from fengqiao.intake.models import IntakeDelivery, IntakeReport  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--preload", type=int, default=10000, help="open cases already there (bulk-loaded)")
    ap.add_argument("--dup-rate", type=float, default=0.1)
    ap.add_argument("--near-rate", type=float, default=0.1)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    create_database(args.url)
    server = None
    try:
        db = setup(args.url)
        if args.preload:
            print(f"preloaded {args.preload:,} open cases in {bulk_load(db, args.preload):.1f} s", flush=True)
        rng = random.Random(3)
        points = [(g.lat, g.lon) for g in grids(db)]
        kinds = [(k, t) for k, t in texts(db) if k in ("hazard", "facility", "dispute", "request")]
        with db.read() as s:
            cases_before = s.scalar(select(func.count()).select_from(Case)) or 0
        port = _free_port()
        data_dir = tempfile.mkdtemp(prefix="fengqiao-bench-")
        env = {**os.environ, "FENGQIAO_DATABASE_URL": args.url, "FENGQIAO_DATA_DIR": data_dir, "FENGQIAO_DEMO": "1"}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "server:make_app", "--host", "127.0.0.1", "--port",
             str(port), "--workers", str(args.workers), "--log-level", "warning", "--no-access-log"],
            cwd=HERE, env=env)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.3)
        token = httpx.post(f"{base}/api/auth/login", json={"username": "grid_worker", "password": DEMO_PASSWORD}
                           ).json()["token"]

        def run(n: int, seconds: float, seed: int) -> dict:
            plan = {"base": base, "token": token, "points": points, "texts": kinds, "requests": n,
                    "seconds": seconds, "concurrency": args.concurrency, "dup_rate": args.dup_rate,
                    "near_rate": args.near_rate, "seed": seed}
            out = subprocess.run([sys.executable, str(HERE / "load.py")], input=json.dumps(plan, ensure_ascii=False),
                                 capture_output=True, text=True, check=True)
            return json.loads(out.stdout)

        run(100, 30, seed=1)  # warm-up: connections, imports, plans
        with db.read() as s:
            cases_warm = s.scalar(select(func.count()).select_from(Case)) or 0
            deliveries_warm = s.scalar(select(func.count()).select_from(IntakeDelivery)) or 0
        res = run(args.requests, args.seconds, seed=rng.randint(0, 10**6))
        with db.read() as s:
            cases_after = s.scalar(select(func.count()).select_from(Case)) or 0
            deliveries = (s.scalar(select(func.count()).select_from(IntakeDelivery)) or 0) - deliveries_warm
            reports = s.scalar(select(func.count()).select_from(IntakeReport)) or 0
        o, el = res["outcome"], res["elapsed"]
        lat = summary(res["latencies"])
        total = sum(res["statuses"].values())
        print(f"\nuvicorn workers {args.workers}, client threads {args.concurrency}, open cases at start "
              f"{cases_before:,} (+{cases_warm - cases_before} warm-up)")
        print(f"requests {total:,} in {el:.1f} s = {total / el:.1f} req/s; statuses {res['statuses']}")
        print(f"new cases {o['created']:,} = {o['created'] / el:.1f} cases/s; auto-linked {o['linked']:,}; "
              f"re-deliveries answered {o['replayed']:,}; deliveries {(o['created'] + o['linked']) / el:.1f}/s")
        print(f"latency p50 {lat['p50']:.1f} ms  p90 {lat['p90']:.1f} ms  p99 {lat['p99']:.1f} ms  max {lat['max']:.1f} ms")
        ok = cases_after - cases_warm == o["created"] and deliveries == o["created"] + o["linked"]
        print(f"check: cases added {cases_after - cases_warm:,} (expected {o['created']:,}), delivery rows "
              f"{deliveries:,} (expected {o['created'] + o['linked']:,}), reports total {reports:,}: "
              f"{'OK' if ok else 'MISMATCH'}")
        print(json.dumps({"requests": total, "seconds": round(el, 2), "req_per_s": round(total / el, 1),
                          "cases_per_s": round(o["created"] / el, 1), "outcome": o, "statuses": res["statuses"],
                          "latency_ms": lat, "consistent": ok}, ensure_ascii=False))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            drop_database(args.url)


if __name__ == "__main__":
    main()
