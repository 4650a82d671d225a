"""The station's steps wired as the command line wires them, for tests that run them
in-process."""

from __future__ import annotations

from pathlib import Path

from ingest.encoders import PRESETS
from station.api_client import ApiClient
from station.journal import Journal
from station.pipeline import Pipeline
from storage.object_store import ObjectStore
from wire.zones import DEVICE_ZONE


def pipeline_for(journal: Journal, staging: Path, store: ObjectStore, api: ApiClient) -> Pipeline:
    return Pipeline(
        journal=journal,
        staging_root=staging,
        store=store,
        api=api,
        zone=DEVICE_ZONE,
        encoder=PRESETS["software"],
    )
