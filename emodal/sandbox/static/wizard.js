/*
 * Termops "Add Appointment" wizard (PORTAL_SPEC A8, B11): four-step mat-stepper whose panels all
 * stay in the DOM. Every panel is rendered at boot with its fields and footer, as Material's
 * stepper does, so hidden steps keep their Next/Back/Submit buttons, the Plate autocomplete and the
 * slot select (the A6 trap: page-wide look-ups hit them). Entering a step only fills its data-driven
 * parts (move cards, summaries, slot options). Steps validate on the client, then by XHR; refusals
 * open the message dialog. Every wait (XHR, booking validation, step transition) is tracked so
 * isStable() is false.
 */
(function () {
  'use strict';
  var h = EM.h, F = EM.forms;
  var data = EM.page.data, knobs = EM.page.knobs;
  var LABELS = ['Add required data', 'Add move details', 'Choose appointment time', 'Confirmation'];
  var FAILED = 'Something went wrong. Please try again.';
  var st = { company: data.companies[0] || null, terminal: null, move: null, variant: null, moves: [] };
  // step2/step3: the data-driven parts of those panels; chosen: the checked cards taken to step 3.
  var stepper, form1 = {}, step2 = {}, step3 = {}, cards = [], chosen = [], plate, slotBox, busy = false;
  var summaries = [];

  /* ---- helpers ----------------------------------------------------------------------------- */
  function svg(markup) {
    var t = document.createElement('template');
    t.innerHTML = markup;
    return t.content.firstChild;
  }
  function moveIcon(move) {
    // Full moves: red container; empty moves: grey outline. Pick = up arrow, drop = down arrow.
    var full = move.indexOf('FULL') !== -1, up = move.indexOf('PICK') === 0;
    return svg('<svg class="move-icon-svg" width="20" height="20" viewBox="0 0 20 20" aria-hidden="true">' +
      '<rect x="1" y="7" width="13" height="10" rx="1" fill="' + (full ? '#e53935' : 'none') +
      '" stroke="' + (full ? '#e53935' : '#9e9e9e') + '" stroke-width="1.5"/><path d="' +
      (up ? 'M16 12V3m-2.5 3L16 3l2.5 3' : 'M16 3v9m-2.5-3L16 12l2.5-3') +
      '" stroke="#607d8b" stroke-width="1.5" fill="none"/></svg>');
  }
  function isoValid(n) {
    if (!/^[A-Z]{4}\d{7}$/.test(n)) return false;
    var sum = 0;
    for (var i = 0; i < 10; i++) {
      var c = n.charCodeAt(i), v = i < 4 ? c - 55 : c - 48;
      if (i < 4) v += Math.floor((v - 1) / 10);  // letter values skip 11, 22, 33
      sum += v * Math.pow(2, i);
    }
    return sum % 11 % 10 === +n[10];
  }
  function variantOf(move, terminal) {
    if (move === 'DROP FULL' || move === 'PICK EMPTY') return 'booking';
    if (move === 'DROP EMPTY' && (data.line_size_terminals || []).indexOf(terminal) !== -1) return 'line_size';
    return 'container';
  }
  function refuse(err) {
    // Not awaited: a popup sweep may delete the dialog, and the wizard must keep working (B9.1).
    EM.dialog(err && err.status === 422 && err.body && err.body.message ? err.body.message : FAILED);
  }
  function guarded(action) {
    // One step action at a time: a second click during a pending XHR is ignored.
    return function () {
      if (busy) return;
      busy = true;
      Promise.resolve().then(action).catch(function (err) { console.error(err); })
        .then(function () { busy = false; });
    };
  }
  function goTo(index) { return EM.delay(knobs.step_transition_ms || 0).then(function () { stepper.select(index); }); }
  function footer() {
    return h('div', { class: 'step-footer' }, Array.prototype.slice.call(arguments));
  }
  function next(action) { return EM.button('Next', { flavour: 'mat-stroked-button', classes: 'text-next', onClick: guarded(action) }); }
  function back(index) { return EM.button('Back', { flavour: 'mat-stroked-button', classes: 'text-back', onClick: function () { stepper.select(index); } }); }
  function summaryStrip() {
    // Built once per panel; showSummaries() refreshes the values when a step is entered.
    var company = h('span', { class: 'summary-value' }), terminal = h('span', { class: 'summary-value' });
    summaries.push(function () { company.textContent = st.company || ''; terminal.textContent = st.terminal || ''; });
    return h('div', { class: 'summary-strip' },
      h('span', { class: 'summary-label' }, 'Trucking Company'), company, h('span', { class: 'summary-label' }, 'Terminal'), terminal);
  }
  function showSummaries() { summaries.forEach(function (show) { show(); }); }
  function pair(label, value) {
    return [h('div', { class: 'field-label', inserted: true }, label), h('div', { class: 'field-data', inserted: true }, value)];
  }

  /* ---- step 1: Add required data ---------------------------------------------------------- */
  function requiredSelect(label, options, value, onChange) {
    var select = F.select({ options: options, value: value, required: true, onChange: onChange });
    var field = F.formField(label, select.el, { required: true, type: 'mat-select', classes: 'select-' + label.split(' ')[0].toLowerCase() });
    return { select: select, field: field };
  }
  function buildStep1(panel) {
    var row = h('div', { class: 'step1-row' });
    var extra = h('div', { class: 'variant-card mat-card' });
    var calendarSlot = h('span', { class: 'move-calendar' });
    form1.company = requiredSelect('Trucking company', data.companies, st.company, function (v) { st.company = v; form1.company.field.setError(null); });
    form1.terminal = requiredSelect('Terminal', data.terminals, null, function (v) { st.terminal = v; form1.terminal.field.setError(null); renderVariant(extra); });
    form1.move = requiredSelect('Move Type', data.moves.map(function (m) { return { text: m, icon: function () { return moveIcon(m); } }; }), null, function (v) {
      st.move = v;
      form1.move.field.setError(null);
      calendarSlot.textContent = '';
      calendarSlot.appendChild(EM.button(EM.icon('calendar_month'), { flavour: 'mat-icon-button', classes: 'availability-button' }));
      renderVariant(extra);
    });
    row.appendChild(form1.company.field.el);
    row.appendChild(form1.terminal.field.el);
    row.appendChild(form1.move.field.el);
    row.appendChild(calendarSlot);
    panel.appendChild(h('div', { class: 'step-card mat-card' }, row));
    panel.appendChild(extra);
    panel.appendChild(footer(next(submitStep1)));
  }
  function quantityField() {
    var input = F.input({ type: 'number', min: '1', value: '0' });
    input.value = '0';
    return { input: input, field: F.formField('Quantity', input, { type: 'mat-input', classes: 'quantity-field' }) };
  }
  function renderVariant(box) {
    if (!st.move) return;
    var v = variantOf(st.move, st.terminal);
    if (form1.variant && form1.variant.kind === v) return;  // same form: keep what was typed
    box.textContent = '';
    st.variant = v;
    var f = form1.variant = { kind: v };
    if (v === 'container') {
      f.chips = F.chipList({ formcontrolname: 'containerNumber', placeholder: 'Container number(s)', max: data.max_chips,
        pattern: /^[A-Z]{4}\d{7}$/, patternError: 'Invalid container number', classes: 'chip-field' });
      var file = F.input({ readonly: true, placeholder: 'Select File' });
      box.appendChild(h('div', { class: 'variant-columns' }, h('div', { class: 'variant-left' }, f.chips.el),
        h('div', { class: 'variant-right' },
          EM.button([EM.svgIcon('xls'), 'Download template', EM.icon('cloud_download')], { flavour: 'mat-button', classes: 'download-template' }),
          h('div', { class: 'file-row' }, F.formField(null, file, { type: 'mat-input' }).el,
            EM.button('Browse', { flavour: 'mat-stroked-button' }), EM.button('UPLOAD', { flavour: 'mat-raised-button' })),
          h('div', { class: 'upload-note' }, 'First row must contain headers. Eg:Container number'))));
      return;
    }
    f.quantity = quantityField();
    if (v === 'booking') {
      f.chips = F.chipList({ formcontrolname: 'bookingNumber', placeholder: 'Booking number', max: 1, hint: false, classes: 'chip-field', onAdd: checkBooking });
      box.appendChild(h('div', { class: 'variant-columns' }, f.chips.el, f.quantity.field.el));
    } else {
      f.line = F.autocomplete({ options: data.lines });
      f.size = F.autocomplete({ options: data.sizes });
      f.lineField = F.formField('Line', f.line.input, { type: 'mat-input' });
      f.sizeField = F.formField('Equip Size', f.size.input, { type: 'mat-input' });
      box.appendChild(h('div', { class: 'variant-columns' }, f.lineField.el, f.sizeField.el, f.quantity.field.el));
    }
  }
  function checkBooking(number) {
    // The chip stays only if the booking is open and has a line (refusal texts of B4).
    return Promise.all([EM.api('POST', 'api/visit/booking', { booking: number }), EM.delay(knobs.booking_validation_ms || 0)])
      .then(function () { return true; }, function (err) { refuse(err); return false; });
  }
  function step1Body() {
    var f = form1.variant, body = { company: st.company, terminal: st.terminal, move_type: st.move };
    if (f.kind === 'container') body.containers = f.chips.values();
    else if (f.kind === 'booking') body.booking = f.chips.values()[0];
    else { body.line = f.line.value(); body.size_type = f.size.value(); }
    if (f.quantity) body.quantity = parseInt(f.quantity.input.value, 10) || 0;
    return body;
  }
  function step1ClientValid() {
    var ok = true;
    [['company', st.company], ['terminal', st.terminal], ['move', st.move]].forEach(function (p) {
      if (!p[1]) { form1[p[0]].field.setError('Required'); ok = false; }
    });
    var f = form1.variant;
    if (!f) return false;
    if (f.chips && !f.chips.values().length) { f.chips.field.setError('Required'); ok = false; }
    if (f.line) {
      [[f.line, f.lineField], [f.size, f.sizeField]].forEach(function (p) {
        p[1].setError(p[0].isOption() ? null : 'Required');
        ok = ok && p[0].isOption();
      });
    }
    if (f.quantity) {
      var q = parseInt(f.quantity.input.value, 10) || 0;
      f.quantity.field.setError(q >= 1 ? null : 'Required');
      ok = ok && q >= 1;
    }
    return ok;
  }
  function submitStep1() {
    if (!step1ClientValid()) return null;
    return EM.api('POST', 'api/visit/validate', step1Body()).then(function (res) {
      st.moves = res.moves;
      fillStep2();
      return goTo(1);
    }, refuse);
  }

  /* ---- step 2: Add move details ----------------------------------------------------------- */
  function card(move) {
    var c = { fields: {} };
    var badge = EM.icon('check_circle', 'move-badge');
    c.check = EM.checkbox({ onChange: function () { c.validate(); } });
    function text(key, label, attrs, value, fieldOpts) {
      var input = F.input(attrs);
      input.value = value || '';
      input.addEventListener('input', function () { if (attrs.uppercase !== undefined) input.value = input.value.toUpperCase(); c.validate(); });
      var field = F.formField(label, input, Object.assign({ type: 'mat-input' }, fieldOpts || {}));
      c.fields[key] = { input: input, field: field };
      return field.el;
    }
    var fromContainer = !!move.container;
    var parts = [c.check.el, h('div', { class: 'move-icon' }, moveIcon(st.move), badge),
      F.formField('Move Type', F.select({ options: data.moves, value: st.move }).el, { type: 'mat-select' }).el,
      text('unit', 'Unit Number', { formcontrolname: 'Unit', uppercase: true, maxlength: '11', readonly: fromContainer || null }, move.container),
      text('line', 'Line', { readonly: true }, move.line),
      text('size', 'Equip size', { disabled: true }, move.size_type)];
    c.chassis = F.toggleGroup({ options: ['YES', 'NO'], value: st.move === 'DROP FULL' || st.move === 'PICK EMPTY' ? 'YES' : 'NO' });
    parts.push(h('div', { class: 'own-chassis' }, h('span', { class: 'own-chassis-label' }, 'Own chassis'), c.chassis.el));
    if (st.move === 'PICK FULL') parts.push(text('pin', null, { formcontrolname: 'Pin', placeholder: 'PIN', maxlength: '4' }, ''));
    if (st.move === 'DROP FULL') {
      [1, 2, 3, 4].forEach(function (i) { parts.push(text('seal' + i, 'Seal ' + i, { formcontrolname: 'Seal' + i + '_Num' }, '', { required: i === 1 })); });
    }
    c.el = h('div', { class: 'move-card mat-card', inserted: true }, parts);
    c.validate = function (show) {
      var unit = c.fields.unit.input.value.trim();
      var errors = {};
      if (st.move === 'DROP FULL') errors.unit = !unit ? 'Required' : (isoValid(unit) ? null : 'Invalid container number');
      else if (unit && !fromContainer) errors.unit = isoValid(unit) ? null : 'Invalid container number';
      if (c.fields.pin) errors.pin = /^(\d{4})?$/.test(c.fields.pin.input.value.trim()) ? null : 'Required';
      if (c.fields.seal1) errors.seal1 = c.fields.seal1.input.value.trim() ? null : 'Required';
      var ok = Object.keys(errors).every(function (k) { return !errors[k]; });
      Object.keys(errors).forEach(function (k) { if (show || !errors[k]) c.fields[k].field.setError(errors[k]); });
      badge.classList.toggle('move-badge-valid', ok);
      return ok;
    };
    c.data = function () {
      var d = { container: move.container, booking: move.booking, line: move.line, size_type: move.size_type,
        unit: c.fields.unit.input.value.trim(), own_chassis: c.chassis.value() === 'YES' };
      if (c.fields.pin) d.pin = c.fields.pin.input.value.trim();
      if (c.fields.seal1) d.seals = [1, 2, 3, 4].map(function (i) { return c.fields['seal' + i].input.value.trim(); });
      return d;
    };
    c.validate();
    return c;
  }
  function buildStep2(panel) {
    var discard = step2.discard = EM.button('DISCARD', { flavour: 'mat-raised-button', classes: 'discard-button', disabled: true, onClick: function () {
      cards = cards.filter(function (c) { if (c.check.isChecked()) { c.el.remove(); return false; } return true; });
      discard.setDisabled(true);
    } });
    step2.list = h('div', { class: 'move-cards' });
    plate = F.autocomplete({ formcontrolname: 'Plate', options: data.plates });
    plate.field = F.formField('Truck Plate', plate.input, { required: true, type: 'mat-input', classes: 'plate-field' });
    panel.appendChild(summaryStrip());
    panel.appendChild(h('div', { class: 'discard-row' }, discard));
    panel.appendChild(step2.list);
    panel.appendChild(h('div', { class: 'plate-row' }, plate.field.el,
      EM.button(['ADD MOVE', EM.icon('keyboard_arrow_down')], { flavour: 'mat-button', classes: 'add-move' })));
    panel.appendChild(footer(back(0), next(submitStep2)));
  }
  function fillStep2() {
    // One card per move of the last step-1 Next; the plate, like any form control, keeps its value.
    showSummaries();
    step2.list.textContent = '';
    step2.discard.setDisabled(true);
    cards = st.moves.map(function (m) {
      var c = card(m);
      c.check.input.addEventListener('change', function () {
        step2.discard.setDisabled(!cards.some(function (x) { return x.check.isChecked(); }));
      });
      step2.list.appendChild(c.el);
      return c;
    });
  }
  function checkedCards() { return cards.filter(function (c) { return c.check.isChecked(); }); }
  function submitStep2() {
    var checked = checkedCards();
    var ok = checked.length > 0 && checked.map(function (c) { return c.validate(true); }).every(Boolean);
    plate.field.setError(plate.isOption() ? null : 'Required');
    if (!ok || !plate.isOption()) return null;
    return loadSlots(null).then(function (res) {
      fillStep3(checked, res);
      return goTo(2);
    }, refuse);
  }

  /* ---- step 3: Choose appointment time ---------------------------------------------------- */
  function loadSlots(day) {
    var q = 'api/visit/slots?terminal=' + encodeURIComponent(st.terminal) + '&move_type=' + encodeURIComponent(st.move);
    return EM.api('GET', q + (day ? '&date=' + day : ''));
  }
  function checkInText(slot) {
    var m = /(\d\d)\/(\d\d)\/(\d{4}) (\d\d):(\d\d)/.exec(slot || '');
    if (!m) return null;
    var d = new Date(+m[3], +m[1] - 1, +m[2], +m[4] - 6, +m[5]);  // slot start minus 6 h [S]
    function p(n) { return ('0' + n).slice(-2); }
    return 'Check-In for this visit should be completed by ' + p(d.getMonth() + 1) + '/' + p(d.getDate()) + '/' +
      d.getFullYear() + ' ' + p(d.getHours()) + ':' + p(d.getMinutes());
  }
  function fillSlots(res) {
    var has = res.slots.length > 0;
    slotBox.empty = res.empty_text;
    slotBox.select.setOptions(has ? res.slots : [res.empty_text], has ? res.slots[0] : null);
    showInfo(slotBox.select.value());
  }
  function showInfo(slot) {
    var text = slot && slot !== slotBox.empty ? checkInText(slot) : null;
    slotBox.info.style.display = text ? '' : 'none';
    slotBox.infoText.textContent = text || '';
  }
  function buildStep3(panel) {
    step3.moves = h('div', { class: 'move-summaries' });
    step3.plate = h('div', { class: 'field-data' });
    slotBox = { select: F.select({ formcontrolname: 'slot', onChange: function (v) { showInfo(v); } }) };
    slotBox.field = F.formField(null, slotBox.select.el, { type: 'mat-select', classes: 'slot-field' });
    slotBox.infoText = h('span', {});
    slotBox.info = h('div', { class: 'info-box', style: { display: 'none' } }, EM.icon('info'), slotBox.infoText);
    step3.row = h('div', { class: 'plate-slot-row' }, h('div', { class: 'field-label' }, 'Truck Plate'), step3.plate,
      EM.icon('check_circle', 'move-badge move-badge-valid'), slotBox.field.el);
    panel.appendChild(summaryStrip());
    panel.appendChild(step3.moves);
    panel.appendChild(step3.row);
    panel.appendChild(slotBox.info);
    panel.appendChild(footer(back(1), EM.button('Submit', { flavour: 'mat-flat-button', classes: 'mat-warn text-submit', onClick: guarded(submitStep3) })));
  }
  function fillStep3(checked, res) {
    chosen = checked;
    showSummaries();
    step3.moves.textContent = '';
    chosen.forEach(function (c) {
      var d = c.data();
      step3.moves.appendChild(h('div', { class: 'move-summary', inserted: true }, moveIcon(st.move), EM.icon('check_circle', 'move-badge move-badge-valid'),
        pair('Move Type', st.move), pair('Unit Number', d.unit || ''), pair('Line', d.line || ''),
        pair('Equip size', d.size_type || ''), pair('Own chassis', d.own_chassis ? 'Yes' : 'No')));
    });
    step3.plate.textContent = plate.value();
    if (step3.picker) step3.picker.el.remove();
    step3.picker = null;
    if (st.variant === 'booking') {
      // Booking moves pick a day first; the day then fills the slot select [S].
      step3.picker = F.datepicker({ enabled: res.days, onPick: function (day) { loadSlots(day).then(fillSlots, refuse); } });
      step3.row.insertBefore(step3.picker.el, slotBox.field.el);
      res = { slots: [], empty_text: res.empty_text, days: res.days };
    }
    if (st.variant === 'booking' && res.days.length) { slotBox.select.setOptions([], null); showInfo(null); } else fillSlots(res);
  }
  function submitStep3() {
    var slot = slotBox.select.value();
    var body = { company: st.company, terminal: st.terminal, move_type: st.move, plate: plate.value(), slot: slot,
      moves: chosen.map(function (c) { return c.data(); }) };
    if (!slot || slot === slotBox.empty) return refuse({ status: 422, body: { message: 'The selected appointment time is no longer available.' } });
    return EM.api('POST', 'api/visit/submit', body).then(function (res) {
      buildStep4(stepper.panels[3], res.appointments);
      return goTo(3);
    }, function (err) {
      // Failure keeps step 3 and refreshes the offer (B11.4).
      refuse(err);
      return loadSlots(null).then(function (r) { if (st.variant !== 'booking') fillSlots(r); });
    });
  }

  /* ---- step 4: Confirmation ---------------------------------------------------------------- */
  function buildStep4(panel, appointments) {
    panel.textContent = '';
    panel.appendChild(h('div', { class: 'confirmation-text' }, 'Your appointment request has been submitted.'));
    appointments.forEach(function (a) {
      panel.appendChild(h('div', { class: 'field-grid confirmation-grid', inserted: true },
        pair('Appointment #', a.number), pair('Terminal', a.terminal), pair('Move Type', a.move_type),
        a.container ? pair('Container #', a.container) : pair('Booking #', a.booking || ''),
        pair('Truck Plate', a.plate), pair('Appointment Time', a.slot)));
    });
    panel.appendChild(EM.button('New Appointment', { flavour: 'mat-stroked-button', onClick: function () { location.reload(); } }));
  }

  EM.boot(function (outlet) {
    stepper = F.stepper({ labels: LABELS });
    // Every panel from the start (B11.1); step 4 is filled by the Submit answer.
    buildStep1(stepper.panels[0]);
    buildStep2(stepper.panels[1]);
    buildStep3(stepper.panels[2]);
    outlet.parentNode.insertBefore(h('app-add-visit', { class: 'add-visit' }, stepper.el), outlet.nextSibling);
  });
})();
