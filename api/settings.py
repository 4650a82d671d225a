"""Configuration of the api, from STATION_* environment variables (CONTRACT.md)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STATION_", extra="forbid")

    database_url: str = Field(
        default="sqlite:///./var/station.db", description="SQLAlchemy URL of the catalogue"
    )
    storage_url: str = Field(
        default_factory=lambda: "file://" + str(Path("./var/objects").resolve()),
        description="file:///abs/path or s3://ACCESS:SECRET@HOST:PORT/BUCKET?secure=false",
    )
    association_tolerance_s: float = Field(
        default=300,
        ge=0,
        description="how far (seconds) outside an enforcement event's window a recording may "
        "lie and still be associated with its case automatically, on each side",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body (JSON) the api reads; larger ones get 413 unread",
    )
    warning_window_s: float = Field(
        default=7 * 86400,
        ge=3600,
        le=366 * 86400,
        description="how far back early warnings look at events and late docks (seconds)",
    )
    warning_clock_off_s: float = Field(
        default=300,
        ge=1,
        description="a camera whose clock was off by more than this at its dock is a warning",
    )
    warning_low_disk_fraction: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="a station with less free disk than this fraction is a warning",
    )
    api_signing_key_file: Path = Field(
        default=Path("./var/keys/api.key"),
        description="the api's Ed25519 private key (made at first start; keep it out of the "
        "catalogue's backups and back it up apart): it signs audit checkpoints, custody "
        "reports and exports. Replicas share one key file: verification trusts this key",
    )
    audit_checkpoint_interval_s: float = Field(
        default=300,
        ge=1,
        le=86400,
        description="how often (seconds) the api signs the audit chain's head into the object "
        "store, when it moved; entries newer than the last checkpoint can be cut off unseen",
    )
    fixity_interval_s: float = Field(
        default=86400,
        ge=60,
        le=366 * 86400,
        description="how often (seconds) the api re-reads a share of the stored originals "
        "against their SHA-256 (one api replica at a time)",
    )
    fixity_period_days: float = Field(
        default=30,
        ge=1,
        le=3660,
        description="every original is re-read within this many days: each run (scheduled, "
        "or `station fixity check`) takes the share that keeps to it",
    )
    retention_interval_s: float = Field(
        default=3600,
        ge=60,
        le=7 * 86400,
        description="how often (seconds) the api deletes media whose retention period ended "
        "and that nothing keeps (one api replica at a time)",
    )
