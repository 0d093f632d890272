"""A job's result rows as a table and as an Excel workbook (``GET /jobs/<id>/result?format=xlsx``).

The columns are the rows' keys in order of first appearance (every row of a kind has the same keys,
except My Appointments rows, which carry the portal's own headers). Nested values (an info item's
timeline) are written as JSON text; ``None`` as an empty cell. The styling is the Containers
workbook's (``styled_workbook``).
"""
from __future__ import annotations

import io
import json
from typing import Any

from emodal.operations.containers import styled_workbook

SHEET_NAME = "Result"


def columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def result_workbook(rows: list[dict[str, Any]]) -> bytes:
    """The ``.xlsx`` bytes: one header row, one row per result row."""
    headers = columns(rows)
    book = styled_workbook(headers, [[cell(row.get(key)) for key in headers] for row in rows], SHEET_NAME)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


__all__ = ["SHEET_NAME", "cell", "columns", "result_workbook"]
