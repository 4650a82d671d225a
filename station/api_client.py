"""The station's client of the api: registers verified media (POST /api/v1/ingest)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from ingest.record import IngestRecord


class RegistrationError(Exception):
    """The api did not register the media; the file stays staged and is retried."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Registered:
    media_id: str
    created: bool


class ApiClient:
    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    @classmethod
    def connect(cls, api_url: str, token: str) -> ApiClient:
        return cls(
            httpx.Client(
                base_url=api_url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(30.0, connect=5.0),
            )
        )

    def close(self) -> None:
        self._client.close()

    def register(self, record: IngestRecord) -> Registered:
        """Register one media item; idempotent on sha256. Raises RegistrationError."""
        try:
            response = self._client.post(
                "/api/v1/ingest",
                content=record.model_dump_json(),
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise RegistrationError(
                f"api at {self._client.base_url} unreachable ({exc.__class__.__name__}: {exc})",
                retryable=True,
            ) from exc
        if response.status_code in (200, 201):
            return Registered(media_id=response.json()["id"], created=response.status_code == 201)
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:300]
        raise RegistrationError(
            f"api refused registration of {record.sha256[:12]}: HTTP {response.status_code} {detail}",
            retryable=response.status_code >= 500 or response.status_code == 429,
        )
