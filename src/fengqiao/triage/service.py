"""Triage inside the platform: one router per responsibility-list version, built on first use."""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from fengqiao.catalog.models import CatalogItem, CatalogVersion
from fengqiao.catalog.service import current_version
from fengqiao.org.models import Department
from fengqiao.triage.catalog import ListItem
from fengqiao.triage.router import Router, Suggestion

# Keyed by version and import time: several databases (tests, side-by-side demos) share a process.
_routers: dict[tuple[int, str], Router] = {}
_lock = threading.Lock()
_KEEP = 4  # versions kept in memory; a new import makes a new version, older ones fall out


def _build(session: Session, version: CatalogVersion) -> Router:
    rows = session.execute(select(CatalogItem, Department.name).join(Department, Department.id == CatalogItem.department_id)
                           .where(CatalogItem.version_id == version.id).order_by(CatalogItem.code)).all()
    items = [ListItem(code=i.code, name=i.name, category=i.category, department=dept, level=i.level,
                      deadline=i.deadline, basis=i.basis, description=i.description) for i, dept in rows]
    return Router.from_list(items)


def router_for(session: Session) -> Router | None:
    """The zero-shot router of the current list version, or None before any list was imported."""
    version = current_version(session)
    if version is None:
        return None
    key = (version.id, version.imported_at.isoformat())
    with _lock:
        router = _routers.get(key)
        if router is None:
            router = _build(session, version)
            _routers[key] = router
            while len(_routers) > _KEEP:
                del _routers[next(iter(_routers))]  # the oldest built
        return router


def suggest(session: Session, text: str, channel: str | None = None, reporter_history: int = 0) -> Suggestion | None:
    router = router_for(session)
    return router.route(text, channel=channel, reporter_history=reporter_history) if router else None
