"""The api as an app factory: `create_app(settings)`.

It does not migrate the catalogue (`station db upgrade` does, before serving); it refuses
to start when the schema is missing or older than this code.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from api.audit_schedule import AuditCheckpoints
from api.deps import check_secured
from api.fixity_schedule import FixityRuns
from api.gate import Gate, audit_failures
from api.pages import mount_pages
from api.retention_schedule import RetentionRuns
from api.routes import audit, health, ingest, keys, media
from api.routes.cases import router as cases_router
from api.routes.compliance import router as compliance_router
from api.routes.custody import router as custody_router
from api.routes.derived import router as derived_router
from api.routes.devices import router as devices_router
from api.routes.equipment import router as equipment_router
from api.routes.exports import router as exports_router
from api.routes.interop import router as interop_router
from api.routes.metrics import metrics_registry
from api.routes.metrics import router as metrics_router
from api.routes.people import tokens_router, users_router
from api.routes.receipts import media_router as media_receipts_router
from api.routes.receipts import receipts_router
from api.routes.receipts import stations_router as station_keys_router
from api.routes.recording_rules import router as recording_rules_router
from api.routes.recordings import router as recordings_router
from api.routes.retention import cases_router as case_holds_router
from api.routes.retention import media_router as media_retention_router
from api.routes.retention import requests_router as deletion_requests_router
from api.routes.session import router as session_router
from api.routes.session import sign_in_router
from api.routes.stations import router as stations_router
from api.routes.units import router as units_router
from api.routes.warnings import router as warnings_router
from api.schedules import Schedule
from api.settings import ApiSettings
from storage.catalogue import key_repo
from storage.catalogue.db import check_schema, make_engine, make_session_factory
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import utc_now
from storage.key_file import load_or_create_key
from storage.object_store import ObjectStore, open_store

log = logging.getLogger(__name__)


def create_app(settings: ApiSettings, *, store: ObjectStore | None = None) -> FastAPI:
    """The api over the catalogue at `settings.database_url` and the object store `store`
    (opened from `settings.storage_url` when not given), signing with the key at
    `settings.api_signing_key_file` (made there if missing).

    Raises storage.key_file.KeyFileError when the key cannot be read or made. Start-up
    raises storage.catalogue.errors.SchemaNotCurrent when the catalogue has not been
    migrated, CatalogueError when it cannot be reached.
    """
    engine = make_engine(settings.database_url)
    signing_key = load_or_create_key(settings.api_signing_key_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await to_thread.run_sync(check_schema, engine)
            await to_thread.run_sync(_register_key, app)
            checkpoints = AuditCheckpoints(app.state.session_factory, app.state.store, signing_key)
            schedules = [
                Schedule(
                    "audit-checkpoints",
                    settings.audit_checkpoint_interval_s,
                    checkpoints.sign_if_moved,
                ),
                Schedule("fixity", settings.fixity_interval_s, app.state.fixity.run_once),
                Schedule("retention", settings.retention_interval_s, app.state.retention.run_once),
            ]
            for schedule in schedules:
                schedule.start()
            try:
                yield
            finally:
                for schedule in schedules:
                    await to_thread.run_sync(schedule.stop)
                await to_thread.run_sync(checkpoints.sign_if_moved)
        finally:
            engine.dispose()

    app = FastAPI(
        title="Evidence media station",
        version="1",
        summary="Register, find and play body-camera evidence",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
    )
    app.state.session_factory = make_session_factory(engine)
    app.state.store = store if store is not None else open_store(settings.storage_url)
    app.state.settings = settings  # read by routes for tunables (association tolerance)
    app.state.signing_key = signing_key
    app.state.fixity = FixityRuns(engine, app.state.session_factory, app.state.store, settings)
    app.state.retention = RetentionRuns(engine, app.state.session_factory, app.state.store)
    app.state.metrics = metrics_registry(app.state.session_factory, settings)
    app.state.audit_failures = audit_failures(app.state.metrics)
    app.include_router(health.router)
    app.include_router(ingest.router)
    app.include_router(media.router)
    app.include_router(derived_router)
    app.include_router(devices_router)
    app.include_router(custody_router)
    app.include_router(recordings_router)
    app.include_router(cases_router)
    app.include_router(units_router)
    app.include_router(recording_rules_router)
    app.include_router(compliance_router)
    app.include_router(warnings_router)
    app.include_router(equipment_router)
    app.include_router(stations_router)
    app.include_router(interop_router)
    app.include_router(metrics_router)
    app.include_router(audit.router)
    app.include_router(media_retention_router)
    app.include_router(case_holds_router)
    app.include_router(deletion_requests_router)
    app.include_router(station_keys_router)
    app.include_router(receipts_router)
    app.include_router(media_receipts_router)
    app.include_router(exports_router)
    app.include_router(keys.router)
    app.include_router(sign_in_router)
    app.include_router(session_router)
    app.include_router(users_router)
    app.include_router(tokens_router)
    check_secured(app)
    mount_pages(app)
    app.add_middleware(Gate)
    app.add_exception_handler(SQLAlchemyError, _catalogue_unavailable)
    app.add_exception_handler(CatalogueError, _catalogue_unavailable)
    app.add_exception_handler(Exception, _server_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    return app


def _register_key(app: FastAPI) -> None:
    with app.state.session_factory() as session:
        key_repo.register(session, "api", "api", app.state.signing_key.public_key(), now=utc_now())


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming where and what was wrong, without echoing the input back: it may be
    hostile, huge, or not JSON at all (NaN)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


async def _catalogue_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 for a catalogue failure a route did not turn into one itself: the caller may try
    again; the log has what happened (SQL included) under the request id."""
    request_id = getattr(request.state, "request_id", "-")
    log.error("request %s: %s %s: catalogue failed", request_id, request.method,
              request.url.path, exc_info=exc)  # fmt: skip
    return JSONResponse(
        {"detail": f"the catalogue could not be reached; try again later (request id "
                   f"{request_id})"},
        status_code=503,
        headers={"X-Request-ID": request_id},
    )  # fmt: skip


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """A 500 that names no SQL, path or store: the log has what happened, under the id."""
    request_id = getattr(request.state, "request_id", "-")
    log.error(
        "request %s: %s %s failed", request_id, request.method, request.url.path, exc_info=exc
    )
    return JSONResponse(
        {"detail": f"internal error; the api's log has it under request id {request_id}"},
        status_code=500,
        headers={"X-Request-ID": request_id},
    )
