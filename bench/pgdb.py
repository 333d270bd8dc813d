"""Create and drop a benchmark's own PostgreSQL database (shared by bench/closed_loop.py and bench/intake)."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url


def admin_engine(url: str, admin_db: str) -> Engine:
    """An AUTOCOMMIT engine on ``admin_db`` of the same server (CREATE/DROP DATABASE need one)."""
    return create_engine(make_url(url).set(database=admin_db).render_as_string(hide_password=False),
                         isolation_level="AUTOCOMMIT")


def create_database(url: str, admin_db: str = "test", replace: bool = True) -> None:
    name = make_url(url).database
    engine = admin_engine(url, admin_db)
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if exists and not replace:
            raise SystemExit(f"database {name!r} already exists; drop it or pass --replace")
        if exists:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()


def drop_database(url: str, admin_db: str = "test") -> None:
    engine = admin_engine(url, admin_db)
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    engine.dispose()
