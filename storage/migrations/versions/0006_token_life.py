"""Tokens have a life and a station speaks only for itself: an expiry on every token, the
station a station token speaks for.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Written by hand. Existing tokens are brought under the new rules:
- A station token gets the station id its registrations carried, when they carried exactly
  one (its custody events, by its name or `token:ID`). One that registered nothing, or for
  several stations, names none and is refused until replaced with
  `station token create --role station --station-id ID` (the api says so).
- People's tokens, issued without an expiry, expire 12 hours after the upgrade: a token
  that never expires is what this revision ends. Station and case-system tokens keep none.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_PEOPLE = ("officer", "reviewer", "supervisor", "it_admin", "admin")


def upgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("station_id", sa.String(128), nullable=True))
    bind = op.get_bind()
    tokens = sa.table(
        "api_token",
        sa.column("id", sa.String),
        sa.column("role", sa.String),
        sa.column("name", sa.String),
        sa.column("station_id", sa.String),
        sa.column("expires_at", sa.DateTime(timezone=True)),
    )
    events = sa.table(
        "custody_event",
        sa.column("actor", sa.String),
        sa.column("role", sa.String),
        sa.column("station_id", sa.String),
    )
    for token_id, name in bind.execute(
        sa.select(tokens.c.id, tokens.c.name).where(tokens.c.role == "station")
    ).all():
        actors = [f"token:{token_id}", *([name] if name else [])]
        stations = (
            bind.execute(
                sa.select(events.c.station_id)
                .where(
                    events.c.role == "station",
                    events.c.actor.in_(actors),
                    events.c.station_id.is_not(None),
                )
                .distinct()
            )
            .scalars()
            .all()
        )
        if len(stations) == 1:
            bind.execute(
                tokens.update().where(tokens.c.id == token_id).values(station_id=stations[0])
            )
    expires = datetime.now(UTC) + timedelta(hours=12)
    if bind.dialect.name == "sqlite":
        expires = expires.replace(tzinfo=None)  # stored as naive UTC (models.UtcDateTime)
    bind.execute(
        tokens.update()
        .where(tokens.c.role.in_(_PEOPLE), tokens.c.expires_at.is_(None))
        .values(expires_at=expires)
    )


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("station_id")
        batch.drop_column("expires_at")
