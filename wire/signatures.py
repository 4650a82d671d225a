"""Signed evidence documents (audit checkpoints, custody reports, dock receipts, exports).

A signed document is JSON: `{"payload": TEXT, "document": {...}, "signature": {...}}`.
`payload` is the document as canonical JSON text, and the Ed25519 signature is over its
UTF-8 bytes exactly, so anyone can check it offline without re-serialising anything:

    jq -j .payload receipt.json > payload.bin
    jq -r .signature.value receipt.json | base64 -d > signature.bin
    jq -r .signature.public_key_pem receipt.json > key.pem
    openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in payload.bin -sigfile signature.bin

`document` repeats the payload, parsed, for people and programs to read. A signature only
proves who signed when the key is known: compare `signature.key_id` (the SHA-256 of the raw
public key) with the one the api publishes at /api/v1/keys, or pass the trusted keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rules.audit_chain import canonical_json

ALGORITHM = "Ed25519"


class SignatureInvalid(ValueError):
    """A signed document that does not hold: malformed, altered, or signed by a key that is
    not trusted. The message says which."""


def key_id_of(key: Ed25519PublicKey) -> str:
    """The key's fingerprint: hex SHA-256 of its raw 32 bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_pem(pem: str) -> Ed25519PublicKey:
    """ValueError unless `pem` is an Ed25519 public key in PEM."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ValueError("not a public key in PEM form") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"not an {ALGORITHM} public key")
    return key


def sign(document: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """`document` signed by `key`, as the JSON value described above."""
    payload = canonical_json(document)
    public = key.public_key()
    return {
        "payload": payload,
        "document": json.loads(payload),
        "signature": {
            "algorithm": ALGORITHM,
            "key_id": key_id_of(public),
            "public_key_pem": public_pem(public),
            "value": base64.b64encode(key.sign(payload.encode())).decode(),
        },
    }


@dataclass(frozen=True)
class Verified:
    document: dict[str, Any]
    key_id: str


def verify(signed: Any, trusted: Mapping[str, Ed25519PublicKey] | None = None) -> Verified:
    """The document of `signed` (a parsed signed document), once its signature holds.

    With `trusted` (key id → key), the signer must be one of them; without, the key the
    document carries is used, and the caller must judge its `key_id`. Raises
    SignatureInvalid saying what is wrong.
    """
    if not isinstance(signed, Mapping):
        raise SignatureInvalid("not a signed document: expected a JSON object")
    payload, document, signature = (signed.get(k) for k in ("payload", "document", "signature"))
    if not isinstance(payload, str) or not isinstance(signature, Mapping):
        raise SignatureInvalid("not a signed document: `payload` or `signature` is missing")
    if signature.get("algorithm") != ALGORITHM:
        raise SignatureInvalid(
            f"signature algorithm {signature.get('algorithm')!r} is not {ALGORITHM}"
        )
    key_id = signature.get("key_id")
    try:
        carried = load_public_pem(str(signature.get("public_key_pem")))
        value = base64.b64decode(str(signature.get("value")), validate=True)
    except ValueError as exc:
        raise SignatureInvalid(f"the signature is malformed: {exc}") from exc
    if key_id != key_id_of(carried):
        raise SignatureInvalid("the signature's key_id is not that of the key it carries")
    if trusted is not None:
        if key_id not in trusted:
            raise SignatureInvalid(f"signed by key {key_id}, which is not a trusted key")
        carried = trusted[key_id]
    try:
        carried.verify(value, payload.encode())
    except InvalidSignature as exc:
        raise SignatureInvalid(
            "the signature does not match the payload: the document was altered after signing"
        ) from exc
    parsed = json.loads(payload)
    if document is not None and document != parsed:
        raise SignatureInvalid(
            "`document` differs from the signed payload: the readable copy was altered"
        )
    if not isinstance(parsed, dict):
        raise SignatureInvalid("the signed payload is not a JSON object")
    return Verified(document=parsed, key_id=str(key_id))
