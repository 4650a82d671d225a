"""Dock receipts: what each station signed it took at a dock, and the files they name.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dock_receipt",
        sa.Column("receipt_id", sa.String(36), nullable=False),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("officer_id", sa.String(128), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signed", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("receipt_id", name=op.f("pk_dock_receipt")),
    )
    op.create_index(
        op.f("ix_dock_receipt_station_id_signed_at"), "dock_receipt", ["station_id", "signed_at"]
    )
    op.create_table(
        "dock_receipt_file",
        sa.Column("receipt_id", sa.String(36), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["dock_receipt.receipt_id"],
            name=op.f("fk_dock_receipt_file_receipt_id_dock_receipt"),
        ),
        sa.PrimaryKeyConstraint("receipt_id", "path", name=op.f("pk_dock_receipt_file")),
    )
    op.create_index(op.f("ix_dock_receipt_file_sha256"), "dock_receipt_file", ["sha256"])


def downgrade() -> None:
    op.drop_table("dock_receipt_file")
    op.drop_table("dock_receipt")
