"""Set-up of a fresh or existing database: schema, calendar seed, default deadline policy."""

from __future__ import annotations

from fengqiao.db import Database
from fengqiao.deadlines.service import ensure_default_policy
from fengqiao.migrate import upgrade
from fengqiao.workcal.service import seed_from_chinesecalendar


def init_database(db: Database) -> list[int]:
    """Idempotent: migrate to the newest schema, seed known calendar years, ensure a policy."""
    upgrade(db)
    with db.unit_of_work() as session:
        years = seed_from_chinesecalendar(session)
        ensure_default_policy(session)
    return years
