"""Live updates for the screens: one outbox poller per process, fanned out to SSE subscribers.

Every case change writes an ``outbox`` row in the same transaction, so the outbox is the one
place that knows of every change, whichever process made it. Each server process polls it by
id (cheap: an indexed primary-key range), so several processes behind one address all see every
change. The poller runs only while someone listens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from fengqiao.auth.models import Role
from fengqiao.auth.service import Principal
from fengqiao.cases.models import Case, Outbox
from fengqiao.db import Database

log = logging.getLogger("fengqiao.live")
POLL_SECONDS = 0.5
BATCH = 500
# On PostgreSQL a transaction may commit a lower id after a higher one was seen; such a gap is
# looked for again for this long before it is taken to be a rollback.
GAP_SECONDS = 10.0


@dataclass(frozen=True)
class LiveEvent:
    id: int
    topic: str
    case_id: int | None
    payload: dict[str, Any]
    region_path: str | None
    department_id: int | None

    def visible_to(self, principal: Principal) -> bool:
        if self.case_id is None:
            return True
        if principal.role is Role.HANDLER:
            return self.department_id is not None and self.department_id == principal.department_id
        return (self.region_path or "").startswith(principal.region_path)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "case_id": self.case_id, **self.payload}


def read_after(db: Database, after: int, gaps: list[int] | None = None, limit: int = BATCH) -> list[LiveEvent]:
    """Outbox rows after ``after`` (and the listed gap ids), oldest first, with their case's scope."""
    with db.read() as session:
        cond = Outbox.id > after
        if gaps:
            cond = cond | Outbox.id.in_(gaps)
        rows = session.execute(
            select(Outbox.id, Outbox.topic, Outbox.case_id, Outbox.payload, Case.region_path, Case.department_id)
            .outerjoin(Case, Case.id == Outbox.case_id).where(cond).order_by(Outbox.id).limit(limit)).all()
    return [LiveEvent(r[0], r[1], r[2], dict(r[3] or {}), r[4], r[5]) for r in rows]


def last_id(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.max(Outbox.id))) or 0


@dataclass
class LiveFeed:
    """The per-process poller and its subscribers (one asyncio queue each)."""

    db: Database
    subscribers: set[asyncio.Queue[LiveEvent]] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    cursor: int = 0
    gaps: dict[int, float] = field(default_factory=dict)
    # One poll at a time: the loop and a direct call must not both read and deliver the same rows.
    _polling: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def subscribe(self) -> asyncio.Queue[LiveEvent]:
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=2000)
        if self.task is None or self.task.done():
            self.cursor = await asyncio.to_thread(last_id, self.db)
            self.gaps.clear()
            self.subscribers.add(queue)
            self.task = asyncio.create_task(self._run(), name="fengqiao-live-poller")
        else:
            self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[LiveEvent]) -> None:
        self.subscribers.discard(queue)

    async def _run(self) -> None:
        while self.subscribers:
            try:
                await self.poll_once()
            except Exception:  # a failed poll must not end live updates; the next one retries
                log.exception("读取 outbox 失败，稍后重试")
            await asyncio.sleep(POLL_SECONDS)

    async def poll_once(self) -> None:
        async with self._polling:
            await self._poll()

    async def _poll(self) -> None:
        now = time.monotonic()
        self.gaps = {i: t for i, t in self.gaps.items() if now - t < GAP_SECONDS}
        events = await asyncio.to_thread(read_after, self.db, self.cursor, sorted(self.gaps))
        for event in events:
            if event.id in self.gaps:
                del self.gaps[event.id]
            elif event.id > self.cursor:
                for missing in range(max(self.cursor + 1, event.id - 1000), event.id):
                    self.gaps.setdefault(missing, now)
                self.cursor = event.id
            for queue in list(self.subscribers):
                try:
                    queue.put_nowait(event)
                except asyncio.QueueFull:  # a stalled client loses events, never the others
                    pass


def feed_for(app: Any) -> LiveFeed:
    feed = getattr(app.state, "live_feed", None)
    if feed is None:
        feed = app.state.live_feed = LiveFeed(app.state.db)
    return feed
