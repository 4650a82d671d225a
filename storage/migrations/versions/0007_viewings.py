"""Viewings: every request of a player counted, with custody rows left unchanged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "viewing",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("media_id", sa.String(36), nullable=False),
        sa.Column("custody_event_id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.String(36), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("recording_id", sa.String(36), nullable=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("last_range", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], name=op.f("fk_viewing_media_id_media")),
        sa.ForeignKeyConstraint(
            ["custody_event_id"],
            ["custody_event.id"],
            name=op.f("fk_viewing_custody_event_id_custody_event"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_viewing")),
    )
    op.create_index(
        op.f("ix_viewing_media_id_token_id_last_at"),
        "viewing",
        ["media_id", "token_id", "last_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_viewing_media_id_token_id_last_at"), table_name="viewing")
    op.drop_table("viewing")
