"""`/get_appointments`: select rows on My Appointments and use the portal's own export (API_SPEC 4.9).

Why the portal's export and not a workbook of our own: the My Appointments columns are unknown
on the real site (A13 item 7); the portal's file is authoritative, so it is delivered unchanged as
``appointments_<ts>.xlsx``. Rows read from the page serve only the JSON format and the
``target_appointment_id`` search.
"""
from __future__ import annotations

import shutil
from typing import Any

from emodal.browser.downloads import DownloadWatch
from emodal.operations.context import FileResult, OperationContext
from emodal.operations.loading import load_list
from emodal.portal.my_appointments import DOWNLOAD_SUFFIXES, AppointmentRows, MyAppointmentsPage
from emodal.portal.scrolling import ScrollLimits

FILE_PREFIX = "appointments"


def get_appointments(ctx: OperationContext) -> dict[str, Any] | FileResult:
    """The operation behind ``POST /get_appointments``."""
    params = ctx.params
    settings = ctx.settings
    page = MyAppointmentsPage(ctx.driver, ctx.urls, element_timeout=settings.element_timeout,
                              page_timeout=settings.page_load_timeout, deadline=ctx.deadline,
                              limits=ScrollLimits(settings.scroll_idle_cycles, settings.max_scroll_cycles))
    with ctx.step("open_my_appointments"):
        page.open()
    ctx.screenshot("appointments_loaded")
    target = params.get("target_appointment_id")
    count = params.get("target_count")
    with ctx.step("load_rows"):
        loaded = load_list(page, target_id=target, target_count=count,
                           infinite=bool(params.get("infinite_scrolling", True)),
                           found=lambda: target_row(page.read(), target) is not None,
                           noun="Appointment", idle_cycles=settings.scroll_idle_cycles)
        rows = page.read()
    ctx.log.info("appointments loaded: %d rows in %d scroll cycles (%s)", len(rows.rows),
                 loaded.scroll_cycles, loaded.stopped_reason)
    body: dict[str, Any] = {"work_mode": loaded.work_mode, "scroll_cycles": loaded.scroll_cycles,
                            "stopped_reason": loaded.stopped_reason,
                            "total_appointments": len(rows.rows)}
    # The rows to export: up to the target appointment, the target count, else every loaded row
    # (a target never reached is not an error).
    to_select = len(rows.rows)
    if loaded.work_mode == "id":
        index = target_row(rows, target) if loaded.reached else None
        body["found_target_appointment"] = target if index is not None else None
        to_select = len(rows.rows) if index is None else index + 1
    elif loaded.reached:
        to_select = count
    if to_select == 0:
        body.update(selected_count=0, file_url=None, file_path=None, file_name=None, file_size=0)
        return _with_rows(body, rows, 0, params)
    with ctx.step("select_rows"):
        selected = page.select_first(to_select)
    ctx.screenshot("rows_selected")
    with ctx.step("export_excel"):
        downloaded = page.export(DownloadWatch(ctx.session.handle, DOWNLOAD_SUFFIXES))
        path = ctx.new_file(FILE_PREFIX, ".xlsx")
        shutil.move(str(downloaded), path)
    ctx.attach(path)
    if params.get("format") == "xlsx":
        return FileResult(path, counts={"appointments": selected})
    body.update(selected_count=selected, **ctx.file_urls(path), file_name=path.name,
                file_size=path.stat().st_size)
    return _with_rows(body, rows, selected, params)


def target_row(rows: AppointmentRows, token: str | None) -> int | None:
    """Index of the first row showing ``target_appointment_id`` (see :func:`row_has_token`), else None."""
    return next((i for i, values in enumerate(rows.rows) if row_has_token(values, token or "")), None)


def row_has_token(values: list[str], token: str) -> bool:
    """True when a cell of the row holds ``token`` as a whole whitespace-separated word (case-insensitive)."""
    wanted = token.strip().casefold()
    return any(part.casefold() == wanted for value in values for part in value.split())


def _with_rows(body: dict[str, Any], rows: AppointmentRows, selected: int, params: dict[str, Any]) -> dict[str, Any]:
    """``format: json`` adds ``columns`` (header texts) and ``appointments`` (the selected rows)."""
    if params.get("format") == "json":
        headers = rows.headers
        body["columns"] = headers
        body["appointments"] = [row_object(headers, values) for values in rows.rows[:selected]]
    return body


def row_object(headers: list[str], values: list[str]) -> dict[str, str]:
    """One row keyed by header text; extra cells (unknown layout) get ``column_<n>``."""
    return {(headers[i] if i < len(headers) else f"column_{i + 1}"): value for i, value in enumerate(values)}


__all__ = ["get_appointments", "row_has_token", "row_object", "target_row"]
