"""Cases and their events, automatic and manual association, merged recordings, corrected
times and permanent retention.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Written by hand. Changing a check constraint (case_media.source, custody_event.event) and
making media.retention_until nullable go through batch mode, which on SQLite copies the
table and on PostgreSQL is plain ALTER TABLE.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS_BEFORE = (
    "copied_from_device",
    "stored",
    "registered",
    "seen_again",
    "wiped_from_device",
    "wipe_failed",
    "downloaded_original",
    "played_proxy",
)
_EVENTS = (
    *_EVENTS_BEFORE,
    "associated_with_case",
    "dissociated_from_case",
    "marked_important",
    "unmarked_important",
)


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _in_list(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "legal_case",
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("case_no", name=op.f("pk_legal_case")),
    )
    op.create_index(op.f("ix_legal_case_unit_id"), "legal_case", ["unit_id"])
    op.create_table(
        "case_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("activity", sa.String(length=64), nullable=False),
        sa.Column("officer_ids", sa.JSON(), nullable=False),
        sa.Column("start_at", _utc(), nullable=False),
        sa.Column("end_at", _utc(), nullable=False),
        sa.Column("room_id", sa.String(length=128), nullable=True),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_case_event_window")),
        sa.ForeignKeyConstraint(
            ["case_no"],
            ["legal_case.case_no"],
            name=op.f("fk_case_event_case_no_legal_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_event")),
        sa.UniqueConstraint("case_no", "event_id", name=op.f("uq_case_event_case_no_event_id")),
    )
    op.create_index(op.f("ix_case_event_start_at_end_at"), "case_event", ["start_at", "end_at"])
    op.create_table(
        "case_dissociation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("media_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_case_dissociation_media_id_media")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_dissociation")),
        sa.UniqueConstraint(
            "case_no", "media_id", name=op.f("uq_case_dissociation_case_no_media_id")
        ),
    )
    op.create_table(
        "recording",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("station_id", sa.String(length=128), nullable=False),
        sa.Column("recorded_start", _utc(), nullable=True),
        sa.Column("recorded_end", _utc(), nullable=True),
        sa.Column("part_ids", sa.JSON(), nullable=False),
        sa.Column("joins", sa.JSON(), nullable=False),
        sa.Column("merged_proxy_key", sa.String(length=512), nullable=True),
        sa.Column("merged_proxy_content_type", sa.String(length=64), nullable=True),
        sa.Column("merge_method", sa.String(length=16), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording")),
    )
    op.create_index(
        op.f("ix_recording_device_id_recorded_start"), "recording", ["device_id", "recorded_start"]
    )
    with op.batch_alter_table("case_media") as batch:
        batch.add_column(sa.Column("event_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("rule", sa.String(length=16), nullable=True))
        batch.drop_constraint(op.f("ck_case_media_source"), type_="check")
        batch.create_check_constraint(
            op.f("ck_case_media_source"), "source IN ('dock', 'manual', 'auto')"
        )
    with op.batch_alter_table("custody_event") as batch:
        batch.drop_constraint(op.f("ck_custody_event_event"), type_="check")
        batch.create_check_constraint(op.f("ck_custody_event_event"), _in_list("event", _EVENTS))
    with op.batch_alter_table("media") as batch:
        batch.add_column(sa.Column("recorded_start_raw", _utc(), nullable=True))
        batch.add_column(sa.Column("time_facts", sa.JSON(), nullable=True))
        batch.alter_column("retention_until", existing_type=_utc(), nullable=True)
        batch.create_index(op.f("ix_media_recording_id"), ["recording_id"])


def downgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.drop_index(op.f("ix_media_recording_id"))
        batch.alter_column("retention_until", existing_type=_utc(), nullable=False)
        batch.drop_column("time_facts")
        batch.drop_column("recorded_start_raw")
    with op.batch_alter_table("custody_event") as batch:
        batch.drop_constraint(op.f("ck_custody_event_event"), type_="check")
        batch.create_check_constraint(
            op.f("ck_custody_event_event"), _in_list("event", _EVENTS_BEFORE)
        )
    with op.batch_alter_table("case_media") as batch:
        batch.drop_constraint(op.f("ck_case_media_source"), type_="check")
        batch.create_check_constraint(op.f("ck_case_media_source"), "source IN ('dock', 'manual')")
        batch.drop_column("rule")
        batch.drop_column("event_id")
    op.drop_index(op.f("ix_recording_device_id_recorded_start"), table_name="recording")
    op.drop_table("recording")
    op.drop_table("case_dissociation")
    op.drop_index(op.f("ix_case_event_start_at_end_at"), table_name="case_event")
    op.drop_table("case_event")
    op.drop_index(op.f("ix_legal_case_unit_id"), table_name="legal_case")
    op.drop_table("legal_case")
