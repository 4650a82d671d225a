"""Benchmark the api at a county bureau's size: a year of footage in PostgreSQL.

Loads (with COPY, deterministic from a seed) a 分局 and 7 units below it, 200 officers
with a body camera each, 5 interview rooms, 10,000 cases of 5 events (50,000 events),
and 500,000 media: each event's officers recorded it in 10-minute segments joined into a
recording (some events not, some partly, some docked late), interrogations in their room,
and patrol footage outside any event; media of events are linked to their case.

Then, through the api served as `station api` serves it (a uvicorn process of its own) and
asked over HTTP with keep-alive by a light client (http.client), so that the figures are
the server's and not the client library's, prints p50/p99 of: media by case; each media
search shape, with pages 1-5 against pages 46-51 of a unit's 100-item pages (the ratio
shows whether depth costs); the compliance report for the bureau-year the first time
(every event judged); then for one unit-month and for the bureau-year, each right after a
station docked a clip of some event (what a working bureau sees: a report keeps its
judgements until footage of the events' days changes). Goals (issue 10): unit-month p99
< 200 ms, bureau-year < 2 s, media-by-case p99 < 20 ms, every search shape p99 < 50 ms,
flat in page depth.

    .venv/bin/python bench/bureau_bench.py [--scale 0.1]
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from psycopg.types.json import Json  # noqa: E402

from storage.catalogue import media_repo  # noqa: E402
from storage.catalogue.db import session_scope, upgrade  # noqa: E402
from storage.catalogue.tokens import create_token  # noqa: E402
from tests.fixtures_pg import running_pg_server  # noqa: E402
from tests.ingest_records import make_record  # noqa: E402

YEAR = datetime(2025, 1, 1, tzinfo=UTC)
SEGMENT = timedelta(minutes=10)
UNITS = ["FJ", *[f"U{n}" for n in range(1, 8)]]
ACTIVITIES = [("dispatch_110", 40), ("stop_and_check", 20), ("onsite_penalty", 15),
              ("inspection", 10), ("scene_search_seizure", 5), ("interrogation", 6),
              ("other", 4)]  # fmt: skip


@dataclass
class Load:
    media: list[tuple[Any, ...]] = field(default_factory=list)
    recordings: list[tuple[Any, ...]] = field(default_factory=list)
    links: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    cases: list[tuple[Any, ...]] = field(default_factory=list)
    case_ids: list[str] = field(default_factory=list)


def generate(scale: float, rng: random.Random) -> Load:
    load = Load()
    officers = {u: [f"{100000 + i * 100 + n}" for n in range(25)] for i, u in enumerate(UNITS)}
    rooms = [f"ROOM-{n}" for n in range(5)]
    n_cases = int(10_000 * scale)
    target_media = int(500_000 * scale)
    activities, weights = zip(*ACTIVITIES, strict=True)

    def medium(device: str, officer: str | None, unit: str, start: datetime, end: datetime,
               stored: datetime, recording: str | None) -> str:  # fmt: skip
        media_id = str(uuid.UUID(int=rng.getrandbits(128)))
        sha = f"{rng.getrandbits(256):064x}"
        span = (end - start).total_seconds()
        load.media.append((media_id, sha, 50_000_000, "video", f"{media_id[:8]}.MP4",
            f"DCIM/{media_id[:8]}.MP4", device, officer, unit, "dock-1", start, end, span,
            "container", span, True, f"originals/{sha}", "ready", start, stored, stored,
            recording, start + timedelta(days=183)))  # fmt: skip
        return media_id

    for c in range(n_cases):
        unit = UNITS[c % len(UNITS)]
        case_no = f"A{c:08d}"
        load.case_ids.append(case_no)
        load.cases.append((case_no, f"案件 {c}", unit, YEAR, YEAR, "bench"))
        for e in range(5):
            start = YEAR + timedelta(seconds=rng.randrange(365 * 86400 - 86400))
            length = timedelta(minutes=rng.randrange(10, 90))
            activity = rng.choices(activities, weights)[0]
            crew = rng.sample(officers[unit], rng.choice((1, 1, 2)))
            room = rng.choice(rooms) if activity == "interrogation" else None
            load.events.append((case_no, f"E{e}", activity, Json(crew), start, start + length,
                                room))  # fmt: skip
            fate = rng.random()
            if fate < 0.05:
                continue  # not recorded
            delay = timedelta(hours=rng.uniform(0.5, 12))
            if fate > 0.97:
                delay = timedelta(hours=rng.uniform(25, 72))  # docked late
            recorders: list[tuple[str, str | None]] = [(f"BC-{o}", o) for o in crew]
            if room is not None:
                recorders.append((room, None))
            for device, officer in recorders:
                recording = str(uuid.UUID(int=rng.getrandbits(128)))
                parts: list[str] = []
                at = start - timedelta(minutes=1)
                while at < start + length + timedelta(minutes=1):
                    end = min(at + SEGMENT, start + length + timedelta(minutes=1))
                    if not (0.93 < fate < 0.97 and len(parts) == 1):  # partly recorded
                        parts.append(medium(device, officer, unit, at, end, end + delay,
                                            recording))  # fmt: skip
                    at = end
                for part in parts:
                    load.links.append((case_no, part, "auto", "bench", YEAR, f"E{e}", "officer"))
                if len(parts) > 1:
                    joins = [{"before": a, "after": b, "gap_s": 0.0}
                             for a, b in zip(parts, parts[1:], strict=False)]  # fmt: skip
                    load.recordings.append((recording, device, "dock-1", start, start + length,
                                            length.total_seconds(), Json(parts), Json(joins),
                                            YEAR, YEAR))  # fmt: skip
    # Patrol footage outside any event, to the bureau's year of media.
    while len(load.media) < target_media:
        unit = rng.choice(UNITS)
        officer = rng.choice(officers[unit])
        start = YEAR + timedelta(seconds=rng.randrange(365 * 86400 - 3600))
        end = start + timedelta(minutes=rng.randrange(1, 10))
        medium(f"BC-{officer}", officer, unit, start, end, end + timedelta(hours=6), None)
    return load


MEDIA_COLUMNS = ("id, sha256, size_bytes, kind, original_name, original_path, device_id, "
    "officer_id, unit_id, station_id, recorded_start, recorded_end, recorded_span_s, "
    "time_source, duration_s, playable, original_key, proxy_status, file_mtime, staged_at, "
    "ingested_at, recording_id, retention_until")  # fmt: skip


def copy_in(url: str, load: Load, officers_per_unit: int = 25) -> None:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        for i, unit in enumerate(UNITS):
            cur.execute(
                "INSERT INTO unit (unit_id, name, kind, parent_id, officer_count,"
                " on_duty_officer_count, updated_at, updated_by)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (unit, f"单位 {unit}", "police_station", None if i == 0 else "FJ",
                 officers_per_unit, 8, YEAR, "bench"),
            )  # fmt: skip
        tables = [
            ("legal_case (case_no, title, unit_id, created_at, updated_at, updated_by)",
             load.cases),
            ("case_event (case_no, event_id, activity, officer_ids, start_at, end_at, room_id)",
             load.events),
            (f"media ({MEDIA_COLUMNS})", load.media),
            ("recording (id, device_id, station_id, recorded_start, recorded_end, "
             "recorded_span_s, part_ids, joins, created_at, updated_at)", load.recordings),
            ("case_media (case_no, media_id, source, actor, created_at, event_id, rule)",
             load.links),
        ]  # fmt: skip
        for table, rows in tables:
            with cur.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
        # Write the load out now: a checkpoint flushing it during the timings would stall
        # them, which a bureau's catalogue in steady state does not do.
        cur.execute("CHECKPOINT")


def timed(call: Callable[[], Any], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return times


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 500,000 media")
    parser.add_argument("--seed", type=int, default=947)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    began = time.perf_counter()
    load = generate(args.scale, rng)
    print(f"generated {len(load.media):,} media, {len(load.events):,} events, "
          f"{len(load.links):,} case links, {len(load.recordings):,} recordings "
          f"in {time.perf_counter() - began:.0f} s")  # fmt: skip
    with running_pg_server() as server:
        with server.connect_admin() as conn:
            conn.execute("CREATE DATABASE bureau")
        url = server.url("bureau")
        upgrade(url)
        began = time.perf_counter()
        copy_in(url, load)
        print(f"loaded into PostgreSQL in {time.perf_counter() - began:.0f} s")
        with session_scope(url) as session:
            bureau = create_token(session, role="supervisor", unit_id="FJ", name="督察")
            unit = create_token(session, role="supervisor", unit_id="U3", name="U3 督察")
            reviewer = create_token(session, role="reviewer", unit_id="FJ", name="案管")
        # The generated rows stay referenced; keep the collector from walking them during
        # the timings (a full collection of a million tuples is a 100 ms pause).
        gc.collect()
        gc.freeze()
        with served_api(url) as port:
            measure(Client(port, bureau=bureau, unit=unit, reviewer=reviewer), load, rng, url)


@contextmanager
def served_api(database_url: str) -> Iterator[int]:
    """`station api` on a free port, its log in var/bench-api.log."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "STATION_DATABASE_URL": database_url,
           "STATION_STORAGE_URL": f"file://{REPO}/var/bench"}  # fmt: skip
    (REPO / "var").mkdir(exist_ok=True)
    with (REPO / "var" / "bench-api.log").open("wb") as log:
        api = subprocess.Popen([str(REPO / ".venv" / "bin" / "station"), "api", "--port",
                                str(port)], env=env, stdout=log, stderr=log)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if api.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the api did not start: see var/bench-api.log") from None
                time.sleep(0.2)
        yield port
    finally:
        api.terminate()
        api.wait(30)


class Client:
    """GETs over one keep-alive connection; `fetch` returns the body's bytes (what is timed),
    `get` its JSON."""

    def __init__(self, port: int, **tokens: str) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self._tokens = tokens

    def fetch(self, token: str, path: str, **params: Any) -> bytes:
        self._conn.request("GET", f"{path}?{urlencode(params)}",
                           headers={"Authorization": f"Bearer {self._tokens[token]}"})  # fmt: skip
        response = self._conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"{path} {params}: {response.status} {body[:300]!r}")
        return body

    def get(self, token: str, path: str, **params: Any) -> Any:
        return json.loads(self.fetch(token, path, **params))


def dock(database_url: str, load: Load, rng: random.Random) -> None:
    """Register a one-minute clip of a random event's first officer, recorded during it."""
    case_no, _event, _activity, crew, start, *_ = rng.choice(load.events)
    officer = crew.obj[0]
    record = make_record(os.urandom(32), device_id=f"BC-{officer}", officer_id=officer,
                         recorded_start=start + timedelta(minutes=1))  # fmt: skip
    with session_scope(database_url) as session:
        media_repo.register(session, record, actor="bench", unit_id=_unit_of(case_no, load))


def _unit_of(case_no: str, load: Load) -> str:
    return next(unit for case, _title, unit, *_ in load.cases if case == case_no)


def timed_inside(call: Callable[[], float], runs: int) -> list[float]:
    """`call` returns the seconds of what it timed itself."""
    return [call() * 1000 for _ in range(runs)]


def measure(client: Client, load: Load, rng: random.Random, database_url: str) -> None:
    get, fetch = client.get, client.fetch
    months = [YEAR + timedelta(days=30 * m) for m in range(12)]
    rows: list[tuple[str, list[float], float | None]] = []

    def by_case() -> Any:
        return fetch("reviewer", "/api/v1/media", case_no=rng.choice(load.case_ids), limit=100)

    # Steady state: the api process and the database have served some of each first (a
    # freshly loaded table and a fresh process answer their first few hundred slower).
    timed(by_case, 200)
    rows.append(("media by case", timed(by_case, 200), 20))

    def week(**filters: Any) -> Callable[[], Any]:
        def call() -> Any:
            start = YEAR + timedelta(days=rng.randrange(350))
            return fetch(
                "reviewer",
                "/api/v1/media",
                start=start.isoformat(),
                end=(start + timedelta(days=7)).isoformat(),
                limit=100,
                **filters,
            )

        return call  # fmt: skip

    officer = load.media[0][7]
    device = load.media[0][6]
    shapes = {
        "newest media": lambda: fetch("reviewer", "/api/v1/media", limit=100),
        "officer + one week": week(officer_id=officer),
        "device + one week": week(device_id=device),
        "unit + one week": week(unit_id="U3"),
        "one week, all units": week(),
        "unit, newest": lambda: fetch("reviewer", "/api/v1/media", unit_id="U3", limit=100),
        "important": lambda: fetch("reviewer", "/api/v1/media", important="true", limit=100),
    }
    for name, call in shapes.items():
        timed(call, 20)
        rows.append((f"search: {name}", timed(call, 50), 50))

    cursors: list[str | None] = [None]
    for _ in range(51):
        params = {"unit_id": "U3", "limit": 100}
        if cursors[-1] is not None:
            params["cursor"] = cursors[-1]
        cursors.append(get("reviewer", "/api/v1/media", **params)["next_cursor"])

    def page(n: int) -> Callable[[], Any]:
        params: dict[str, Any] = {"unit_id": "U3", "limit": 100}
        if cursors[n - 1] is not None:
            params["cursor"] = cursors[n - 1]
        return lambda: fetch("reviewer", "/api/v1/media", **params)

    shallow = [t for n in range(1, 6) for t in timed(page(n), 10)]
    deep = [t for n in range(46, 52) for t in timed(page(n), 10)]
    rows.append(("search: unit pages 1-5", shallow, 50))
    rows.append(("search: unit pages 46-51", deep, 50))

    # Reports last: their first run keeps 50,000 judgements (27 MB), a one-off write that
    # the database digests for a while after (autovacuum) and that searches have no part in.
    def month() -> Any:
        start = rng.choice(months)
        return fetch("unit", "/api/v1/compliance", unit_id="U3", start=start.isoformat(),
                   end=(start + timedelta(days=30)).isoformat())  # fmt: skip

    year = {"start": YEAR.isoformat(), "end": (YEAR + timedelta(days=365)).isoformat()}
    began = time.perf_counter()
    whole = get("bureau", "/api/v1/compliance", **year)
    rows.append(("compliance, bureau-year, first", [(time.perf_counter() - began) * 1000], None))
    print(f"the bureau-year: {len(whole['events']):,} events, statuses "
          + ", ".join(f"{k} {whole['summary']['total'][k]}" for k in
                      ("compliant", "partial", "missing", "late")))  # fmt: skip
    sample = json.loads(month())
    print(
        f"a unit-month: {len(sample['events'])} events, "
        f"activation {sample['summary']['total']['activation_rate']:.3f}"
    )

    def after_a_dock(report: Callable[[], Any]) -> Callable[[], Any]:
        """`report`, timed after a station registered a clip of some event's officer (as
        between two reports in a working bureau): that day's events are judged again."""

        def call() -> Any:
            dock(database_url, load, rng)
            began = time.perf_counter()
            report()
            return time.perf_counter() - began

        return call

    def bureau_year() -> Any:
        return fetch("bureau", "/api/v1/compliance", **year)

    rows.append(("compliance, one unit-month", timed_inside(after_a_dock(month), 30), 200))
    # The unit-month runs docked 30 clips on as many days of the year: the next bureau-year
    # judges those days' events again (a working day docks clips of a day or two).
    rows.append(("compliance, bureau-year, 30 days", timed(bureau_year, 1), None))
    rows.append(("compliance, the bureau-year", timed_inside(after_a_dock(bureau_year), 5),
                 2000))  # fmt: skip
    print(f"\n{'what':34} {'p50 ms':>8} {'p99 ms':>8} {'goal':>8}")
    for name, times, goal in rows:
        verdict = "" if goal is None else ("ok" if p(times, 0.99) < goal else "SLOW")
        print(f"{name:34} {statistics.median(times):8.1f} {p(times, 0.99):8.1f} "
              f"{'<' + str(goal):>8} {verdict}")  # fmt: skip
    print(
        f"\ndeep pages ÷ first pages (p50): {statistics.median(deep) / statistics.median(shallow):.2f}"
    )


if __name__ == "__main__":
    main()
