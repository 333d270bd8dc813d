"""Regions (county → town → village → grid) and departments."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from fengqiao.db import Base


class RegionLevel(StrEnum):
    COUNTY = "county"      # 县/区
    TOWN = "town"          # 乡镇/街道
    VILLAGE = "village"    # 村/社区
    GRID = "grid"          # 网格

    @property
    def label(self) -> str:
        return {"county": "县", "town": "镇", "village": "村", "grid": "网格"}[self.value]


class Presence(StrEnum):
    """How a department sits at the centre."""

    PERMANENT = "常驻"
    ROTATING = "轮驻"
    ON_CALL = "随驻"


class Region(Base):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    # Materialised path "/1/4/17/": scoping a query to a subtree is one indexed prefix match.
    path: Mapped[str] = mapped_column(String(200), index=True, default="")
    geometry: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    min_lon: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    center_lat: Mapped[float | None] = mapped_column(Float)
    center_lon: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_region_bbox", "level", "min_lat", "max_lat"),)


class Department(Base):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    presence: Mapped[str] = mapped_column(String(10), default=Presence.ON_CALL.value)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
