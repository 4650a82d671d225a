"""Retention: a legal hold on cases, requests for early deletion (two people), the
tombstones of deleted media, the lock last put on each original in the store, and the
custody codes of holds, deletion requests and exports.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS_BEFORE = (
    "copied_from_device", "stored", "registered", "seen_again", "wiped_from_device",
    "wipe_failed", "downloaded_original", "played_proxy", "associated_with_case",
    "dissociated_from_case", "marked_important", "unmarked_important", "proxy_made",
    "device_clock_set", "classified",
)  # fmt: skip
_EVENTS = (*_EVENTS_BEFORE, "legal_hold_set", "legal_hold_released", "deletion_requested",
           "exported")  # fmt: skip


def _in_list(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    # Not in batch mode: SQLite would copy `media`, which other tables' rows refer to.
    op.add_column("media", sa.Column("lock_mode", sa.String(16), nullable=True))
    op.add_column("media", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("media", sa.Column("lock_legal_hold", sa.Boolean(), nullable=True))
    op.add_column(
        "legal_case",
        sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table("custody_event") as batch:
        batch.drop_constraint(op.f("ck_custody_event_event"), type_="check")
        batch.create_check_constraint(op.f("ck_custody_event_event"), _in_list("event", _EVENTS))
    op.create_table(
        "deletion_request",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("media_id", sa.String(36), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("unit_id", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_by_token", sa.String(36), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_by_token", sa.String(36), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')",
            name=op.f("ck_deletion_request_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deletion_request")),
    )
    op.create_index(
        op.f("ix_deletion_request_status_requested_at"),
        "deletion_request",
        ["status", "requested_at"],
    )
    op.create_index(op.f("ix_deletion_request_media_id"), "deletion_request", ["media_id"])
    op.create_table(
        "media_tombstone",
        sa.Column("media_id", sa.String(36), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("original_name", sa.Text(), nullable=False),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("officer_id", sa.String(128), nullable=True),
        sa.Column("unit_id", sa.String(128), nullable=True),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("recorded_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retention_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_by", sa.String(200), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("deletion_request_id", sa.String(36), nullable=True),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("object_keys", sa.JSON(), nullable=False),
        sa.Column("objects_removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("custody", sa.JSON(), nullable=False),
        sa.CheckConstraint("how IN ('expired', 'early')", name=op.f("ck_media_tombstone_how")),
        sa.PrimaryKeyConstraint("media_id", name=op.f("pk_media_tombstone")),
    )
    op.create_index(op.f("ix_media_tombstone_sha256"), "media_tombstone", ["sha256"])
    op.create_index(op.f("ix_media_tombstone_deleted_at"), "media_tombstone", ["deleted_at"])


def downgrade() -> None:
    op.drop_table("media_tombstone")
    op.drop_table("deletion_request")
    with op.batch_alter_table("custody_event") as batch:
        batch.drop_constraint(op.f("ck_custody_event_event"), type_="check")
        batch.create_check_constraint(
            op.f("ck_custody_event_event"), _in_list("event", _EVENTS_BEFORE)
        )
    with op.batch_alter_table("legal_case") as batch:
        batch.drop_column("legal_hold")
    for column in ("lock_legal_hold", "locked_until", "lock_mode"):
        op.execute(f"ALTER TABLE media DROP COLUMN {column}")
