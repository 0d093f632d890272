"""``/get_containers``: load the Containers grid and deliver it as a workbook (API_SPEC 4.3).

Why we build our own workbook instead of clicking the portal's Excel export: the export only holds
*selected* rows, its select-all click was unreliable under Xvfb (A7.9), and it strips the L/E badge
that JSON clients want. One script reads every loaded row (ContainersPage.read_rows); this module
turns that into ``containers_scraped_<ts>.xlsx`` (sheet ``Containers``) and the JSON rows.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from emodal.operations.context import FileResult, OperationContext
from emodal.operations.loading import Loaded, load_list
from emodal.portal.containers import ContainersPage, GridData

#: The portal's 18 column headers in grid order (A7.3, confirmed by the real export). The workbook
#: uses the headers read from the page; this list documents them and names the JSON keys.
HEADERS: tuple[str, ...] = (
    "Container #", "Trade Type", "Status", "Holds", "Pregate Ticket#", "Emodal Pregate Status",
    "Gate Status", "Origin", "Destination", "Current Loc", "Line", "Vessel Name", "Vessel Code",
    "Voyage", "Size Type", "Fees", "LFD/GTD", "Tags",
)
SHEET_NAME = "Containers"
FILE_PREFIX = "containers_scraped"
HEADER_FILL = "366092"
MAX_COLUMN_WIDTH = 50

# API_SPEC 4.3: keys are the snake_case headers except these three.
_KEY_EXCEPTIONS = {"Container #": "container_number", "Pregate Ticket#": "pregate_ticket",
                   "LFD/GTD": "lfd_gtd"}


def column_key(header: str) -> str:
    """JSON key of a header: ``Current Loc`` -> ``current_loc`` (with the 4.3 exceptions)."""
    if header in _KEY_EXCEPTIONS:
        return _KEY_EXCEPTIONS[header]
    return re.sub(r"[^a-z0-9]+", "_", header.lower()).strip("_")


def json_rows(grid: GridData) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """``(columns, containers)`` of the ``format: json`` answer: the workbook's strings per row
    keyed by header, plus ``badge`` (``L``, ``E`` or ``None``)."""
    keys = [column_key(h) for h in grid.headers]
    columns = [{"key": k, "header": h} for k, h in zip(keys, grid.headers)]
    containers = []
    for values, badge in zip(grid.rows, grid.badges):
        item: dict[str, Any] = dict(zip(keys, values))
        item["badge"] = badge
        containers.append(item)
    return columns, containers


def write_workbook(path: Path, grid: GridData) -> None:
    """Write sheet ``Containers``: styled header row, one row per grid row, fitted widths."""
    book = styled_workbook(grid.headers, grid.rows, SHEET_NAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def styled_workbook(headers: list[str], rows: list[list[str]], sheet_name: str) -> Workbook:
    """One sheet: white-on-blue header row, the rows as given (text cells), fitted widths, frozen
    header. Shared by the Containers workbook and the job result workbooks."""
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_name
    sheet.append(list(headers))
    for values in rows:
        sheet.append(list(values))
    fill = PatternFill(start_color=HEADER_FILL, end_color=HEADER_FILL, fill_type="solid")
    font = Font(color="FFFFFF", bold=True)
    centred = Alignment(horizontal="center", vertical="center")
    for cell in sheet[1]:
        cell.fill, cell.font, cell.alignment = fill, font, centred
    for index, header in enumerate(headers):
        longest = max([len(header), *(len(row[index]) for row in rows if index < len(row))])
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(longest + 2, MAX_COLUMN_WIDTH)
    sheet.freeze_panes = "A2"
    return book


def open_containers_page(ctx: OperationContext, *, reuse: bool = False) -> ContainersPage:
    """Open the Containers page for this operation (shared by timeline, booking and bulk).

    ``reuse``: keep the grid the browser already shows (rows loaded stay loaded, A7.5), so a job
    running one container per operation does not reload and re-scroll the grid for each."""
    page = ContainersPage(ctx.driver, ctx.urls, ctx.settings, ctx.log, ctx.deadline)
    if reuse and page.is_open():
        return page
    with ctx.step("open_containers_page"):
        page.open()
    ctx.screenshot("containers_page_loaded")
    return page


def _load_grid(ctx: OperationContext, *, target: str | None, target_count: int | None,
               infinite: bool) -> tuple[Loaded, GridData]:
    """Open the page, scroll per the stop policy, read every loaded row."""
    page = open_containers_page(ctx)
    with ctx.step("load_rows"):
        loaded = load_list(page, target_id=target, target_count=target_count, infinite=infinite,
                           found=lambda: page.has_container(target or ""), noun="Container",
                           idle_cycles=ctx.settings.scroll_idle_cycles)
    ctx.log.info("grid loaded: %d rows in %d scroll cycles (%s)", loaded.rows,
                 loaded.scroll_cycles, loaded.stopped_reason)
    ctx.screenshot("containers_loaded", container=target)
    with ctx.step("read_rows"):
        grid = page.read_rows()
    return loaded, grid


def read_grid(ctx: OperationContext) -> dict[str, Any]:
    """The whole grid as JSON rows (``containers``, keyed as ``format: json``) and no workbook:
    a job's container sweep filters these rows before it visits each kept container."""
    loaded, grid = _load_grid(ctx, target=None, target_count=None, infinite=True)
    return {"containers": json_rows(grid)[1], "stopped_reason": loaded.stopped_reason}


def list_containers(ctx: OperationContext) -> dict[str, Any] | FileResult:
    """The operation behind ``POST /get_containers``."""
    params = ctx.params
    target = params.get("target_container_id")
    loaded, grid = _load_grid(ctx, target=target, target_count=params.get("target_count"),
                              infinite=params.get("infinite_scrolling", True) is not False)
    path = ctx.new_file(FILE_PREFIX, ".xlsx")
    with ctx.step("write_workbook"):
        write_workbook(path, grid)
    ctx.attach(path)
    total = len(grid.rows)
    if params.get("format") != "json" and not params.get("return_url"):
        return FileResult(path, counts={"containers": total})
    body = _summary(ctx, path, total, loaded, target)
    if params.get("format") == "json":
        body["columns"], body["containers"] = json_rows(grid)
    return body


def _summary(ctx: OperationContext, path: Path, total: int, loaded: Loaded,
             target: str | None) -> dict[str, Any]:
    urls = ctx.file_urls(path)
    body: dict[str, Any] = {
        "work_mode": loaded.work_mode,
        **urls,
        "file_name": path.name,
        "file_size": path.stat().st_size,
        "total_containers": total,
        "scroll_cycles": loaded.scroll_cycles,
        "stopped_reason": loaded.stopped_reason,
    }
    if loaded.work_mode == "id":
        body["found_target_container"] = target if loaded.reached else None
        body["target_found"] = loaded.reached
    # Deprecated aliases kept for v1 clients (API_SPEC 4.3, 4.16); the dispatcher reads containers_count.
    body.update(download_url=urls["file_url"], excel_url=urls["file_url"], container_count=total,
                containers_count=total)
    return body


__all__ = ["HEADERS", "column_key", "json_rows", "list_containers", "open_containers_page", "read_grid",
           "styled_workbook", "write_workbook"]
