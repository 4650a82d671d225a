"""api/report_files.py alone: what a spreadsheet cell shows, and files that read back."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import openpyxl

from api.report_files import Column, Sheet, cell, table_file


def test_cells_show_shanghai_time_yes_no_and_never_run_a_formula() -> None:
    assert cell(datetime(2026, 5, 1, 16, 30, tzinfo=UTC)) == "2026-05-02 00:30:00"
    assert (cell(True), cell(False), cell(None)) == ("是", "否", "")
    assert cell(["100001", "100002"]) == "100001、100002"
    assert cell(-3) == -3  # a number stays a number
    for hostile in ('=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\t=1"):
        assert cell(hostile) == "'" + hostile


def test_csv_has_a_bom_and_xlsx_one_sheet_each() -> None:
    columns = [Column("a", "编号"), Column("b", "说明")]
    sheets = [Sheet("第一", columns, [{"a": "X1", "b": "=1+1"}]),
              Sheet("第二", columns, [{"a": "Y1", "b": None}])]  # fmt: skip
    response = table_file(sheets, name="报表_测试", file_format="csv")
    assert response.body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(bytes(response.body).decode("utf-8-sig"))))
    assert rows == [["编号", "说明"], ["X1", "'=1+1"]]
    assert "filename*=UTF-8''%E6%8A%A5%E8%A1%A8_%E6%B5%8B%E8%AF%95.csv" in response.headers[
        "content-disposition"]  # fmt: skip
    book = openpyxl.load_workbook(io.BytesIO(table_file(sheets, name="r", file_format="xlsx").body))
    assert book.sheetnames == ["第一", "第二"]
    assert list(book["第二"].iter_rows(values_only=True)) == [("编号", "说明"), ("Y1", None)]


def test_xlsx_has_a_bold_header_columns_wide_enough_and_runs_no_formula() -> None:
    columns = [Column("unit", "单位名称"), Column("at", "入库时间"), Column("ok", "是否合规"),
               Column("n", "数量")]  # fmt: skip
    at = datetime(2026, 5, 1, 16, 30, tzinfo=UTC)
    rows: list[dict[str, object]] = [
        {"unit": "南大港管理区分局城区派出所", "at": at, "ok": True, "n": 3},
        {"unit": '=HYPERLINK("http://x","点此")', "at": None, "ok": False, "n": None},
    ]
    response = table_file([Sheet("报表", columns, rows)], name="合规_U1", file_format="xlsx")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="') and disposition.isascii()
    sheet = openpyxl.load_workbook(io.BytesIO(response.body))["报表"]
    assert [c.font.b for c in sheet[1]] == [True] * 4
    assert not any(c.font.b for c in sheet[2])
    assert list(sheet.iter_rows(min_row=2, values_only=True)) == [
        ("南大港管理区分局城区派出所", "2026-05-02 00:30:00", "是", 3),
        ('\'=HYPERLINK("http://x","点此")', None, "否", None),
    ]
    assert sheet["A3"].data_type == "s"  # text, never a formula
    # 13 CJK characters need 26 columns (and a margin); 数量 over numbers needs 4.
    assert sheet.column_dimensions["A"].width >= 26
    assert 4 <= sheet.column_dimensions["D"].width < 26
    assert sheet.freeze_panes == "A2"
