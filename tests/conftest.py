"""Shared fixtures: real parts started once per session (PostgreSQL, SeaweedFS S3), clips made by ffmpeg."""

import os
import tempfile
from pathlib import Path

pytest_plugins = [
    "tests.fixtures_media",
    "tests.fixtures_s3",
    "tests.fixtures_pg",
    "tests.station_processes",
    "tests.fixtures_browser",
    "tests.demo_site",
]

# Every api a test makes signs with this key unless the test names its own; never one in
# the checkout's var/ folder.
_KEYS = Path(tempfile.mkdtemp(prefix="test-keys-"))
os.environ.setdefault("STATION_API_SIGNING_KEY_FILE", str(_KEYS / "api.key"))
