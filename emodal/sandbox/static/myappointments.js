/*
 * Truckerportal My Appointments (PORTAL_SPEC A9, B12): a table in the normal page flow (the
 * window scrolls), rows led by legacy mat-checkboxes, 20 rows at a time appended when a window
 * scroll finds the viewport near the bottom, and an Excel export of the selected loaded rows.
 */
(function () {
  'use strict';
  var h = EM.h, data = EM.page.data, knobs = EM.page.knobs;
  var NEAR_BOTTOM_PX = 300;
  var KEYS = ['appointmentNumber', 'appointmentTime', 'terminal', 'moveType', 'containerNumber',
    'bookingNumber', 'line', 'sizeType', 'truckPlate', 'truckingCompany', 'status'];
  var loaded = [], total = null, loading = false, tbody = null;

  function cellClass(kind, key) {
    return 'mat-' + kind + ' cdk-' + kind + ' cdk-column-' + key + ' mat-column-' + key;
  }

  function addRow(values) {
    var box = EM.checkbox({});
    var tr = h('tr', { class: 'mat-row cdk-row element-row', role: 'row', inserted: true },
      h('td', { class: cellClass('cell', 'select'), role: 'gridcell' }, box.el),
      values.map(function (value, i) {
        var status = i === KEYS.length - 1 ? ' status-' + String(value).toLowerCase() : '';
        return h('td', { class: cellClass('cell', KEYS[i]) + status, role: 'gridcell' }, value);
      }));
    loaded.push({ number: values[0], box: box });
    tbody.appendChild(tr);
  }

  function loadMore() {
    if (loading || (total !== null && loaded.length >= total)) return null;
    loading = true;
    // A failed call leaves the table as it is; the next scroll retries.
    return EM.api('GET', 'api/appointments?offset=' + loaded.length + '&limit=' + data.page_size)
      .then(function (res) { total = res.total; res.rows.forEach(addRow); }, function () {})
      .then(function () { loading = false; });
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - NEAR_BOTTOM_PX;
  }

  function download(blob) {
    var url = URL.createObjectURL(blob);
    var link = h('a', { href: url, download: 'MyAppointments.xlsx', style: 'display:none' });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  function exportRows() {
    var chosen = loaded.filter(function (r) { return r.box.isChecked(); });
    var numbers = (chosen.length ? chosen : loaded).map(function (r) { return r.number; });
    var job = EM.delay(knobs.excel_ms || 0).then(function () {
      return fetch(EM.page.base + '/api/appointments/export', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
        body: JSON.stringify({ numbers: numbers })
      });
    }).then(function (response) {
      if (response.status === 401) { location.reload(); return new Promise(function () {}); }
      if (!response.ok) throw new Error('export failed: ' + response.status);
      return response.blob();
    }).then(download);
    EM.track(job).catch(function (err) { console.error(err); });
  }

  function toolbar() {
    var excel = EM.button(EM.svgIcon('xls'), { flavour: 'mat-icon-button', classes: 'excel-button', attrs: { mattooltip: 'Excel' }, onClick: exportRows });
    EM.tooltip(excel, 'Excel');
    return h('div', { class: 'appointments-toolbar' },
      h('span', { class: 'page-title' }, 'My Appointments'),
      h('span', { class: 'toolbar-spacer' }),
      EM.button(EM.icon('refresh'), { flavour: 'mat-icon-button', classes: 'refresh-button', onClick: function () { location.reload(); } }),
      excel);
  }

  EM.boot(function (outlet) {
    tbody = h('tbody', { role: 'rowgroup' });
    var head = h('tr', { class: 'mat-header-row cdk-header-row', role: 'row' },
      h('th', { class: cellClass('header-cell', 'select'), role: 'columnheader' }),
      data.columns.map(function (text, i) { return h('th', { class: cellClass('header-cell', KEYS[i]), role: 'columnheader' }, text); }));
    var table = h('table', { class: 'mat-table cdk-table appointments-table', role: 'table' }, h('thead', { role: 'rowgroup' }, head), tbody);
    outlet.parentNode.insertBefore(h('app-my-appointments', { class: 'my-appointments' }, toolbar(), table), outlet.nextSibling);
    window.addEventListener('scroll', function () { if (nearBottom()) loadMore(); });
    return loadMore();
  });
})();
