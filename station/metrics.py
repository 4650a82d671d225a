"""Prometheus metrics of the station agent (STATION_METRICS_PORT): what it imported, how long
docks took to become safe to undock, what failed, and, read at each scrape, the backlog its
journal holds and the free space of its disk.

Counters count from the agent's start (Prometheus's `rate`/`increase` handle restarts); the
backlog and disk are read from the journal and the file system, so they are right after a
restart too. Labels name states and outcomes, never officers, devices or files.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ingest.scan import ScanResult
from station.importer import ImportObserver
from station.journal import FileState, Journal, JournalRow
from station.receipts import Receipt

# Docks of a few files take seconds; a full shift's 64 GB card at USB 2 speed about an hour.
DOCK_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)


class AgentMetrics:
    """The agent's counters, in a registry of their own (several agents may share a process,
    as in the tests)."""

    def __init__(self, journal: Journal, state_dir: Path, derived_due: Callable[[], int]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.docks = Counter(
            "station_docks",
            "Docks finished, by how they ended (done, safe_to_undock, keep_docked)",
            ["outcome"],
            registry=self.registry,
        )
        self.files = Counter(
            "station_files",
            "Files that reached a state (staged: copied and hashed on the station; "
            "registered: stored and known to the api)",
            ["state"],
            registry=self.registry,
        )
        self.copied_bytes = Counter(
            "station_copied_bytes", "Bytes copied from devices", registry=self.registry
        )
        self.failures = Counter(
            "station_file_failures",
            "Failed attempts at a file, by the state it was in (retried later)",
            ["state"],
            registry=self.registry,
        )
        self.dock_seconds = Histogram(
            "station_dock_to_safe_seconds",
            "Seconds from a dock's plan to 可以拔出 (every file staged)",
            buckets=DOCK_BUCKETS,
            registry=self.registry,
        )
        # Every series at 0 from the start, so that increase() sees the first count.
        for state in (FileState.STAGED, FileState.REGISTERED):
            self.files.labels(state.value)
        for state in (FileState.DISCOVERED, FileState.STAGED, FileState.PROBED, FileState.UPLOADED):
            self.failures.labels(state.value)
        self.registry.register(_Backlog(journal, state_dir, derived_due))

    def observing(self, inner: ImportObserver) -> ImportObserver:
        """`inner`, with this agent's counters kept from what it is told."""
        return _Counting(inner, self)

    def serve(self, host: str, port: int) -> None:
        """Serve /metrics on host:port from a daemon thread."""
        start_http_server(port, addr=host, registry=self.registry)


class _Counting:
    def __init__(self, inner: ImportObserver, metrics: AgentMetrics) -> None:
        self._inner = inner
        self._m = metrics
        self._started: float | None = None

    def planned(self, scan: ScanResult, todo: list[JournalRow]) -> None:
        self._started = time.monotonic()
        self._inner.planned(scan, todo)

    def copying(self, row: JournalRow) -> None:
        self._inner.copying(row)

    def copied_bytes(self, row: JournalRow, n: int) -> None:
        self._m.copied_bytes.inc(n)
        self._inner.copied_bytes(row, n)

    def reached(self, row: JournalRow, state: FileState) -> None:
        if state in (FileState.STAGED, FileState.REGISTERED):
            self._m.files.labels(state.value).inc()
        self._inner.reached(row, state)

    def failed(self, row: JournalRow, error: Exception) -> None:
        self._m.failures.labels(row.state.value).inc()
        self._inner.failed(row, error)

    def safe_to_undock(self, receipt: Receipt | None) -> None:
        if self._started is not None:
            self._m.dock_seconds.observe(time.monotonic() - self._started)
        self._inner.safe_to_undock(receipt)

    def keep_docked(self, not_copied: list[JournalRow]) -> None:
        self._inner.keep_docked(not_copied)


class _Backlog(Collector):
    """What waits on this station, read at each scrape."""

    def __init__(self, journal: Journal, state_dir: Path, derived_due: Callable[[], int]) -> None:
        self._journal = journal
        self._state_dir = state_dir
        self._derived_due = derived_due

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending = Tally(row.state for row in self._journal.pending())
        derived = self._derived_due()
        disk = shutil.disk_usage(self._state_dir)
        waiting = GaugeMetricFamily(
            "station_backlog_files",
            "Originals staged on the station disk and not yet registered, by state "
            "(their bytes exist only here until then)",
            labels=["state"],
        )
        for state in (FileState.STAGED, FileState.PROBED, FileState.UPLOADED):
            waiting.add_metric([state.value], pending[state])
        yield waiting
        yield GaugeMetricFamily(
            "station_derived_backlog", "Browser copies and thumbnails due to be made", value=derived
        )
        yield GaugeMetricFamily(
            "station_disk_free_bytes", "Free bytes on the station's state disk", value=disk.free
        )
        yield GaugeMetricFamily(
            "station_disk_free_ratio",
            "Free fraction of the station's state disk",
            value=disk.free / disk.total if disk.total else 0.0,
        )
