"""Equipment: a unit's standards (PUT/GET /api/v1/units/{id}/standards) and the equipment
report (GET /api/v1/units/{id}/equipment): required, active, rate and shortfall per device
kind, for the unit and rolled up from every unit below it, and how much the devices were
used in a period (rules/equipment.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.exc import SQLAlchemyError

from api.custody_log import caller
from api.deps import (
    UNIT_ADMINS,
    UNIT_READERS,
    CurrentToken,
    SessionDep,
    UnitId,
    roles,
    secured_router,
)
from api.problems import not_found, unavailable
from api.report_files import FILE_RESPONSES, Column, ReportFormat, Sheet, table_file
from api.schemas import UtcTime
from api.scope import unit_or_404
from rules import equipment
from rules.unit_tree import units_under
from storage.catalogue import equipment_repo, unit_repo
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import DeviceKind, StandardPer, utc_now
from wire.moments import Moment

router: APIRouter = secured_router("/api/v1/units", ["equipment"])

DEFAULT_PERIOD = timedelta(days=30)


class StandardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_kind: DeviceKind
    per: StandardPer = Field(description="officer, or on_duty_officer")
    # strict: a JSON number only (not `false` or "1", which lax parsing takes as 0 and 1)
    ratio: float = Field(ge=0, le=100, allow_inf_nan=False, strict=True,
                         description="devices per officer, e.g. 1, 0.5")  # fmt: skip


class StandardsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    standards: list[StandardIn] = Field(max_length=len(DeviceKind))

    @field_validator("standards")
    @classmethod
    def _one_per_kind(cls, value: list[StandardIn]) -> list[StandardIn]:
        kinds = [s.device_kind for s in value]
        twice = sorted({k.value for k in kinds if kinds.count(k) > 1})
        if twice:
            raise ValueError(f"one standard per device kind; {twice[0]} is given twice")
        return value


class StandardOut(BaseModel):
    device_kind: str
    per: str
    ratio: float
    source: str = Field(description="the unit that set it: this one, or one above it")


class StandardsOut(BaseModel):
    unit_id: str
    standards: list[StandardOut] = Field(description="what applies to the unit, by kind")


class RowOut(BaseModel):
    device_kind: str
    per: str | None
    ratio: float | None
    standard_from: str | None = Field(description="the unit whose standard applies")
    headcount: int
    required: int = Field(description="ceil(ratio × headcount)")
    active: int = Field(description="devices of the kind in service (status active)")
    rate: float | None = Field(description="active ÷ required (null: none required)")
    shortfall: int

    @classmethod
    def of(cls, row: equipment.Row) -> RowOut:
        return cls(device_kind=row.device_kind, per=row.per, ratio=row.ratio,
                   standard_from=row.standard_from, headcount=row.headcount,
                   required=row.required, active=row.active, rate=row.rate,
                   shortfall=row.shortfall)  # fmt: skip


class UsageOut(BaseModel):
    start: UtcTime
    end: UtcTime
    active: int
    docked: int = Field(description="active devices that docked footage in the period")
    rate: float | None

    @classmethod
    def of(cls, used: equipment.Usage, start: datetime, end: datetime) -> UsageOut:
        return cls(start=start, end=end, active=used.active, docked=used.docked, rate=used.rate)


class UnitRowsOut(BaseModel):
    unit_id: str
    name: str | None
    parent_id: str | None
    rows: list[RowOut] = Field(description="the unit with every unit below it")
    usage: UsageOut = Field(description="of the devices of the unit and every unit below it")


class EquipmentOut(BaseModel):
    unit_id: str
    rows: list[RowOut] = Field(description="the unit with every unit below it, by kind")
    own_rows: list[RowOut] = Field(description="the unit alone")
    units: list[UnitRowsOut] = Field(description="each unit of the subtree, rolled up")
    usage: UsageOut
    never_docked: list[str] = Field(description="active devices that never docked footage")
    idle: list[str] = Field(description="active devices that docked before, not in the period")


@router.put("/{unit_id}/standards", responses=not_found("outside this token's units"),
            **roles(*UNIT_ADMINS))  # fmt: skip
def put_standards(
    unit_id: UnitId, body: StandardsIn, request: Request, session: SessionDep,
    token: CurrentToken,
) -> StandardsOut:  # fmt: skip
    """Replace the unit's own standards (the units below it inherit what they do not set)."""
    unit_or_404(token, unit_id)
    rows = [(s.device_kind.value, s.per.value, s.ratio) for s in body.standards]
    try:
        equipment_repo.put_standards(
            session, unit_id, rows, actor=caller(request, token).actor, now=utc_now()
        )
    except CatalogueError as exc:
        raise unavailable("the standards could not be recorded", exc) from exc
    return get_standards(unit_id, session, token)


@router.get("/{unit_id}/standards", responses=not_found("outside this token's units"),
            **roles(*UNIT_READERS))  # fmt: skip
def get_standards(unit_id: UnitId, session: SessionDep, token: CurrentToken) -> StandardsOut:
    """The standards that apply to the unit, each with the unit that set it."""
    unit_or_404(token, unit_id)
    try:
        applied = equipment.standards_of(
            unit_id, unit_repo.parents(session), equipment_repo.standards(session)
        )
    except SQLAlchemyError as exc:
        raise unavailable("the catalogue could not be read", exc) from exc
    return StandardsOut(unit_id=unit_id, standards=[
        StandardOut(device_kind=s.device_kind, per=s.per, ratio=s.ratio, source=s.unit_id)
        for _, s in sorted(applied.items())
    ])  # fmt: skip


COLUMNS = [
    Column("unit_id", "单位编号"), Column("name", "单位名称"), Column("device_kind", "设备类型"),
    Column("per", "配备基数"), Column("ratio", "配备比例"), Column("headcount", "人数"),
    Column("required", "应配数"), Column("active", "在用数"), Column("rate", "配备率"),
    Column("shortfall", "缺口"),
]  # fmt: skip
USAGE_COLUMNS = [
    Column("unit_id", "单位编号"), Column("name", "单位名称"), Column("start", "统计开始"),
    Column("end", "统计结束"), Column("active", "在用数"), Column("docked", "期间采集设备数"),
    Column("rate", "使用率"),
]  # fmt: skip
IDLE_COLUMNS = [Column("device_id", "设备编号"), Column("state", "情况")]
KIND_NAMES = {"body_camera": "执法记录仪", "handheld_terminal": "手持执法终端",
              "interview_room": "询问室录像设备"}  # fmt: skip
PER_NAMES = {"officer": "民警", "on_duty_officer": "在岗民警"}


@router.get("/{unit_id}/equipment", response_model=EquipmentOut,
            responses={**FILE_RESPONSES, **not_found("outside this token's units")},
            **roles(*UNIT_READERS))  # fmt: skip
def get_equipment(
    unit_id: UnitId,
    session: SessionDep,
    token: CurrentToken,
    start: Annotated[
        Moment | None, Query(description="usage period start (default: 30 days ago)")
    ] = None,
    end: Annotated[Moment | None, Query(description="usage period end (default: now)")] = None,
    report_format: Annotated[ReportFormat, Query(alias="format")] = "json",
) -> Any:
    """The unit's equipment against its standards, rolled up the tree, and its usage."""
    unit_or_404(token, unit_id)
    end = end or utc_now()
    start = start or end - DEFAULT_PERIOD
    if end <= start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail="`end` must be after `start`")  # fmt: skip
    try:
        report = _report(session, unit_id, start, end)
    except SQLAlchemyError as exc:
        raise unavailable("the catalogue could not be read", exc) from exc
    if report_format == "json":
        return report
    return _file(report, report_format)


def _report(session: SessionDep, unit_id: str, start: datetime, end: datetime) -> EquipmentOut:
    parents = unit_repo.parents(session)
    subtree = unit_repo.units_under(session, unit_id)
    units = {u.unit_id: u for u in unit_repo.list_units(session, subtree)}
    stored = equipment_repo.standards(session)
    devices = equipment_repo.active_device_use(session, subtree, start, end)
    own: dict[str, list[equipment.Row]] = {}
    for unit in sorted(subtree):
        known = units.get(unit)
        headcount = equipment.Headcount(
            known.officer_count if known else 0, known.on_duty_officer_count if known else 0
        )
        active: dict[str, int] = {}
        for d in devices:
            if d.unit_id == unit:
                active[d.device_kind] = active.get(d.device_kind, 0) + 1
        own[unit] = equipment.own_rows(
            unit, headcount, equipment.standards_of(unit, parents, stored), active
        )
    used = equipment.usage(devices)
    usage_below: dict[str, equipment.Usage] = {}
    for unit in subtree:
        below = units_under(parents, unit)
        usage_below[unit] = equipment.usage(d for d in devices if d.unit_id in below)
    return EquipmentOut(
        unit_id=unit_id,
        rows=[RowOut.of(r) for r in equipment.rolled_up(own, parents, unit_id)],
        own_rows=[RowOut.of(r) for r in own[unit_id]],
        units=[
            UnitRowsOut(
                unit_id=u,
                name=units[u].name if u in units else None,
                parent_id=units[u].parent_id if u in units else None,
                rows=[RowOut.of(r) for r in equipment.rolled_up(own, parents, u)],
                usage=UsageOut.of(usage_below[u], start, end),
            )
            for u in sorted(subtree)
        ],  # fmt: skip
        usage=UsageOut.of(used, start, end),
        never_docked=used.never_docked,
        idle=used.idle,
    )


def _file(report: EquipmentOut, file_format: Literal["csv", "xlsx"]) -> Response:
    rows = [
        {**row.model_dump(), "unit_id": unit.unit_id, "name": unit.name,
         "device_kind": KIND_NAMES.get(row.device_kind, row.device_kind),
         "per": PER_NAMES.get(row.per or "", row.per)}
        for unit in report.units
        for row in unit.rows
    ]  # fmt: skip
    usage = [
        {"unit_id": unit.unit_id, "name": unit.name, **unit.usage.model_dump()}
        for unit in report.units
    ]
    idle = [{"device_id": d, "state": "从未采集"} for d in report.never_docked] + [
        {"device_id": d, "state": "期间未采集"} for d in report.idle
    ]
    sheets = [Sheet("装备配备", COLUMNS, rows), Sheet("使用率", USAGE_COLUMNS, usage),
              Sheet("闲置设备", IDLE_COLUMNS, idle)]  # fmt: skip
    return table_file(sheets, name=f"装备配备_{report.unit_id}", file_format=file_format)
