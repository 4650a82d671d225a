"""GET /api/v1/compliance: which enforcement events that had to be recorded were, were
partly, were not, or were stored late (音像记录 supervision), by unit and officer.

Every event of the period (an event belongs to the period it starts in) of the units in
scope is judged by its case's unit's rules (rules/compliance.py); the answer says which
rules it applied. The summary rolls each unit up the tree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api import compliance_judgements
from api.compliance_judgements import EventOut
from api.deps import SUPERVISORS, CurrentToken, SessionDep, roles, secured_router
from api.principal import Principal
from api.problems import not_found, unavailable
from api.report_files import FILE_RESPONSES, Column, ReportFormat, Sheet, table_file
from api.routes.recording_rules import SourcedRequirement
from api.schemas import UtcTime
from api.scope import units_in_scope
from rules.compliance import Summary, Tally, summarise
from rules.coverage import Status
from rules.recording_rules import RecordingRules
from storage.catalogue import unit_repo
from storage.catalogue.models import utc_now
from wire.moments import Moment
from wire.zones import SHOWN_ZONE

router: APIRouter = secured_router("/api/v1/compliance", ["supervision"])

LONGEST_PERIOD = timedelta(days=400)
"""A bureau-year with room for a leap year and a few weeks either side."""


class TallyOut(BaseModel):
    events: int
    required: int = Field(description="events whose activity must be recorded")
    compliant: int
    partial: int
    missing: int
    late: int
    activation_rate: float | None = Field(
        description="required events with footage ÷ required events (null: none required)"
    )
    late_rate: float | None = Field(description="late events ÷ required events with footage")
    compliance_rate: float | None = Field(description="compliant events ÷ required events")
    media: int = Field(description="media recorded in the period (sidecars not counted)")
    categorised: int = Field(description="of them, in a case or judged non-evidential")
    categorisation_rate: float | None

    @classmethod
    def of(cls, tally: Tally) -> TallyOut:
        return cls(
            events=tally.events,
            required=tally.required,
            compliant=tally.compliant,
            partial=tally.partial,
            missing=tally.missing,
            late=tally.late,
            activation_rate=tally.activation_rate,
            late_rate=tally.late_rate,
            compliance_rate=tally.compliance_rate,
            media=tally.media,
            categorised=tally.categorised,
            categorisation_rate=tally.categorisation_rate,
        )


class UnitTally(TallyOut):
    unit_id: str | None = Field(description="null: cases and media of no unit")
    name: str | None
    parent_id: str | None


class OfficerTally(TallyOut):
    officer_id: str


class SummaryOut(BaseModel):
    total: TallyOut
    by_unit: list[UnitTally] = Field(description="each unit with every unit below it")
    by_officer: list[OfficerTally] = Field(description="an event counts for each of its officers")


class AppliedRules(BaseModel):
    unit_id: str | None = Field(description="the case's unit; null: a case of no unit")
    requirements: dict[str, SourcedRequirement]
    room_activities: list[str]
    deadline_s: float
    deadline_source: str
    gap_tolerance_s: float
    gap_tolerance_source: str

    @classmethod
    def of(cls, unit_id: str | None, rules: RecordingRules) -> AppliedRules:
        return cls(
            unit_id=unit_id,
            requirements={
                a: SourcedRequirement(requirement=r.value, source=r.source)
                for a, r in rules.requirements.items()
            },
            room_activities=sorted(rules.room_activities.value),
            deadline_s=rules.deadline.value.total_seconds(),
            deadline_source=rules.deadline.source,
            gap_tolerance_s=rules.gap_tolerance.value.total_seconds(),
            gap_tolerance_source=rules.gap_tolerance.source,
        )


class ComplianceOut(BaseModel):
    unit_id: str | None = Field(description="the unit reported on (with those below); null: all")
    start: UtcTime
    end: UtcTime
    generated_at: UtcTime
    rules: list[AppliedRules] = Field(description="the rules applied, per case unit")
    summary: SummaryOut
    events: list[EventOut] = Field(description="every event of the period, by start")


@router.get("", response_model=ComplianceOut,
            responses={**FILE_RESPONSES, **not_found("a unit outside this token's units")},
            **roles(*SUPERVISORS))  # fmt: skip
def get_compliance(
    session: SessionDep,
    token: CurrentToken,
    start: Annotated[Moment, Query(description="events starting at or after (with offset)")],
    end: Annotated[Moment, Query(description="events starting before (with offset)")],
    unit_id: Annotated[
        str | None,
        Query(min_length=1, max_length=128, description="the unit and those below it"),
    ] = None,
    officer_id: Annotated[
        str | None, Query(min_length=1, max_length=128, description="only this officer's events")
    ] = None,
    event_status: Annotated[
        Status | None, Query(alias="status", description="only events of this status")
    ] = None,
    report_format: Annotated[
        ReportFormat,
        Query(alias="format", description="csv: the events; xlsx: summaries and events"),
    ] = "json",
) -> Any:
    """The compliance report of a period. `officer_id` and `status` narrow the list of
    events (drill-down); the summary always covers the whole scope."""
    _check_period(start, end)
    scope = units_in_scope(session, token, unit_id)
    with compliance_judgements.collector_paused():
        return _report(session, token, start, end, unit_id, scope, officer_id, event_status,
                       report_format)  # fmt: skip


def _report(
    session: Session,
    token: Principal,
    start: datetime,
    end: datetime,
    unit_id: str | None,
    scope: frozenset[str] | None,
    officer_id: str | None,
    event_status: Status | None,
    report_format: ReportFormat,
) -> Response:
    try:
        judged, rules = compliance_judgements.judged_events(session, start, end, scope)
        counts = compliance_judgements.media_counts(session, start, end, scope)
        units = unit_repo.list_units(session, scope)
        parents = unit_repo.parents(session)
    except SQLAlchemyError as exc:
        raise unavailable("the catalogue could not be read", exc) from exc
    # Every unit in scope, and any a case or medium names that the tree does not know yet.
    named = {j.event.unit_id for j in judged} | {c.unit_id for c in counts}
    rows = set(scope) if scope is not None else {u.unit_id for u in units}
    summary = summarise(judged, counts, parents, sorted(rows | named, key=_none_last))
    listed = [
        j
        for j in judged
        if (officer_id is None or officer_id in j.event.officer_ids)
        and (event_status is None or j.status == event_status)
    ]
    out = ComplianceOut(
        unit_id=unit_id if unit_id is not None else token.unit_id,
        start=start,
        end=end,
        generated_at=utc_now(),
        rules=[AppliedRules.of(u, rules[u]) for u in sorted(rules, key=_none_last)],
        summary=_summary_out(summary, {u.unit_id: (u.name, u.parent_id) for u in units}),
        events=[],
    )
    if report_format == "json":
        # The events are written as they were kept (each EventOut's JSON), after the rest:
        # a bureau-year is 50,000 of them, too many to build and validate as models again.
        head = out.model_dump_json(exclude={"events"})
        events = ",".join(j.body for j in listed)
        return Response(f'{head[:-1]},"events":[{events}]}}', media_type="application/json")
    out.events = [EventOut.model_validate_json(j.body) for j in listed]
    return _file(out, report_format)


TALLY_COLUMNS = [
    Column("events", "事项数"), Column("required", "应录事项"), Column("compliant", "合规"),
    Column("partial", "不完整"), Column("missing", "未录"), Column("late", "逾期存储"),
    Column("activation_rate", "开机率"), Column("late_rate", "逾期率"),
    Column("compliance_rate", "合规率"), Column("media", "音视频数"),
    Column("categorised", "已归类"), Column("categorisation_rate", "归类率"),
]  # fmt: skip
EVENT_COLUMNS = [
    Column("case_no", "案件编号"), Column("event_id", "事项编号"), Column("activity", "执法活动"),
    Column("unit_id", "单位编号"), Column("officer_ids", "民警警号"), Column("room_id", "询问室"),
    Column("start", "开始时间"), Column("end", "结束时间"), Column("requirement", "记录要求"),
    Column("status", "结果"), Column("coverage", "覆盖率"), Column("longest_gap_s", "最长中断(秒)"),
    Column("due_at", "存储期限"), Column("late_by_s", "逾期(秒)"), Column("media_ids", "音视频编号"),
]  # fmt: skip
ACTIVITY_NAMES = {
    "dispatch_110": "接处警", "stop_and_check": "当场盘问、检查", "onsite_penalty": "当场处置、处罚",
    "scene_search_seizure": "勘验、检查、搜查、扣押、辨认、扣留", "forced_execution": "强制执行",
    "mass_incident": "重大突发事件、群体性事件", "inspection": "现场检查、调查取证、送达等",
    "interrogation": "询问/讯问", "other": "其他",
}  # fmt: skip
REQUIREMENT_NAMES = {"none": "无需记录", "key_steps": "关键环节", "full_process": "全过程"}
STATUS_NAMES = {"compliant": "合规", "partial": "不完整", "missing": "未录", "late": "逾期存储"}


def _file(body: ComplianceOut, file_format: Literal["csv", "xlsx"]) -> Response:
    events = [
        {**e.model_dump(), "activity": ACTIVITY_NAMES.get(e.activity, e.activity),
         "requirement": REQUIREMENT_NAMES[e.requirement], "status": STATUS_NAMES[e.status]}
        for e in body.events
    ]  # fmt: skip
    sheets = [Sheet("事项清单", EVENT_COLUMNS, events)]
    if file_format == "xlsx":
        sheets += [
            Sheet("单位汇总", [Column("unit_id", "单位编号"), Column("name", "单位名称"),
                  *TALLY_COLUMNS], [u.model_dump() for u in body.summary.by_unit]),
            Sheet("民警汇总", [Column("officer_id", "民警警号"), *TALLY_COLUMNS],
                  [o.model_dump() for o in body.summary.by_officer]),
        ]  # fmt: skip
    span = "_".join(t.astimezone(SHOWN_ZONE).strftime("%Y%m%d") for t in (body.start, body.end))
    return table_file(sheets, name=f"音像记录合规_{body.unit_id or '全部'}_{span}",
                      file_format=file_format)  # fmt: skip


def _check_period(start: datetime, end: datetime) -> None:
    if end <= start:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="`end` must be after `start`"
        )
    if end - start > LONGEST_PERIOD:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"a report covers at most {LONGEST_PERIOD.days} days; ask for a shorter "
            "period, one year at a time",
        )


def _none_last(unit: str | None) -> tuple[bool, str]:
    return (unit is None, unit or "")


def _summary_out(summary: Summary, units: dict[str, tuple[str, str | None]]) -> SummaryOut:
    def unit_row(unit: str | None, tally: Tally) -> UnitTally:
        name, parent = units.get(unit, (None, None)) if unit is not None else (None, None)
        return UnitTally(
            unit_id=unit, name=name, parent_id=parent, **TallyOut.of(tally).model_dump()
        )

    return SummaryOut(
        total=TallyOut.of(summary.total),
        by_unit=[unit_row(u, t) for u, t in summary.by_unit.items()],
        by_officer=[
            OfficerTally(officer_id=o, **TallyOut.of(t).model_dump())
            for o, t in sorted(summary.by_officer.items())
        ],
    )
