"""`/get_appointments`: select rows on My Appointments and use the portal's own export (API_SPEC 4.9).

Why the portal's export and not a workbook of our own: the My Appointments columns are unknown
on the real site (A13 item 7); the portal's file is authoritative, so it is delivered unchanged as
``appointments_<ts>.xlsx``. Rows read from the page serve only the JSON format and the
``target_appointment_id`` search.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any

from emodal.operations.context import FileResult, OperationContext
from emodal.portal.my_appointments import AppointmentRows, MyAppointmentsPage, row_has_token

FILE_PREFIX = "appointments"


@dataclass
class Loaded:
    """How loading ended: API_SPEC 4.9 ``work_mode``, cycles, reason, and how many rows to select."""

    work_mode: str
    rows: AppointmentRows
    scroll_cycles: int
    stopped_reason: str
    select: int
    found: str | None = None


def get_appointments(ctx: OperationContext) -> dict[str, Any] | FileResult:
    """The operation behind ``POST /get_appointments``."""
    params = ctx.params
    page = MyAppointmentsPage(ctx.driver, ctx.urls, element_timeout=ctx.settings.element_timeout,
                              page_timeout=ctx.settings.page_load_timeout)
    with ctx.step("open_my_appointments"):
        page.open()
    ctx.screenshot("appointments_loaded")
    with ctx.step("load_rows"):
        loaded = load(ctx, page)
    ctx.log.info("appointments loaded: %d rows in %d scroll cycles (%s)", len(loaded.rows.rows),
                 loaded.scroll_cycles, loaded.stopped_reason)
    body: dict[str, Any] = {"work_mode": loaded.work_mode, "scroll_cycles": loaded.scroll_cycles,
                            "stopped_reason": loaded.stopped_reason,
                            "total_appointments": len(loaded.rows.rows)}
    if loaded.work_mode == "id":
        body["found_target_appointment"] = loaded.found
    if loaded.select == 0:
        body.update(selected_count=0, file_url=None, file_path=None, file_name=None, file_size=0)
        return _with_rows(body, loaded.rows, 0, params)
    with ctx.step("select_rows"):
        selected = page.select_first(loaded.select)
    ctx.screenshot("rows_selected")
    with ctx.step("export_excel"):
        download_dir = ctx.session.handle.download_dir
        downloaded = page.export(download_dir)
        path = ctx.new_file(FILE_PREFIX, ".xlsx")
        shutil.move(str(downloaded), path)
    ctx.attach(path)
    if params.get("format") == "xlsx":
        return FileResult(path, counts={"appointments": selected})
    body.update(selected_count=selected, **ctx.file_urls(path), file_name=path.name,
                file_size=path.stat().st_size)
    return _with_rows(body, loaded.rows, selected, params)


def load(ctx: OperationContext, page: MyAppointmentsPage) -> Loaded:
    """Scroll the window per 4.9 (priority target id > count > infinite) and decide the selection."""
    params = ctx.params
    target = params.get("target_appointment_id")
    count = params.get("target_count")
    mode = "id" if target else "count" if count else "infinite" if params.get("infinite_scrolling", True) else "first_page"

    def verdict(rows: AppointmentRows, when: str) -> Loaded | None:
        if mode == "id":
            index = next((i for i, values in enumerate(rows.rows) if row_has_token(values, target)), None)
            if index is not None:
                return Loaded(mode, rows, cycles, f"Appointment {target} found ({when})", index + 1, target)
        elif mode == "count" and len(rows.rows) >= count:
            return Loaded(mode, rows, cycles, f"Target count {count} reached", count)
        return None

    cycles = idle = 0
    rows = page.read()
    done = verdict(rows, "pre-scroll")
    if done is not None:
        return done
    if mode == "first_page":
        return Loaded(mode, rows, 0, "First page only", len(rows.rows))
    limit = ctx.settings.scroll_idle_cycles
    while cycles < ctx.settings.max_scroll_cycles:
        ctx.check_deadline(f"scrolling My Appointments ({len(rows.rows)} rows loaded)")
        before, after = page.scroll_more()
        cycles += 1
        rows = page.read()
        done = verdict(rows, "during scroll")
        if done is not None:
            return done
        idle = idle + 1 if after == before else 0
        if idle >= limit:
            reason = f"No new rows after {limit} scroll cycles"
            break
    else:
        reason = "Scroll cycle limit reached"
    # A target never reached is not an error: every loaded row is exported.
    return Loaded(mode, rows, cycles, reason, len(rows.rows))


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


__all__ = ["get_appointments", "load", "row_object"]
