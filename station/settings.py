"""Configuration of the station (agent and import), from STATION_* environment variables."""

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STATION_", extra="forbid")

    storage_url: str = Field(
        default_factory=lambda: "file://" + str(Path("./var/objects").resolve()),
        description="file:///abs/path or s3://ACCESS:SECRET@HOST:PORT/BUCKET?secure=false",
    )
    api_url: str = Field(default="http://127.0.0.1:8000", description="where the api is")
    api_token: str | None = Field(default=None, description="the station's bearer token")
    id: str = Field(default_factory=socket.gethostname, description="this station's id")
    state_dir: Path = Field(default=Path("./var/station"), description="journal and staging")
    mount_roots: str = Field(default="/media:/run/media", description=":-separated mount roots")
    export_dirs: str = Field(default="", description=":-separated interview-room export folders")
    wipe: Literal["after_verified", "never"] = Field(
        default="after_verified", description="delete verified files from registered devices"
    )
