"""JavaScript run in the Containers page (PORTAL_SPEC A7), kept apart from the page-object logic.

Why scripts: a grid of ~450 rows x 20 cells read cell by cell over WebDriver costs thousands of
round trips; one script returns everything (STYLE.md 4). Every script starts from the real
portal's grid (``div#searchres[matinfinitescroll]``, A7.2) and uses only Part A facts: header texts,
native table rows, the container number as the first text node of its element (A6 XPath table),
Material icon ligatures (A6). Sandbox-only classes ([S] in B10/B16: ``badge``, ``element-row``,
``detail-row``, ``field-grid``) are never used.
"""
from __future__ import annotations

import json

from emodal.portal.timeline import TIMELINE_CSS

GRID_CSS = "div#searchres[matinfinitescroll]"
#: A detail row counts as expanded once it holds the timeline or a div whose class names a
#: timeline or containerflow (A7.6 success rule).
EXPANDED_DETAIL_CSS = f"{TIMELINE_CSS}, div[class*='timeline'], div[class*='containerflow']"

# Shared helpers, prepended to every script below.
#  - textOf: visible-ish text of a cell without Material icon ligatures (`info` before YES/NO,
#    `keyboard_arrow_right`, `more_vert`): the export and the selection text omit them (A7.3/A7.4).
#  - dataRows: body rows with a cell for every header. Expanded detail rows (one wide cell,
#    A7.6 [I]) are not data rows, whatever their classes are on the real site.
_HELPERS = f"var GRID_CSS = {json.dumps(GRID_CSS)}, EXPANDED_DETAIL_CSS = {json.dumps(EXPANDED_DETAIL_CSS)};" + """
function norm(s) { return (s || '').replace(/\\s+/g, ' ').trim(); }
function textOf(el) {
  var parts = [], walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT, null), n;
  while ((n = walker.nextNode())) {
    if (n.parentElement && n.parentElement.closest('mat-icon')) { continue; }
    parts.push(n.nodeValue);
  }
  return norm(parts.join(' '));
}
function grid() { return document.querySelector(GRID_CSS); }
function headerCells(g) {
  var table = g.querySelector('table');
  if (!table || !table.tHead) { return []; }
  var rows = table.tHead.rows;
  return rows.length ? Array.prototype.slice.call(rows[rows.length - 1].cells) : [];
}
function dataRows(g, width) {
  var out = [], table = g.querySelector('table');
  if (!table) { return out; }
  for (var b = 0; b < table.tBodies.length; b++) {
    var rows = table.tBodies[b].rows;
    for (var r = 0; r < rows.length; r++) {
      if (rows[r].cells.length >= width) { out.push(rows[r]); }
    }
  }
  return out;
}
function firstText(el) {
  var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT, null), n;
  while ((n = walker.nextNode())) { if (norm(n.nodeValue)) { return n; } }
  return null;
}
function rowOf(g, id) {
  var xp = ".//tbody/tr[.//*[contains(text(),'" + id + "')]]";
  return document.evaluate(xp, g, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
}
function arrowOf(row) {
  var icons = row.querySelectorAll('mat-icon');
  for (var i = 0; i < icons.length; i++) {
    var t = norm(icons[i].textContent);
    if (t === 'keyboard_arrow_right' || t === 'expand_more') { return {state: 'collapsed', icon: icons[i]}; }
    if (t === 'keyboard_arrow_down' || t === 'expand_less') { return {state: 'expanded', icon: icons[i]}; }
  }
  return {state: 'none', icon: null};
}
function detailOf(row) {
  var next = row.nextElementSibling;
  if (!next || next.cells.length >= row.cells.length) { return null; }
  return next;
}
function hasFlow(el) {
  return !!(el && el.querySelector(EXPANDED_DETAIL_CSS));
}
"""

# Count of loaded data rows; -1 when the grid is gone (navigation, logout reload).
ROW_COUNT_JS = _HELPERS + """
var g = grid(); if (!g) { return -1; }
return dataRows(g, headerCells(g).length || 1).length;
"""

# Every loaded row in one call. Column positions come from the header texts: the first two
# columns (select, expand) have empty headers, data columns start at `Container #` (A7.3).
READ_ROWS_JS = _HELPERS + """
var g = grid(); if (!g) { return {error: 'no_grid'}; }
var ths = headerCells(g), cols = [], headers = [], started = false;
for (var i = 0; i < ths.length; i++) {
  var h = textOf(ths[i]);
  if (h === 'Container #') { started = true; }
  if (started && h) { cols.push(i); headers.push(h); }
}
if (!cols.length) { return {error: 'no_headers', headers: ths.map(textOf)}; }
var rows = [], badges = [], body = dataRows(g, ths.length);
for (var r = 0; r < body.length; r++) {
  var cells = body[r].cells, values = [];
  for (var c = 0; c < cols.length; c++) {
    var td = cells[cols[c]];
    if (c === 0) {
      // The number is the cell's first text node; the L/E badge is the text after it (A7.3).
      var first = firstText(td), number = first ? norm(first.nodeValue) : '';
      var all = textOf(td), rest = norm(all.indexOf(number) === 0 ? all.slice(number.length) : '');
      values.push(number); badges.push(rest || null);
    } else {
      values.push(textOf(td));
    }
  }
  rows.push(values);
}
return {headers: headers, rows: rows, badges: badges};
"""

# One scroll cycle on #searchres. Jump straight to the bottom and fire `scroll` (+ `wheel`): an
# infinite-scroll directive throttles scroll events, so several synthetic steps in one tick would
# be collapsed into the first (not-yet-at-bottom) one (A7.5, B17 rule 5). Never clicks the grid.
SCROLL_JS = _HELPERS + """
var g = grid(); if (!g) { return -1; }
g.scrollTop = g.scrollHeight;
g.dispatchEvent(new Event('scroll'));
g.dispatchEvent(new WheelEvent('wheel', {deltaY: 600, bubbles: true, cancelable: true}));
return dataRows(g, headerCells(g).length || 1).length;
"""

# Is the container loaded and displayed? `//*[contains(text(),ID)]` as on the real site (A7.5).
HAS_CONTAINER_JS = _HELPERS + """
var g = grid(); if (!g) { return null; }
var xp = ".//*[contains(text(),'" + arguments[0] + "')]";
var it = document.evaluate(xp, g, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
for (var i = 0; i < it.snapshotLength; i++) {
  if (it.snapshotItem(i).getClientRects().length) { return true; }
}
return false;
"""

# The data row of a container, centred (scrollIntoView inside #searchres only), or null.
ROW_JS = _HELPERS + """
var g = grid(); if (!g) { return null; }
var row = rowOf(g, arguments[0]);
if (row) { row.scrollIntoView({block: 'center', inline: 'nearest'}); }
return row;
"""

# Expansion state of a data row: arrow ligature, detail row (next sibling, A7.6) and whether it
# already shows the timeline component.
ROW_STATE_JS = _HELPERS + """
var row = arguments[0], a = arrowOf(row), d = detailOf(row);
return {arrow: a.state, icon: a.icon, detail: d, flow: hasFlow(d),
        detail_visible: !!(d && d.getClientRects().length)};
"""

# Booking number from the detail panel (A7.7). Labels and values are siblings, labels first
# (`Status`, `Booking #`, then `GATE IN`, `RICFEM857500`), so the value is the following sibling
# `div.field-data` carrying `btn-link` (the blue link), else the field-data sibling at the label's
# position among the labels. Text fallback: the lines after `Booking #` (status line, then number).
BOOKING_JS = _HELPERS + """
var detail = arguments[0];
var labels = detail.querySelectorAll('div.field-label');
for (var i = 0; i < labels.length; i++) {
  if (norm(labels[i].textContent) !== 'Booking #') { continue; }
  var sibs = Array.prototype.slice.call(labels[i].parentElement.children);
  var sameLabels = sibs.filter(function (e) { return e.matches('div.field-label'); });
  var data = sibs.filter(function (e) { return e.matches('div.field-data'); });
  var after = sibs.slice(sibs.indexOf(labels[i]) + 1);
  for (var j = 0; j < after.length; j++) {
    if (after[j].matches('div.field-data.btn-link')) { return {value: norm(after[j].textContent), source: 'field'}; }
  }
  var k = sameLabels.indexOf(labels[i]);
  if (k < data.length) { return {value: norm(data[k].textContent), source: 'field'}; }
}
var lines = (detail.innerText || '').split('\\n').map(norm).filter(function (s) { return s; });
var at = lines.indexOf('Booking #');
return {value: null, source: null, lines: at < 0 ? [] : lines.slice(at + 1, at + 5)};
"""
