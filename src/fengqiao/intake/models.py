"""Intake tables: deliveries (idempotency), reports (一事多诉), the place index, sources, devices,
outbound status records, rate-limit counters and imported ledgers (台账)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fengqiao.db import Base, UTCDateTime, utcnow


class IntakeDelivery(Base):
    """One delivery from a channel, keyed by the channel's own id: the same key twice is one delivery.

    The unique constraint is the whole guarantee: the row is inserted first, in the same
    transaction as the case, so a second process delivering the same key waits on it and fails.
    """

    __tablename__ = "intake_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(200))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("intake_report.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"))
    payload_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("channel", "source_id"),)


class IntakeReport(Base):
    """What one channel reported; several reports of one problem point to one case."""

    __tablename__ = "intake_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    source: Mapped[str | None] = mapped_column(String(60))        # source system, device or user
    source_ref: Mapped[str | None] = mapped_column(String(100))   # the channel's own id
    intake_source_id: Mapped[int | None] = mapped_column(ForeignKey("intake_source.id"))
    feedback: Mapped[bool] = mapped_column(Boolean, default=False)  # status flows back to the source
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    reporter_name: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    id_number: Mapped[str | None] = mapped_column(String(18), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    item_code: Mapped[str | None] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(100))       # e.g. a device's alert type
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    link: Mapped[str] = mapped_column(String(10))                  # origin / auto / merged / split
    link_reason: Mapped[str | None] = mapped_column(String(300))
    link_score: Mapped[float | None] = mapped_column(Float)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("case_party.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    __table_args__ = (Index("ix_intake_report_fold", "channel", "source", "subject", "received_at"),)


class IntakePlace(Base):
    """The dedup index: one row per case, keyed by map cell and village, with the time.

    Candidates are read by (cell, registered_at) range scans over the neighbouring cells,
    so a lookup costs what is near in place and time, not what is open in the county.
    """

    __tablename__ = "intake_place"

    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), primary_key=True)
    cell_fine: Mapped[int | None] = mapped_column(BigInteger)
    cell_coarse: Mapped[int | None] = mapped_column(BigInteger)
    area_id: Mapped[int | None] = mapped_column(Integer)  # village (or the deepest known region)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_intake_place_fine", "cell_fine", "registered_at"),
        Index("ix_intake_place_coarse", "cell_coarse", "registered_at"),
        Index("ix_intake_place_area", "area_id", "registered_at"),
    )


class IntakePhoto(Base):
    """A photo from the field: the attachment plus when and where it was taken."""

    __tablename__ = "intake_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("intake_report.id"), index=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("case_attachment.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("report_id", "sha256"),)


class IntakeSource(Base):
    """An external system that delivers orders (12345, 110, 信访, Open311 clients) and its field mapping."""

    __tablename__ = "intake_source"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    feedback: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntakeOutbound(Base):
    """A status change to send back to the source system, written in the transaction of the change."""

    __tablename__ = "intake_outbound"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("intake_source.id"))
    order_ref: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    case_number: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_intake_outbound_source", "source_id", "id"),)


class IntakeDevice(Base):
    """A monitoring device or camera with its own signing secret."""

    __tablename__ = "intake_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # Kept in clear: verifying an HMAC needs the key itself.
    secret: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20), default="hazard")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    fold_minutes: Mapped[int] = mapped_column(Integer, default=60)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntakeRejection(Base):
    """A refused delivery (bad signature, stale timestamp, unknown key): kept for the administrator."""

    __tablename__ = "intake_rejection"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(20))
    source: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(String(300))
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class RateCounter(Base):
    """Fixed-window request counters shared by every server process (one upsert per request)."""

    __tablename__ = "rate_counter"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, default=0)


class LedgerImport(Base):
    """One imported ledger file (台账)."""

    __tablename__ = "ledger_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    rows: Mapped[int] = mapped_column(Integer)
    cases: Mapped[int] = mapped_column(Integer)
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerEntry(Base):
    """One row of an imported dispute ledger with the standard dispute-record fields.

    Rows still open in the ledger also become cases (``case_id``); concluded rows stay history.
    """

    __tablename__ = "ledger_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("ledger_import.id"), index=True)
    row: Mapped[int] = mapped_column(Integer)
    ledger_no: Mapped[str | None] = mapped_column(String(60), unique=True)
    # Name, date, summary and parties hashed: the same row saved again in another file is not new.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    occurred_on: Mapped[date] = mapped_column(Date)
    place: Mapped[str | None] = mapped_column(String(300))
    scale: Mapped[str | None] = mapped_column(String(20))
    dispute_type: Mapped[str | None] = mapped_column(String(60))
    people_count: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)
    parties: Mapped[str | None] = mapped_column(Text)
    time_limit: Mapped[str | None] = mapped_column(String(40))
    method: Mapped[str | None] = mapped_column(String(40))
    organisation: Mapped[str | None] = mapped_column(String(100))
    person_in_charge: Mapped[str | None] = mapped_column(String(64))
    success: Mapped[bool | None] = mapped_column(Boolean)
    result: Mapped[str | None] = mapped_column(Text)
    assessment: Mapped[str | None] = mapped_column(Text)
    grid_code: Mapped[str | None] = mapped_column(String(20))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"))


class LedgerParty(Base):
    """A party named in a ledger row, so earlier disputes count when the person comes back."""

    __tablename__ = "ledger_party"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    id_number: Mapped[str | None] = mapped_column(String(18), index=True)


# The listeners that keep the place index and the outbound records in step with every case
# change, whichever code path made it (see events.py).
from fengqiao.intake import events  # noqa: E402,F401
