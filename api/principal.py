"""Who is calling: the token or signed-in person api/gate.py authenticated, as a plain value.

Routes get this, never the token's catalogue row: it outlives the session that loaded it,
and nothing a route does can change the token through it.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.catalogue.models import ApiToken, User
from storage.catalogue.tokens import actor_name


@dataclass(frozen=True)
class Principal:
    id: str
    role: str
    name: str | None
    unit_id: str | None
    officer_id: str | None
    station_id: str | None
    units: frozenset[str] | None
    """The units it sees: its own and every unit below it; None: all (a token without one)."""
    kind: str = "token"
    """`token`, or `user`: a person signed in to the pages with a password."""

    @property
    def token_id(self) -> str | None:
        """The api token's id; None for a person (the records name them by user name)."""
        return self.id if self.kind == "token" else None

    @classmethod
    def of(cls, token: ApiToken, units: frozenset[str] | None) -> Principal:
        return cls(
            id=token.id,
            role=token.role,
            name=token.name,
            unit_id=token.unit_id,
            officer_id=token.officer_id,
            station_id=token.station_id,
            units=units,
        )

    @classmethod
    def of_user(cls, user: User, units: frozenset[str] | None) -> Principal:
        """A person signed in to the pages: seen as a token of their role and unit would be,
        named by their user name in the records."""
        return cls(
            id=user.user_id,
            role=user.role,
            name=user.username,
            unit_id=user.unit_id,
            officer_id=user.officer_id,
            station_id=None,
            units=units,
            kind="user",
        )

    def sees_unit(self, unit_id: str | None) -> bool:
        """Whether a thing filed under `unit_id` is within this caller's units."""
        return self.units is None or unit_id in self.units


def actor_of(token: Principal) -> str:
    """How a token is named in the records: its name, or `token:ID` when it has none."""
    return actor_name(token.name, token.id)
