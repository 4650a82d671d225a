"""The station's client of the api: registers verified media (POST /api/v1/ingest) and the
recordings their segments form (PUT /api/v1/recordings/{id})."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from station.facts import DerivedFacts
from wire.derived import DerivedIn, ProxyStatus, RenditionIn
from wire.registration import IngestRecord

DEVICE_CACHE_S = 60.0


class UntrustedApi(Exception):
    """The api's TLS certificate is not signed by a CA this station trusts: a wrong address,
    a wrong CA file, or someone in between. Nothing is sent."""


def _untrusted(exc: BaseException) -> str | None:
    """Why the certificate was refused, when that is what `exc` comes from."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or str(seen)
        seen = seen.__cause__ or seen.__context__
    return None


class ApiError(Exception):
    """The api could not be reached or refused; `retryable` says whether trying later helps."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class RegistrationError(ApiError):
    """The api did not register the media; the file stays staged and is retried."""


@dataclass(frozen=True)
class Registered:
    media_id: str
    case_nos: tuple[str, ...]
    """The cases the api associated the medium with (at the dock or automatically)."""
    proxy_status: str
    """`ready` when the same bytes were registered before and play already."""


@dataclass(frozen=True)
class RegisteredDevice:
    device_id: str
    kind: str
    unit_id: str | None
    officer_id: str | None
    status: str


class ApiClient:
    def __init__(self, client: httpx.Client) -> None:
        self._client = client
        self._ca_file: Path | None = None
        self._cache_lock = threading.Lock()
        self._devices: dict[str, tuple[float, RegisteredDevice | None]] = {}

    @classmethod
    def connect(cls, api_url: str, token: str, ca_file: Path | None = None) -> ApiClient:
        """A client of the api at `api_url`; over HTTPS it trusts only the CA in `ca_file`
        when given (the site's own CA, pinned), else the system's. Raises ValueError when
        `ca_file` cannot be read as a CA certificate."""
        verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            try:
                verify = ssl.create_default_context(cafile=str(ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"cannot read the api's CA certificate {ca_file}: {exc}") from exc
        client = cls(
            httpx.Client(
                base_url=api_url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(30.0, connect=5.0),
                verify=verify,
            )
        )
        client._ca_file = ca_file
        return client

    def check_trust(self) -> None:
        """Raise UntrustedApi when the api's certificate is not one this station trusts; an
        api that is down or refuses is not this check's business (the agent waits it out)."""
        try:
            self._client.get("/healthz")
        except httpx.HTTPError as exc:
            why = _untrusted(exc)
            if why is not None:
                raise UntrustedApi(self._untrusted_message(why)) from exc

    def _untrusted_message(self, why: str) -> str:
        trusted = f"the CA in {self._ca_file}" if self._ca_file else "the system's CAs"
        return (
            f"the api at {self._client.base_url} presented a certificate that {trusted} did "
            f"not sign ({why}); nothing is sent to it. Check STATION_API_URL and "
            "STATION_API_CA_FILE"
        )

    def close(self) -> None:
        self._client.close()

    def _call(
        self, method: str, url: str, what: str, error: type[ApiError] = ApiError, **kwargs: object
    ) -> httpx.Response:
        try:
            return self._client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            why = _untrusted(exc)
            if why is not None:
                raise error(self._untrusted_message(why), retryable=True) from exc
            raise error(
                f"api at {self._client.base_url} unreachable while {what} "
                f"({exc.__class__.__name__}: {exc})",
                retryable=True,
            ) from exc

    @staticmethod
    def _refused(response: httpx.Response, what: str, error: type[ApiError] = ApiError) -> ApiError:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:300]
        return error(
            f"api refused {what}: HTTP {response.status_code} {detail}",
            retryable=response.status_code >= 500 or response.status_code == 429,
        )

    def register_station_key(self, station_id: str, public_key_pem: str) -> None:
        """Register the key this station signs dock receipts with (idempotent)."""
        response = self._call(
            "PUT",
            f"/api/v1/stations/{station_id}/key",
            "registering the station's receipt key",
            json={"public_key_pem": public_key_pem},
        )
        if response.status_code != 200:
            raise self._refused(response, "the station's receipt key")

    def send_receipt(self, signed: dict[str, Any]) -> None:
        """Hand a signed dock receipt to the api (a retry is harmless)."""
        response = self._call("POST", "/api/v1/receipts", "sending a dock receipt", json=signed)
        if response.status_code not in (200, 201):
            raise self._refused(response, "the dock receipt")

    def heartbeat(self, station_id: str, body: dict[str, Any]) -> None:
        """Tell the api this station's state (POST /api/v1/stations/{id}/heartbeat)."""
        response = self._call(
            "POST", f"/api/v1/stations/{station_id}/heartbeat", "sending a heartbeat", json=body
        )
        if response.status_code != 200:
            raise self._refused(response, "the heartbeat")

    def find_device(self, serial: str) -> RegisteredDevice | None:
        """The registered device with this serial, or None when the registry has none.
        Answers are kept for a minute: a dock asks once, not once per file."""
        now = time.monotonic()
        with self._cache_lock:
            cached = self._devices.get(serial)
        if cached is not None and now - cached[0] < DEVICE_CACHE_S:
            return cached[1]
        device = self._find_device(serial)
        with self._cache_lock:
            self._devices[serial] = (now, device)
        return device

    def _find_device(self, serial: str) -> RegisteredDevice | None:
        response = self._call(
            "GET", "/api/v1/devices", "looking up a device", params={"serial": serial}
        )
        if response.status_code != 200:
            raise self._refused(response, f"the lookup of device serial {serial!r}")
        items = response.json()["items"]
        if not items:
            return None
        d = items[0]
        return RegisteredDevice(
            d["device_id"], d["kind"], d["unit_id"], d["officer_id"], d["status"]
        )

    def report_wipe(
        self,
        media_id: str,
        *,
        at: datetime,
        device_id: str,
        path: str,
        sha256: str,
        station_id: str,
        failed_because: str | None = None,
    ) -> None:
        """Record in the media's custody that its file was wiped from the device, or, with
        `failed_because`, that it was not (`wipe_failed`)."""
        body = {
            "event": "wipe_failed" if failed_because else "wiped_from_device",
            "at": at.isoformat(),
            "device_id": device_id,
            "path": path,
            "sha256_verified": sha256,
            "station_id": station_id,
            "reason": failed_because,
        }
        response = self._call(
            "POST", f"/api/v1/media/{media_id}/custody", "reporting a wipe", json=body
        )
        if response.status_code not in (200, 201):
            raise self._refused(response, f"the wipe report of {path!r}")

    def register(self, record: IngestRecord) -> Registered:
        """Register one media item; idempotent on sha256 (a repeat gets the same id).
        Raises RegistrationError."""
        response = self._call(
            "POST",
            "/api/v1/ingest",
            f"registering {record.sha256[:12]}",
            RegistrationError,
            content=record.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code not in (200, 201):
            raise self._refused(
                response, f"registration of {record.sha256[:12]}", RegistrationError
            )
        media = response.json()
        return Registered(
            media_id=media["id"],
            case_nos=tuple(media.get("case_nos") or ()),
            proxy_status=str(media.get("proxy_status") or "none"),
        )

    def attach_derived(self, media_id: str, derived: DerivedFacts) -> None:
        """Tell the api what the backlog made for a medium: its renditions (uploaded), its
        thumbnail, where its browser copy stands. Idempotent. Raises ApiError."""
        body = DerivedIn(
            proxy_status=derived.status,
            proxy_error=derived.error if derived.status is ProxyStatus.FAILED else None,
            proxy_note=derived.note,
            renditions=[
                RenditionIn.model_validate(
                    {
                        "name": r.name,
                        "content_type": r.content_type,
                        "codec": r.codec,
                        "encoder": r.encoder,
                    }
                )
                for r in derived.renditions
            ],
            thumbnail=derived.thumbnail_key is not None,
            unplayable_reason=derived.unplayable_reason,
        )
        response = self._call(
            "PUT",
            f"/api/v1/media/{media_id}/derived",
            f"attaching the browser copies of {media_id}",
            content=body.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise self._refused(response, f"the browser copies of {media_id}")

    def register_recording(
        self,
        recording_id: str,
        *,
        station_id: str,
        device_id: str | None,
        parts: list[tuple[str, str]],
        joins: list[tuple[str, str, float]],
        merged_proxy_key: str | None = None,
        merged_proxy_content_type: str | None = None,
        merge_method: str | None = None,
    ) -> None:
        """Register (or replace) a recording: `parts` as (media id, sha256) in recording order,
        `joins` as (before, after, gap_s) per consecutive pair. Idempotent. Raises ApiError."""
        body: dict[str, Any] = {
            "station_id": station_id,
            "device_id": device_id,
            "parts": [{"media_id": m, "sha256": s} for m, s in parts],
            "joins": [{"before": b, "after": a, "gap_s": g} for b, a, g in joins],
            "merged_proxy_key": merged_proxy_key,
            "merged_proxy_content_type": merged_proxy_content_type,
            "merge_method": merge_method,
        }
        response = self._call(
            "PUT",
            f"/api/v1/recordings/{recording_id}",
            f"registering recording {recording_id}",
            json=body,
        )
        if response.status_code not in (200, 201):
            raise self._refused(response, f"the registration of recording {recording_id}")
