"""The catalogue on SQLite and PostgreSQL: schema, duplicates, times, tokens, search."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from storage.catalogue import media_repo, tokens
from storage.catalogue.db import (
    _alembic_config,
    check_schema,
    make_engine,
    make_session_factory,
    session_scope,
    upgrade,
)
from storage.catalogue.errors import DuplicateConflict, InvalidCursor, SchemaNotCurrent
from storage.catalogue.models import ApiToken, Base, Media
from tests.ingest_records import T0, make_record
from wire.media_kinds import MediaKind


def _schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def test_migrations_build_exactly_the_models_and_downgrade_cleanly(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with pytest.raises(SchemaNotCurrent, match="station db upgrade"):
            check_schema(engine)
        upgrade(database_url)
        upgrade(database_url)  # a second run (another replica) changes nothing
        check_schema(engine)
        assert _schema_diff(engine) == []

        config = _alembic_config(database_url)
        command.downgrade(config, "base")
        with pytest.raises(SchemaNotCurrent):
            check_schema(engine)
        upgrade(database_url)
        assert _schema_diff(engine) == []
    finally:
        engine.dispose()


def test_one_sha256_is_registered_once_even_when_stations_race(engine: Engine) -> None:
    record = make_record(case_no="A-1")
    factory = make_session_factory(engine)
    callers = 6
    barrier = threading.Barrier(callers)
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            with factory() as session:
                barrier.wait()
                media, created = media_repo.register(session, record, actor="dock-1")
                results.append((media.id, created))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(results) == callers
    assert len({media_id for media_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Media)) == 1
        (media,) = session.scalars(select(Media))
        assert media.case_nos == ["A-1"]


def test_registering_again_adds_the_new_dock_case_and_refuses_a_size_conflict(
    session: Session,
) -> None:
    data = b"original bytes"
    first, created = media_repo.register(session, make_record(data, case_no="A-1"), actor="s")
    assert created
    again, created = media_repo.register(session, make_record(data, case_no="B-2"), actor="s")
    assert not created and again.id == first.id
    assert again.case_nos == ["A-1", "B-2"]
    with pytest.raises(DuplicateConflict, match="bytes"):
        media_repo.register(session, make_record(data, size_bytes=999), actor="s")


def test_times_come_back_in_utc_whatever_zone_they_were_given_in(session: Session) -> None:
    shanghai = timezone(timedelta(hours=8))
    start = datetime(2024, 5, 1, 16, 30, 15, 123456, tzinfo=shanghai)
    media, _ = media_repo.register(session, make_record(recorded_start=start), actor="s")
    session.expunge_all()
    loaded = session.get(Media, media.id)
    assert loaded is not None and loaded.recorded_start is not None
    assert loaded.recorded_start.tzinfo is UTC
    assert loaded.recorded_start == start
    assert loaded.recorded_start.hour == 8
    assert loaded.retention_until == start + timedelta(days=183)
    assert loaded.legal_hold is False
    with pytest.raises(ValueError, match="offset"):
        media_repo.search(session, media_repo.MediaFilter(start=datetime(2024, 5, 1)))


def test_search_finds_media_whose_recording_overlaps_the_window(session: Session) -> None:
    minute = timedelta(minutes=1)
    clip, _ = media_repo.register(session, make_record(recorded_start=T0), actor="s")
    photo, _ = media_repo.register(
        session,
        make_record(recorded_start=T0 + 5 * minute, recorded_end=None, kind=MediaKind.PHOTO),
        actor="s",
    )
    media_repo.register(session, make_record(recorded_start=None), actor="s")

    def found(start: datetime | None, end: datetime | None) -> set[str]:
        page = media_repo.search(session, media_repo.MediaFilter(start=start, end=end))
        return {m.id for m in page.items}

    assert found(T0 + 30 * timedelta(seconds=1), T0 + 2 * minute) == {clip.id}
    assert found(T0 - minute, T0) == {clip.id}  # ends touch
    assert found(T0 + 5 * minute, None) == {photo.id}
    assert found(None, T0 - timedelta(seconds=1)) == set()
    assert len(found(None, None)) == 3


def test_pages_split_media_ingested_in_the_same_instant_without_loss(session: Session) -> None:
    same_instant = datetime(2024, 6, 1, 12, 0, 0, 500, tzinfo=UTC)
    made = {
        media_repo.register(session, make_record(), actor="s", now=same_instant)[0].id
        for _ in range(5)
    }
    seen: list[str] = []
    cursor = None
    while True:
        page = media_repo.search(session, media_repo.MediaFilter(), limit=2, cursor=cursor)
        seen += [m.id for m in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert sorted(seen) == sorted(made)
    assert seen == sorted(made, reverse=True)


def test_api_replicas_starting_together_migrate_once(pg_database_url: str) -> None:
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(pg_database_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    engine = make_engine(pg_database_url)
    try:
        check_schema(engine)
    finally:
        engine.dispose()


def test_a_forged_cursor_is_refused(session: Session) -> None:
    for cursor in ["nonsense!", "W10", "WyJ4IiwxXQ"]:
        with pytest.raises(InvalidCursor):
            media_repo.search(session, media_repo.MediaFilter(), cursor=cursor)


def test_tokens_authenticate_by_hash_and_only_available_roles_are_given(session: Session) -> None:
    token = tokens.create_token(
        session, role="station", unit_id="U1", station_id="dock-1", name="dock-1"
    )
    assert token.startswith("st_") and len(token) > 40
    found = tokens.authenticate(session, token)
    assert found is not None and found.role == "station" and found.unit_id == "U1"
    assert token not in found.token_hash
    assert tokens.authenticate(session, token + "x") is None
    assert tokens.authenticate(session, "") is None

    found.revoked_at = datetime.now(UTC)
    session.commit()
    assert tokens.authenticate(session, token) is None

    with pytest.raises(ValueError, match="--officer-id"):
        tokens.create_token(session, role="officer")
    with pytest.raises(ValueError, match="no role 'root'"):
        tokens.create_token(session, role="root")


def test_media_registered_with_their_proxy_before_0005_are_ready_with_that_rendition(
    database_url: str,
) -> None:
    """Upgrading in place: a medium that came with its proxy is `ready` with one rendition,
    one without is `none`; nothing is pending for ever."""
    from sqlalchemy import text

    config = _alembic_config(database_url)
    command.upgrade(config, "0004")
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            for n, (proxy, content_type) in enumerate(
                (("proxies/a.mp4", "video/mp4"), ("proxies/b.m4a", "audio/mp4"), (None, None))
            ):
                connection.execute(
                    text(
                        "INSERT INTO media (id, sha256, size_bytes, kind, original_name,"
                        " original_path, device_id, station_id, playable, important, legal_hold,"
                        " original_key, proxy_key, proxy_content_type, file_mtime, staged_at,"
                        " ingested_at) VALUES (:id, :sha, 1, 'video', 'a', 'a', 'd', 's', :p,"
                        " false, false, 'o', :proxy, :ct, :t, :t, :t)"
                    ),
                    {
                        "id": f"m{n}",
                        "sha": f"{n}" * 64,
                        "p": proxy is not None,
                        "proxy": proxy,
                        "ct": content_type,
                        "t": T0,
                    },
                )
        upgrade(database_url)
        with make_session_factory(engine)() as session:
            found = {m.id: m for m in session.scalars(select(Media))}
    finally:
        engine.dispose()
    assert (found["m0"].proxy_status, found["m0"].renditions) == (
        "ready",
        [{"name": "h264", "content_type": "video/mp4", "codec": "avc1", "encoder": "unknown"}],
    )
    assert [r["name"] for r in found["m1"].renditions or []] == ["aac"]
    assert (found["m2"].proxy_status, found["m2"].renditions) == ("none", None)


def test_the_token_migration_names_stations_and_ends_tokens_that_never_expire(
    database_url: str,
) -> None:
    config = _alembic_config(database_url)
    command.upgrade(config, "0005")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_token (id, token_hash, role, name, created_at) VALUES "
                "('t1', 'h1', 'station', 'dock-a', :at), ('t2', 'h2', 'station', NULL, :at), "
                "('t3', 'h3', 'reviewer', 'desk', :at), ('t4', 'h4', 'case_system', 'jz', :at)"
            ),
            {"at": datetime(2026, 1, 1)},
        )
        conn.execute(
            text(
                "INSERT INTO media (id, sha256, size_bytes, kind, original_name, original_path, "
                "device_id, station_id, playable, legal_hold, important, original_key, "
                "file_mtime, staged_at, ingested_at, proxy_status) VALUES ('m1', :sha, 1, "
                "'video', 'a', 'a', 'BC-1', 'st-a', true, false, false, 'k', :at, :at, :at, "
                "'none')"
            ),
            {"sha": "0" * 64, "at": datetime(2026, 1, 1)},
        )
        conn.execute(
            text(
                "INSERT INTO custody_event (media_id, at, event, actor, role, station_id, "
                "outcome) VALUES ('m1', :at, 'registered', 'dock-a', 'station', 'st-a', 'ok')"
            ),
            {"at": datetime(2026, 1, 1)},
        )
    command.upgrade(config, "head")
    with session_scope(database_url) as session:
        tokens = {t.id: t for t in session.scalars(select(ApiToken))}
    assert tokens["t1"].station_id == "st-a"  # from what it registered
    assert tokens["t2"].station_id is None  # registered nothing: must be replaced
    assert tokens["t3"].expires_at is not None
    assert tokens["t3"].expires_at - datetime.now(UTC) <= timedelta(hours=12)
    assert tokens["t4"].expires_at is None
    engine.dispose()


def test_recordings_made_before_0012_get_their_span(database_url: str) -> None:
    """The compliance report reads footage as far around events as the longest recording
    reaches: recordings already in the catalogue must count, and one without times (or
    whose end precedes its start) spans nothing."""
    config = _alembic_config(database_url)
    command.upgrade(config, "0011")
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            for rid, start, end in (
                ("long", T0, T0 + timedelta(hours=3, seconds=1.5)),
                ("backwards", T0, T0 - timedelta(minutes=1)),
                ("timeless", None, None),
            ):
                connection.execute(
                    text(
                        "INSERT INTO recording (id, device_id, station_id, recorded_start,"
                        " recorded_end, part_ids, joins, created_at, updated_at)"
                        " VALUES (:id, 'd', 's', :start, :end, '[]', '[]', :t, :t)"
                    ),
                    {"id": rid, "start": start, "end": end, "t": T0},
                )
        upgrade(database_url)
        with engine.connect() as connection:
            spans: dict[str, float | None] = dict(
                connection.execute(text("SELECT id, recorded_span_s FROM recording")).all()
            )
    finally:
        engine.dispose()
    assert spans["long"] == pytest.approx(10_801.5, abs=1e-3)
    assert spans["backwards"] == 0
    assert spans["timeless"] is None
