"""The catalogue schema: what the api knows about stored media, case links and api tokens.

Every change here needs a migration in `storage/migrations/versions`; `tests/test_catalogue.py`
fails when the two disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
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
    select,
    text,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    aliased,
    column_property,
    mapped_column,
    relationship,
)
from sqlalchemy.types import TypeDecorator


class Unreadable:
    """A stored value the driver could not make into its column's type (text in a SQLite
    time column, JSON that does not parse), kept as found. The row still loads, so one bad
    row is served without that field (api/schemas.py MediaOut.of) instead of failing every
    query that reads it; whatever computes with the value fails on it there."""

    __slots__ = ("raw",)

    def __init__(self, raw: object) -> None:
        self.raw = raw

    def __repr__(self) -> str:
        return f"Unreadable({self.raw!r})"


def _tolerant(
    processor: Callable[[Any], Any] | None,
) -> Callable[[Any], Any] | None:
    if processor is None:
        return None

    def process(value: Any) -> Any:
        try:
            return processor(value)
        except (ValueError, TypeError):
            return Unreadable(value)

    return process


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

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        return _tolerant(super().result_processor(dialect, coltype))


class TolerantJSON(TypeDecorator[Any]):
    """JSON whose unparseable stored text loads as Unreadable (only SQLite can hold such)."""

    impl = JSON
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        return _tolerant(super().result_processor(dialect, coltype))


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
        CheckConstraint("kind IN ('video', 'audio', 'photo', 'other')", name="kind"),
        CheckConstraint(
            "proxy_status IN ('pending', 'ready', 'failed', 'none')", name="proxy_status"
        ),
        CheckConstraint("size_bytes >= 0", name="size_bytes"),
        # Search: newest first with a keyset cursor, and the filters of GET /api/v1/media.
        Index(None, "ingested_at", "id"),
        Index(None, "officer_id", "recorded_start"),
        Index(None, "device_id", "recorded_start"),
        Index(None, "unit_id", "recorded_start"),
        # A time window of any unit's media, newest ingested first, answered from the
        # index alone (media_repo.search); its first column serves every recorded_start
        # range.
        Index(None, "recorded_start", "recorded_end", "unit_id", "ingested_at", "id"),
        Index(None, "kind"),
        Index(None, "recording_id"),
        Index(None, "sidecar_of_sha256"),
        # The longest medium bounds how far before a window an overlapping one can start
        # (media_repo.longest_span): max(recorded_span_s) is one index probe.
        Index(None, "recorded_span_s"),
        # When each device last docked (warnings, equipment usage), and pages of one
        # device's, officer's or unit's media newest first: the keyset cursor on
        # (ingested_at, id) continues along these, so a deep page costs what the first does.
        Index(None, "device_id", "ingested_at", "id"),
        Index(None, "officer_id", "ingested_at", "id"),
        Index(None, "unit_id", "ingested_at", "id"),
        # Media marked important are few: their own index, newest first.
        Index(
            "ix_media_important_ingested_at_id",
            "ingested_at",
            "id",
            postgresql_where=text("important"),
            sqlite_where=text("important"),
        ),  # fmt: skip
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
    recorded_span_s: Mapped[float | None] = mapped_column(Float)
    """recorded_end - recorded_start in seconds (0 for a photo), kept for its index."""
    time_source: Mapped[str | None] = mapped_column(String(16))
    """Which of the device's times `recorded_start` came from: container, file_name or
    file_mtime; corrected by `clock_offset_s` when the station knew it."""
    recorded_start_raw: Mapped[datetime | None]
    """The chosen source's time before clock correction, as the device stamped it."""
    time_facts: Mapped[dict[str, Any] | None] = mapped_column(TolerantJSON)
    """Every time the device gave (container, file name, file), whether the clock offset
    was applied, and why a source was passed over."""
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
    proxy_status: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    """pending (the station will attach it), ready, failed (proxy_error says why), none."""
    proxy_error: Mapped[str | None] = mapped_column(Text)
    proxy_note: Mapped[str | None] = mapped_column(Text)
    """E.g. a hardware encode that failed and was made again in software."""
    renditions: Mapped[list[dict[str, Any]] | None] = mapped_column(TolerantJSON)
    """The browser copies that exist: [{"name", "content_type", "codec", "encoder"}]; their
    keys derive from the sha256 (storage.object_store.rendition_key)."""
    sidecar_of_sha256: Mapped[str | None] = mapped_column(String(64))
    """The medium this file travels with (GoPro .LRV/.THM, DJI .SRT, GPS logs...), by its
    SHA-256: the two may be registered in either order."""
    file_mtime: Mapped[datetime]
    staged_at: Mapped[datetime]
    ingested_at: Mapped[datetime] = mapped_column(default=utc_now)
    retention_until: Mapped[datetime | None]
    """Not to be deleted before this time; None: kept permanently (important, or evidence
    in a case)."""
    recording_id: Mapped[str | None] = mapped_column(String(36))
    """The merged recording (a camera's split segments joined) this part belongs to."""
    device_serial: Mapped[str | None] = mapped_column(String(128))
    """The hardware serial (or volume name) the station read at the dock, if it had one."""
    device_registered: Mapped[bool | None] = mapped_column(Boolean)
    """Whether the station found the device in the registry at the dock (None: it did not
    say). As the station saw it then: an unregistered device is not wiped. Whether a device
    is registered *now* is a join with `device` (see device_repo.unregistered)."""
    clock_offset_s: Mapped[float | None] = mapped_column(Float)
    """Device clock minus station clock at the dock, in seconds, when the station knew it."""
    lock_mode: Mapped[str | None] = mapped_column(String(16))
    """The lock the api last put on the original in the store (rules/retention.next_lock):
    `governance`, `compliance`, `none` (the store cannot lock), or None (not yet)."""
    locked_until: Mapped[datetime | None]
    lock_legal_hold: Mapped[bool | None] = mapped_column(Boolean)
    classification: Mapped[str | None] = mapped_column(String(16))
    """`non_evidential` when a reviewer judged it so, or a permanent category
    (rules/retention.py), with a reason in custody; None: not classified. A medium in a
    case, or classified, counts as categorised."""

    case_links: Mapped[list[CaseMedia]] = relationship(
        back_populates="media", lazy="selectin", order_by="CaseMedia.case_no"
    )

    if TYPE_CHECKING:
        sidecar_of: str | None
        """Id of the medium this file travels with, once that one is registered (mapped
        at the end of the module: it reads the table itself)."""

    @property
    def case_nos(self) -> list[str]:
        return [link.case_no for link in self.case_links]


class CaseMedia(Base):
    """A medium associated with a case: at the dock (`station import --case-no`), by hand,
    or automatically (`event_id` and `rule` say which event matched and how).

    `case_no` is not a foreign key: a dock may name a case before the case-handling system
    has sent it (CONTRACT.md: things arrive in any order).
    """

    __tablename__ = "case_media"
    __table_args__ = (
        UniqueConstraint("case_no", "media_id"),
        CheckConstraint("source IN ('dock', 'manual', 'auto')", name="source"),
        Index(None, "media_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(64))
    media_id: Mapped[str] = mapped_column(String(36), ForeignKey("media.id"))
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    event_id: Mapped[str | None] = mapped_column(String(128))
    rule: Mapped[str | None] = mapped_column(String(16))
    """For automatic links: `officer` or `room` (rules/association.py)."""

    media: Mapped[Media] = relationship(back_populates="case_links")


class CaseDissociation(Base):
    """A reviewer took a medium out of a case: automatic association must not put it back.
    Removed again when someone associates the two by hand."""

    __tablename__ = "case_dissociation"
    __table_args__ = (UniqueConstraint("case_no", "media_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(64))
    media_id: Mapped[str] = mapped_column(String(36), ForeignKey("media.id"))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utc_now)


class Case(Base):
    """A case as the case-handling system (or a reviewer) last sent it."""

    __tablename__ = "legal_case"  # `case` is an SQL keyword

    case_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_by: Mapped[str] = mapped_column(String(200))
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """A reviewer's hold on the case: none of its media may be deleted while it lasts."""

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case",
        lazy="selectin",
        order_by="CaseEvent.start_at",
        cascade="all, delete-orphan",
    )


class CaseEvent(Base):
    """One enforcement activity of a case: who, what, when (and in which interview room).

    `officer_ids` are plain ids (officers may be unknown to the catalogue); events are found
    for a medium by time (the index), then matched in Python by rules/association.py.
    """

    __tablename__ = "case_event"
    __table_args__ = (
        UniqueConstraint("case_no", "event_id"),
        CheckConstraint("end_at > start_at", name="window"),
        Index(None, "start_at", "end_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(
        String(64), ForeignKey("legal_case.case_no", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(128))
    activity: Mapped[str] = mapped_column(String(64))
    officer_ids: Mapped[list[str]] = mapped_column(JSON)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    room_id: Mapped[str | None] = mapped_column(String(128))

    case: Mapped[Case] = relationship(back_populates="events")


class Recording(Base):
    """A recording the camera split into segments (自动合成): its parts in order, the gaps
    between them (reported, never hidden), and one proxy of the whole, made from the parts'
    proxies. The parts' originals stay untouched; each part names it in `recording_id`."""

    __tablename__ = "recording"
    __table_args__ = (
        Index(None, "device_id", "recorded_start"),
        # The compliance report reads footage near events by how far a recording can
        # reach (compliance_repo.footage_touching): max(recorded_span_s) is one index probe.
        Index(None, "recorded_span_s"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128))
    station_id: Mapped[str] = mapped_column(String(128))
    recorded_start: Mapped[datetime | None]
    recorded_end: Mapped[datetime | None]
    recorded_span_s: Mapped[float | None] = mapped_column(Float)
    """Seconds from recorded_start to recorded_end (None without a start)."""
    part_ids: Mapped[list[str]] = mapped_column(JSON)
    """Media ids of the parts, in recording order."""
    joins: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """One per pair of consecutive parts: {before, after (media ids), gap_s}."""
    merged_proxy_key: Mapped[str | None] = mapped_column(String(512))
    merged_proxy_content_type: Mapped[str | None] = mapped_column(String(64))
    merge_method: Mapped[str | None] = mapped_column(String(16))
    """`stream_copy` (joined without re-encoding) or `transcoded`."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


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
    station_id: Mapped[str | None] = mapped_column(String(128))
    """The station a `station` token speaks for: registrations and reports carry this id."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class DeviceKind(StrEnum):
    """What a registered device is (CONTRACT.md)."""

    BODY_CAMERA = "body_camera"
    HANDHELD_TERMINAL = "handheld_terminal"
    INTERVIEW_ROOM = "interview_room"


class DeviceStatus(StrEnum):
    """Where a registered device is in its life.

    active: in service. inactive: in stock, not issued. repair: away for repair.
    lost: reported lost or stolen. retired: out of service for good.
    Only `active` devices count towards a unit's equipment; footage from a device in any
    status is still imported and attributed by the registry.
    """

    ACTIVE = "active"
    INACTIVE = "inactive"
    REPAIR = "repair"
    LOST = "lost"
    RETIRED = "retired"


def _in_list(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Device(Base):
    """A device in IT's registry: which unit and officer it belongs to, and its status.

    `unit_id` and `officer_id` are plain ids, not foreign keys: units, devices and cases may
    arrive in any order (CONTRACT.md), so a device may name a unit the catalogue does not
    know yet. `serial` is unique among devices that have one (NULLs never collide).
    """

    __tablename__ = "device"
    __table_args__ = (
        UniqueConstraint("serial"),
        CheckConstraint(_in_list("kind", DeviceKind), name="kind"),
        CheckConstraint(_in_list("status", DeviceStatus), name="status"),
        Index(None, "unit_id"),
    )

    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    serial: Mapped[str | None] = mapped_column(String(128))
    unit_id: Mapped[str | None] = mapped_column(String(128))
    officer_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class CustodyEventKind(StrEnum):
    """What happened to a medium, as a step of its chain of custody.

    At the dock (reported by the station): copied_from_device, stored (uploaded to the
    object store and verified there), wiped_from_device, wipe_failed. In the catalogue:
    registered, seen_again (the same bytes arrived again from another device, path or
    station). Reads of content: downloaded_original, played_proxy.
    Changes a person or a rule made: associated_with_case, dissociated_from_case,
    marked_important, unmarked_important (detail: case, event, rule, reason).
    Derived files: proxy_made (the station attached browser copies, or says none could be
    made: outcome failed). At the dock: device_clock_set (the station set the camera's clock;
    detail: offset before, time set). A reviewer's judgement: classified (detail:
    classification, the one before, reason).
    Retention: legal_hold_set, legal_hold_released (detail: reason, the case when it was the
    case's hold), deletion_requested (detail: reason, request id; the deletion itself is the
    medium's tombstone and an audit entry). Export: exported (detail: case, the bag).
    A new code needs a migration: the check constraint lists them all.
    """

    COPIED_FROM_DEVICE = "copied_from_device"
    STORED = "stored"
    REGISTERED = "registered"
    SEEN_AGAIN = "seen_again"
    WIPED_FROM_DEVICE = "wiped_from_device"
    WIPE_FAILED = "wipe_failed"
    DOWNLOADED_ORIGINAL = "downloaded_original"
    PLAYED_PROXY = "played_proxy"
    ASSOCIATED_WITH_CASE = "associated_with_case"
    DISSOCIATED_FROM_CASE = "dissociated_from_case"
    MARKED_IMPORTANT = "marked_important"
    UNMARKED_IMPORTANT = "unmarked_important"
    PROXY_MADE = "proxy_made"
    DEVICE_CLOCK_SET = "device_clock_set"
    CLASSIFIED = "classified"
    LEGAL_HOLD_SET = "legal_hold_set"
    LEGAL_HOLD_RELEASED = "legal_hold_released"
    DELETION_REQUESTED = "deletion_requested"
    EXPORTED = "exported"


class CustodyOutcome(StrEnum):
    """ok: it happened (a read: the api started sending the bytes). failed: it was
    attempted and did not happen (a read refused with 416/500/503, a wipe that failed)."""

    OK = "ok"
    FAILED = "failed"


class CustodyEvent(Base):
    """One step in the chain of custody of a medium: who did what, when, from where, and
    how it went. Rows are only ever added, never changed.

    `dedupe_key` is set for events a caller may send twice (a station retrying after a lost
    response): the unique constraint, not a lookup, keeps the retry from being recorded
    twice. Events that may truly repeat (every download) leave it NULL, and NULLs never
    collide.
    """

    __tablename__ = "custody_event"
    __table_args__ = (
        UniqueConstraint("media_id", "dedupe_key"),
        CheckConstraint(_in_list("event", CustodyEventKind), name="event"),
        CheckConstraint(_in_list("outcome", CustodyOutcome), name="outcome"),
        # The chain of one medium, oldest first.
        Index(None, "media_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    media_id: Mapped[str] = mapped_column(String(36), ForeignKey("media.id"))
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    """The api token's name, or `token:ID` for a token without one."""
    role: Mapped[str] = mapped_column(String(32))
    station_id: Mapped[str | None] = mapped_column(String(128))
    device_id: Mapped[str | None] = mapped_column(String(128))
    client: Mapped[str | None] = mapped_column(String(64))
    """The network address the api saw the request come from."""
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str | None] = mapped_column(String(64))

    media: Mapped[Media] = relationship()


class Viewing(Base):
    """One viewing of a medium's browser copy: every request a player made for it, counted.

    A browser plays a video through many Range requests and seeks with more. The viewing's
    first request is a `played_proxy` custody event (custody rows are never changed); the
    requests that follow by the same token, from the same address, each within
    VIEWING_WINDOW of the one before, are counted here, so no request goes unrecorded.
    """

    __tablename__ = "viewing"
    __table_args__ = (Index(None, "media_id", "token_id", "last_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    media_id: Mapped[str] = mapped_column(String(36), ForeignKey("media.id"))
    custody_event_id: Mapped[int] = mapped_column(Integer, ForeignKey("custody_event.id"))
    token_id: Mapped[str] = mapped_column(String(36))
    client: Mapped[str | None] = mapped_column(String(64))
    recording_id: Mapped[str | None] = mapped_column(String(36))
    """The merged recording played, when it was the recording's proxy."""
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    requests: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    last_range: Mapped[str | None] = mapped_column(String(200))


class Unit(Base):
    """A police unit (单位), with the unit above it. `parent_id` is a plain id, not a
    foreign key: a unit may name a parent the catalogue does not know yet."""

    __tablename__ = "unit"
    __table_args__ = (Index(None, "parent_id"),)

    unit_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(String(128))
    officer_count: Mapped[int] = mapped_column(Integer)
    on_duty_officer_count: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class UnitRules(Base):
    """The recording rules a unit sets for itself and the units below it (only what it
    overrides of rules/recording_rules.py's defaults, as the api received it)."""

    __tablename__ = "unit_rules"

    unit_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class StandardPer(StrEnum):
    """What a device ratio counts: every officer, or the officers on duty at once."""

    OFFICER = "officer"
    ON_DUTY_OFFICER = "on_duty_officer"


class UnitStandard(Base):
    """A unit's equipment standard (配备标准) for one device kind: `ratio` devices per
    officer (or per on-duty officer)."""

    __tablename__ = "unit_standard"
    __table_args__ = (
        CheckConstraint(_in_list("device_kind", DeviceKind), name="device_kind"),
        CheckConstraint(_in_list("per", StandardPer), name="per"),
        CheckConstraint("ratio >= 0", name="ratio"),
    )

    unit_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    device_kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    per: Mapped[str] = mapped_column(String(16))
    ratio: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class Station(Base):
    """A collection station as its last heartbeat described it."""

    __tablename__ = "station"

    station_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    online: Mapped[bool] = mapped_column(Boolean)
    storage_total_bytes: Mapped[int | None] = mapped_column(BigInteger)
    storage_used_bytes: Mapped[int | None] = mapped_column(BigInteger)
    docked_devices: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    alarms: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    version: Mapped[str | None] = mapped_column(String(64))
    heartbeat_interval_s: Mapped[float] = mapped_column(Float)
    """How often the station promised to send one: silence beyond it is a warning."""
    first_heartbeat_at: Mapped[datetime]
    last_heartbeat_at: Mapped[datetime]
    client: Mapped[str | None] = mapped_column(String(64))
    """The network address the last heartbeat came from."""


# -- what the compliance report keeps between requests (storage/catalogue/footage_changes.py,
#    judgement_repo.py) -------------------------------------------------------------------


class ChangeCounter(Base):
    """A number that every change of footage takes the next value of (the `footage` row)."""

    __tablename__ = "change_counter"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class FootageChange(Base):
    """The counter's value when footage recorded on this UTC day last changed: a medium
    registered or changed, joined to a recording, linked to a case or classified."""

    __tablename__ = "footage_change"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class EventJudgement(Base):
    """An event's compliance as last judged: good while `inputs` (the event, its rules and
    the judging code) are the same and no footage of its days changed after `judged_seq`."""

    __tablename__ = "event_judgement"

    case_no: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    inputs: Mapped[str] = mapped_column(String(64))
    judged_seq: Mapped[int] = mapped_column(BigInteger)
    requirement: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    """The event as the report writes it (JSON)."""


class DayTally(Base):
    """Media recorded on a UTC day, by unit and officer, and how many are categorised, as
    counted when the counter was at `seq`."""

    __tablename__ = "day_tally"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    counts: Mapped[list[list[Any]]] = mapped_column(JSON)
    """[[unit_id, officer_id, media, categorised], ...]"""


# -- evidence integrity (storage/catalogue/audit_repo.py, signing_keys.py) ------------------


class AuditOutcome(StrEnum):
    """ok: done or served. denied: refused for who asked (401, 403). failed: anything else
    that did not happen (bad input, not found, a store or catalogue failure)."""

    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"


class AuditEntry(Base):
    """One entry of the audit trail: who did what, when, from where, and how it went.

    Entries are only ever added, numbered 1, 2, 3... without gaps, each carrying the hash
    of the one before (rules/audit_chain.py). `detail` is kept as the canonical JSON text
    the hash was computed over, so a check recomputes it from exactly what is stored.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (
        CheckConstraint(_in_list("outcome", AuditOutcome), name="outcome"),
        Index(None, "at"),
        Index(None, "target"),
        Index(None, "token_id"),
        Index(None, "unit_id"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    """The token's name, `token:ID` for one without, `anonymous` for a failed
    authentication, or what acted without a token (`station-cli:USER`, `api:fixity`)."""
    token_id: Mapped[str | None] = mapped_column(String(36))
    role: Mapped[str | None] = mapped_column(String(32))
    unit_id: Mapped[str | None] = mapped_column(String(128))
    """The unit of the token that acted (its supervisors see the entry)."""
    action: Mapped[str] = mapped_column(String(200))
    """A request: `METHOD /api/v1/route/{template}`; otherwise a dotted name (`token.create`)."""
    target: Mapped[str | None] = mapped_column(String(200))
    """What was acted on: a medium's id, a case number, a unit, a token..."""
    detail: Mapped[str | None] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int | None] = mapped_column(Integer)
    """The HTTP status answered, for a request."""
    request_id: Mapped[str | None] = mapped_column(String(32))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class SigningKey(Base):
    """A public key that signs evidence documents: the api's (audit checkpoints, custody
    reports, exports) or a station's (dock receipts). `key_id` is the hex SHA-256 of the
    raw 32-byte Ed25519 public key. The private keys never enter the catalogue."""

    __tablename__ = "signing_key"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(16))
    """`api` or `station`."""
    owner_id: Mapped[str] = mapped_column(String(128))
    public_key_pem: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime]


class FixityState(Base):
    """The last fixity check of a medium's original: when, and what the store held."""

    __tablename__ = "fixity_state"
    __table_args__ = (
        CheckConstraint("outcome IN ('ok', 'mismatch', 'missing')", name="outcome"),
        # The next run takes those checked longest ago.
        Index(None, "checked_at"),
        Index(None, "outcome"),
    )

    media_id: Mapped[str] = mapped_column(String(36), ForeignKey("media.id"), primary_key=True)
    checked_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    actual_sha256: Mapped[str | None] = mapped_column(String(64))
    """What the stored bytes hashed to (None: no object)."""
    first_failed_at: Mapped[datetime | None]
    """When the check started failing (kept while it goes on failing)."""


class DeletionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    """Approved by a second token, and the medium deleted."""
    REJECTED = "rejected"


class DeletionRequest(Base):
    """Someone asks for a medium to be deleted before its time; another must approve
    (rules/retention.py). `media_id` is not a foreign key: the medium goes, the request
    stays, with the tombstone."""

    __tablename__ = "deletion_request"
    __table_args__ = (
        CheckConstraint(_in_list("status", DeletionStatus), name="status"),
        Index(None, "status", "requested_at"),
        Index(None, "media_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    media_id: Mapped[str] = mapped_column(String(36))
    sha256: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_by_token: Mapped[str] = mapped_column(String(36))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_by_token: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)


class MediaTombstone(Base):
    """What is left of a deleted medium: what it was, its hash, who deleted it and why, and
    its chain of custody as it stood. The audit trail has the deletion too."""

    __tablename__ = "media_tombstone"
    __table_args__ = (
        CheckConstraint("how IN ('expired', 'early')", name="how"),
        Index(None, "sha256"),
        Index(None, "deleted_at"),
    )

    media_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    original_name: Mapped[str] = mapped_column(Text)
    device_id: Mapped[str] = mapped_column(String(128))
    officer_id: Mapped[str | None] = mapped_column(String(128))
    unit_id: Mapped[str | None] = mapped_column(String(128))
    station_id: Mapped[str] = mapped_column(String(128))
    recorded_start: Mapped[datetime | None]
    ingested_at: Mapped[datetime]
    retention_until: Mapped[datetime | None]
    how: Mapped[str] = mapped_column(String(16))
    """`expired` (the deletion job) or `early` (asked for and approved)."""
    deleted_at: Mapped[datetime]
    deleted_by: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    deletion_request_id: Mapped[str | None] = mapped_column(String(36))
    audit_seq: Mapped[int] = mapped_column(BigInteger)
    """The audit entry of the deletion."""
    object_keys: Mapped[list[str]] = mapped_column(JSON)
    """The objects it had: the original and its derived files."""
    objects_removed_at: Mapped[datetime | None]
    """When the store let go of them (None: still to do; the job tries again)."""
    custody: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Its custody events as they stood, oldest first."""


class DockReceipt(Base):
    """A dock receipt a station signed and sent (wire/receipts.py), as it arrived."""

    __tablename__ = "dock_receipt"
    __table_args__ = (Index(None, "station_id", "signed_at"),)

    receipt_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(128))
    device_id: Mapped[str] = mapped_column(String(128))
    officer_id: Mapped[str | None] = mapped_column(String(128))
    signed_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    signed: Mapped[str] = mapped_column(Text)
    """The signed document (JSON) exactly as the station sent it."""
    received_at: Mapped[datetime]


class DockReceiptFile(Base):
    """A file a receipt names with its SHA-256: how a medium finds the receipts of its docks."""

    __tablename__ = "dock_receipt_file"
    __table_args__ = (Index(None, "sha256"),)

    receipt_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("dock_receipt.receipt_id"), primary_key=True
    )
    path: Mapped[str] = mapped_column(Text, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))


class User(Base):
    """A person who signs in to the pages with a user name and password (storage/catalogue/
    users.py): the same roles and unit scope as an api token. Only an argon2id hash of the
    password is kept; repeated failures lock the account for a while (rules/login.py)."""

    __tablename__ = "app_user"  # `user` is an SQL keyword
    __table_args__ = (UniqueConstraint("username"),)

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[str | None] = mapped_column(String(128))
    officer_id: Mapped[str | None] = mapped_column(String(128))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    password_changed_at: Mapped[datetime] = mapped_column(default=utc_now)
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    """The password was set by someone else (IT, the command line): until the person sets
    their own, a session of theirs may do nothing else."""


class WebSession(Base):
    """A signed-in page session (storage/catalogue/web_sessions.py): its cookie is kept only
    as a SHA-256, like a token. It speaks for a user who signed in with a password, or for
    the api token someone signed in with; a request is then checked as that user or token
    is now (disabled, revoked, moved to another unit). Kept in the catalogue, not in a
    process, so that any api replica serves it."""

    __tablename__ = "web_session"
    __table_args__ = (Index(None, "user_id"), Index(None, "token_id"))

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(36))
    token_id: Mapped[str | None] = mapped_column(String(36))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(default=utc_now)
    ended_at: Mapped[datetime | None]


_sidecar_target = aliased(Media)
# Mapped once every class is. A column of every media SELECT (a lookup on the unique
# sha256) rather than a second query per page.
Media.sidecar_of = column_property(  # type: ignore[assignment]
    select(_sidecar_target.id)
    .where(_sidecar_target.sha256 == Media.sidecar_of_sha256)
    .scalar_subquery()
)
