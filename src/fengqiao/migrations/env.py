"""Alembic environment: runs on the connection or URL the caller put into the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import fengqiao.models  # noqa: F401  (fills the metadata)
from fengqiao.db import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Autogenerate writes our UTC type as the plain column type it stores."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


OPTIONS = {"target_metadata": target_metadata, "render_as_batch": True, "render_item": render_item}


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        context.configure(connection=conn, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
