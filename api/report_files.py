"""Reports as files people open in a spreadsheet (`?format=csv|xlsx`): Chinese headers,
times in Asia/Shanghai, 是/否 for yes and no.

CSV is UTF-8 with a byte-order mark, which Excel on a Chinese Windows needs to read it as
UTF-8 rather than GBK. Text that comes from outside (device ids, reasons, names) and
begins like a formula is written with a leading apostrophe, so that a spreadsheet shows
it and never runs it.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fastapi import Response
from openpyxl import Workbook
from openpyxl.styles import Font

from api.object_responses import content_disposition
from wire.zones import SHOWN_ZONE

ReportFormat = Literal["json", "csv", "xlsx"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the report; with `format=csv` or `format=xlsx`, as that file",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
"""The `responses` of a report route that also answers as a file."""


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    """What people read at the top of the column (Chinese)."""


def cell(value: Any) -> str | int | float:
    """A value as a spreadsheet cell shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value, 4)  # rates and fractions: more digits only hide the figure
    if isinstance(value, datetime):
        return value.astimezone(SHOWN_ZONE).strftime("%Y-%m-%d %H:%M:%S")
    listed = isinstance(value, list | tuple)
    text = "、".join(str(cell(v)) for v in value) if listed else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: Sequence[Column]
    rows: Iterable[Mapping[str, Any]]


def table_file(
    sheets: Sequence[Sheet], *, name: str, file_format: Literal["csv", "xlsx"]
) -> Response:
    """The report as a download named `name` (Chinese allowed) plus its suffix: XLSX with
    one worksheet per sheet, CSV with the first sheet (a CSV file holds one table)."""
    if file_format == "csv":
        first = sheets[0]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([c.header for c in first.columns])
        writer.writerows(_cells(first))
        body, media_type = ("\ufeff" + out.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"
    else:
        body, media_type = _xlsx(sheets), XLSX_TYPE
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": content_disposition(f"{name}.{file_format}")},
    )


def _cells(sheet: Sheet) -> list[list[str | int | float]]:
    return [[cell(row.get(c.key)) for c in sheet.columns] for row in sheet.rows]


def _xlsx(sheets: Sequence[Sheet]) -> bytes:
    book = Workbook()
    default = book.active
    assert default is not None
    book.remove(default)
    for sheet in sheets:
        page = book.create_sheet(sheet.title[:31])  # Excel's limit on a sheet's name
        headers = [c.header for c in sheet.columns]
        table = _cells(sheet)
        page.append(headers)
        for header_cell in page[1]:
            header_cell.font = Font(bold=True)
        for row in table:
            page.append(row)
        page.freeze_panes = "A2"
        for index, header in enumerate(headers):
            width = max([_width(header), *(_width(row[index]) for row in table[:500])])
            letter = page.cell(row=1, column=index + 1).column_letter
            page.column_dimensions[letter].width = min(60, width + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _width(value: object) -> int:
    """Characters a cell needs, a CJK character counting as two."""
    text = str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
