#!/usr/bin/env python
"""Load generator for http_intake.py: grid reports over HTTP from one process, bounded in count and time.

Reads a JSON plan on stdin ({base, token, points, texts, requests, seconds, concurrency, dup_rate,
near_rate, seed}) and prints one JSON result: status counts, what each delivery produced and every latency.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import uuid

import httpx2 as httpx


def main() -> None:
    plan = json.load(sys.stdin)
    rng = random.Random(plan["seed"])
    lock = threading.Lock()
    sent: list[dict] = []              # earlier bodies, for re-deliveries and near-duplicates
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    outcome = {"created": 0, "linked": 0, "replayed": 0}
    issued = 0
    deadline = time.monotonic() + plan["seconds"]

    def next_body() -> dict:
        with lock:
            r = rng.random()
            if sent and r < plan["dup_rate"]:
                return dict(rng.choice(sent))                       # the phone sends it again
            if sent and r < plan["dup_rate"] + plan["near_rate"]:
                base = rng.choice(sent)                              # someone else, same problem, 10 m away
                return {**base, "report_id": uuid.uuid4().hex, "lat": round(base["lat"] + 0.00009, 6)}
            lat, lon = rng.choice(plan["points"])
            kind, body = rng.choice(plan["texts"])
            doc = {"report_id": uuid.uuid4().hex, "kind": kind, "description": body,
                   "lat": round(lat + (rng.random() - 0.5) * 0.004, 6),
                   "lon": round(lon + (rng.random() - 0.5) * 0.004, 6),
                   "captured_at": "2026-11-24T08:00:00+08:00"}
            sent.append(doc)
            return doc

    def worker() -> None:
        nonlocal issued
        with httpx.Client(base_url=plan["base"], headers={"Authorization": f"Bearer {plan['token']}"},
                          timeout=60) as client:
            while True:
                with lock:
                    if issued >= plan["requests"] or time.monotonic() > deadline:
                        return
                    issued += 1
                body = next_body()
                t0 = time.perf_counter()
                r = client.post("/api/intake/grid/reports", json=body)
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
                    if r.status_code in (200, 201):
                        out = r.json()
                        key = "replayed" if out["replayed"] else "linked" if out["linked"] else "created"
                        outcome[key] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(plan["concurrency"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    json.dump({"elapsed": elapsed, "statuses": statuses, "outcome": outcome, "latencies": latencies}, sys.stdout)


if __name__ == "__main__":
    main()
