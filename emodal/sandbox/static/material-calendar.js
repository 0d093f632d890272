/*
 * Sandbox platform, part 4: the legacy Material date picker of the export wizard (PORTAL_SPEC B11.4).
 *
 *   EM.forms.datepicker(opts)   input + calendar_month toggle opening a legacy mat-calendar in the
 *       CDK overlay; opts: label, placeholder, enabled (['YYYY-MM-DD']), onPick(iso).
 *       Returns {el, input, value()}. Cells: td.mat-calendar-body-cell[aria-label="October 24, 2025"],
 *       days without availability carry mat-calendar-body-disabled.
 *
 * Separate from material-forms.js (which it builds on: EM.forms.input, EM.forms.formField) to keep
 * each widget file small.
 */
(function () {
  'use strict';
  var EM = window.EM;
  var h = EM.h;
  var pickers = 0;
  var MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
    'September', 'October', 'November', 'December'];

  function setFloat(node, on) {
    var field = node.closest ? node.closest('mat-form-field') : null;
    if (field) field.classList.toggle('mat-form-field-should-float', !!on);
  }

  function iso(d) { return d.getFullYear() + '-' + ('0' + (d.getMonth() + 1)).slice(-2) + '-' + ('0' + d.getDate()).slice(-2); }
  function us(d) { return ('0' + (d.getMonth() + 1)).slice(-2) + '/' + ('0' + d.getDate()).slice(-2) + '/' + d.getFullYear(); }
  function parseIso(text) { var p = text.split('-'); return new Date(+p[0], +p[1] - 1, +p[2]); }

  function calendar(month, enabled, picked, onPick, onMonth) {
    var first = new Date(month.getFullYear(), month.getMonth(), 1);
    var days = new Date(month.getFullYear(), month.getMonth() + 1, 0).getDate();
    var body = h('tbody', { class: 'mat-calendar-body', role: 'grid' });
    var row = h('tr', { role: 'row' });
    var lead = first.getDay();
    if (lead) row.appendChild(h('td', { class: 'mat-calendar-body-label', colspan: String(lead) }));
    for (var day = 1; day <= days; day++) {
      var date = new Date(month.getFullYear(), month.getMonth(), day);
      var ok = enabled.indexOf(iso(date)) !== -1;
      var isPicked = picked === iso(date);
      var cell = h('td', {
        role: 'gridcell', tabindex: '-1', 'data-mat-row': String(body.children.length), 'data-mat-col': String(date.getDay()),
        class: 'mat-calendar-body-cell' + (ok ? ' mat-calendar-body-active' : ' mat-calendar-body-disabled'),
        'aria-label': MONTHS[date.getMonth()] + ' ' + day + ', ' + date.getFullYear(),
        'aria-disabled': ok ? null : 'true', 'aria-selected': String(isPicked),
        style: 'width: 14.2857%; padding-top: 7.14286%; padding-bottom: 7.14286%;'
      }, h('div', {
        class: 'mat-calendar-body-cell-content mat-focus-indicator' + (isPicked ? ' mat-calendar-body-selected' : '') +
          (iso(date) === iso(new Date()) ? ' mat-calendar-body-today' : '')
      }, String(day)), h('div', { class: 'mat-calendar-body-cell-preview', 'aria-hidden': 'true' }));
      if (ok) cell.addEventListener('click', onPick.bind(null, iso(date)));
      row.appendChild(cell);
      if (date.getDay() === 6 || day === days) { body.appendChild(row); row = h('tr', { role: 'row' }); }
    }
    function nav(cls, label, delta) {
      return EM.button(h('span', {}), {
        flavour: 'mat-icon-button', classes: cls,
        attrs: { 'aria-label': label }, onClick: function () { onMonth(delta); }
      });
    }
    var head = h('tr', {}, ['S', 'M', 'T', 'W', 'T', 'F', 'S'].map(function (d) { return h('th', { scope: 'col' }, d); }));
    return h('mat-calendar', { class: 'mat-calendar', id: 'mat-datepicker-' + pickers },
      h('mat-calendar-header', {}, h('div', { class: 'mat-calendar-header' },
        h('div', { class: 'mat-calendar-controls' },
          EM.button((MONTHS[month.getMonth()].slice(0, 3) + ' ' + month.getFullYear()).toUpperCase(),
            { flavour: 'mat-button', classes: 'mat-calendar-period-button' }),
          h('div', { class: 'mat-calendar-spacer' }),
          nav('mat-calendar-previous-button', 'Previous month', -1),
          nav('mat-calendar-next-button', 'Next month', 1)))),
      h('div', { class: 'mat-calendar-content' }, h('mat-month-view', {},
        h('table', { class: 'mat-calendar-table', role: 'grid' },
          h('thead', { class: 'mat-calendar-table-header' }, head), body))));
  }

  function datepicker(opts) {
    opts = opts || {};
    pickers += 1;
    var enabled = opts.enabled || [];
    var picked = null;
    var month = enabled.length ? parseIso(enabled[0]) : new Date();
    var handle = null;
    var field = null;
    var box = EM.forms.input({ class: 'mat-datepicker-input', readonly: true, 'aria-haspopup': 'dialog', placeholder: opts.placeholder || null });
    function pick(day) {
      picked = day;
      box.value = us(parseIso(day));
      setFloat(box, true);
      if (handle) handle.close('api');
      if (opts.onPick) opts.onPick(day);
    }
    function show() {
      var content = h('mat-datepicker-content', { class: 'mat-datepicker-content mat-primary', inserted: true },
        h('div', { class: 'mat-datepicker-content-container' }, calendar(month, enabled, picked, pick, function (delta) {
          month = new Date(month.getFullYear(), month.getMonth() + delta, 1);
          show();
        })));
      handle = EM.overlay.connect(field.el, content, {
        paneClass: 'mat-datepicker-popup', width: null,
        onClose: function () { handle = null; }
      });
    }
    var toggle = h('mat-datepicker-toggle', { class: 'mat-datepicker-toggle' },
      EM.button(EM.icon('calendar_month'), {
        flavour: 'mat-icon-button', attrs: { 'aria-haspopup': 'dialog', 'aria-label': 'Open calendar' }, onClick: show
      }));
    field = EM.forms.formField(opts.label || null, box, { suffix: toggle, type: 'mat-input', classes: 'datepicker-field' });
    return {
      el: field.el, input: box,
      value: function () { return picked; }
    };
  }

  EM.forms.datepicker = datepicker;
})();
