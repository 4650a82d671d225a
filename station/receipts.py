"""Dock receipts (wire/receipts.py): signed by this station's key the moment every file of
a dock is staged, kept on the station disk before anything is shown, then sent to the api.

A receipt is written durably (fsynced, renamed into place) under `receipts/` of the state
folder and shown on the status page at once; sending waits for the api, and a receipt the
api has is marked with a `.sent` file next to it, so a station that was offline sends its
receipts when it is back (`send_pending`, from the import command and the agent's loop).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ingest.scan import SkippedEntry
from station.api_client import ApiClient, ApiError
from station.journal import JournalRow
from storage.durable import write_durably
from storage.key_file import load_or_create_key
from wire.receipts import KIND, ReceiptDocument, ReceiptFile
from wire.signatures import public_pem, sign

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    receipt_id: str
    path: Path
    files: int
    """How many files it names as staged at this dock."""


@dataclass(frozen=True)
class DockOfReceipt:
    """What the dock knew: who and what, when it began."""

    station_id: str
    device_id: str
    device_serial: str | None
    officer_id: str | None
    case_no: str | None
    clock_offset_s: float | None
    docked_at: datetime


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ReceiptBook:
    def __init__(self, folder: Path, key: Ed25519PrivateKey) -> None:
        self.folder = folder
        self._key = key

    @classmethod
    def open(cls, state_dir: Path, key_file: Path) -> ReceiptBook:
        """The station's receipts under `state_dir`, signed with the key at `key_file`
        (made there at first start). Raises storage.key_file.KeyFileError."""
        return cls(state_dir / "receipts", load_or_create_key(key_file))

    @property
    def public_key_pem(self) -> str:
        return public_pem(self._key.public_key())

    def sign(
        self,
        dock: DockOfReceipt,
        staged: Sequence[JournalRow],
        before: Sequence[JournalRow],
        skipped: Sequence[SkippedEntry],
        *,
        now: datetime,
    ) -> Receipt:
        """Sign and keep the receipt of a dock: the files staged at it, those taken at an
        earlier dock, and those skipped with why. Raises OSError when it cannot be kept."""
        files = [
            ReceiptFile(path=r.path, size_bytes=r.size, sha256=r.sha256, state="staged")
            for r in staged
        ]
        files += [
            ReceiptFile(path=r.path, size_bytes=r.size, sha256=r.sha256, state="imported_before")
            for r in before
        ]
        files += [
            ReceiptFile(
                path=s.rel_path,
                size_bytes=None,
                sha256=None,
                state="skipped",
                reason=f"{s.reason.value}: {s.detail}" if s.detail else s.reason.value,
            )  # fmt: skip
            for s in skipped
        ]
        document = ReceiptDocument(
            kind=KIND,
            receipt_id=str(uuid.uuid4()),
            station_id=dock.station_id,
            device_id=dock.device_id,
            device_serial=dock.device_serial,
            officer_id=dock.officer_id,
            case_no=dock.case_no,
            clock_offset_s=dock.clock_offset_s,
            docked_at=_utc(dock.docked_at),
            signed_at=_utc(now),
            files=sorted(files, key=lambda f: f.path),
        )
        signed = sign(document.model_dump(), self._key)
        path = self.folder / f"{document.receipt_id}.json"
        self.folder.mkdir(parents=True, exist_ok=True)
        write_durably(path, json.dumps(signed, ensure_ascii=False, indent=1).encode())
        return Receipt(document.receipt_id, path, len(staged))

    def unsent(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(
            p
            for p in self.folder.glob("*.json")
            if not p.with_suffix(".sent").exists() and not p.name.startswith(".")
        )

    def send_pending(self, api: ApiClient, station_id: str) -> int:
        """Send every receipt the api does not have yet (registering the station's key
        first); how many were sent. A failure is logged: the next call tries again."""
        pending = self.unsent()
        if not pending:
            return 0
        try:
            api.register_station_key(station_id, self.public_key_pem)
        except ApiError as exc:
            log.warning("could not register this station's receipt key yet: %s", exc)
            return 0
        sent = 0
        for path in pending:
            try:
                signed: dict[str, Any] = json.loads(path.read_text())
                api.send_receipt(signed)
            except ApiError as exc:
                log.warning("could not send dock receipt %s yet: %s", path.name, exc)
                if exc.retryable:
                    break
                continue
            except (OSError, ValueError) as exc:
                log.error("dock receipt %s cannot be read: %s", path, exc)
                continue
            write_durably(path.with_suffix(".sent"), b"")
            sent += 1
        return sent
