"""Answering a GET/HEAD for a stored object: headers, Range (206/416) and streaming.

The bytes come straight from the object store in chunks; nothing is buffered whole.
"""

from __future__ import annotations

import base64
import logging
import unicodedata
from pathlib import PurePath
from urllib.parse import quote

from fastapi import HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse

from api.http_ranges import RangeNotSatisfiable, parse_range
from api.problems import unavailable
from storage.errors import ObjectNotFound, StorageError
from storage.object_store import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)

_TYPE_BY_SUFFIX = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".ts": "video/mp2t",
    ".mts": "video/mp2t",
    ".m2ts": "video/mp2t",
    ".mkv": "video/x-matroska",
    ".3gp": "video/3gpp",
    ".asf": "video/x-ms-asf",
    ".wmv": "video/x-ms-wmv",
    ".wav": "audio/wav",
    ".amr": "audio/amr",
    ".mp3": "audio/mpeg",
    ".aac": "audio/aac",
    ".m4a": "audio/mp4",
    ".wma": "audio/x-ms-wma",
    ".ogg": "audio/ogg",
    ".opus": "audio/opus",
    ".flac": "audio/flac",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".heic": "image/heic",
    ".bmp": "image/bmp",
}


def original_content_type(original_name: str) -> str:
    """The media type of an original, by its file name (cameras name files reliably)."""
    return _TYPE_BY_SUFFIX.get(PurePath(original_name).suffix.lower(), "application/octet-stream")


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """`attachment; filename="ascii"; filename*=UTF-8''...` (RFC 6266 / RFC 5987).

    Old clients read the ASCII fallback; everyone else gets the real (e.g. Chinese) name.
    """
    name = PurePath(filename.replace("\\", "/")).name or "download"
    stem = _ascii(PurePath(name).stem)
    if not stem.strip("._ "):
        stem = "download"
    fallback = stem + _ascii(PurePath(name).suffix)
    encoded = quote(name, safe="!#$&+-.^_`|~")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c if c.isprintable() and c not in '"\\;' else "_" for c in text)


def repr_digest(sha256_hex: str) -> str:
    """`Repr-Digest` (RFC 9530) of the whole representation, from its hex SHA-256."""
    return "sha-256=:" + base64.b64encode(bytes.fromhex(sha256_hex)).decode() + ":"


def stat_object(store: ObjectStore, key: str, what: str) -> ObjectInfo:
    """Stat an object the catalogue says exists; a missing one is a server fault (500)."""
    try:
        return store.stat(key)
    except StorageError as exc:
        raise _store_failure(exc, key, what) from exc


def _store_failure(exc: StorageError, key: str, what: str) -> HTTPException:
    if isinstance(exc, ObjectNotFound):
        log.error("the catalogue names %s %s but the object store has no such object", what, key)
        return HTTPException(
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            detail=f"the {what} is missing from the object store (key {key}); "
            "run `station fixity check`",
        )
    return unavailable("the object store is unavailable", exc)


def object_response(
    request: Request,
    store: ObjectStore,
    key: str,
    *,
    size: int,
    content_type: str,
    headers: dict[str, str],
    etag: str,
    what: str,
) -> Response:
    """200 with the whole object, or 206 with the requested range; 416 when out of range.

    `If-Range` is honoured by ETag: a client holding another version gets the whole object.
    HEAD gets the same headers without a body.
    """
    headers = {
        **headers,
        "Accept-Ranges": "bytes",
        "ETag": etag,
        # Footage is not kept in a browser's disk cache, where the next person at a shared
        # terminal of the case-management center would find it after sign-out.
        "Cache-Control": "private, no-store",
    }
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        range_header = None
    try:
        byte_range = parse_range(range_header, size)
    except RangeNotSatisfiable as exc:
        raise HTTPException(
            status_code=status.HTTP_416_RANGE_NOT_SATISFIABLE,
            detail=str(exc),
            headers={"Content-Range": exc.content_range, "Accept-Ranges": "bytes"},
        ) from exc

    if byte_range is None:
        code, start, length = status.HTTP_200_OK, 0, size
    else:
        code, start, length = status.HTTP_206_PARTIAL_CONTENT, byte_range.start, byte_range.length
        headers["Content-Range"] = byte_range.content_range(size)
    headers["Content-Length"] = str(length)

    if request.method == "HEAD":
        return Response(status_code=code, headers=headers, media_type=content_type)
    try:
        body = store.open_range(key, start, length) if length else iter(())
    except StorageError as exc:
        raise _store_failure(exc, key, what) from exc
    return StreamingResponse(body, status_code=code, headers=headers, media_type=content_type)
