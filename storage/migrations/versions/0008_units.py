"""Units and the tree they form.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unit",
        sa.Column("unit_id", sa.String(128), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("parent_id", sa.String(128), nullable=True),
        sa.Column("officer_count", sa.Integer(), nullable=False),
        sa.Column("on_duty_officer_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_unit")),
    )
    op.create_index(op.f("ix_unit_parent_id"), "unit", ["parent_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_unit_parent_id"), table_name="unit")
    op.drop_table("unit")
