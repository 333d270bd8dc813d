"""Fixed-window rate limits stored in the database, so every server process counts the same requests."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fengqiao.db import Database, utcnow
from fengqiao.errors import FengqiaoError
from fengqiao.intake.models import RateCounter
from fengqiao.settings import Settings


@dataclass(frozen=True)
class Limit:
    bucket: str          # what is limited, e.g. "report-phone"
    max_count: int
    window_seconds: int
    what: str            # for the message: 同一手机号, 同一网络地址


class RateLimited(FengqiaoError):
    """Too many requests; ``retry_after`` seconds until the window ends."""

    def __init__(self, limit: Limit, retry_after: int, field: str | None) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        span = "每小时" if limit.window_seconds == 3600 else f"每 {limit.window_seconds // 60} 分钟"
        super().__init__(f"提交过于频繁：{limit.what}{span}最多 {limit.max_count} 次，请 {minutes} 分钟后再试",
                         field, code="rate_limited", status=429)
        self.retry_after = retry_after


DEFAULTS = {"report_phone_per_hour": 5, "report_ip_per_hour": 20, "query_ip_per_hour": 120}


def limits(settings: Settings) -> dict[str, Limit]:
    """Limits from settings.extra (``intake.report_phone_per_hour`` ...) or the defaults."""
    def value(name: str) -> int:
        return int(settings.extra.get(f"intake.{name}", DEFAULTS[name]))

    return {"report_phone": Limit("report-phone", value("report_phone_per_hour"), 3600, "同一手机号"),
            "report_ip": Limit("report-ip", value("report_ip_per_hour"), 3600, "同一网络地址"),
            "query_ip": Limit("query-ip", value("query_ip_per_hour"), 3600, "同一网络地址查询")}


def _key(secret: str, bucket: str, subject: str) -> str:
    # Phones and addresses are kept only as keyed hashes: the counter table holds no personal data.
    return f"{bucket}:{hashlib.sha256(f'{secret}|{subject}'.encode()).hexdigest()[:40]}"


def hit(session: Session, key: str, window: int) -> int:
    """Count one request in this window (an atomic upsert) and return the count so far."""
    table = RateCounter.__table__
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)).values(
        key=key, window=window, count=1)
    stmt = ins.on_conflict_do_update(index_elements=["key", "window"], set_={"count": table.c.count + 1}) \
        .returning(table.c.count)
    return int(session.execute(stmt).scalar_one())


def check(db: Database, secret: str, checks: list[tuple[Limit, str, str | None]], now: datetime | None = None) -> None:
    """Count the request against every (limit, subject, field); raise :class:`RateLimited` on the first one over.

    Runs in its own short transaction so the count stands even when the request later fails.
    """
    now = now or utcnow()
    ts = int(now.timestamp())
    worst: RateLimited | None = None
    with db.unit_of_work() as session:
        for limit, subject, field in checks:
            window = ts // limit.window_seconds
            key = _key(secret, limit.bucket, subject)
            count = hit(session, key, window)
            # Old windows of this key are dead weight; drop them while we hold the row anyway.
            session.execute(delete(RateCounter).where(RateCounter.key == key, RateCounter.window < window - 1))
            if count > limit.max_count and worst is None:
                worst = RateLimited(limit, (window + 1) * limit.window_seconds - ts, field)
    if worst is not None:
        raise worst
