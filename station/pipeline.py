"""The life of a file at the station, one handler per step.

Evidence first: each step takes a journal row, does its work, and returns the row advanced;
the original is stored and registered before anything is derived from it.

    discovered ─stage→ staged ─probe→ probed ─upload→ uploaded ─register→ registered
                (copy + SHA-256)   (ffprobe)    (original,      (the api: searchable,
                                                 verified)       associable, on time)

Derived work follows from the backlog (station/backlog.py), per registered medium:

    quick (stream-copied renditions, thumbnail) → transcode (H.264, when nothing quick plays
    everywhere) → done; after each, the api is told what exists (attach)

Every handler is idempotent: run again after a crash at any point it redoes or skips its own
work and never a step before it. The importer (station/importer.py) only schedules them.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from ingest.copy_and_hash import copy_and_hash
from ingest.encoders import EncoderPreset
from ingest.errors import FfmpegTimeout, IngestError, ProbeError, TranscodeError
from ingest.file_names import parse_name
from ingest.playability import check_playable
from ingest.probe import ProbeResult, kind_from_probe, probe
from ingest.recorded_time import RecordedTimes, correct_times
from ingest.renditions import BROWSER_SAFE, Rendition, make_quick, make_transcode
from ingest.scan import FoundFile
from ingest.thumbnail import make_thumbnail
from rules.retention import lock_at_upload
from station.api_client import ApiClient
from station.facts import (
    DerivedFacts,
    DerivedStage,
    DockFacts,
    FileFacts,
    ProbeFacts,
    RegisteredFacts,
    RenditionFacts,
    StagedFacts,
    UploadFacts,
)
from station.journal import DerivedJob, FileState, Journal, JournalRow, Priority
from storage.durable import sha256_file
from storage.object_store import ObjectStore, original_key, rendition_key, thumbnail_key
from wire.derived import ProxyStatus
from wire.media_kinds import MediaKind
from wire.registration import IngestRecord, TimeFacts

log = logging.getLogger(__name__)

MAX_PROXY_ATTEMPTS = 3
"""A browser copy that ffmpeg fails to make this many times is `failed`, with the reason."""


class ProxyFailed(IngestError):
    """The browser copy cannot be made from these bytes (final: retrying changes nothing)."""


@dataclass(frozen=True)
class Pipeline:
    """What the steps work with: one station's journal, staging area, store and api."""

    journal: Journal
    staging_root: Path
    store: ObjectStore
    api: ApiClient
    zone: tzinfo
    encoder: EncoderPreset
    """The STATION_TRANSCODE preset (a failed hardware encode falls back to software)."""

    def workdir(self, row: JournalRow) -> Path:
        return self.staging_root / str(row.id)

    def staged_path(self, row: JournalRow) -> Path:
        assert row.facts.staged is not None
        return self.workdir(row) / row.facts.staged.name


# -- the evidence path ---------------------------------------------------------------------


def stage(
    p: Pipeline,
    row: JournalRow,
    source: FoundFile,
    dock: DockFacts,
    *,
    sidecar_of: int | None,
    chunk_size: int,
    buffers: int,
    on_progress: Callable[[int], None],
) -> JournalRow:
    """discovered → staged: copy the file off the device into staging, hashing it in the same
    read, durably. Raises CopyError (the device keeps the file; the row stays discovered)."""
    workdir = p.workdir(row)
    workdir.mkdir(parents=True, exist_ok=True)
    staged = copy_and_hash(
        source.path,
        workdir / ("original" + source.path.suffix.lower()[:8]),
        expect_size=source.size,
        expect_mtime_ns=source.mtime_ns,
        on_progress=on_progress,
        chunk_size=chunk_size,
        buffers=buffers,
    )
    facts = dataclasses.replace(
        row.facts, staged=StagedFacts(name=staged.path.name, dock=dock, sidecar_of=sidecar_of)
    )
    return p.journal.advance(row.id, FileState.STAGED, facts, sha256=staged.sha256)


def probe_original(p: Pipeline, row: JournalRow) -> JournalRow:
    """staged → probed: what ffprobe says the file is. A file it cannot read is evidence all
    the same: probed with the reason, registered unplayable."""
    path = p.staged_path(row)
    provisional = MediaKind(row.kind)
    try:
        probed = probe(path, kind=provisional)
    except (ProbeError, FfmpegTimeout) as exc:
        log.warning("%s: kept as evidence, unreadable: %s", row.path, exc)
        facts = ProbeFacts(kind=provisional, unreadable=str(exc))
    else:
        facts = _probe_facts(probed, provisional)
    return p.journal.advance(row.id, FileState.PROBED, dataclasses.replace(row.facts, probe=facts))


def _probe_facts(probed: ProbeResult, provisional: MediaKind) -> ProbeFacts:
    kind = kind_from_probe(probed, provisional)  # a file of unknown type ffprobe opens is media
    video, audio = probed.video, probed.audio
    return ProbeFacts(
        kind=kind,
        duration_s=probed.duration_s,
        container=probed.format_name,
        width=video.width if video else None,
        height=video.height if video else None,
        video_codec=video.codec_name if video else None,
        audio_codec=audio.codec_name if audio else None,
        creation_time=probed.creation_time,
    )


def upload_original(p: Pipeline, row: JournalRow) -> JournalRow:
    """probed → uploaded: the original in the object store, verified there byte for byte
    (by the store's checksum or a read-back) and locked for its period (rules/retention).
    Raises StorageError; retried later."""
    assert row.sha256 is not None
    key = original_key(row.sha256)
    now = datetime.now(UTC)
    staged = row.facts.staged
    permanent = (staged is not None and staged.dock.case_no is not None) or parse_name(
        row.path
    ).important
    p.store.put_file(
        key,
        p.staged_path(row),
        sha256=row.sha256,
        content_type="application/octet-stream",
        lock=lock_at_upload(permanent=permanent, now=now),
    )
    upload = UploadFacts(at=now, original_key=key)
    return p.journal.advance(
        row.id, FileState.UPLOADED, dataclasses.replace(row.facts, upload=upload)
    )


def register_original(p: Pipeline, row: JournalRow) -> JournalRow:
    """uploaded → registered: the api has the medium (searchable, associable, counted against
    the deadline); its derived work goes into the backlog. Raises ApiError; retried later."""
    assert row.sha256 is not None and row.staged_at is not None
    f = row.facts
    assert f.probe is not None and f.upload is not None
    dock = _resolve_device(p, f.dock)
    name = parse_name(row.path)
    times = _recorded_times(row, f.probe, dock.clock_offset_s, p.zone)
    derivable = f.probe.unreadable is None and f.probe.kind is not MediaKind.OTHER
    makes_proxy = derivable and f.probe.kind in (MediaKind.VIDEO, MediaKind.AUDIO)
    record = IngestRecord(
        sha256=row.sha256,
        size_bytes=row.size,
        kind=f.probe.kind,
        original_name=row.path.rsplit("/", 1)[-1],
        original_path=row.path,
        device_id=dock.device_id or row.device_key,
        officer_id=dock.officer_id,
        station_id=dock.station_id,
        case_no=dock.case_no,
        device_serial=dock.device_serial,
        device_registered=dock.device_registered,
        clock_offset_s=dock.clock_offset_s,
        clock_set_at=dock.clock_set.set_at if dock.clock_set else None,
        clock_offset_before_set_s=dock.clock_set.offset_before_s if dock.clock_set else None,
        recorded_start=times.start,
        recorded_end=times.end,
        time_source=times.source,
        recorded_start_raw=times.raw_start,
        time_facts=TimeFacts(
            container_time_raw=times.container_time_raw,
            name_time_raw=times.name_time_raw,
            file_mtime_raw=times.file_mtime_raw,
            clock_corrected=times.clock_corrected,
            note=times.note,
        ),
        important=name.important,
        duration_s=f.probe.duration_s,
        width=f.probe.width,
        height=f.probe.height,
        video_codec=f.probe.video_codec,
        audio_codec=f.probe.audio_codec,
        container=f.probe.container,
        playable=False,  # until a browser copy is made and decodes (the backlog says)
        unplayable_reason=f.probe.unreadable or _why_nothing_plays(f.probe.kind),
        proxy_status=ProxyStatus.PENDING if makes_proxy else ProxyStatus.NONE,
        sidecar_of_sha256=_sidecar_target(p, f),
        original_key=f.upload.original_key,
        file_mtime=datetime.fromtimestamp(row.mtime_ns / 1e9, UTC),
        staged_at=row.staged_at,
        uploaded_at=f.upload.at,
    )
    registered = p.api.register(record)
    facts = dataclasses.replace(
        f,
        staged=dataclasses.replace(f.staged, dock=dock) if f.staged else None,
        registered=RegisteredFacts(
            device_id=record.device_id,
            recorded_start=times.start,
            important=record.important,
            in_case=bool(registered.case_nos),
            case_not_linked=(
                dock.case_no if dock.case_no and dock.case_no not in registered.case_nos else None
            ),
        ),
    )
    first = record.important or bool(registered.case_nos)
    # The same bytes registered before (another device or station) already play: nothing to do.
    derive = derivable and registered.proxy_status != ProxyStatus.READY
    row, job = p.journal.register(
        row.id,
        facts,
        media_id=registered.media_id,
        priority=Priority.FIRST if first else Priority.NORMAL,
        recorded_at=times.start,
        stage=DerivedStage.QUICK if derive else DerivedStage.DONE,
    )
    if job.stage is DerivedStage.DONE:  # nothing to derive: the staged copy has done its job
        shutil.rmtree(p.workdir(row), ignore_errors=True)
    return row


EVIDENCE_STEPS: Mapping[FileState, Callable[[Pipeline, JournalRow], JournalRow]] = {
    FileState.STAGED: probe_original,
    FileState.PROBED: upload_original,
    FileState.UPLOADED: register_original,
}
"""From each state the handler that takes a staged row one step towards registered."""


def advance_evidence(
    p: Pipeline, row: JournalRow, on_step: Callable[[JournalRow], None]
) -> JournalRow:
    """Run a staged row's steps until it is registered; `on_step` sees each new state.
    Raises the step's error (the row keeps its last state, to be retried)."""
    while (step := EVIDENCE_STEPS.get(row.state)) is not None:
        row = step(p, row)
        on_step(row)
    return row


def _why_nothing_plays(kind: MediaKind) -> str | None:
    if kind is MediaKind.OTHER:
        return "not a format ffmpeg can open (a recorder's own container?); the original is kept"
    return None


def _sidecar_target(p: Pipeline, facts: FileFacts) -> str | None:
    """SHA-256 of the medium a sidecar travels with, once that medium is staged."""
    if facts.staged is None or facts.staged.sidecar_of is None:
        return None
    try:
        return p.journal.get(facts.staged.sidecar_of).sha256
    except KeyError:
        return None


def _resolve_device(p: Pipeline, dock: DockFacts) -> DockFacts:
    """The registry could not be asked at the dock (api down): ask now, so the footage goes
    under the registered device and officer rather than its bare serial."""
    if dock.device_registered is not None or not dock.device_serial:
        return dock
    device = p.api.find_device(dock.device_serial)  # ApiError: retried later
    if device is None:
        return dataclasses.replace(dock, device_registered=False)
    return dataclasses.replace(
        dock,
        device_id=device.device_id,
        officer_id=dock.officer_id or device.officer_id,
        device_registered=True,
    )


def _recorded_times(
    row: JournalRow, probed: ProbeFacts, clock_offset_s: float | None, zone: tzinfo
) -> RecordedTimes:
    """When the file was recorded, from every time the device gave, clock-corrected."""
    assert row.staged_at is not None
    return correct_times(
        container_time=probed.creation_time,
        name_time=parse_name(row.path).timestamp,
        file_mtime=datetime.fromtimestamp(row.mtime_ns / 1e9, UTC),
        duration_s=probed.duration_s,
        clock_offset_s=clock_offset_s,
        zone=zone,
        docked_at=row.staged_at,
    )


# -- derived work --------------------------------------------------------------------------


def make_quick_renditions(p: Pipeline, row: JournalRow, job: DerivedJob) -> DerivedJob:
    """quick → transcode or done: stream-copied renditions (seconds at most: an H.264 remux,
    an H.265 remux tagged hvc1) and the thumbnail, each uploaded; the api is told next."""
    probed, src, kind = _source(p, row)
    renditions: list[RenditionFacts] = []
    rejected: list[str] = []
    for made in make_quick(src, probed, kind, p.workdir(row)):
        kept = _keep(p, row, made, kind, probed, rejected)
        if kept is not None:
            renditions.append(kept)
    thumb = _thumbnail(p, row, src, probed, kind)
    playable_everywhere = any(r.name in BROWSER_SAFE for r in renditions)
    # Whatever the plan said: a stream copy ffmpeg refused, or one that did not decode, is
    # encoded in full by the transcode.
    needs_transcode = kind in (MediaKind.VIDEO, MediaKind.AUDIO) and not playable_everywhere
    if kind is MediaKind.PHOTO:
        status = ProxyStatus.NONE
    else:
        status = ProxyStatus.READY if playable_everywhere else ProxyStatus.PENDING
    facts = DerivedFacts(
        status=status,
        renditions=tuple(renditions),
        thumbnail_key=thumb,
        unplayable_reason=("; ".join(rejected) or None) if not renditions else None,
        attached=False,
    )
    stage = DerivedStage.TRANSCODE if needs_transcode else DerivedStage.DONE
    return p.journal.derived_advance(row.id, stage, facts)


def make_browser_proxy(p: Pipeline, row: JournalRow, job: DerivedJob) -> DerivedJob:
    """transcode → done: the H.264/AAC proxy made by the station's encoder preset (a failed
    hardware encode is made again in software, and the facts say so). Raises TranscodeError
    or FfmpegTimeout when ffmpeg fails (retried with back-off), ProxyFailed when the result
    does not play (final)."""
    probed, src, kind = _source(p, row)
    # A failed hardware encode is made again in software there, and its note says so.
    made = make_transcode(src, probed, kind, p.workdir(row), p.encoder)
    if made is None:
        raise ProxyFailed(f"{row.path}: no browser copy can be made of its streams")
    rejected: list[str] = []
    kept = _keep(p, row, made, kind, probed, rejected)
    if kept is None:
        raise ProxyFailed("; ".join(rejected))
    facts = dataclasses.replace(
        job.facts,
        status=ProxyStatus.READY,
        renditions=(*(r for r in job.facts.renditions if r.name != kept.name), kept),
        error=None,
        note=made.note,
        unplayable_reason=None,
        attached=False,
    )
    return p.journal.derived_advance(row.id, DerivedStage.DONE, facts)


def give_up(p: Pipeline, row: JournalRow, job: DerivedJob, why: str) -> DerivedJob:
    """The browser copy cannot be made: `failed`, with the reason, for the api to show."""
    facts = dataclasses.replace(
        job.facts,
        status=ProxyStatus.FAILED if not _plays_everywhere(job.facts) else ProxyStatus.READY,
        error=why,
        unplayable_reason=None if job.facts.renditions else why,
        attached=False,
    )
    return p.journal.derived_advance(row.id, DerivedStage.DONE, facts)


def attach(p: Pipeline, row: JournalRow, job: DerivedJob) -> DerivedJob:
    """Tell the api what now exists for the medium (renditions, thumbnail, status). When the
    work is done, the staged copy has served its purpose. Raises ApiError; retried later."""
    assert row.media_id is not None
    p.api.attach_derived(row.media_id, job.facts)
    job = p.journal.derived_advance(
        row.id, job.stage, dataclasses.replace(job.facts, attached=True)
    )
    if job.stage is DerivedStage.DONE:
        shutil.rmtree(p.workdir(row), ignore_errors=True)
    return job


DERIVED_STEPS: Mapping[DerivedStage, Callable[[Pipeline, JournalRow, DerivedJob], DerivedJob]] = {
    DerivedStage.QUICK: make_quick_renditions,
    DerivedStage.TRANSCODE: make_browser_proxy,
}
"""From each backlog stage the handler that does its work (results not yet attached are
attached first, so an HEVC rendition plays while its H.264 proxy waits)."""


def next_derived_step(
    job: DerivedJob,
) -> Callable[[Pipeline, JournalRow, DerivedJob], DerivedJob] | None:
    if not job.facts.attached:
        return attach
    return DERIVED_STEPS.get(job.stage)


def _plays_everywhere(facts: DerivedFacts) -> bool:
    return any(r.name in BROWSER_SAFE for r in facts.renditions)


def _source(p: Pipeline, row: JournalRow) -> tuple[ProbeResult, Path, MediaKind]:
    """The staged original (fetched back from the store, and checked, if the station disk
    lost it) with its probe."""
    assert row.facts.probe is not None and row.sha256 is not None
    src = p.staged_path(row)
    if not src.is_file():
        _fetch_original(p, row, src)
    kind = row.facts.probe.kind
    return probe(src, kind=kind), src, kind


def _fetch_original(p: Pipeline, row: JournalRow, dst: Path) -> None:
    assert row.sha256 is not None
    log.warning("staged copy of %s (row %d) is gone; fetching the original back", row.path, row.id)
    dst.parent.mkdir(parents=True, exist_ok=True)
    part = dst.with_name(dst.name + ".part")
    with part.open("wb") as out:
        for chunk in p.store.open_range(original_key(row.sha256)):
            out.write(chunk)
    if sha256_file(part) != row.sha256:
        part.unlink(missing_ok=True)
        raise TranscodeError(f"{row.path}: the original fetched back from the store does not match")
    part.replace(dst)


def _keep(
    p: Pipeline,
    row: JournalRow,
    made: Rendition,
    kind: MediaKind,
    probed: ProbeResult,
    rejected: list[str],
) -> RenditionFacts | None:
    """Upload a rendition that plays (a stream of the medium's kind that decodes); note why
    not otherwise."""
    why = check_playable(made.path, kind, duration_s=probed.duration_s)
    if why is not None:
        log.warning("%s: %s rendition rejected: %s", row.path, made.name, why)
        rejected.append(why)
        made.path.unlink(missing_ok=True)  # the transcode then makes it in full
        return None
    assert row.sha256 is not None
    key = rendition_key(row.sha256, made.name)
    p.store.put_file(key, made.path, sha256=None, content_type=made.content_type)
    if made.name not in BROWSER_SAFE:  # a browser-safe file tells the transcode it is done
        made.path.unlink(missing_ok=True)
    return RenditionFacts(
        name=made.name,  # type: ignore[arg-type]
        content_type=made.content_type,
        codec=made.codec,
        encoder=made.encoder,
        key=key,
    )


def _thumbnail(
    p: Pipeline, row: JournalRow, src: Path, probed: ProbeResult, kind: MediaKind
) -> str | None:
    assert row.sha256 is not None
    try:
        path = make_thumbnail(src, p.workdir(row) / "thumbnail.jpg", probed, kind)
    except (TranscodeError, FfmpegTimeout) as exc:
        # A missing thumbnail costs a picture in a list, not playability.
        log.warning("thumbnail of %s failed: %s", row.path, exc)
        return None
    if path is None:
        return None
    key = thumbnail_key(row.sha256)
    p.store.put_file(key, path, sha256=None, content_type="image/jpeg")
    return key
