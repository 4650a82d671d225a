"""Bringing originals' object locks up to date after a route changed what keeps them (a
hold, a case link, an important mark, a category): storage/object_locks.py, at once, so a
medium that became evidence is locked as such before the answer goes. A store that cannot
be reached then is logged; the deletion job's schedule catches up."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request

from storage.object_locks import sync_locks_of


def relock(request: Request, media_ids: Iterable[str]) -> None:
    sync_locks_of(request.app.state.session_factory, request.app.state.store, set(media_ids))
