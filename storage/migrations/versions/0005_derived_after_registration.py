"""Evidence first: media registered before their browser copies, which the station attaches
later; renditions, sidecars, media of kind `other`; custody of derived files and of a
device clock set at the dock.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Written by hand. Existing media had their proxy at registration: `ready` with one rendition
when they have a proxy, else `none`. Check constraints change through batch mode (SQLite
copies the table; PostgreSQL alters it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
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
)
_EVENTS = (*_EVENTS_BEFORE, "proxy_made", "device_clock_set")
_STATUSES = ("pending", "ready", "failed", "none")


def _in_list(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.add_column(
            sa.Column("proxy_status", sa.String(length=16), nullable=False, server_default="none")
        )
        batch.add_column(sa.Column("proxy_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("proxy_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("renditions", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("sidecar_of_sha256", sa.String(length=64), nullable=True))
        batch.drop_constraint(op.f("ck_media_kind"), type_="check")
        batch.create_check_constraint(
            op.f("ck_media_kind"), "kind IN ('video', 'audio', 'photo', 'other')"
        )
        batch.create_check_constraint(
            op.f("ck_media_proxy_status"), _in_list("proxy_status", _STATUSES)
        )
        batch.create_index(op.f("ix_media_sidecar_of_sha256"), ["sidecar_of_sha256"])
    media = sa.table(
        "media",
        sa.column("proxy_key", sa.String),
        sa.column("proxy_content_type", sa.String),
        sa.column("proxy_status", sa.String),
        sa.column("renditions", sa.JSON),
    )
    bind = op.get_bind()
    for content_type, name, codec in (("video/mp4", "h264", "avc1"), ("audio/mp4", "aac", "mp4a")):
        rendition = [
            {"name": name, "content_type": content_type, "codec": codec, "encoder": "unknown"}
        ]
        bind.execute(
            media.update()
            .where(media.c.proxy_key.is_not(None), media.c.proxy_content_type == content_type)
            .values(proxy_status="ready", renditions=rendition)
        )
    with op.batch_alter_table("custody_event") as batch:
        batch.drop_constraint(op.f("ck_custody_event_event"), type_="check")
        batch.create_check_constraint(op.f("ck_custody_event_event"), _in_list("event", _EVENTS))


def downgrade() -> None:
    bind = op.get_bind()
    kept = bind.execute(
        sa.text(
            "SELECT (SELECT COUNT(*) FROM media WHERE kind = 'other')"
            " + (SELECT COUNT(*) FROM custody_event"
            "    WHERE event IN ('proxy_made', 'device_clock_set'))"
        )
    ).scalar_one()
    if kept:
        # Evidence of kind other and its custody cannot be expressed before 0005, and are
        # never dropped to make a downgrade fit.
        raise RuntimeError(
            f"cannot downgrade below 0005: {kept} media of kind 'other' or custody events of "
            "this version exist; restore the backup taken before the upgrade instead"
        )
    with op.batch_alter_table("custody_event") as batch:
        batch.drop_constraint(op.f("ck_custody_event_event"), type_="check")
        batch.create_check_constraint(
            op.f("ck_custody_event_event"), _in_list("event", _EVENTS_BEFORE)
        )
    with op.batch_alter_table("media") as batch:
        batch.drop_index(op.f("ix_media_sidecar_of_sha256"))
        batch.drop_constraint(op.f("ck_media_proxy_status"), type_="check")
        batch.drop_constraint(op.f("ck_media_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_media_kind"), "kind IN ('video', 'audio', 'photo')")
        batch.drop_column("sidecar_of_sha256")
        batch.drop_column("renditions")
        batch.drop_column("proxy_note")
        batch.drop_column("proxy_error")
        batch.drop_column("proxy_status")
