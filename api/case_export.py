"""A case's evidence as a BagIt bag (RFC 8493), for prosecutors and the legal reviewer
(法制审核): the originals bit-exact, their browser copies, each medium's signed custody
report (JSON and the printable page), the dock receipts that name them, and the case itself.

The bag is written straight into its sink (a folder for `station export`, a zip for the
api), each file hashed in the pass that writes it; each original's hash is compared with the
SHA-256 the catalogue registered before the bag is finished, so a bag never leaves with an
original the store damaged. The manifests are written here, not by the `bagit` package (it
changes the process's working directory, which a server's other threads share); its
validator is what the tests check the bags with. The api's key signs `signature.json` (a
tag file: the case, the exporter, the time and the SHA-256 of the manifest and of
bag-info.txt), which the tag manifest covers in turn.

The caller records the export: `record_export` writes each medium's `exported` custody
event; the audit entry is the api gate's (GET /api/v1/cases/{no}/export) or the command's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from api.case_schemas import CaseOut
from api.custody_report import render_html, signed_report
from storage.catalogue import case_repo, receipt_repo
from storage.catalogue.custody_repo import Caller, utc_text
from storage.catalogue.models import CustodyEvent, CustodyEventKind, CustodyOutcome, Media
from storage.durable import fsync_path
from storage.object_store import ObjectStore
from wire.signatures import sign

KIND = "case_export"
_UNSAFE = re.compile(r"[^\w.\-]+")


class ExportError(Exception):
    """The bag could not be made as evidence: the message says why (nothing is left)."""


@dataclass(frozen=True)
class Export:
    media: int
    bytes: int
    media_ids: list[str]


def _safe_name(name: str) -> str:
    """A device's file name fit for any file system a prosecutor may unpack to."""
    return _UNSAFE.sub("_", name).strip("._") or "file"


class Sink(Protocol):
    def write(self, name: str, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Write the bag's file `name` (a relative POSIX path); its SHA-256 and size."""

    def close(self) -> None: ...


class FolderSink:
    """The bag as a folder (`station export`); every file fsynced."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, chunks: Iterable[bytes]) -> tuple[str, int]:
        target = self.root.joinpath(*PurePosixPath(name).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with target.open("xb") as f:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        return digest.hexdigest(), size

    def close(self) -> None:
        for folder, _dirs, _files in os.walk(self.root):
            fsync_path(Path(folder))


class ZipSink:
    """The bag inside a zip under its own folder, stored (video does not shrink)."""

    def __init__(self, archive: Path, folder: str) -> None:
        self._zip = zipfile.ZipFile(archive, "x", compression=zipfile.ZIP_STORED, allowZip64=True)
        self._folder = folder

    def write(self, name: str, chunks: Iterable[bytes]) -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        with self._zip.open(f"{self._folder}/{name}", "w", force_zip64=True) as f:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                f.write(chunk)
        return digest.hexdigest(), size

    def close(self) -> None:
        self._zip.close()


@dataclass
class _Bag:
    sink: Sink
    payload: dict[str, str] = field(default_factory=dict)
    """data/ path → SHA-256."""
    tags: dict[str, str] = field(default_factory=dict)
    octets: int = 0

    def add(self, name: str, chunks: Iterable[bytes]) -> str:
        digest, size = self.sink.write(f"data/{name}", chunks)
        self.payload[f"data/{name}"] = digest
        self.octets += size
        return digest

    def tag(self, name: str, text: str) -> str:
        digest, _ = self.sink.write(name, [text.encode("utf-8")])
        self.tags[name] = digest
        return digest


def write_bag(
    session: Session,
    store: ObjectStore,
    key: Ed25519PrivateKey,
    case_no: str,
    sink: Sink,
    *,
    exporter: Caller,
    now: datetime,
    scope: ColumnElement[bool] | None = None,
) -> Export:
    """Write the bag of case `case_no` into `sink` (closed at the end) with the media of
    the case `scope` selects (all without). Raises ExportError (no such case, an original
    that does not match its SHA-256), StorageError when the store cannot be read; the sink
    then holds a part of a bag, which the caller removes."""
    case = case_repo.get_case(session, case_no)
    if case is None:
        raise ExportError(f"no case {case_no!r}")
    links = case_repo.links_of_case(session, case_no)
    media = list(
        session.scalars(
            select(Media)
            .where(
                Media.id.in_([link.media_id for link in links]),
                scope if scope is not None else true(),
            )
            .order_by(Media.id)
        )
    )
    shown = {m.id for m in media}
    bag = _Bag(sink)
    originals: dict[str, str] = {}
    receipts: dict[str, str] = {}
    for medium in media:
        name = f"originals/{medium.id}_{_safe_name(medium.original_name)}"
        found = bag.add(name, store.open_range(medium.original_key))
        if found != medium.sha256:
            raise ExportError(
                f"the stored original of media {medium.id} hashes to {found}, not the "
                f"{medium.sha256} it was registered with: run `station fixity check` and "
                "restore it before exporting"
            )
        originals[medium.id] = name  # in data/
        if medium.proxy_key is not None and store.exists(medium.proxy_key):
            suffix = PurePosixPath(medium.proxy_key).suffix or ".mp4"
            bag.add(f"proxies/{medium.id}{suffix}", store.open_range(medium.proxy_key))
        report = signed_report(session, medium, key, now=now, by=exporter.actor)
        bag.add(f"custody/{medium.id}.json", [_json(report).encode()])
        bag.add(f"custody/{medium.id}.html",
                [render_html(report, f"custody/{medium.id}.json").encode()])  # fmt: skip
        for receipt in receipt_repo.of_media(session, medium.sha256):
            receipts[receipt.receipt_id] = receipt.signed
    for receipt_id, signed in sorted(receipts.items()):
        bag.add(f"receipts/{_safe_name(receipt_id)}.json", [signed.encode()])
    described = CaseOut.of(case, [link for link in links if link.media_id in shown]).model_dump(
        mode="json"
    )
    described["media"] = [
        {"id": m.id, "sha256": m.sha256, "size_bytes": m.size_bytes, "original": originals[m.id],
         "original_name": m.original_name, "device_id": m.device_id, "officer_id": m.officer_id,
         "recorded_start": utc_text(m.recorded_start) if m.recorded_start else None}
        for m in media
    ]  # fmt: skip
    bag.add("case.json", [_json(described).encode()])
    _finish(bag, key, case_no, case.unit_id, case.title, exporter.actor, now, media)
    sink.close()
    return Export(len(media), sum(m.size_bytes for m in media), [m.id for m in media])


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1)


def _finish(
    bag: _Bag,
    key: Ed25519PrivateKey,
    case_no: str,
    unit_id: str | None,
    title: str,
    exporter: str,
    now: datetime,
    media: list[Media],
) -> None:
    """The tag files: bagit.txt, bag-info.txt, the payload manifest, the signature and the
    tag manifest (RFC 8493 §2.1, §2.2)."""
    bag.tag("bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    info = {
        "Source-Organization": unit_id or "",
        "External-Identifier": case_no,
        "External-Description": title,
        "Contact-Name": exporter,
        "Bagging-Date": now.date().isoformat(),
        "Bag-Software-Agent": "evidence-station",
        "Payload-Oxum": f"{bag.octets}.{len(bag.payload)}",
        "Case-Number": case_no,
        "Case-Unit": unit_id or "",
        "Exporter": exporter,
        "Export-Time": utc_text(now),
        "Media-Count": str(len(media)),
    }
    bag_info = bag.tag("bag-info.txt", "".join(f"{k}: {_one_line(v)}\n" for k, v in info.items()))
    manifest = bag.tag(
        "manifest-sha256.txt",
        "".join(
            f"{digest}  {_manifest_path(name)}\n" for name, digest in sorted(bag.payload.items())
        ),
    )
    document = {
        "kind": KIND,
        "case_no": case_no,
        "unit_id": unit_id,
        "exporter": exporter,
        "exported_at": utc_text(now),
        "manifest_sha256": manifest,
        "bag_info_sha256": bag_info,
        "media": [{"id": m.id, "sha256": m.sha256} for m in media],
    }
    bag.tag("signature.json", _json(sign(document, key)))
    bag.sink.write(
        "tagmanifest-sha256.txt",
        ["".join(f"{d}  {n}\n" for n, d in sorted(bag.tags.items())).encode()],
    )


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _manifest_path(name: str) -> str:
    """RFC 8493 §2.1.3: a CR, LF or % in a path is percent-encoded."""
    return name.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def record_export(
    session: Session, media_ids: Iterable[str], case_no: str, exporter: Caller, *, now: datetime
) -> None:
    """Write each exported medium's `exported` custody event (the caller commits)."""
    for media_id in media_ids:
        session.add(
            CustodyEvent(
                media_id=media_id, at=now, event=CustodyEventKind.EXPORTED.value,
                actor=exporter.actor, role=exporter.role, client=exporter.client,
                detail={"case_no": case_no}, outcome=CustodyOutcome.OK.value,
            )
        )  # fmt: skip
