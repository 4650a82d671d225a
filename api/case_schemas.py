"""Request and response bodies of the case endpoints (api/routes/cases.py)."""

from __future__ import annotations

from collections import Counter

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from api.schemas import UtcTime
from rules.association import event_window_problem
from storage.catalogue.models import Case, CaseMedia
from wire.moments import Moment
from wire.text import Id, Reason, Title

ACTIVITIES: tuple[str, ...] = (
    "dispatch_110",
    "stop_and_check",
    "onsite_penalty",
    "scene_search_seizure",
    "forced_execution",
    "mass_incident",
    "inspection",
    "interrogation",
    "other",
)
"""The activity codes of DOMAIN.md ("What must be recorded")."""


class EventIn(BaseModel):
    """One enforcement event: who, what activity, when (and in which interview room)."""

    model_config = ConfigDict(extra="forbid")

    event_id: Id
    activity: str = Field(description=f"one of {', '.join(ACTIVITIES)}")
    officer_ids: list[Id] = Field(description="officer numbers (警号) of the event's officers")
    start: Moment = Field(description="with an offset")
    end: Moment = Field(description="with an offset; at most 8 hours after start")
    room_id: Id | None = Field(
        default=None, description="device id of the interview room (interrogations)"
    )

    @field_validator("activity")
    @classmethod
    def _known_activity(cls, value: str) -> str:
        if value not in ACTIVITIES:
            raise ValueError(
                f"unknown activity {value!r}; known activity codes: {', '.join(ACTIVITIES)}"
            )
        return value

    @model_validator(mode="after")
    def _window(self) -> EventIn:
        problem = event_window_problem(self.start, self.end)
        if problem is not None:
            raise ValueError(f"event {self.event_id}: {problem}")
        return self


class CaseIn(BaseModel):
    """A case as the case-handling system sends it: the whole case, events included."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    unit_id: Id | None = Field(
        default=None, description="the unit handling the case; a unit's token must send its own"
    )
    events: list[EventIn] = Field(default_factory=list)

    @field_validator("events")
    @classmethod
    def _unique_event_ids(cls, events: list[EventIn]) -> list[EventIn]:
        counts = Counter(event.event_id for event in events)
        twice = sorted(event_id for event_id, n in counts.items() if n > 1)
        if twice:
            raise ValueError(f"event_id sent more than once: {', '.join(twice)}")
        return events


class AssociateIn(BaseModel):
    """Associate media with a case by hand."""

    model_config = ConfigDict(extra="forbid")

    media_ids: list[Id] = Field(min_length=1, max_length=500)
    reason: Reason = Field(description="why, in the reviewer's words (kept in the custody trail)")


class EventOut(BaseModel):
    event_id: str
    activity: str
    officer_ids: list[str]
    start: UtcTime
    end: UtcTime
    room_id: str | None


class LinkOut(BaseModel):
    media_id: str
    source: str = Field(description="auto, manual or dock")
    event_id: str | None = Field(description="the event it matched (automatic links)")
    rule: str | None = Field(description="officer or room (automatic links)")
    reason: str | None
    actor: str = Field(description="who made the link (token name)")
    created_at: UtcTime

    @classmethod
    def of(cls, link: CaseMedia) -> LinkOut:
        return cls(
            media_id=link.media_id,
            source=link.source,
            event_id=link.event_id,
            rule=link.rule,
            reason=link.reason,
            actor=link.actor,
            created_at=link.created_at,
        )


class CaseOut(BaseModel):
    case_no: str
    title: str
    unit_id: str | None
    created_at: UtcTime
    updated_at: UtcTime
    updated_by: str
    legal_hold: bool = Field(description="held: none of its media is deleted, whatever else")
    events: list[EventOut]
    media_ids: list[str] = Field(description="every medium associated with the case")
    links: list[LinkOut] = Field(description="how each medium came to be associated")

    @classmethod
    def of(cls, case: Case, links: list[CaseMedia]) -> CaseOut:
        return cls(
            case_no=case.case_no,
            title=case.title,
            unit_id=case.unit_id,
            created_at=case.created_at,
            updated_at=case.updated_at,
            updated_by=case.updated_by,
            legal_hold=case.legal_hold,
            events=[
                EventOut(
                    event_id=e.event_id,
                    activity=e.activity,
                    officer_ids=list(e.officer_ids),
                    start=e.start_at,
                    end=e.end_at,
                    room_id=e.room_id,
                )
                for e in sorted(case.events, key=lambda e: (e.start_at, e.event_id))
            ],
            media_ids=[link.media_id for link in links],
            links=[LinkOut.of(link) for link in links],
        )
