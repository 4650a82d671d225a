"""What the station learns about a file, step by step, as frozen values.

Each step of station/pipeline.py adds its own part to a row's `FileFacts`: the dock (who and
what the device was), staging, the probe, the upload, the registration, the wipe. Derived work
(renditions, thumbnail) keeps its own `DerivedFacts` beside the row. The journal stores both as
JSON, written and read only by `dump` and `load` here: no dict with magic keys travels
between the importer, the wipe and the recordings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import TypeAdapter

from wire.derived import ProxyStatus, RenditionName
from wire.media_kinds import MediaKind


@dataclass(frozen=True)
class ClockSet:
    """The station set the camera's clock at this dock (STATION_SYNC_CLOCK)."""

    offset_before_s: float | None
    """Device clock minus station clock before it was set (the files' stamps carry it); None
    when the camera's clock could not be read first."""
    set_at: datetime
    """Station time (UTC) the camera was set to."""


@dataclass(frozen=True)
class DockFacts:
    """What the dock knew about the device and its footage, kept with every file staged (a
    later run may register the file after the device has gone)."""

    device_id: str
    station_id: str
    officer_id: str | None = None
    case_no: str | None = None
    device_serial: str | None = None
    device_registered: bool | None = None
    """Whether the registry knew the device; None when the station could not ask."""
    clock_offset_s: float | None = None
    """Device clock minus station clock, read at this dock."""
    clock_set: ClockSet | None = None


@dataclass(frozen=True)
class StagedFacts:
    name: str
    """The staged copy's file name in the row's staging folder."""
    dock: DockFacts
    sidecar_of: int | None = None
    """Journal row of the medium this file travels with (GoPro .LRV/.THM, DJI .SRT, GPS logs,
    a file sharing a medium's base name)."""


@dataclass(frozen=True)
class ProbeFacts:
    kind: MediaKind
    """The kind the probe found (a file of unknown type ffprobe opens as video is video)."""
    duration_s: float | None = None
    container: str | None = None
    width: int | None = None
    height: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    creation_time: datetime | None = None
    """The container's creation time as written (aware only when the stamp said so)."""
    unreadable: str | None = None
    """Why ffprobe could not read the file; None when it could. Such a file is evidence all
    the same: registered, `playable: false`, nothing derived."""


@dataclass(frozen=True)
class UploadFacts:
    at: datetime
    """When the original was stored and verified in the object store."""
    original_key: str


@dataclass(frozen=True)
class RegisteredFacts:
    device_id: str
    """The device id the api filed it under (the registry's, when the station could ask)."""
    recorded_start: datetime | None
    important: bool
    in_case: bool
    """In a case when registered (at the dock or automatically): its derived work goes first."""
    case_not_linked: str | None = None
    """The case number given at the dock that the api did not link it to (a case of another
    unit): the officer is told at the dock, and the case-management center links by hand."""


@dataclass(frozen=True)
class WipeFacts:
    wiping_at: datetime | None = None
    """Set just before the delete: a crash between delete and `released` still records it."""
    wiped_at: datetime | None = None
    reported: bool = False
    """Whether the api has the wipe in the medium's custody."""


@dataclass(frozen=True)
class Lineage:
    """Revisions of one file: its bytes changed on the device under the same name, size and
    time (journal.supersede)."""

    supersedes: int | None = None
    superseded_by: int | None = None
    why: str | None = None


@dataclass(frozen=True)
class FileFacts:
    staged: StagedFacts | None = None
    probe: ProbeFacts | None = None
    upload: UploadFacts | None = None
    registered: RegisteredFacts | None = None
    wipe: WipeFacts | None = None
    lineage: Lineage = field(default_factory=Lineage)

    @property
    def dock(self) -> DockFacts:
        if self.staged is None:
            raise ValueError("a file's dock facts are known once it is staged")
        return self.staged.dock


class DerivedStage(StrEnum):
    """The backlog's steps for one medium: cheap stream copies and the thumbnail first, the
    H.264 transcode (when nothing quick plays everywhere) after."""

    QUICK = "quick"
    TRANSCODE = "transcode"
    DONE = "done"


@dataclass(frozen=True)
class RenditionFacts:
    name: RenditionName
    content_type: str
    codec: str
    encoder: str
    key: str
    """Object key in the store (storage.object_store.rendition_key)."""


@dataclass(frozen=True)
class DerivedFacts:
    """What the backlog made for a medium and uploaded, and whether the api has it."""

    status: ProxyStatus = ProxyStatus.PENDING
    renditions: tuple[RenditionFacts, ...] = ()
    thumbnail_key: str | None = None
    error: str | None = None
    """Why the browser copy could not be made (status failed), or why the last try failed."""
    note: str | None = None
    """E.g. that a hardware encode failed and the proxy was made in software."""
    unplayable_reason: str | None = None
    attached: bool = False
    """The api holds exactly this; False: the next step tells it."""


T = TypeVar("T")
_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(cls: type[T]) -> TypeAdapter[T]:
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


def dump(facts: FileFacts | DerivedFacts) -> str:
    """The facts as the journal stores them (JSON)."""
    return _adapter(type(facts)).dump_json(facts).decode()


def load(cls: type[T], text: str) -> T:
    """Facts written by `dump`. Raises pydantic.ValidationError for anything else."""
    return _adapter(cls).validate_json(text)
