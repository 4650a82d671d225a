"""Recording rules a unit overrides for itself and the units below it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unit_rules",
        sa.Column("unit_id", sa.String(128), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_unit_rules")),
    )


def downgrade() -> None:
    op.drop_table("unit_rules")
