"""A signing key on disk: the api's and each station's Ed25519 private key.

Made at first start, readable by its owner only (0600, in a 0700 folder), never in the
catalogue: whoever can write the catalogue must not be able to sign for the api. Made with
O_EXCL and fsynced, so two processes starting at once end with one key, and a crash never
leaves half a key behind under the key's name.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from storage.durable import fsync_path
from storage.errors import StorageError


class KeyFileError(StorageError):
    """The key file cannot be read, made, or is not an Ed25519 private key."""


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The private key at `path`, made there first if there is none. Raises KeyFileError."""
    try:
        return _load(path)
    except FileNotFoundError:
        pass
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # A link, not a rename: it fails when another process made the key first.
            os.link(part, path)
            fsync_path(path.parent)
        except FileExistsError:
            pass
        finally:
            part.unlink(missing_ok=True)
        return _load(path)
    except OSError as exc:
        raise KeyFileError(
            f"cannot make the signing key {path}: {exc.strerror}; check that the folder is "
            "writable by this service's user"
        ) from exc


def load_key(path: Path) -> Ed25519PrivateKey:
    """The private key at `path`; raises KeyFileError when there is none or it is unusable
    (never makes one: a new key would not match the signatures already made)."""
    try:
        return _load(path)
    except FileNotFoundError as exc:
        raise KeyFileError(f"there is no signing key at {path}") from exc


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeyFileError(f"cannot read the signing key {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(
            f"{path} is not an unencrypted PEM private key; restore it from the backup (a "
            "new key would not match the signatures already made)"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a key that is not Ed25519")
    return key
