"""The ASGI app for the HTTP benchmark: ``uvicorn --factory server:make_app`` (settings from FENGQIAO_*)."""

from __future__ import annotations

from fastapi import FastAPI

from fengqiao.app import create_app
from fengqiao.settings import load_settings


def make_app() -> FastAPI:
    return create_app(load_settings(demo=True))
