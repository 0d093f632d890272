"""``/get_info_bulk``: timelines of import containers and booking numbers of export containers (4.6).

Why one page load for all items: rows are appended on scroll and never recycled (A7.5), so rows
loaded for one item stay for the next; reloading per item would repeat every scroll. Items run in
request order, duplicates once; an item's failure is recorded and the next item runs. A lapsed
login (``PortalSessionLost``) is not an item failure: it propagates so the runner re-logs in and
retries the whole call once (API_SPEC 3.6).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from selenium.common.exceptions import WebDriverException

from emodal.errors import ApiError, PortalSessionLost, PortalUnavailable
from emodal.operations.containers import open_containers_page
from emodal.operations.context import OperationContext
from emodal.operations.timeline import PREGATE, read_booking_number, read_container_timeline
from emodal.portal.containers import ContainersPage

NOT_PROCESSED = "Not processed: operation deadline reached"

Reader = Callable[[OperationContext, ContainersPage, str], dict[str, Any]]


def unique(items: list[str] | None) -> list[str]:
    """Request order with duplicates removed (each container runs once)."""
    return list(dict.fromkeys(items or []))


def import_item(ctx: OperationContext, page: ContainersPage, container_id: str) -> dict[str, Any]:
    """A successful import item: v1 names (``pregate_status`` is the *boolean* "passed Pregate")."""
    found = read_container_timeline(ctx, page, container_id)
    timeline = found["timeline"]
    pregate = next((m for m in timeline if m["milestone"] == PREGATE), None)
    return {"pregate_status": found["passed_pregate"], "pregate_details": pregate,
            "timeline": timeline, "milestone_count": found["milestone_count"]}


def export_item(ctx: OperationContext, page: ContainersPage, container_id: str) -> dict[str, Any]:
    """A successful export item: ``booking_number`` (``None`` still counts as success)."""
    return {"booking_number": read_booking_number(ctx, page, container_id)["booking_number"]}


#: The keys a failed item carries besides ``container_id``, ``success``, ``error_type``, ``error``.
IMPORT_FAILURE = {"pregate_status": None, "pregate_details": None, "timeline": [], "milestone_count": 0}
EXPORT_FAILURE = {"booking_number": None}


def get_info_bulk(ctx: OperationContext) -> dict[str, Any]:
    """The operation behind ``POST /get_info_bulk``."""
    imports = unique(ctx.params.get("import_containers"))
    exports = unique(ctx.params.get("export_containers"))
    plan = ([(cid, import_item, IMPORT_FAILURE, "import") for cid in imports]
            + [(cid, export_item, EXPORT_FAILURE, "export") for cid in exports])
    # Stop starting items when less than one element wait is left: a started item may need a
    # full scroll, and the answer (and its bundle) must still go out before OPERATION_TIMEOUT.
    reserve = float(ctx.settings.element_timeout)
    page = open_containers_page(ctx)
    page.deadline = ctx.deadline - min(reserve, 5.0)
    results: dict[str, list[dict[str, Any]]] = {"import": [], "export": []}
    succeeded = 0
    for index, (container_id, reader, failure, kind) in enumerate(plan, start=1):
        started = time.monotonic()
        if ctx.remaining() <= reserve:
            item = failed_item(container_id, failure, "portal_timeout", NOT_PROCESSED)
        else:
            ctx.log.info("bulk item %d/%d: %s %s", index, len(plan), kind, container_id)
            item = _run_item(ctx, page, container_id, reader, failure)
        results[kind].append(item)
        succeeded += item["success"]
        # One line per item with the running totals: a 200-item call runs for many minutes.
        ctx.log.info("bulk progress %d/%d: %d ok, %d failed (%s %s: %s in %.1fs)", index, len(plan), succeeded,
                     index - succeeded, kind, container_id, "ok" if item["success"] else item["error_type"],
                     time.monotonic() - started)
    summary = _summary(results["import"], results["export"])
    ok = summary["import_success"] + summary["export_success"]
    failed = summary["import_failed"] + summary["export_failed"]
    return {
        "message": f"Bulk processing completed: {ok} successful, {failed} failed",
        "results": {"import_results": results["import"], "export_results": results["export"],
                    "summary": summary},
    }


def _run_item(ctx: OperationContext, page: ContainersPage, container_id: str, reader: Reader,
              failure: dict[str, Any]) -> dict[str, Any]:
    try:
        if not page.is_open():  # a previous item's failure may have left another page
            page.open()
        item = {"container_id": container_id, "success": True, **reader(ctx, page, container_id)}
    except PortalSessionLost:
        raise
    except ApiError as exc:
        ctx.log.warning("bulk item %s failed: %s (%s)", container_id, exc.message, exc.error_type)
        ctx.screenshot("item_failed", container=container_id)
        return failed_item(container_id, failure, exc.error_type, exc.message)
    except WebDriverException as exc:
        error = PortalUnavailable("Browser error while reading the container")
        ctx.log.warning("bulk item %s failed: %s", container_id, type(exc).__name__)
        return failed_item(container_id, failure, error.error_type, error.message)
    return item


def failed_item(container_id: str, failure: dict[str, Any], error_type: str, error: str) -> dict[str, Any]:
    """A failed item in the v1 shape (a job's info_bulk rows use it too): the error and the
    empty values of ``failure`` (``IMPORT_FAILURE`` or ``EXPORT_FAILURE``)."""
    return {"container_id": container_id, "success": False, "error_type": error_type, "error": error,
            **{k: (list(v) if isinstance(v, list) else v) for k, v in failure.items()}}


def _summary(imports: list[dict[str, Any]], exports: list[dict[str, Any]]) -> dict[str, int]:
    import_ok = sum(1 for r in imports if r["success"])
    export_ok = sum(1 for r in exports if r["success"])
    return {"total_import": len(imports), "total_export": len(exports),
            "import_success": import_ok, "import_failed": len(imports) - import_ok,
            "export_success": export_ok, "export_failed": len(exports) - export_ok}


__all__ = ["EXPORT_FAILURE", "IMPORT_FAILURE", "NOT_PROCESSED", "export_item", "failed_item", "get_info_bulk", "import_item",
           "unique"]
