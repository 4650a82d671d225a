"""GET /api/v1/keys: the public keys that sign evidence documents, for anyone who checks a
signature (no token: a prosecutor's clerk must be able to fetch them)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import SessionDep
from api.schemas import UtcTime
from storage.catalogue import key_repo

router = APIRouter(prefix="/api/v1/keys", tags=["audit"])


class KeyOut(BaseModel):
    key_id: str = Field(description="hex SHA-256 of the raw Ed25519 public key")
    owner_kind: str = Field(description="`api` or `station`")
    owner_id: str
    algorithm: str = "Ed25519"
    public_key_pem: str
    registered_at: UtcTime


class KeysOut(BaseModel):
    keys: list[KeyOut]


@router.get("", response_model=KeysOut)
def list_keys(session: SessionDep) -> KeysOut:
    return KeysOut(
        keys=[
            KeyOut(
                key_id=k.key_id,
                owner_kind=k.owner_kind,
                owner_id=k.owner_id,
                public_key_pem=k.public_key_pem,
                registered_at=k.registered_at,
            )
            for k in key_repo.all_keys(session)
        ]
    )
