"""Tokens have a life and a station speaks only for itself: an expiry on every token, the
station a station token speaks for.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Written by hand. Tokens made before this revision keep no expiry (they were issued without
one), and station tokens made before it name no station: they can no longer register until
replaced with `station token create --role station --station-id ID` (the api says so).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("station_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("station_id")
        batch.drop_column("expires_at")
