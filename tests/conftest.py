"""Shared fixtures: real parts started once per session (PostgreSQL, SeaweedFS S3), clips made by ffmpeg."""

pytest_plugins = [
    "tests.fixtures_media",
    "tests.fixtures_s3",
    "tests.fixtures_pg",
    "tests.station_processes",
]
