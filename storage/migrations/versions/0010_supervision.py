"""Supervision and equipment: a reviewer's classification of a medium (and its custody
event), units' equipment standards, stations' heartbeats, and the indexes the reports and
deep search pages read.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS_BEFORE = (
    "copied_from_device",
    "stored",
    "registered",
    "seen_again",
    "wiped_from_device",
    "wipe_failed",
    "downloaded_original",
    "played_proxy",
    "associated_with_case",
    "dissociated_from_case",
    "marked_important",
    "unmarked_important",
    "proxy_made",
    "device_clock_set",
)
_EVENTS = (*_EVENTS_BEFORE, "classified")
_KINDS = ("body_camera", "handheld_terminal", "interview_room")


def _in_list(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    # Not in batch mode: SQLite would copy `media`, which other tables' rows refer to.
    # The api checks the classification's values (SQLite cannot add a check in place).
    op.add_column("media", sa.Column("classification", sa.String(16), nullable=True))
    op.add_column("media", sa.Column("recorded_span_s", sa.Float(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        span = "(julianday(recorded_end) - julianday(recorded_start)) * 86400.0"
    else:
        span = "EXTRACT(EPOCH FROM recorded_end - recorded_start)"
    op.execute(
        f"UPDATE media SET recorded_span_s = COALESCE({span}, 0) WHERE recorded_start IS NOT NULL"
    )
    op.create_index(op.f("ix_media_recorded_span_s"), "media", ["recorded_span_s"])
    op.create_index("ix_media_important_ingested_at_id", "media", ["ingested_at", "id"],
                    postgresql_where=sa.text("important"), sqlite_where=sa.text("important"))  # fmt: skip
    for column in ("device_id", "officer_id", "unit_id"):
        op.create_index(
            op.f(f"ix_media_{column}_ingested_at_id"), "media", [column, "ingested_at", "id"]
        )
    with op.batch_alter_table("custody_event") as batch:
        batch.drop_constraint(op.f("ck_custody_event_event"), type_="check")
        batch.create_check_constraint(op.f("ck_custody_event_event"), _in_list("event", _EVENTS))
    op.create_table(
        "unit_standard",
        sa.Column("unit_id", sa.String(128), nullable=False),
        sa.Column("device_kind", sa.String(32), nullable=False),
        sa.Column("per", sa.String(16), nullable=False),
        sa.Column("ratio", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.CheckConstraint(
            _in_list("device_kind", _KINDS), name=op.f("ck_unit_standard_device_kind")
        ),
        sa.CheckConstraint(
            _in_list("per", ("officer", "on_duty_officer")), name=op.f("ck_unit_standard_per")
        ),
        sa.CheckConstraint("ratio >= 0", name=op.f("ck_unit_standard_ratio")),
        sa.PrimaryKeyConstraint("unit_id", "device_kind", name=op.f("pk_unit_standard")),
    )
    op.create_table(
        "station",
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("storage_total_bytes", sa.BigInteger(), nullable=True),
        sa.Column("storage_used_bytes", sa.BigInteger(), nullable=True),
        sa.Column("docked_devices", sa.JSON(), nullable=False),
        sa.Column("alarms", sa.JSON(), nullable=False),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("heartbeat_interval_s", sa.Float(), nullable=False),
        sa.Column("first_heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_station")),
    )


def downgrade() -> None:
    bind = op.get_bind()
    kept = bind.execute(
        sa.text(
            "SELECT (SELECT COUNT(*) FROM media WHERE classification IS NOT NULL)"
            " + (SELECT COUNT(*) FROM custody_event WHERE event = 'classified')"
        )
    ).scalar_one()
    if kept:
        # A reviewer's classification and its custody are records; they are never dropped
        # to make a downgrade fit.
        raise RuntimeError(
            f"cannot downgrade below 0010: {kept} classifications or their custody events "
            "exist; restore the backup taken before the upgrade instead"
        )
    op.drop_table("station")
    op.drop_table("unit_standard")
    with op.batch_alter_table("custody_event") as batch:
        batch.drop_constraint(op.f("ck_custody_event_event"), type_="check")
        batch.create_check_constraint(
            op.f("ck_custody_event_event"), _in_list("event", _EVENTS_BEFORE)
        )
    for column in ("device_id", "officer_id", "unit_id"):
        op.drop_index(op.f(f"ix_media_{column}_ingested_at_id"), "media")
    op.drop_index("ix_media_important_ingested_at_id", "media")
    op.drop_index(op.f("ix_media_recorded_span_s"), "media")
    op.execute("ALTER TABLE media DROP COLUMN recorded_span_s")
    op.execute("ALTER TABLE media DROP COLUMN classification")  # SQLite 3.35+ and PostgreSQL
