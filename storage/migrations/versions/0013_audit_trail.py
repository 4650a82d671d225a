"""The audit trail (a hash chain of every access and change), the public keys that sign
evidence documents, and each original's last fixity check.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("token_id", sa.String(36), nullable=True),
        sa.Column("role", sa.String(32), nullable=True),
        sa.Column("unit_id", sa.String(128), nullable=True),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(32), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('ok', 'denied', 'failed')", name=op.f("ck_audit_entry_outcome")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entry")),
    )
    for column in ("at", "target", "token_id", "unit_id"):
        op.create_index(op.f(f"ix_audit_entry_{column}"), "audit_entry", [column])
    op.create_table(
        "signing_key",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("owner_kind", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_signing_key")),
    )
    op.create_table(
        "fixity_state",
        sa.Column("media_id", sa.String(36), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("actual_sha256", sa.String(64), nullable=True),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('ok', 'mismatch', 'missing')", name=op.f("ck_fixity_state_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_fixity_state_media_id_media")
        ),
        sa.PrimaryKeyConstraint("media_id", name=op.f("pk_fixity_state")),
    )
    op.create_index(op.f("ix_fixity_state_checked_at"), "fixity_state", ["checked_at"])
    op.create_index(op.f("ix_fixity_state_outcome"), "fixity_state", ["outcome"])


def downgrade() -> None:
    op.drop_table("fixity_state")
    op.drop_table("signing_key")
    op.drop_table("audit_entry")
