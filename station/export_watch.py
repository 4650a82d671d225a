"""Interview-room recorders export finished recordings to folders (STATION_EXPORT_DIRS);
each folder is a room, named by the room's device id. A file is taken only once it has
stopped growing for `settle_s` and no process here holds it open for writing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.scan import scan_volume
from station.open_files import open_for_writing


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float
    taken: bool = False


class ExportWatcher:
    def __init__(
        self,
        dirs: list[Path],
        *,
        settle_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        busy: Callable[[set[Path]], set[Path]] = open_for_writing,
    ) -> None:
        self.dirs = dirs
        self._settle_s = settle_s
        self._clock = clock
        self._busy = busy
        self._seen: dict[Path, _Seen] = {}
        self._rel: dict[Path, str] = {}

    def offer_again(self, folder: Path, rel_path: str) -> None:
        """A file handed over could not be copied: hand it over again once it settles."""
        for path, seen in self._seen.items():
            if path.is_relative_to(folder) and seen.taken and self._rel[path] == rel_path:
                seen.taken = False
                seen.since = self._clock()

    def poll(self) -> dict[Path, set[str]]:
        """Per export folder, the relative paths of files that became ready since last poll."""
        now = self._clock()
        ready: dict[Path, set[str]] = {}
        candidates: dict[Path, tuple[Path, Path, str]] = {}
        present: set[Path] = set()
        for folder in self.dirs:
            if not folder.is_dir():
                continue
            for found in scan_volume(folder).found:
                present.add(found.path)
                self._rel[found.path] = found.rel_path
                seen = self._seen.get(found.path)
                if seen is None or (seen.size, seen.mtime_ns) != (found.size, found.mtime_ns):
                    self._seen[found.path] = _Seen(found.size, found.mtime_ns, now)
                elif not seen.taken and now - seen.since >= self._settle_s:
                    candidates[found.path.resolve()] = (folder, found.path, found.rel_path)
        for gone in set(self._seen) - present:
            del self._seen[gone]
            self._rel.pop(gone, None)
        busy = self._busy(set(candidates)) if candidates else set()
        for path, (folder, key, rel_path) in candidates.items():
            if path in busy:
                continue
            self._seen[key].taken = True
            ready.setdefault(folder, set()).add(rel_path)
        return ready
