"""intake: deliveries, reports, the dedup place index, sources, devices, outbound, rate limits, ledgers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 05:36:32.366045
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fengqiao.db import UTCDateTime
from fengqiao.intake.domain import COARSE_DEG, FINE_DEG, area_of, cell

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('intake_device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('fold_minutes', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_device')),
    sa.UniqueConstraint('code', name=op.f('uq_intake_device_code'))
    )
    op.create_table('intake_rejection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=60), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_rejection'))
    )
    with op.batch_alter_table('intake_rejection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_rejection_at'), ['at'], unique=False)

    op.create_table('intake_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('feedback', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_source')),
    sa.UniqueConstraint('code', name=op.f('uq_intake_source_code')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_intake_source_token_hash'))
    )
    op.create_table('rate_counter',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('window', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window', name=op.f('pk_rate_counter'))
    )
    op.create_table('ledger_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('imported_by', sa.Integer(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['imported_by'], ['app_user.id'], name=op.f('fk_ledger_import_imported_by_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_import'))
    )
    with op.batch_alter_table('ledger_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_import_sha256'), ['sha256'], unique=False)

    op.create_table('intake_outbound',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('order_ref', sa.String(length=100), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('case_number', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_intake_outbound_case_id_case_record')),
    sa.ForeignKeyConstraint(['source_id'], ['intake_source.id'], name=op.f('fk_intake_outbound_source_id_intake_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_outbound'))
    )
    with op.batch_alter_table('intake_outbound', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_outbound_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_intake_outbound_source', ['source_id', 'id'], unique=False)

    op.create_table('intake_place',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('cell_fine', sa.BigInteger(), nullable=True),
    sa.Column('cell_coarse', sa.BigInteger(), nullable=True),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_intake_place_case_id_case_record')),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_intake_place'))
    )
    with op.batch_alter_table('intake_place', schema=None) as batch_op:
        batch_op.create_index('ix_intake_place_area', ['area_id', 'registered_at'], unique=False)
        batch_op.create_index('ix_intake_place_coarse', ['cell_coarse', 'registered_at'], unique=False)
        batch_op.create_index('ix_intake_place_fine', ['cell_fine', 'registered_at'], unique=False)

    op.create_table('ledger_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('ledger_no', sa.String(length=60), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=True),
    sa.Column('scale', sa.String(length=20), nullable=True),
    sa.Column('dispute_type', sa.String(length=60), nullable=True),
    sa.Column('people_count', sa.Integer(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('parties', sa.Text(), nullable=True),
    sa.Column('time_limit', sa.String(length=40), nullable=True),
    sa.Column('method', sa.String(length=40), nullable=True),
    sa.Column('organisation', sa.String(length=100), nullable=True),
    sa.Column('person_in_charge', sa.String(length=64), nullable=True),
    sa.Column('success', sa.Boolean(), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('assessment', sa.Text(), nullable=True),
    sa.Column('grid_code', sa.String(length=20), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_ledger_entry_case_id_case_record')),
    sa.ForeignKeyConstraint(['import_id'], ['ledger_import.id'], name=op.f('fk_ledger_entry_import_id_ledger_import')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_ledger_entry_region_id_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entry')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_ledger_entry_fingerprint')),
    sa.UniqueConstraint('ledger_no', name=op.f('uq_ledger_entry_ledger_no'))
    )
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entry_import_id'), ['import_id'], unique=False)

    op.create_table('intake_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=60), nullable=True),
    sa.Column('source_ref', sa.String(length=100), nullable=True),
    sa.Column('intake_source_id', sa.Integer(), nullable=True),
    sa.Column('feedback', sa.Boolean(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('reporter_name', sa.String(length=64), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('id_number', sa.String(length=18), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('item_code', sa.String(length=40), nullable=True),
    sa.Column('subject', sa.String(length=100), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('link', sa.String(length=10), nullable=False),
    sa.Column('link_reason', sa.String(length=300), nullable=True),
    sa.Column('link_score', sa.Float(), nullable=True),
    sa.Column('party_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_intake_report_case_id_case_record')),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_intake_report_created_by_app_user')),
    sa.ForeignKeyConstraint(['intake_source_id'], ['intake_source.id'], name=op.f('fk_intake_report_intake_source_id_intake_source')),
    sa.ForeignKeyConstraint(['party_id'], ['case_party.id'], name=op.f('fk_intake_report_party_id_case_party')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_report'))
    )
    with op.batch_alter_table('intake_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_report_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_intake_report_fold', ['channel', 'source', 'subject', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_report_id_number'), ['id_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_report_phone'), ['phone'], unique=False)

    op.create_table('ledger_party',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('id_number', sa.String(length=18), nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entry.id'], name=op.f('fk_ledger_party_entry_id_ledger_entry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_party'))
    )
    with op.batch_alter_table('ledger_party', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_party_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_party_id_number'), ['id_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_party_phone'), ['phone'], unique=False)

    op.create_table('intake_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_intake_delivery_case_id_case_record')),
    sa.ForeignKeyConstraint(['report_id'], ['intake_report.id'], name=op.f('fk_intake_delivery_report_id_intake_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_delivery')),
    sa.UniqueConstraint('channel', 'source_id', name=op.f('uq_intake_delivery_channel_source_id'))
    )
    op.create_table('intake_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('attachment_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['attachment_id'], ['case_attachment.id'], name=op.f('fk_intake_photo_attachment_id_case_attachment')),
    sa.ForeignKeyConstraint(['report_id'], ['intake_report.id'], name=op.f('fk_intake_photo_report_id_intake_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_photo')),
    sa.UniqueConstraint('report_id', 'sha256', name=op.f('uq_intake_photo_report_id_sha256'))
    )
    with op.batch_alter_table('intake_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_photo_report_id'), ['report_id'], unique=False)

    _backfill_places()


def _backfill_places(batch: int = 5000) -> None:
    """Cases registered before this revision join the dedup index (new ones are added on insert)."""
    conn = op.get_bind()
    case = sa.table("case_record", sa.column("id", sa.Integer), sa.column("lat", sa.Float), sa.column("lon", sa.Float),
                    sa.column("region_path", sa.String), sa.column("registered_at", UTCDateTime()))
    place = sa.table("intake_place", sa.column("case_id", sa.Integer), sa.column("cell_fine", sa.BigInteger),
                     sa.column("cell_coarse", sa.BigInteger), sa.column("area_id", sa.Integer),
                     sa.column("registered_at", UTCDateTime()))
    last = 0
    while True:
        rows = conn.execute(sa.select(case).where(case.c.id > last).order_by(case.c.id).limit(batch)).all()
        if not rows:
            return
        conn.execute(place.insert(), [
            {"case_id": r.id, "registered_at": r.registered_at, "area_id": area_of(r.region_path),
             "cell_fine": cell(r.lat, r.lon, FINE_DEG) if r.lat is not None and r.lon is not None else None,
             "cell_coarse": cell(r.lat, r.lon, COARSE_DEG) if r.lat is not None and r.lon is not None else None}
            for r in rows])
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table('intake_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_photo_report_id'))

    op.drop_table('intake_photo')
    op.drop_table('intake_delivery')
    with op.batch_alter_table('ledger_party', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_party_phone'))
        batch_op.drop_index(batch_op.f('ix_ledger_party_id_number'))
        batch_op.drop_index(batch_op.f('ix_ledger_party_entry_id'))

    op.drop_table('ledger_party')
    with op.batch_alter_table('intake_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_report_phone'))
        batch_op.drop_index(batch_op.f('ix_intake_report_id_number'))
        batch_op.drop_index('ix_intake_report_fold')
        batch_op.drop_index(batch_op.f('ix_intake_report_case_id'))

    op.drop_table('intake_report')
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entry_import_id'))

    op.drop_table('ledger_entry')
    with op.batch_alter_table('intake_place', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_place_fine')
        batch_op.drop_index('ix_intake_place_coarse')
        batch_op.drop_index('ix_intake_place_area')

    op.drop_table('intake_place')
    with op.batch_alter_table('intake_outbound', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_outbound_source')
        batch_op.drop_index(batch_op.f('ix_intake_outbound_case_id'))

    op.drop_table('intake_outbound')
    with op.batch_alter_table('ledger_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_import_sha256'))

    op.drop_table('ledger_import')
    op.drop_table('rate_counter')
    op.drop_table('intake_source')
    with op.batch_alter_table('intake_rejection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_rejection_at'))

    op.drop_table('intake_rejection')
    op.drop_table('intake_device')
