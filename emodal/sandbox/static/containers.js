/*
 * ecp2 Containers page (PORTAL_SPEC A7, B10): toolbar, infinite-scroll grid in
 * div#searchres, row expansion with the detail panel and <app-containerflow> timeline,
 * select-all and the Excel export.
 *
 * Portal quirks reproduced on purpose:
 * - rows are only ever appended (no virtual scrolling): a full scroll keeps every row;
 * - only scroll events of #searchres load more; window scrolling loads nothing;
 * - the Container # cell's first child node is the number's text node, badge right after;
 * - row icons are unselectable so a Range copy of #searchres lacks their ligatures;
 * - every delay (batch, expansion, export) is tracked so isStable() is false meanwhile.
 */
(function () {
  'use strict';
  var h = EM.h;
  var knobs = EM.page.knobs || {};
  var COLUMNS = (EM.page.data && EM.page.data.columns) || [];
  var COLOURED = { status: true, emodalPregateStatus: true, gateStatus: true };
  var XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

  var grid = {
    rows: [],          // {data, tr, checkbox, arrow, detailTr}, in grid order
    total: null,       // known after the first batch
    loading: false,
    expanded: null,
    expandSeq: 0
  };
  var ui = {};

  function cellClass(kind, key) {
    var p = kind ? kind + '-' : '';
    return 'mat-' + p + 'cell cdk-' + p + 'cell cdk-column-' + key + ' mat-column-' + key;
  }

  function fieldOf(key) {
    return key.replace(/[A-Z]/g, function (m) { return '_' + m.toLowerCase(); });
  }

  function valueClass(text) {
    var slug = String(text).toLowerCase().replace(/[^a-z]+/g, '-').replace(/^-|-$/g, '');
    return 'val-' + (slug || 'masked');
  }

  /* ---- toolbar (A7.1) ------------------------------------------------------------------ */
  function iconButton(icon, classes) {
    return EM.button(icon, { flavour: 'mat-icon-button', classes: classes || '' });
  }

  function buildToolbar() {
    ui.actions = EM.button(['Actions', ' ', EM.icon('arrow_drop_down')],
      { flavour: 'mat-button', classes: 'actions-button', disabled: true });
    var excel = EM.button(EM.svgIcon('xls'), {
      flavour: 'mat-icon-button', classes: 'excel-button', attrs: { mattooltip: 'Excel' },
      onClick: exportExcel
    });
    EM.tooltip(excel, 'Excel');
    return h('div', { class: 'containers-toolbar' },
      h('div', { class: 'page-title' }, 'Containers'),
      ui.actions,
      EM.button('Add to My Containers', { flavour: 'mat-stroked-button', classes: 'add-button' }),
      h('div', { class: 'icon-group' }, iconButton(EM.icon('email')), iconButton(EM.svgIcon('pdf')), excel),
      h('div', { class: 'icon-group' }, iconButton(EM.icon('refresh')), iconButton(EM.icon('filter_alt')),
        EM.button(['Saved Views', EM.icon('arrow_drop_down')], { flavour: 'mat-button', classes: 'views-button' }),
        iconButton(EM.icon('save'))));
  }

  /* ---- grid header (A7.3) -------------------------------------------------------------- */
  function buildHeader() {
    ui.selectAll = EM.checkbox({ onChange: function (checked) { setAllChecked(checked); } });
    var selectTh = h('th', { class: cellClass('header', 'select'), role: 'columnheader' }, ui.selectAll.el);
    // A click anywhere in the th toggles too (A7.9); clicks on the box itself are its own.
    selectTh.addEventListener('click', function (event) {
      if (!ui.selectAll.el.contains(event.target)) ui.selectAll.setChecked(!ui.selectAll.isChecked());
    });
    var cells = [selectTh, h('th', { class: cellClass('header', 'expand'), role: 'columnheader' })];
    COLUMNS.forEach(function (column) {
      var key = column[0], label = column[1];
      // Labels sit in sort-header blocks except Fees and Tags, whose text is direct (A7.4).
      var content = (key === 'fees' || key === 'tags') ? label
        : h('div', { class: 'mat-sort-header-container' }, h('div', { class: 'mat-sort-header-content' }, label));
      cells.push(h('th', { class: cellClass('header', key) + ' mat-sort-header', role: 'columnheader' }, content));
    });
    return h('thead', { role: 'rowgroup' }, h('tr', { class: 'mat-header-row cdk-header-row', role: 'row' }, cells));
  }

  /* ---- rows (A7.3, B10) ---------------------------------------------------------------- */
  function cellContent(key, d) {
    switch (key) {
      case 'containerNumber':
        return [d.number, d.badge ? h('span', { class: 'badge badge-' + d.badge.toLowerCase() }, d.badge) : null];
      case 'holds':
        if (d.holds === 'N/A') return ['N/A'];
        return [EM.icon('info', 'holds-icon holds-' + d.holds.toLowerCase()), ' ' + d.holds];
      case 'pregateTicket':
        if (d.pregate_ticket === 'N/A' || d.pregate_ticket.charAt(0) === '*') return [d.pregate_ticket];
        return [h('span', { class: 'btn-link' }, d.pregate_ticket),
          d.pregate_ticket_small ? [' ', h('span', { class: 'small' }, d.pregate_ticket_small)] : null];
      case 'fees':
        return [h('div', { class: 'fees' }, d.fees_icon ? EM.svgIcon('fees') : 'N/A')];
      case 'lfdGtd':
        return [h('div', { class: 'lfd-gtd' }, d.lfd_gtd)];
      case 'tags':
        return [h('div', { class: 'tags' }, d.tags)];
      default:
        return [d[fieldOf(key)]];
    }
  }

  function buildRow(d, index) {
    var row = { data: d, detailTr: null };
    row.checkbox = EM.checkbox({ onChange: updateSelection });
    row.arrow = d.unknown ? null : EM.icon('keyboard_arrow_right', 'expand-arrow');
    var cells = [
      h('td', { class: cellClass('', 'select'), role: 'cell' }, row.checkbox.el),
      h('td', { class: cellClass('', 'expand'), role: 'cell' }, row.arrow)
    ];
    COLUMNS.forEach(function (column) {
      var key = column[0];
      var cls = cellClass('', key);
      if (COLOURED[key]) cls += ' ' + valueClass(d[fieldOf(key)]);
      cells.push(h('td', { class: cls, role: 'cell' }, cellContent(key, d)));
    });
    row.tr = h('tr', { class: 'mat-row cdk-row element-row' + (index % 2 ? ' row-alt' : ''), role: 'row', inserted: true }, cells);
    row.tr.addEventListener('click', function (event) {
      if (d.unknown) return;  // unknown rows have no arrow and ignore clicks
      if (event.target.closest('.mat-column-select, .btn-link, .more-vert-button')) return;
      toggle(row);
    });
    row.tr.addEventListener('mouseenter', function () {
      if (row.more) return;
      row.more = iconButton(EM.icon('more_vert'), 'more-vert-button');
      cells[cells.length - 1].appendChild(row.more);
    });
    row.tr.addEventListener('mouseleave', function () {
      if (row.more) { row.more.remove(); row.more = null; }
    });
    return row;
  }

  function appendRows(batch) {
    batch.rows.forEach(function (d) {
      var row = buildRow(d, grid.rows.length);
      grid.rows.push(row);
      ui.tbody.appendChild(row.tr);
    });
    grid.total = batch.total;
    updateSelection();
  }

  /* ---- infinite scroll (A7.5, B10) ----------------------------------------------------- */
  function loadBatch(limit, latency) {
    grid.loading = true;
    var offset = grid.rows.length;
    var work = EM.api('GET', 'api/containers?offset=' + offset + '&limit=' + limit).then(function (batch) {
      return EM.delay(latency).then(function () {
        if (grid.rows.length === offset) appendRows(batch);
      });
    });
    // A failed XHR applies nothing; the next scroll simply tries again (B10 "XHR faults").
    return EM.track(work.then(function () { grid.loading = false; }, function () { grid.loading = false; }));
  }

  function onScroll() {
    var box = ui.searchres;
    if (grid.loading || (grid.total !== null && grid.rows.length >= grid.total)) return;
    if (box.scrollTop + box.clientHeight >= box.scrollHeight - 100) {
      loadBatch(knobs.batch_size || 24, knobs.scroll_batch_latency_ms || 0);
    }
  }

  /* ---- selection (A7.9) ---------------------------------------------------------------- */
  function selectedRows() {
    return grid.rows.filter(function (row) { return row.checkbox.isChecked(); });
  }

  function setAllChecked(checked) {
    grid.rows.forEach(function (row) { row.checkbox.setChecked(checked, true); });
    updateSelection();
  }

  function updateSelection() {
    var count = selectedRows().length;
    var all = count > 0 && count === grid.rows.length;
    ui.selectAll.setChecked(all, true);
    ui.selectAll.setIndeterminate(count > 0 && !all);
    ui.actions.setDisabled(count === 0);
  }

  /* ---- expansion (A7.6, B10) ----------------------------------------------------------- */
  function toggle(row) {
    if (grid.expanded === row) collapse(row);
    else expand(row);
  }

  function collapse(row) {
    row.tr.classList.remove('expanded');
    row.arrow.textContent = 'keyboard_arrow_right';
    if (row.detailTr) { row.detailTr.remove(); row.detailTr = null; }
    if (grid.expanded === row) grid.expanded = null;
  }

  function expand(row) {
    if (grid.expanded) collapse(grid.expanded);  // one expanded row at a time [S]
    grid.expanded = row;
    var seq = ++grid.expandSeq;
    row.tr.classList.add('expanded');
    row.arrow.textContent = 'keyboard_arrow_down';
    var current = function () { return seq === grid.expandSeq && grid.expanded === row; };
    var work = EM.api('GET', 'api/containers/' + encodeURIComponent(row.data.number)).then(function (detail) {
      if (!current()) return null;
      row.detailTr = buildDetailRow(detail);
      row.tr.parentNode.insertBefore(row.detailTr, row.tr.nextSibling);
      return EM.delay(knobs.expand_animation_ms || 0).then(function () {
        if (row.detailTr) row.detailTr.classList.remove('detail-row-opening');
      });
    }).catch(function () {
      if (current()) collapse(row);  // a failed detail XHR leaves the row as it was
    });
    return EM.track(work);
  }

  /* ---- detail panel (A7.7, B10) -------------------------------------------------------- */
  function labelValueGrid(pairs, cls) {
    var labels = pairs.map(function (p) { return h('div', { class: 'field-label', inserted: true }, p[0]); });
    var values = pairs.map(function (p) { return h('div', { class: 'field-data', inserted: true }, p[1]); });
    var gridEl = h('div', { class: 'field-grid' + (cls ? ' ' + cls : '') }, labels, values);
    gridEl.style.gridTemplateRows = 'repeat(' + Math.max(pairs.length, 1) + ', auto)';
    return gridEl;
  }

  function statusGrid(d) {
    // Labels first in DOM order (A7.7): Status, Booking #, then their values.
    var booking = d.booking_number;
    return h('div', { class: 'field-grid status-grid' + (booking ? ' with-booking' : '') },
      h('div', { class: 'field-label', inserted: true }, 'Status'),
      booking ? h('div', { class: 'field-label', inserted: true }, 'Booking #') : null,
      h('div', { class: 'field-data', inserted: true }, d.status),
      booking ? h('div', { class: 'field-data btn-link', inserted: true }, booking) : null);
  }

  function card(c) {
    return h('mat-card', { class: 'mat-card mat-focus-indicator detail-card', inserted: true },
      h('mat-card-title', { class: 'mat-card-title' }, c.title),
      h('mat-card-content', { class: 'mat-card-content' }, labelValueGrid(c.fields, 'card-grid')));
  }

  function timeline(milestones) {
    var box = h('div', { class: 'timeline-container' },
      h('div', { class: 'curr-loc-div arrow-row', fxlayout: 'row' }, EM.icon('arrow_drop_up', 'location-details-label')));
    milestones.forEach(function (m, i) {
      // Exactly one divider per milestone; pending ones must not contain "dividerflowcolor" (A7.8 trap).
      box.appendChild(h('div', {
        class: 'curr-loc-div ' + (i % 2 ? 'flow-left' : 'flow-right') + (m.completed ? ' flow-done' : ''),
        fxlayout: 'row', inserted: true
      },
        h('div', { class: 'timeline-divider ' + (m.completed ? 'dividerflowcolor' : 'horizontalconflow') }),
        h('div', { class: 'location-details', fxlayout: 'column' },
          h('span', { class: 'location-details-label' }, m.name),
          h('span', { class: 'location-details-label p-top-5' }, m.date))));
    });
    return h('app-containerflow', {}, box);
  }

  function buildDetailRow(d) {
    var panel = h('div', { class: 'element-detail' },
      h('div', { class: 'detail-header' },
        h('span', { class: 'facility' }, d.facilities[0]), h('span', { class: 'facility' }, d.facilities[1])),
      h('div', { class: 'detail-body' },
        h('div', { class: 'detail-info' }, statusGrid(d), h('div', { class: 'detail-cards' }, d.cards.map(card))),
        timeline(d.timeline)));
    return h('tr', { class: 'mat-row cdk-row detail-row detail-row-opening', role: 'row', inserted: true },
      h('td', { class: cellClass('', 'expandedDetail'), colspan: '20', role: 'cell' }, panel));
  }

  /* ---- Excel export (A7.9, B10) -------------------------------------------------------- */
  function download(filename, base64) {
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    var url = URL.createObjectURL(new Blob([bytes], { type: XLSX_TYPE }));
    var link = h('a', { href: url, download: filename, style: 'display:none' });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  function exportExcel() {
    var rows = selectedRows();
    if (!rows.length) rows = grid.rows;  // nothing selected: every loaded row [S]
    var numbers = rows.map(function (row) { return row.data.number; });
    var work = EM.api('POST', 'api/containers/export', { numbers: numbers }).then(function (file) {
      return EM.delay(knobs.excel_ms || 0).then(function () { download(file.filename, file.content_base64); });
    });
    return EM.track(work.catch(function () { return null; }));
  }

  /* ---- page ---------------------------------------------------------------------------- */
  function render(outlet) {
    ui.tbody = h('tbody', { role: 'rowgroup' });
    var table = h('table', { class: 'mat-table cdk-table mat-sort', role: 'table' }, buildHeader(), ui.tbody);
    ui.searchres = h('div', { id: 'searchres', class: 'search-results', matinfinitescroll: '' }, table);
    ui.searchres.addEventListener('scroll', onScroll);
    var page = h('app-containers', { class: 'containers-page' }, buildToolbar(), ui.searchres);
    outlet.parentNode.insertBefore(page, outlet.nextSibling);
    return loadBatch(knobs.first_batch || 24, 0);
  }

  EM.boot(render);
})();
