"""The container timeline (``<app-containerflow>``) of an expanded Containers row (PORTAL_SPEC A7.8).

Why its own module: the timeline is the one place where the portal encodes data in styling only
(a milestone is done when its divider is navy), and the earlier automation got it wrong twice:
it reversed the list (assuming bottom-to-top HTML) and matched ``dividerflowcolor`` as a substring,
which ``dividerflowcolor2`` (pending) also contains. Everything is read in one script; the pure
:func:`milestones` turns the raw rows into :class:`Milestone` data, so the rules are unit-tested.
What the API makes of them (the Pregate verdict, the body keys) is the operation's business
(:mod:`emodal.operations.timeline`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from emodal.errors import PortalUnavailable

# --- locators (defined once) -------------------------------------------------------------------------
#: The timeline component, and its fallback container [W] (A7.8).
TIMELINE_CSS = "app-containerflow"
TIMELINE_FALLBACK_CSS = "div.timeline-container"
MILESTONE_ROW_CSS = "div[fxlayout='row']"
LABEL_CSS = ".location-details-label"
DIVIDER_CSS = "div.timeline-divider"
#: Rows whose first label is one of these arrow ligatures are decoration, not milestones.
ARROW_LABELS = ("arrow_drop_up", "arrow_drop_down")

# Milestone rows are the `div[fxlayout=row]`s of the component, in DOM order = visual order
# (newest first, A7.8 [I]). A label or divider belongs to its nearest enclosing row, so a wrapper
# row around milestone rows (unknown nesting, A13.5) yields nothing by itself. A row without its
# own divider borrows the previous, then the next row's (the Pregate rule of A7.8).
_TIMELINE_JS = (
    f"var FLOW = {json.dumps(TIMELINE_CSS)}, FLOW_FALLBACK = {json.dumps(TIMELINE_FALLBACK_CSS)},"
    f" ROW = {json.dumps(MILESTONE_ROW_CSS)}, LABEL = {json.dumps(LABEL_CSS)},"
    f" DIVIDER = {json.dumps(DIVIDER_CSS)}, ARROWS = {json.dumps(list(ARROW_LABELS))};"
    + """
var detail = arguments[0];
var flow = detail.querySelector(FLOW) || detail.querySelector(FLOW_FALLBACK);
if (!flow) { return null; }
function norm(s) { return (s || '').replace(/\\s+/g, ' ').trim(); }
var rows = Array.prototype.slice.call(flow.querySelectorAll(ROW));
function own(row, css) {
  return Array.prototype.slice.call(row.querySelectorAll(css)).filter(function (e) {
    return e.closest(ROW) === row;
  });
}
function dividerClass(row) {
  var d = own(row, DIVIDER);
  if (!d.length) { d = row.querySelectorAll(DIVIDER); }
  return d.length ? d[0].getAttribute('class') : null;
}
var out = [];
for (var i = 0; i < rows.length; i++) {
  var labels = own(rows[i], LABEL);
  if (!labels.length) { continue; }
  if (ARROWS.indexOf(norm(labels[0].textContent)) >= 0) { continue; }
  var name = null, date = null;
  labels.forEach(function (l) {
    if (l.classList.contains('p-top-5')) { if (date === null) { date = norm(l.textContent); } }
    else if (name === null) { name = norm(l.textContent); }
  });
  if (date === null && labels.length > 1) { date = norm(labels[1].textContent); }
  var cls = dividerClass(rows[i]);
  if (cls === null && i > 0) { cls = dividerClass(rows[i - 1]); }
  if (cls === null && i + 1 < rows.length) { cls = dividerClass(rows[i + 1]); }
  out.push({name: name, date: date, divider: cls});
}
return out;
""")


@dataclass(frozen=True)
class Milestone:
    """One timeline milestone as the page shows it: name and date verbatim (``None`` when the
    row has none), done or not."""

    name: str
    date: str | None
    completed: bool


def divider_completed(class_attr: str | None) -> bool:
    """True iff the class list has the token ``dividerflowcolor`` and nothing ``horizontalconflow``.

    Token comparison, not substring: ``dividerflowcolor2`` (pending) contains ``dividerflowcolor``.
    A missing divider counts as pending: "done" must be proven, never assumed.
    """
    tokens = (class_attr or "").split()
    return "dividerflowcolor" in tokens and not any("horizontalconflow" in t for t in tokens)


def milestones(raw_rows: list[dict[str, Any]]) -> list[Milestone]:
    """Raw script rows -> :class:`Milestone` list; names and dates verbatim, order untouched."""
    return [Milestone(name=row.get("name") or "", date=row.get("date") or None,
                      completed=divider_completed(row.get("divider")))
            for row in raw_rows]


def read_milestones(driver: WebDriver, detail_row: WebElement) -> list[Milestone]:
    """Read the timeline of an expanded row's detail row (one ``execute_script``).

    Raises :class:`PortalUnavailable` when the detail has no timeline component: the caller
    waited for it, so its absence means an unexpected page structure.
    """
    raw = driver.execute_script(_TIMELINE_JS, detail_row)
    if raw is None:
        raise PortalUnavailable("Container detail shows no timeline",
                                details="no app-containerflow in the expanded row")
    return milestones(list(raw))


__all__ = ["Milestone", "TIMELINE_CSS", "divider_completed", "milestones", "read_milestones"]
