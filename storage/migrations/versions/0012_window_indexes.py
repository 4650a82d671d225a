"""Two indexes for reading by time window.

- `recording.recorded_span_s`: the compliance report asks for the longest recording each
  time it reads footage near events; computed from the times, that was a scan of every
  recording (36 ms at a bureau's year) instead of one index probe.
- `media (recorded_start, recorded_end, unit_id, ingested_at, id)` in place of the index on
  `recorded_start` alone: a search of a few weeks of all units' media finds and sorts its
  page from the index, without reading each row (22 ms in the database at a bureau's year,
  now 6).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WINDOW = ["recorded_start", "recorded_end", "unit_id", "ingested_at", "id"]


def upgrade() -> None:
    op.add_column("recording", sa.Column("recorded_span_s", sa.Float(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        span = "(julianday(recorded_end) - julianday(recorded_start)) * 86400.0"
    else:
        span = "EXTRACT(EPOCH FROM recorded_end - recorded_start)"
    # As media_repo.recorded_span does: no end, or one before the start, spans nothing.
    op.execute(
        f"UPDATE recording SET recorded_span_s = CASE WHEN {span} > 0 THEN {span} ELSE 0 END"
        " WHERE recorded_start IS NOT NULL"
    )
    op.create_index(op.f("ix_recording_recorded_span_s"), "recording", ["recorded_span_s"])
    op.create_index(op.f("ix_media_" + "_".join(_WINDOW)), "media", _WINDOW)
    op.drop_index(op.f("ix_media_recorded_start"), "media")


def downgrade() -> None:
    op.create_index(op.f("ix_media_recorded_start"), "media", ["recorded_start"])
    op.drop_index(op.f("ix_media_" + "_".join(_WINDOW)), "media")
    op.drop_index(op.f("ix_recording_recorded_span_s"), "recording")
    op.execute("ALTER TABLE recording DROP COLUMN recorded_span_s")
