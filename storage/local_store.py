"""The object store as a local folder (`file:///abs/path`), the embedded default.

Layout: the object for key `originals/<sha256>` is the file `<root>/originals/<sha256>`, made
read-only once verified; `<root>/.meta/originals/<sha256>.json` records its SHA-256 and
content type, `<root>/.locks/originals/<sha256>.json` its lock. A stored object is never
replaced: it is published with `os.link`, which fails when the name is taken, so two
writers cannot overwrite each other; `delete` refuses a locked one. (Whoever can write the
folder itself can still remove files: a folder is no WORM store, S3 object lock is.)
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from rules.retention import Lock, LockMode, extended, hold_kept
from storage.durable import (
    HASH_CHUNK,
    DescriptorRange,
    fsync_path,
    sha256_file,
    write_durably,
)
from storage.errors import ObjectNotFound, StorageError, StoredObjectMismatch
from storage.object_store import (
    DEFAULT_CONTENT_TYPE,
    STREAM_CHUNK,
    ObjectInfo,
    check_range,
    checked_sha256,
    key_parts,
)

_META_DIR = ".meta"
_LOCK_DIR = ".locks"
# What opening a key that names no file raises (a folder, or a file used as a folder).
_NOT_THERE = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


class LocalStore:
    """Objects as files under `root`; see the module docstring for the layout."""

    def __init__(self, root: Path, *, hardlink: bool = True) -> None:
        """`hardlink`: store a source on the same file system as a hard link (no copy).

        The stored object then shares its inode (and read-only mode) with the source, so the
        source must not be written in place afterwards; staged files are only ever renamed
        or deleted, which leaves the stored object intact.
        """
        if not root.is_absolute():
            raise ValueError(f"local store root {str(root)!r} must be an absolute path")
        self.root = root
        self._hardlink = hardlink

    @classmethod
    def from_url(cls, url: str) -> LocalStore:
        """Open `file:///abs/path`; raises ValueError for a relative or empty path."""
        parts = urlsplit(url)
        if parts.scheme != "file":
            raise ValueError(f"local store URL {url!r} must start with file://")
        if parts.netloc not in ("", "localhost"):
            raise ValueError(
                f"local store URL {url!r} names host {parts.netloc!r}: a local path needs "
                "three slashes, file:///abs/path"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"local store URL {url!r} takes no query or fragment")
        path = unquote(parts.path)
        if not path.startswith("/") or path.rstrip("/") == "":
            raise ValueError(
                f"local store URL {url!r} needs an absolute folder other than /, "
                "e.g. file:///var/lib/station/objects"
            )
        return cls(Path(path))

    # -- the ObjectStore interface -------------------------------------------------------

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        sha256: str | None,
        content_type: str,
        lock: Lock | None = None,
    ) -> str:
        """Store `path` under `key` and prove the stored bytes hash to `sha256`; with `lock`,
        lock it so (`protect`), an object stored before included.

        With `sha256=None` (a derived file) the digest of the stored bytes is recorded and
        an existing object under the key is kept. Returns the stored object's SHA-256.
        Idempotent: an object already stored with that SHA-256 is left alone. Raises
        StoredObjectMismatch when the stored (or already present) bytes hash to something
        else, in which case nothing new is left under the key; StorageError when the
        source cannot be read or the store cannot be written.
        """
        stored = self._put(key, path, sha256=sha256, content_type=content_type)
        if lock is not None:
            self.protect(key, hold_kept(self.lock_of(key), lock))
        return stored

    def _put(self, key: str, path: Path, *, sha256: str | None, content_type: str) -> str:
        target = self._object_path(key)
        if sha256 is None:
            if target.is_file():
                return self.stat(key).sha256 or self.sha256_of(key)
        else:
            sha256 = checked_sha256(sha256)
            if self._already_stored(key, target, sha256, content_type):
                return sha256
        try:
            _make_dirs(target.parent)
            tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
            try:
                self._stage(path, tmp)
                actual = sha256_file(tmp)
                if sha256 is None:
                    sha256 = actual
                elif actual != sha256:
                    raise StoredObjectMismatch(
                        f"{path} stored as {key!r} hashes to {actual}, not {sha256}: the "
                        "source changed or was damaged; nothing was stored, check the "
                        "staged file and ingest it again"
                    )
                os.chmod(tmp, 0o444)
                published = _publish(tmp, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            fsync_path(target.parent)
        except OSError as exc:
            raise StorageError(
                f"could not store {path} as {key!r} under {self.root}: {exc}; the file "
                "stays staged, check the disk and retry"
            ) from exc
        if not published:
            # Another writer stored the key between our check and our publish.
            if not self._already_stored(key, target, sha256, content_type):
                raise StorageError(f"{key!r} in {self.root} names a folder, not an object")
            return sha256
        self._write_meta(key, sha256, content_type)
        return sha256

    def stat(self, key: str) -> ObjectInfo:
        """Size, type and recorded SHA-256 of an object; raises ObjectNotFound."""
        target = self._object_path(key)
        try:
            st = target.stat()
        except _NOT_THERE as exc:
            raise ObjectNotFound(f"no object {key!r} in {self.root}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read object {key!r} in {self.root}: {exc}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise ObjectNotFound(f"no object {key!r} in {self.root} (a folder has that name)")
        size = st.st_size
        meta = self._read_meta(key)
        if meta is None:
            return ObjectInfo(size=size, content_type=DEFAULT_CONTENT_TYPE, sha256=None)
        return ObjectInfo(size=size, content_type=meta[1], sha256=meta[0])

    def exists(self, key: str) -> bool:
        return self._object_path(key).is_file()

    def check_reachable(self) -> None:
        if not self.root.is_dir():
            raise StorageError(f"the local store's folder {self.root} is missing (not mounted?)")

    def open_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream bytes from `start`, `length` of them or to the end, in chunks of 1 MiB.

        The file is opened now (ObjectNotFound is raised here, not while iterating) and
        closed when the iterator is exhausted, closed or dropped.
        """
        check_range(start, length)
        target = self._object_path(key)
        try:
            fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
        except _NOT_THERE as exc:
            raise ObjectNotFound(f"no object {key!r} in {self.root}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read object {key!r} in {self.root}: {exc}") from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ObjectNotFound(f"no object {key!r} in {self.root} (a folder has that name)")
        return DescriptorRange(
            fd, start, length, f"object {key!r}", chunk=STREAM_CHUNK, error=StorageError
        )

    def sha256_of(self, key: str) -> str:
        """Read the object back and return its hex SHA-256; raises ObjectNotFound."""
        target = self._object_path(key)
        try:
            return sha256_file(target)
        except _NOT_THERE as exc:
            raise ObjectNotFound(f"no object {key!r} in {self.root}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read object {key!r} in {self.root}: {exc}") from exc

    def lock_of(self, key: str) -> Lock | None:
        if not self.exists(key):
            raise ObjectNotFound(f"no object {key!r} in {self.root}")
        path = self._lock_path(key)
        try:
            raw = json.loads(path.read_text())
            return Lock(
                LockMode(raw["mode"]), datetime.fromisoformat(raw["until"]), bool(raw["legal_hold"])
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StorageError(
                f"the lock of {key!r} in {self.root} is unreadable ({exc}); restore {path}"
            ) from exc

    def protect(self, key: str, lock: Lock) -> None:
        new = extended(self.lock_of(key), lock)
        path = self._lock_path(key)
        body = json.dumps(
            {"mode": new.mode.value, "until": new.until.isoformat(), "legal_hold": new.legal_hold}
        ).encode()
        try:
            _make_dirs(path.parent)
            write_durably(path, body)
        except OSError as exc:
            raise StorageError(f"cannot lock {key!r} in {self.root}: {exc}") from exc

    def delete(self, key: str, *, bypass_governance: bool = False) -> None:
        """Remove the object and its metadata; raises ObjectNotFound when there is none,
        StorageError while it is locked (a governance lock gives way to the bypass)."""
        target = self._object_path(key)
        if not target.is_file():
            raise ObjectNotFound(f"no object {key!r} in {self.root}")
        lock = self.lock_of(key)
        bypassed = bypass_governance and lock is not None and lock.mode == LockMode.GOVERNANCE
        if lock is not None and (
            lock.legal_hold or (datetime.now(UTC) < lock.until and not bypassed)
        ):
            held = "under legal hold" if lock.legal_hold else f"locked until {lock.until}"
            raise StorageError(f"{key!r} in {self.root} is {held} ({lock.mode.value}): kept")
        try:
            target.unlink()
            self._meta_path(key).unlink(missing_ok=True)
            self._lock_path(key).unlink(missing_ok=True)
            fsync_path(target.parent)
        except OSError as exc:
            raise StorageError(f"cannot remove object {key!r} in {self.root}: {exc}") from exc

    def list_keys(self, prefix: str) -> Iterator[str]:
        """The keys under the folder `prefix`, in order; a half-written `.part` is none."""
        folder = self.root.joinpath(*key_parts(prefix))
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            base = Path(dirpath).relative_to(self.root).as_posix()
            found.extend(f"{base}/{name}" for name in filenames if not name.startswith("."))
        return iter(sorted(found))

    # -- helpers -------------------------------------------------------------------------

    def _object_path(self, key: str) -> Path:
        return self.root.joinpath(*key_parts(key))

    def _meta_path(self, key: str) -> Path:
        parts = key_parts(key)
        return self.root.joinpath(_META_DIR, *parts[:-1], parts[-1] + ".json")

    def _lock_path(self, key: str) -> Path:
        parts = key_parts(key)
        return self.root.joinpath(_LOCK_DIR, *parts[:-1], parts[-1] + ".json")

    def _already_stored(self, key: str, target: Path, sha256: str, content_type: str) -> bool:
        """True when `target` holds `sha256`; StoredObjectMismatch when it holds other bytes."""
        if not target.is_file():
            return False
        meta = self._read_meta(key)
        if meta is not None:
            recorded = meta[0]
        else:
            # Stored, but interrupted before its sidecar was written: hash it once.
            recorded = self.sha256_of(key)
            if recorded == sha256:
                self._write_meta(key, sha256, content_type)
        if recorded != sha256:
            raise StoredObjectMismatch(
                f"{key!r} in {self.root} already holds bytes with SHA-256 {recorded}, not "
                f"{sha256}; stored evidence is never overwritten, investigate before retrying"
            )
        return True

    def _stage(self, source: Path, tmp: Path) -> None:
        """Put the source's bytes at `tmp`: a hard link when allowed, else a synced copy."""
        if self._hardlink:
            try:
                os.link(source, tmp)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                    raise
            else:
                fsync_path(tmp)
                return
        with source.open("rb") as src, tmp.open("xb") as dst:
            while chunk := src.read(HASH_CHUNK):
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())

    def _read_meta(self, key: str) -> tuple[str, str] | None:
        try:
            raw = json.loads(self._meta_path(key).read_text())
            return str(raw["sha256"]), str(raw["content_type"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StorageError(
                f"metadata of {key!r} in {self.root} is unreadable ({exc}); "
                f"restore {self._meta_path(key)} or delete it to have it rebuilt"
            ) from exc

    def _write_meta(self, key: str, sha256: str, content_type: str) -> None:
        meta_path = self._meta_path(key)
        body = json.dumps({"sha256": sha256, "content_type": content_type}).encode()
        try:
            _make_dirs(meta_path.parent)
            write_durably(meta_path, body)
        except OSError as exc:
            raise StorageError(
                f"{key!r} is stored but its metadata could not be written ({exc}); "
                "retrying the same file repairs it"
            ) from exc


def _publish(tmp: Path, target: Path) -> bool:
    """Give `tmp` the name `target` unless taken; False when another object holds it."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    except OSError as exc:
        # File systems without hard links: check, then rename (a small race, no better way).
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EMLINK):
            raise
        if target.exists():
            return False
        os.rename(tmp, target)
    return True


def _make_dirs(path: Path) -> None:
    """Create `path` and missing parents, syncing each new entry into its parent folder."""
    missing: list[Path] = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
        fsync_path(folder.parent)
