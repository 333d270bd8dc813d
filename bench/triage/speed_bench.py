"""Speed on one core: load time (list → router; model file → router), per-text latency, throughput.

Run: .venv/bin/python bench/triage/speed_bench.py [--runs=N]   (pins itself to one CPU where the OS allows)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _load_in_fresh_process(code: str) -> float:
    """Wall time of ``code`` in a new interpreter (imports included), the way a worker starts."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=HERE)
    return float(out.stdout.strip().splitlines()[-1])


def _time(router: Any, texts: list[str]) -> tuple[float, float, float]:
    """Texts per second, p50 and p99 latency (ms) of routing ``texts`` one by one, after a warm-up."""
    for t in texts[:50]:
        router.route(t)
    lat = []
    t0 = time.perf_counter()
    for t in texts:
        s = time.perf_counter()
        router.route(t)
        lat.append(time.perf_counter() - s)
    lat_ms = np.array(lat) * 1000
    return len(lat) / (time.perf_counter() - t0), float(np.percentile(lat_ms, 50)), float(np.percentile(lat_ms, 99))


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from common import SHARED_DATA, demo_cases, demo_list, independent_cases

    from fengqiao.triage.router import Router

    items = demo_list()
    texts = [c["text"] for c in demo_cases()] + [c["text"] for c in independent_cases(scored_only=False)]
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.pkl"
        Router.from_list(items, history=[{"text": c["text"], "item_code": c["item_code"]} for c in demo_cases()]).save(model)
        list_csv = Path(tmp) / "list.csv"
        from common import demo_text
        list_csv.write_text(demo_text("catalog.csv"), encoding="utf-8")
        prelude = ("import time; t=time.perf_counter(); from fengqiao.triage.catalog import load_list; "
                   "from fengqiao.triage.router import Router; ")
        zs_load = _load_in_fresh_process(prelude + f"r=Router.from_list(load_list({str(list_csv)!r})); "
                                         "r.route('井盖丢了'); print(time.perf_counter()-t)")
        ml_load = _load_in_fresh_process(prelude + f"r=Router.load(load_list({str(list_csv)!r}), {str(model)!r}); "
                                         "r.route('井盖丢了'); print(time.perf_counter()-t)")
        print(f"load (fresh process, imports + list parse + index build + first route): zero-shot {zs_load:.2f}s, "
              f"with trained model {ml_load:.2f}s; model file {model.stat().st_size / 1e6:.1f} MB")
        # the baseline (zero-shot without the reference model, as before round 5) runs in the same sitting;
        # --runs=N repeats the three alternately and prints medians
        routers = [("no reference", Router.from_list(items, reference=False)), ("zero-shot", Router.from_list(items)),
                   ("learned", Router.load(items, model))]
        runs = next((int(a.split("=")[1]) for a in sys.argv if a.startswith("--runs=")), 1)
        sets = [("demo case texts", texts * 3)]
        if (SHARED_DATA / "gov_messages_7class_train.csv").exists():
            # real citizens' messages are longer than the demo's case texts: time those too
            from public_cv import load
            sets.append(("real messages (public board)", load()[0][:1500]))
        for label, batch in sets:
            speed: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in routers}
            for _ in range(runs):
                for name, router in routers:
                    speed[name].append(_time(router, batch))
            print(f"{label}: {len(batch)} texts per run (median {np.median([len(t) for t in batch]):.0f} chars, "
                  f"mean {np.mean([len(t) for t in batch]):.0f}), one core, median of {runs} run(s):")
            for name, rows in speed.items():
                rate, p50, p99 = np.median(np.array(rows), axis=0)
                print(f"  {name:12s} {rate:,.0f} texts/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        long = "我家门口的下水井盖没了，" * 350
        r = Router.from_list(items)
        s = time.perf_counter()
        r.route(long)
        print(f"a {len(long)}-char text (cut to 4000): {(time.perf_counter() - s) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
