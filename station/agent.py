"""The station agent: the long-lived service at a collection point.

Threads, each a loop with a stop event:
- volumes: watch the mount roots; each settled volume gets a dock thread
  (identify → registry → import → wipe after verify);
- exports: take finished files from the interview rooms' export folders;
- retry: the offline queue: upload and register what waits on the station disk, and report
  wipes the api has not recorded yet, with back-off;
- derived: the backlog of browser copies and thumbnails of registered media, at the lowest
  priority (station/backlog.py);
- usb: log in to cameras that show their volume only after a login, and switch them;
- heartbeat: tell the api the station's state on a schedule (station/heartbeat.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import usb.backend

from devices.errors import DeviceError
from devices.identify import DockIdentity, find_cameras_to_prepare, identify_dock, prepare_camera
from devices.usb_enum import UsbIdentity
from ingest.scan import ScanResult
from station.api_client import ApiClient, ApiError, RegisteredDevice
from station.backlog import Backlog
from station.export_watch import ExportWatcher
from station.heartbeat import Heartbeats
from station.identity_memory import recall
from station.importer import Importer, ImportObserver, ImportOptions
from station.journal import FileState, Journal, JournalRow
from station.metrics import AgentMetrics
from station.receipts import Receipt
from station.recordings import Recordings
from station.settings import StationSettings
from station.status import DockObserver, DockState, StatusBoard
from station.volume_watch import VolumeWatcher, signature
from station.wipe import WipeSummary, report_wipe, wipe_registered

log = logging.getLogger(__name__)

RETRY_EVERY_S = 5.0
KEEP_DOCKED_RETRY_S = 30.0
USB_EVERY_S = 2.0


@dataclass
class Agent:
    settings: StationSettings
    journal: Journal
    importer: Importer
    api: ApiClient
    board: StatusBoard
    usb_backend: usb.backend.IBackend | None = None
    identify: Callable[..., DockIdentity] = identify_dock
    recordings: Recordings | None = None
    """Groups registered segments into recordings; None: no merging (tests)."""
    backlog: Backlog | None = None
    """Makes registered media's browser copies; None: none are made (tests)."""
    metrics: AgentMetrics | None = None
    """Counts imports, bytes and failures for Prometheus; None: not counted (tests)."""
    stop_tools: Callable[[], None] | None = None
    """Kills the ffmpeg the process started, at shutdown (ingest.ffmpeg_run.kill_running: for
    the rest of the process's life, so only where the agent is the process)."""
    _docks: dict[Path, _Dock] = field(default_factory=dict)
    _prepared: dict[tuple[int, int, str | None], DockIdentity] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wipe_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _volumes: VolumeWatcher = field(init=False)

    def __post_init__(self) -> None:
        self._volumes = VolumeWatcher(
            self.settings.mount_root_paths(), settle_s=self.settings.settle_s
        )

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set; then let docks in progress finish their current step."""
        loops = [
            ("volumes", self._watch_volumes),
            ("exports", self._watch_exports),
            ("retry", self._retry),
            ("usb", self._prepare_cameras),
            ("heartbeat", self._heartbeat),
        ]
        if self.backlog is not None:
            loops.append(("derived", self.backlog.run))
        threads = [threading.Thread(target=f, args=(stop,), name=n, daemon=True) for n, f in loops]
        for thread in threads:
            thread.start()
        log.info(
            "agent %s watching %s, exports %s",
            self.settings.id,
            self.settings.mount_roots,
            self.settings.export_dirs or "none",
        )
        stop.wait()
        if self.stop_tools is not None:  # a transcode can run for minutes; redone on restart
            self.stop_tools()
        for thread in threads:
            thread.join(timeout=10)
        with self._lock:
            busy = [d.thread for d in self._docks.values() if d.thread is not None]
        for thread in busy:  # a dock mid-copy ends at its next step; its rows resume later
            thread.join(timeout=20)

    def _heartbeat(self, stop: threading.Event) -> None:
        Heartbeats(self.api, self.settings.id, board=self.board, journal=self.journal,
                   state_dir=self.settings.state_dir,
                   interval_s=self.settings.heartbeat_interval_s).run(stop)  # fmt: skip

    # -- docks ---------------------------------------------------------------------------

    def _watch_volumes(self, stop: threading.Event) -> None:
        self._volumes.run(stop, self._on_settled, self._on_gone)

    def _on_settled(self, volume: Path) -> None:
        with self._lock:
            dock = self._docks.setdefault(volume, _Dock())
            if dock.thread is not None:
                # Its dock thread is still at work (registering after safe-to-undock). Undocked
                # and docked again meanwhile: dock it when that thread ends, since the watcher
                # reports it only once. (A change without an undock is our own wipe.)
                if dock.undocked_meanwhile:
                    dock.dock_again = True
                return
            dock.thread = threading.Thread(
                target=self._dock, args=(volume,), name=f"dock {volume.name}"
            )
            dock.outcome = None
            thread = dock.thread
        thread.start()

    def _on_gone(self, volume: Path) -> None:
        with self._lock:
            dock = self._docks.get(volume)
            if dock is None:
                return
            if dock.thread is not None:
                dock.undocked_meanwhile = True
            dock.outcome = DockState.UNDOCKED
        self.board.update(str(volume), state=DockState.UNDOCKED)

    def _dock(self, volume: Path) -> None:
        dock_id = str(volume)
        self.board.open(dock_id, str(volume))
        outcome: DockState | None = None
        try:
            outcome = self._import_dock(volume, dock_id)
        except Exception as exc:  # the dock thread must report, never die silently
            log.exception("dock %s failed", volume)
            self.board.add_error(dock_id, f"内部错误：{exc!r}")
        finally:
            # Our own wipe changed the volume; that is not the officer docking again.
            self._volumes.acknowledge(volume, signature(volume))
            with self._lock:
                dock = self._docks[volume]
                again = dock.dock_again
                if dock.outcome is not DockState.UNDOCKED:  # undocked: it stays so
                    dock.outcome = outcome
                dock.thread = None
                dock.undocked_meanwhile = dock.dock_again = False
                kept_docked = dock.outcome is DockState.KEEP_DOCKED
            if again and volume.is_dir():
                self._on_settled(volume)
            elif kept_docked and volume.is_dir():
                # Files could not be copied (disk full, still being written): try again while
                # the device stays docked, as the screen tells the officer to keep it there.
                timer = threading.Timer(KEEP_DOCKED_RETRY_S, self._redock, (volume,))
                timer.daemon = True
                timer.start()

    def _redock(self, volume: Path) -> None:
        with self._lock:
            dock = self._docks.get(volume)
            still_kept = dock is not None and dock.outcome is DockState.KEEP_DOCKED
        if still_kept and volume.is_dir():
            self._on_settled(volume)

    def _import_dock(self, volume: Path, dock_id: str) -> DockState | None:
        """Identify, import and wipe one docked volume; the state it ends in (None when the
        officer undocked it before pressing 导入)."""
        with self._lock:
            prepared = list(self._prepared.values())
        identity = recall(
            self.identify(
                volume,
                backend=self.usb_backend,
                prepared=prepared,
                zone=self.settings.zone(),
            ),
            self.journal,
        )
        with self._lock:
            # A preparation serves the one dock it made appear; the next dock of that camera
            # is prepared again (and its clock read again).
            self._prepared.pop((identity.vid or 0, identity.pid or 0, identity.usb_serial), None)
        self.board.update(
            dock_id,
            device_id=identity.device_id or identity.device_serial,
            device_serial=identity.device_serial,
            officer_id=identity.officer_id,
            identified_by=identity.how,
        )
        # The registry is asked beside the copy, not before it: under load its answer can take
        # a while, and the officer waits for the copy. Files staged meanwhile are attributed
        # at registration (Importer._resolve_device), from the same cached answer.
        lookup = _Lookup(self, identity.device_serial, dock_id, identity.officer_id)
        if self.settings.import_mode == "touch":
            lookup.join()
            self.board.update(dock_id, state=DockState.WAITING_TOUCH)
            touched = self.board.touched(dock_id)
            while not touched.wait(1.0):
                if not volume.is_dir():
                    self.board.update(dock_id, state=DockState.UNDOCKED)
                    return None
        device, registered = lookup.result() if not lookup.is_alive() else (None, None)
        options = ImportOptions(
            device_id=device.device_id
            if device
            else (identity.device_id or identity.device_serial),
            station_id=self.settings.id,
            officer_id=identity.officer_id or (device.officer_id if device else None),
            device_serial=identity.device_serial,
            device_registered=registered,
            clock_offset_s=identity.clock_offset.total_seconds()
            if identity.clock_offset is not None
            else None,
            clock_set_at=identity.clock_set_at,
            case_no=self.board.case_no(dock_id),
        )
        report = self.importer.run(
            volume, options, self._observe(DockObserver(self.board, dock_id))
        )
        lookup.join()
        device, _ = lookup.result()
        if identity.ambiguous is not None and self._may_wipe(device):
            log.warning("%s: not wiped: %s", volume, identity.ambiguous)
            self.board.add_error(dock_id, "设备身份无法唯一确认，本次不清除设备上的文件")
        elif self._may_wipe(device):
            summary = self._wipe(volume, dock_id, options.device_key)
            wiped = len(summary.wiped)
            if summary.changed:
                # Bytes that changed on the device under a registered name: import them as
                # what they are now (new journal revisions), then wipe what is verified.
                for path in summary.changed:
                    self.board.add_error(dock_id, f"{path}：设备上的文件内容已改变，作为新文件导入")
                report = self.importer.run(
                    volume, options, self._observe(DockObserver(self.board, dock_id))
                )
                summary = self._wipe(volume, dock_id, options.device_key)
                wiped += len(summary.wiped)
            self.board.update(dock_id, wiped=wiped)
            for path, why in summary.kept:
                self.board.add_error(dock_id, f"{path}：未从设备清除（{why}）")
        self._assemble(options.device_key)
        if report.ok:
            final = DockState.DONE
        elif report.safe_to_undock_s is not None:
            final = DockState.SAFE_TO_UNDOCK  # staged; registration goes on from station disk
        else:
            final = DockState.KEEP_DOCKED
        self.board.update(dock_id, state=final)
        if self.metrics is not None:
            self.metrics.docks.labels(final.value).inc()
        return final

    def _observe(self, observer: ImportObserver) -> ImportObserver:
        return observer if self.metrics is None else self.metrics.observing(observer)

    def _assemble(self, device_key: str | None) -> None:
        """Register the recordings the device's segments form."""
        recordings = self.recordings
        if recordings is not None and device_key is not None:
            self._guarded(lambda: recordings.assemble(device_key))

    @staticmethod
    def _guarded(work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:  # merging is derived work: it must never fail a dock or the queue
            log.exception("recordings not assembled; tried again later")

    def _wipe(self, volume: Path, dock_id: str, device_key: str) -> WipeSummary:
        self.board.update(dock_id, state=DockState.WIPING)
        with self._wipe_lock(device_key):  # two volumes of one camera: one wipe
            return wipe_registered(
                volume, device_key, journal=self.journal, api=self.api, station_id=self.settings.id
            )

    def _wipe_lock(self, device_key: str) -> threading.Lock:
        with self._lock:
            return self._wipe_locks.setdefault(device_key, threading.Lock())

    def _lookup(self, serial: str) -> tuple[RegisteredDevice | None, bool | None]:
        """The registry's device for a serial; registered is None when the api cannot say."""
        try:
            device = self.api.find_device(serial)
        except ApiError as exc:
            log.warning("device registry unavailable for serial %s: %s", serial, exc)
            return None, None
        return device, device is not None

    def _may_wipe(self, device: RegisteredDevice | None) -> bool:
        # Unregistered (or unknown, when the api is down) devices are never wiped: IT has
        # not vouched for them, and their footage may be needed again from the card.
        return (
            self.settings.wipe == "after_verified"
            and device is not None
            and device.status == "active"
        )

    # -- interview rooms -----------------------------------------------------------------

    def _watch_exports(self, stop: threading.Event) -> None:
        watcher = ExportWatcher(
            self.settings.export_dir_paths(), settle_s=self.settings.export_settle_s
        )
        while not stop.wait(1.0):
            try:
                for folder, ready in watcher.poll().items():
                    self._import_exports(watcher, folder, ready)
            except Exception:  # one bad round must not end interview-room imports
                log.exception("export folders round failed; trying again")

    def _import_exports(self, watcher: ExportWatcher, folder: Path, ready: set[str]) -> None:
        dock_id = str(folder)
        with self._lock:
            first = folder not in self._docks
            self._docks.setdefault(folder, _Dock())
        if first:
            self.board.open(dock_id, str(folder))
            self.board.update(dock_id, device_id=folder.name, identified_by="export_dir")
        # The room is the device; the officer is unknown until a case names it.
        options = ImportOptions(device_id=folder.name, station_id=self.settings.id)
        report = self.importer.run(
            folder,
            options,
            self._observe(DockObserver(self.board, dock_id)),
            select=lambda found: found.rel_path in ready,
        )
        for outcome in report.outcomes:
            if outcome.state is FileState.DISCOVERED:  # not copied (disk full...): offer again
                watcher.offer_again(folder, outcome.rel_path)
        if any(o.state is FileState.REGISTERED for o in report.outcomes):
            self._assemble(options.device_key)  # recorders split long interrogations too

    # -- offline queue -------------------------------------------------------------------

    def _retry(self, stop: threading.Event) -> None:
        observer = self._observe(_RetryObserver(self.board))
        if self.recordings is not None:
            self._guarded(self.recordings.assemble_all)  # what a restart left unfinished
        while not stop.wait(RETRY_EVERY_S):
            try:
                finished = self.importer.finish_pending(observer)
                for device_key in {
                    o.device_key for o in finished if o.state is FileState.REGISTERED
                }:
                    self._assemble(device_key)
                if self.recordings is not None:
                    self._guarded(self.recordings.retry)
                for row in self.journal.unreported_wipes():
                    report_wipe(
                        row, journal=self.journal, api=self.api, station_id=self.settings.id
                    )
                if self.importer.receipts is not None:
                    self.importer.receipts.send_pending(self.api, self.settings.id)
            except Exception:
                log.exception("retry round failed; trying again in %.0f s", RETRY_EVERY_S)

    # -- cameras that need a login -------------------------------------------------------

    def _prepare_cameras(self, stop: threading.Event) -> None:
        failed: set[UsbIdentity] = set()
        while not stop.wait(USB_EVERY_S):
            try:
                waiting = find_cameras_to_prepare(backend=self.usb_backend)
            except Exception:
                log.exception("USB enumeration failed")
                continue
            for camera in waiting:
                try:
                    identity = prepare_camera(
                        camera,
                        backend=self.usb_backend,
                        sync_time=self.settings.sync_clock,
                        zone=self.settings.zone(),
                    )
                except DeviceError as exc:
                    if camera not in failed:  # say it once, keep trying quietly
                        log.warning("cannot prepare camera %s: %s", camera, exc)
                        failed.add(camera)
                    continue
                failed.discard(camera)
                with self._lock:
                    self._prepared[(camera.vid, camera.pid, camera.serial)] = identity


class _Lookup(threading.Thread):
    """Asks the registry about a docked device and shows the answer on its dock."""

    def __init__(self, agent: Agent, serial: str, dock_id: str, officer_id: str | None) -> None:
        super().__init__(name=f"lookup {serial}", daemon=True)
        self._agent = agent
        self._serial = serial
        self._dock_id = dock_id
        self._officer_id = officer_id
        self._answer: tuple[RegisteredDevice | None, bool | None] = (None, None)
        self.start()

    def run(self) -> None:
        self._answer = device, registered = self._agent._lookup(self._serial)
        changes: dict[str, object] = {"registered": registered}
        if device is not None:
            changes["device_id"] = device.device_id
            changes["officer_id"] = self._officer_id or device.officer_id
        self._agent.board.update(self._dock_id, **changes)

    def result(self) -> tuple[RegisteredDevice | None, bool | None]:
        return self._answer


class _RetryObserver:
    """The offline queue's progress: logged, and shown on the dock it came from."""

    def __init__(self, board: StatusBoard) -> None:
        self._board = board

    def planned(self, scan: ScanResult, todo: list[JournalRow]) -> None: ...
    def copying(self, row: JournalRow) -> None: ...
    def copied_bytes(self, row: JournalRow, n: int) -> None: ...

    def reached(self, row: JournalRow, state: FileState) -> None:
        if state is FileState.REGISTERED:
            log.info("registered %s of %s after retry", row.path, row.device_key)
            self._board.registered_later(row.device_key, row.path)

    def failed(self, row: JournalRow, error: Exception) -> None: ...
    def safe_to_undock(self, receipt: Receipt | None) -> None: ...
    def keep_docked(self, not_copied: list[JournalRow]) -> None: ...


@dataclass
class _Dock:
    """What the agent knows of one volume under its mount roots (the status board only shows
    it)."""

    thread: threading.Thread | None = None
    """The dock thread at work on it, if any."""
    undocked_meanwhile: bool = False
    dock_again: bool = False
    """Undocked and docked again while its thread was at work: dock it once that ends."""
    outcome: DockState | None = None
    """How its last dock ended (KEEP_DOCKED: tried again while it stays docked)."""
