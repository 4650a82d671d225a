"""Notice camera volumes under the mount roots, and when each has settled.

A volume is a folder directly under a mount root. It is reported once nothing in it has
changed for `settle_s` (the mount finished, nothing is still being written), and again
if it changes later (an automounter creates the folder first and mounts onto it after).
watchdog wakes the loop as soon as something appears; a periodic poll is the safety net
for events inotify does not deliver (FUSE mounts, missed events, volumes present at start).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger(__name__)

# A card holds a few thousand files; past this the signature stops walking (still settles).
_MAX_ENTRIES = 200_000

Signature = tuple[int, int, int, int]


def signature(volume: Path) -> Signature:
    """(device, entries, total bytes, newest mtime) of a volume: equal twice = settled."""
    entries = total = newest = 0
    stack = [volume]
    while stack and entries < _MAX_ENTRIES:
        try:
            scan = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in scan:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            entries += 1
            total += info.st_size
            newest = max(newest, info.st_mtime_ns)
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
    try:
        device = volume.stat().st_dev
    except OSError:
        device = -1
    return device, entries, total, newest


@dataclass
class _Tracked:
    signature: Signature
    since: float
    reported: Signature | None = None


class VolumeWatcher:
    """Tracks the volumes under `roots`; `poll()` says which settled and which went away."""

    def __init__(
        self,
        roots: list[Path],
        *,
        settle_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.roots = roots
        self._settle_s = settle_s
        self._clock = clock
        self._tracked: dict[Path, _Tracked] = {}
        self._lock = threading.Lock()
        self._acknowledged: dict[Path, Signature] = {}

    def acknowledge(self, volume: Path, seen: Signature) -> None:
        """The agent changed the volume itself (it wiped files): `seen` is not a new dock."""
        with self._lock:
            self._acknowledged[volume] = seen

    def poll(self) -> tuple[list[Path], list[Path]]:
        """(volumes that settled since last reported, volumes that disappeared)."""
        now = self._clock()
        present: set[Path] = set()
        for root in self.roots:
            try:
                present.update(
                    Path(e.path)
                    for e in os.scandir(root)
                    if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
                )
            except OSError:
                continue  # a mount root that does not exist (yet) holds no volumes
        gone = [v for v in self._tracked if v not in present]
        for volume in gone:
            del self._tracked[volume]
        settled = []
        with self._lock:
            acknowledged, self._acknowledged = self._acknowledged, {}
        for volume in sorted(present):
            sig = signature(volume)
            tracked = self._tracked.get(volume)
            if volume in acknowledged and sig == acknowledged[volume]:
                self._tracked[volume] = _Tracked(sig, now, reported=sig)
                continue
            if tracked is None or tracked.signature != sig:
                self._tracked[volume] = _Tracked(sig, now, tracked.reported if tracked else None)
                continue
            if now - tracked.since >= self._settle_s and tracked.reported != sig:
                tracked.reported = sig
                settled.append(volume)
        return settled, gone

    def run(
        self,
        stop: threading.Event,
        on_settled: Callable[[Path], None],
        on_gone: Callable[[Path], None],
        *,
        poll_s: float = 0.5,
    ) -> None:
        """Watch until `stop` is set; callbacks run on this thread and must not block long."""
        wake = threading.Event()

        class _Wake(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                wake.set()

        observer = Observer()
        for root in self.roots:
            if root.is_dir():
                observer.schedule(_Wake(), str(root), recursive=False)
        observer.start()
        try:
            while not stop.is_set():
                settled, gone = self.poll()
                for volume in gone:
                    on_gone(volume)
                for volume in settled:
                    on_settled(volume)
                wake.wait(poll_s)
                wake.clear()
        finally:
            observer.stop()
            observer.join()
