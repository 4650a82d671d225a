"""Building IngestRecords for catalogue and api tests."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.object_store import original_key
from wire.media_kinds import MediaKind
from wire.registration import IngestRecord

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def make_record(data: bytes | None = None, **overrides: Any) -> IngestRecord:
    """A plausible record of a one-minute body-camera clip whose original is `data`."""
    data = os.urandom(64) if data is None else data
    sha256 = hashlib.sha256(data).hexdigest()
    start = overrides.pop("recorded_start", T0)
    fields: dict[str, Any] = {
        "sha256": sha256,
        "size_bytes": len(data),
        "kind": MediaKind.VIDEO,
        "original_name": "20240501_080000_0001.MP4",
        "original_path": "DCIM/100MEDIA/20240501_080000_0001.MP4",
        "device_id": "BC-0001",
        "officer_id": "010203",
        "station_id": "dock-1",
        "recorded_start": start,
        "recorded_end": start + timedelta(minutes=1) if start else None,
        "time_source": "container",
        "duration_s": 60.0,
        "width": 1920,
        "height": 1080,
        "video_codec": "h264",
        "audio_codec": "aac",
        "container": "mov,mp4,m4a,3gp,3g2,mj2",
        "playable": True,
        "original_key": original_key(sha256),
        "file_mtime": start or T0,
        "staged_at": T0 + timedelta(hours=1),
    }
    fields.update(overrides)
    return IngestRecord(**fields)
