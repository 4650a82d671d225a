"""The catalogue schema: what the api knows about stored media, case links and api tokens.

Every change here needs a migration in `storage/migrations/versions`; `tests/test_catalogue.py`
fails when the two disagree.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

RETENTION_PERIOD = timedelta(days=183)
"""How long media are kept at least; a placeholder until retention policies come."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware in UTC.

    PostgreSQL keeps it as `timestamptz`. SQLite has no zones, so the value is stored as
    naive UTC text and tagged UTC on the way out. Naive datetimes are refused: a time
    without an offset is ambiguous, and evidence times must not be.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: catalogue times need an offset")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    # Named constraints so migrations (and SQLite batch mode) can refer to them.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UtcDateTime()}


class Media(Base):
    """One original file as read from a device, with what was learnt about it at the station."""

    __tablename__ = "media"
    __table_args__ = (
        UniqueConstraint("sha256"),
        CheckConstraint("kind IN ('video', 'audio', 'photo')", name="kind"),
        CheckConstraint("size_bytes >= 0", name="size_bytes"),
        # Search: newest first with a keyset cursor, and the filters of GET /api/v1/media.
        Index(None, "ingested_at", "id"),
        Index(None, "officer_id", "recorded_start"),
        Index(None, "device_id", "recorded_start"),
        Index(None, "unit_id", "recorded_start"),
        Index(None, "recorded_start"),
        Index(None, "kind"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    original_name: Mapped[str] = mapped_column(Text)
    original_path: Mapped[str] = mapped_column(Text)
    device_id: Mapped[str] = mapped_column(String(128))
    officer_id: Mapped[str | None] = mapped_column(String(128))
    unit_id: Mapped[str | None] = mapped_column(String(128))
    station_id: Mapped[str] = mapped_column(String(128))
    recorded_start: Mapped[datetime | None]
    recorded_end: Mapped[datetime | None]
    time_source: Mapped[str | None] = mapped_column(String(16))
    duration_s: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    video_codec: Mapped[str | None] = mapped_column(String(64))
    audio_codec: Mapped[str | None] = mapped_column(String(64))
    container: Mapped[str | None] = mapped_column(String(64))
    playable: Mapped[bool] = mapped_column(Boolean)
    unplayable_reason: Mapped[str | None] = mapped_column(Text)
    important: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    original_key: Mapped[str] = mapped_column(String(512))
    proxy_key: Mapped[str | None] = mapped_column(String(512))
    proxy_content_type: Mapped[str | None] = mapped_column(String(64))
    thumbnail_key: Mapped[str | None] = mapped_column(String(512))
    file_mtime: Mapped[datetime]
    staged_at: Mapped[datetime]
    ingested_at: Mapped[datetime] = mapped_column(default=utc_now)
    retention_until: Mapped[datetime]
    recording_id: Mapped[str | None] = mapped_column(String(36))
    """The merged recording this part belongs to; recordings come in a later issue."""

    case_links: Mapped[list[CaseMedia]] = relationship(
        back_populates="media", lazy="selectin", order_by="CaseMedia.case_no"
    )

    @property
    def case_nos(self) -> list[str]:
        return [link.case_no for link in self.case_links]


class CaseMedia(Base):
    """A medium associated with a case, at the dock or by hand."""

    __tablename__ = "case_media"
    __table_args__ = (
        UniqueConstraint("case_no", "media_id"),
        CheckConstraint("source IN ('dock', 'manual')", name="source"),
        Index(None, "media_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(64))
    media_id: Mapped[str] = mapped_column(String(36), ForeignKey("media.id"))
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    media: Mapped[Media] = relationship(back_populates="case_links")


class ApiToken(Base):
    """A bearer token of the api. Only the SHA-256 of the token is kept."""

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[str | None] = mapped_column(String(128))
    officer_id: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    revoked_at: Mapped[datetime | None]
