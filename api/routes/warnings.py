"""GET /api/v1/warnings: the early warnings (预警) open now, about the caller's units (and
every station: stations serve any unit). A warning is gone from the answer once its cause
goes (rules/warnings.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from api.deps import WARNING_READERS, CurrentToken, SessionDep, roles, secured_router
from api.early_warnings import limits_of, open_warnings
from api.problems import not_found, unavailable
from api.report_files import FILE_RESPONSES, Column, ReportFormat, Sheet, table_file
from api.schemas import UtcTime
from api.scope import units_in_scope
from rules.warnings import WarningKind
from storage.catalogue.models import utc_now
from wire.zones import SHOWN_ZONE

router: APIRouter = secured_router("/api/v1/warnings", ["supervision"])


class WarningOut(BaseModel):
    kind: WarningKind
    subject: str = Field(description="a device id, CASE_NO/EVENT_ID, or a station id")
    since: UtcTime
    unit_id: str | None
    detail: dict[str, Any]


class WarningsOut(BaseModel):
    generated_at: UtcTime
    items: list[WarningOut] = Field(description="oldest first")


@router.get("", response_model=WarningsOut,
            responses={**FILE_RESPONSES, **not_found("a unit outside this token's units")},
            **roles(*WARNING_READERS))  # fmt: skip
def get_warnings(
    request: Request,
    session: SessionDep,
    token: CurrentToken,
    unit_id: Annotated[
        str | None,
        Query(min_length=1, max_length=128, description="the unit and those below it"),
    ] = None,
    kind: Annotated[WarningKind | None, Query(description="only warnings of this kind")] = None,
    report_format: Annotated[ReportFormat, Query(alias="format")] = "json",
) -> Any:
    """The warnings open now."""
    units = units_in_scope(session, token, unit_id)
    now = utc_now()
    try:
        found = open_warnings(session, now, limits_of(request.app.state.settings), units)
    except SQLAlchemyError as exc:
        raise unavailable("the catalogue could not be read", exc) from exc
    out = WarningsOut(
        generated_at=now,
        items=[
            WarningOut(kind=w.kind, subject=w.subject, since=w.since, unit_id=w.unit_id,
                       detail=w.detail)
            for w in found
            if kind is None or w.kind == kind
        ],
    )  # fmt: skip
    return out if report_format == "json" else _file(out, report_format)


KIND_NAMES = {
    "device_not_docked": "执法记录仪使用后未按时采集", "event_unrecorded": "应录事项无音视频",
    "stored_late": "音视频逾期存储", "device_clock_off": "设备时钟偏差",
    "station_silent": "采集站失联", "station_low_disk": "采集站磁盘空间不足",
    "station_alarm": "采集站报警", "fixity_failed": "原始文件完整性校验失败",
}  # fmt: skip
COLUMNS = [Column("kind", "预警类型"), Column("subject", "对象"), Column("unit_id", "单位编号"),
           Column("since", "起始时间"), Column("detail", "详情")]  # fmt: skip


def _file(body: WarningsOut, file_format: Literal["csv", "xlsx"]) -> Response:
    rows = [
        {**w.model_dump(), "kind": KIND_NAMES[w.kind],
         "detail": json.dumps(w.detail, ensure_ascii=False, sort_keys=True)}
        for w in body.items
    ]  # fmt: skip
    stamp = body.generated_at.astimezone(SHOWN_ZONE).strftime("%Y%m%d_%H%M")
    return table_file([Sheet("预警", COLUMNS, rows)], name=f"预警_{stamp}", file_format=file_format)
