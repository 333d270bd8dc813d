"""`fengqiao worker`: run the supervision scan on an interval until stopped."""

from __future__ import annotations

import logging
import threading

from fengqiao.db import Database
from fengqiao.supervision.service import scan_once

log = logging.getLogger("fengqiao.worker")


def run_worker(db: Database, interval: float, stop: threading.Event) -> None:
    """Scan, sleep, repeat. All state is in the database, so a restart simply carries on."""
    while not stop.is_set():
        try:
            result = scan_once(db)
            if result.actions:
                log.info("督办扫描：检查 %d 个环节，新增 %d 条督办", result.examined, result.actions)
        except Exception:  # a failed pass must not kill the worker; the next pass retries
            log.exception("督办扫描失败，稍后重试")
        stop.wait(interval)


def start_in_process(db: Database, interval: float) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(db, interval, stop), name="fengqiao-worker", daemon=True)
    thread.start()
    return thread, stop
