"""What the compliance report keeps between requests: each event's last judgement, each
day's media counts, and the counter and per-day marks that say when footage changed.

The judgements and counts can be made again from the rest of the catalogue: emptying
`event_judgement` and `day_tally` loses nothing. The counter and the marks are not to be
reset while those hold rows (storage/catalogue/footage_changes.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    counter = op.create_table(
        "change_counter",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_counter")),
    )
    op.bulk_insert(counter, [{"name": "footage", "value": 0}])
    op.create_table(
        "footage_change",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_footage_change")),
    )
    op.create_table(
        "event_judgement",
        sa.Column("case_no", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("inputs", sa.String(64), nullable=False),
        sa.Column("judged_seq", sa.BigInteger(), nullable=False),
        sa.Column("requirement", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("case_no", "event_id", name=op.f("pk_event_judgement")),
    )
    op.create_table(
        "day_tally",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_day_tally")),
    )


def downgrade() -> None:
    for table in ("day_tally", "event_judgement", "footage_change", "change_counter"):
        op.drop_table(table)
