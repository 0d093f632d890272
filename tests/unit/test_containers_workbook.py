"""Workbook and JSON mapping of /get_containers (API_SPEC 4.3), without a browser."""
from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from emodal.operations.containers import HEADERS, column_key, json_rows, write_workbook
from emodal.portal.containers import GridData

ROW_1 = ["TGBU5604945", "IMPORT", "ON VESSEL", "YES", "N/A", "N/A", "N/A", "N/A", "TTI", "N/A", "MSCU",
         "MSC ARIANE", "9484443", "532A", "40DH", "N/A", "N/A", "N/A"]
ROW_2 = ["HDMU5000052"] + ["N/A"] * 17
LONG = "X" * 80


def grid(rows: list[list[str]], badges: list[str | None]) -> GridData:
    return GridData(headers=list(HEADERS), rows=rows, badges=badges)


def test_column_keys_follow_the_spec() -> None:
    keys = [column_key(h) for h in HEADERS]
    assert keys == ["container_number", "trade_type", "status", "holds", "pregate_ticket",
                    "emodal_pregate_status", "gate_status", "origin", "destination", "current_loc",
                    "line", "vessel_name", "vessel_code", "voyage", "size_type", "fees", "lfd_gtd", "tags"]


def test_json_rows_keep_strings_and_add_badge() -> None:
    columns, containers = json_rows(grid([ROW_1, ROW_2], ["L", None]))
    assert columns[0] == {"key": "container_number", "header": "Container #"}
    assert columns[16] == {"key": "lfd_gtd", "header": "LFD/GTD"}
    assert len(columns) == 18
    assert containers[0]["container_number"] == "TGBU5604945"
    assert containers[0]["vessel_name"] == "MSC ARIANE"
    assert containers[0]["badge"] == "L"
    assert containers[1]["badge"] is None
    assert containers[1]["status"] == "N/A"
    assert list(containers[0])[:18] == [c["key"] for c in columns]


def test_workbook_layout_and_style(tmp_path: Path) -> None:
    path = tmp_path / "containers_scraped_20251124_193000.xlsx"
    long_row = list(ROW_1)
    long_row[11] = LONG
    write_workbook(path, grid([ROW_1, ROW_2, long_row], ["L", None, "E"]))
    book = load_workbook(path)
    assert book.sheetnames == ["Containers"]
    sheet = book["Containers"]
    assert [c.value for c in sheet[1]] == list(HEADERS)
    assert [c.value for c in sheet[2]] == ROW_1
    assert sheet.max_row == 4
    header = sheet["A1"]
    assert header.fill.start_color.rgb.endswith("366092")
    assert header.font.bold and header.font.color.rgb.endswith("FFFFFF")
    assert header.alignment.horizontal == "center"
    # width = longest value + 2, capped at 50
    assert sheet.column_dimensions["A"].width == len("TGBU5604945") + 2
    assert sheet.column_dimensions["F"].width == len("Emodal Pregate Status") + 2
    assert sheet.column_dimensions["L"].width == 50


def test_empty_grid_gives_header_only_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    write_workbook(path, grid([], []))
    sheet = load_workbook(path)["Containers"]
    assert sheet.max_row == 1
    assert [c.value for c in sheet[1]] == list(HEADERS)


@pytest.mark.parametrize("header,key", [("Some New Column", "some_new_column"), ("Fees", "fees")])
def test_unknown_headers_get_snake_case_keys(header: str, key: str) -> None:
    assert column_key(header) == key
