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
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.astimezone(SHOWN_ZONE).strftime("%Y-%m-%d %H:%M:%S")
    listed = isinstance(value, list | tuple)
    text = "、".join(str(cell(v)) for v in value) if listed else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def table_file(
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    *,
    name: str,
    file_format: Literal["csv", "xlsx"],
    sheet: str = "报表",
) -> Response:
    """The rows as a CSV or XLSX download named `name` (Chinese allowed) plus its suffix."""
    table = [[cell(row.get(c.key)) for c in columns] for row in rows]
    headers = [c.header for c in columns]
    if file_format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(headers)
        writer.writerows(table)
        body, media_type = ("\ufeff" + out.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"
    else:
        body, media_type = _xlsx(headers, table, sheet), XLSX_TYPE
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": content_disposition(f"{name}.{file_format}")},
    )


def _xlsx(headers: list[str], table: list[list[str | int | float]], sheet: str) -> bytes:
    book = Workbook()
    page = book.active
    assert page is not None
    page.title = sheet[:31]
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
