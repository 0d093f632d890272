"""The container timeline (``<app-containerflow>``) of an expanded Containers row (PORTAL_SPEC A7.8).

Why its own module: the timeline is the one place where the portal encodes data in styling only
(a milestone is done when its divider is navy), and the earlier automation got it wrong twice:
it reversed the list (assuming bottom-to-top HTML) and matched ``dividerflowcolor`` as a substring,
which ``dividerflowcolor2`` (pending) also contains. Everything is read in one script; the pure
:func:`summarize` turns the raw rows into the API shape so the rules are unit-tested.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from emodal.errors import PortalUnavailable

#: How the status was decided (API_SPEC 4.4); only the DOM class check is implemented.
DOM_CLASS_CHECK = "dom_class_check"
_ARROW_LABELS = ("arrow_drop_up", "arrow_drop_down")

# Milestone rows are the `div[fxlayout=row]`s of the component, in DOM order = visual order
# (newest first, A7.8 [I]). A label or divider belongs to its nearest enclosing row, so a wrapper
# row around milestone rows (unknown nesting, A13.5) yields nothing by itself. A row without its
# own divider borrows the previous, then the next row's (the Pregate rule of A7.8).
_TIMELINE_JS = """
var detail = arguments[0];
var flow = detail.querySelector('app-containerflow') || detail.querySelector('div.timeline-container');
if (!flow) { return null; }
function norm(s) { return (s || '').replace(/\\s+/g, ' ').trim(); }
var ROW = "div[fxlayout='row']";
var rows = Array.prototype.slice.call(flow.querySelectorAll(ROW));
function own(row, css) {
  return Array.prototype.slice.call(row.querySelectorAll(css)).filter(function (e) {
    return e.closest(ROW) === row;
  });
}
function dividerClass(row) {
  var d = own(row, 'div.timeline-divider');
  if (!d.length) { d = row.querySelectorAll('div.timeline-divider'); }
  return d.length ? d[0].getAttribute('class') : null;
}
var out = [];
for (var i = 0; i < rows.length; i++) {
  var labels = own(rows[i], '.location-details-label');
  if (!labels.length) { continue; }
  var first = norm(labels[0].textContent);
  if (first === 'arrow_drop_up' || first === 'arrow_drop_down') { continue; }
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
"""


def divider_status(class_attr: str | None) -> str:
    """``completed`` iff the class list has the token ``dividerflowcolor`` and nothing
    ``horizontalconflow``; else ``pending``.

    Token comparison, not substring: ``dividerflowcolor2`` (pending) contains ``dividerflowcolor``.
    A missing divider counts as pending: "done" must be proven, never assumed.
    """
    tokens = (class_attr or "").split()
    if "dividerflowcolor" in tokens and not any("horizontalconflow" in t for t in tokens):
        return "completed"
    return "pending"


@dataclass(frozen=True)
class Timeline:
    """A container's milestones, newest first, plus the Pregate verdict (API_SPEC 4.4)."""

    milestones: list[dict[str, Any]] = field(default_factory=list)
    pregate: dict[str, Any] | None = None
    detection_method: str = DOM_CLASS_CHECK

    @property
    def passed_pregate(self) -> bool | None:
        return None if self.pregate is None else self.pregate["status"] == "completed"

    def as_dict(self) -> dict[str, Any]:
        """The timeline part of the /get_container_timeline body."""
        return {
            "passed_pregate": self.passed_pregate,
            "pregate_status": None if self.pregate is None else self.pregate["status"],
            "pregate_date": None if self.pregate is None else self.pregate["date"],
            "timeline": [dict(m) for m in self.milestones],
            "milestone_count": len(self.milestones),
            "detection_method": self.detection_method,
        }


def summarize(raw_rows: list[dict[str, Any]]) -> Timeline:
    """Raw script rows -> :class:`Timeline`; names and dates verbatim, order untouched."""
    milestones = [
        {"milestone": row.get("name") or "", "date": row.get("date") or "N/A",
         "status": divider_status(row.get("divider"))}
        for row in raw_rows
    ]
    # A7.8: the Pregate milestone is the label whose normalized text is exactly "Pregate".
    pregate = next((m for m in milestones if m["milestone"] == "Pregate"), None)
    return Timeline(milestones=milestones, pregate=pregate)


def read_timeline(driver: WebDriver, detail_row: WebElement) -> Timeline:
    """Read the timeline of an expanded row's detail row (one ``execute_script``).

    Raises :class:`PortalUnavailable` when the detail has no ``app-containerflow``: the caller
    waited for it, so its absence means an unexpected page structure.
    """
    raw = driver.execute_script(_TIMELINE_JS, detail_row)
    if raw is None:
        raise PortalUnavailable("Container detail shows no timeline",
                                details="no app-containerflow in the expanded row")
    return summarize(list(raw))


__all__ = ["DOM_CLASS_CHECK", "Timeline", "divider_status", "read_timeline", "summarize"]
