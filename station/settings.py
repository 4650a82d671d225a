"""Configuration of the station (agent and import), from STATION_* environment variables."""

import socket
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.encoders import TranscodeChoice


class StationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STATION_", extra="forbid")

    storage_url: str = Field(
        default_factory=lambda: "file://" + str(Path("./var/objects").resolve()),
        description="file:///abs/path or s3://ACCESS:SECRET@HOST:PORT/BUCKET?secure=false",
    )
    api_url: str = Field(default="http://127.0.0.1:8000", description="where the api is")
    api_token: str | None = Field(default=None, description="the station's bearer token")
    api_ca_file: Path | None = Field(
        default=None,
        description="PEM of the CA that signs the api's TLS certificate: the only one trusted "
        "(pinned); unset: the system's CAs",
    )
    id: str = Field(default_factory=socket.gethostname, description="this station's id")
    state_dir: Path = Field(default=Path("./var/station"), description="journal and staging")
    mount_roots: str = Field(default="/media:/run/media", description=":-separated mount roots")
    export_dirs: str = Field(default="", description=":-separated interview-room export folders")

    receipt_key_file: Path | None = Field(
        default=None,
        description="the station's Ed25519 key that signs dock receipts (made at first start); "
        "default STATE_DIR/keys/station.key",
    )

    def receipt_key_path(self) -> Path:
        return self.receipt_key_file or self.state_dir / "keys" / "station.key"

    def mount_root_paths(self) -> list[Path]:
        return [Path(p) for p in self.mount_roots.split(":") if p]

    def export_dir_paths(self) -> list[Path]:
        return [Path(p) for p in self.export_dirs.split(":") if p]

    wipe: Literal["after_verified", "never"] = Field(
        default="after_verified", description="delete verified files from registered devices"
    )
    import_mode: Literal["auto", "touch"] = Field(
        default="auto",
        description="auto: a docked device imports at once; touch: it waits for 导入 on the status page",
    )
    status_port: int = Field(
        default=8686, description="port of the status page on 127.0.0.1 (0: no status page)"
    )
    metrics_port: int = Field(
        default=0, ge=0, le=65535, description="port of the agent's Prometheus /metrics (0: none)"
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="address /metrics listens on: the station's address on the monitoring "
        "network, never one the public reaches",
    )
    settle_s: float = Field(
        default=2.0, gt=0, description="seconds a volume or export file must stay unchanged"
    )
    export_settle_s: float = Field(
        default=30.0,
        gt=0,
        description="seconds an interview-room export must stay unchanged and closed: a "
        "recorder writing over the network is invisible to the open-file check",
    )
    heartbeat_interval_s: float = Field(
        default=60,
        ge=5,
        le=86400,
        description="seconds between heartbeats to the api (state, disk, docked devices, alarms)",
    )
    sync_clock: bool = Field(
        default=False,
        description="set a camera's clock to the station's at dock (its offset is read first)",
    )
    device_zone: str = Field(
        default="Asia/Shanghai",
        description="time zone of device times written without one (FAT file times, file "
        "names, most cameras' container stamps)",
    )

    transcode: TranscodeChoice = Field(
        default="auto",
        description="H.264 encoder for browser copies: auto (the first hardware encoder that "
        "works here, else software), software (libx264), vaapi, qsv or nvenc",
    )

    @field_validator("device_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from exc
        return value

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.device_zone)
