"""GET /metrics: Prometheus metrics of the evidence catalogue, read at each scrape.

Unauthenticated, like /healthz: bind or proxy it where only monitoring reaches
(CONTRACT.md). It names station ids, device counts and warning counts, never media or
officers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.early_warnings import limits_of, open_warnings
from api.settings import ApiSettings
from rules.fixity import FixityOutcome
from rules.warnings import WARNING_KINDS, Warning
from storage.catalogue import fixity_repo, station_repo
from storage.catalogue.models import Media, Station, utc_now

router = APIRouter(tags=["health"])

FRESH_FOR = timedelta(seconds=15)

_Read = tuple[datetime, list[Warning], list[Station], int, dict[FixityOutcome, int]]


class CatalogueCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session], settings: ApiSettings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._lock = threading.Lock()
        self._read: _Read | None = None

    def _catalogue(self) -> _Read:
        """What the catalogue says, read at most once per FRESH_FOR: an unauthenticated
        scrape must not make the api judge a week of events as often as anyone asks."""
        with self._lock:
            now = utc_now()
            if self._read is None or now - self._read[0] > FRESH_FOR:
                with self._sessions() as session:
                    found = open_warnings(session, now, limits_of(self._settings), None)
                    stations = station_repo.list_stations(session)
                    media = session.scalar(select(func.count()).select_from(Media)) or 0
                    fixity = fixity_repo.outcome_counts(session)
                    session.expunge_all()
                self._read = (now, found, stations, media, fixity)
            return self._read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now, found, stations, media, fixity = self._catalogue()
        warnings = GaugeMetricFamily(
            "evidence_warnings_open", "Early warnings open now, by kind", labels=["kind"]
        )
        for kind in WARNING_KINDS:
            warnings.add_metric([kind], sum(1 for w in found if w.kind == kind))
        yield warnings
        age = GaugeMetricFamily(
            "evidence_station_heartbeat_age_seconds",
            "Seconds since each station's last heartbeat",
            labels=["station_id"],
        )
        free = GaugeMetricFamily(
            "evidence_station_disk_free_ratio",
            "Free fraction of each station's disk at its last heartbeat",
            labels=["station_id"],
        )
        for s in stations:
            age.add_metric([s.station_id], (now - s.last_heartbeat_at).total_seconds())
            if s.storage_total_bytes and s.storage_used_bytes is not None:
                free.add_metric([s.station_id], 1 - s.storage_used_bytes / s.storage_total_bytes)
        yield age
        yield free
        yield GaugeMetricFamily("evidence_media", "Media registered in the catalogue", value=media)
        checks = GaugeMetricFamily(
            "evidence_fixity_media",
            "Media by the outcome of their original's last fixity check",
            labels=["outcome"],
        )
        for outcome, count in fixity.items():
            checks.add_metric([outcome.value], count)
        yield checks


def metrics_registry(sessions: sessionmaker[Session], settings: ApiSettings) -> CollectorRegistry:
    """A registry of this app's own (not the process-wide one: several apps may share a
    process, as in the tests)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CatalogueCollector(sessions, settings))
    return registry


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
