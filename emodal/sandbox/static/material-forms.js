/*
 * Sandbox platform, part 3: legacy-Material form widgets (PORTAL_SPEC B9.2, B9.3, B11.1, B11.4).
 *
 *   EM.forms.formField(label, control, opts)  mat-form-field (legacy appearance) around a control.
 *       label null = no mat-label (the slot select). opts: required, hint, classes, type, suffix.
 *       Returns {el, control, setError(text|null), setHint(text)}.
 *   EM.forms.select(opts)       mat-select. opts: options [text | {text, icon: () => node}],
 *       value, formcontrolname, required, onChange(text). Returns {el, value(), setValue(text,
 *       silent), setOptions(list, value), open(), close()}.
 *   EM.forms.input(opts)        input[matinput]; opts: any attributes + onInput(value).
 *   EM.forms.autocomplete(opts) input[matinput].mat-autocomplete-trigger; opts: options (list or
 *       () => list), formcontrolname, placeholder, filter(option, query), onSelect(text).
 *       Returns {input, value(), setValue(text), isOption()}.
 *   EM.forms.chipList(opts)     mat-chip-list with its chip input; opts: formcontrolname,
 *       placeholder, max, hint (false: no `<n> / Maximum Allowed(max)` hint), pattern (RegExp),
 *       patternError, onAdd(value) -> false|promise(false) to drop the chip, onChange(values).
 *       Returns {el, input, values(), remove(value), field}.
 *   EM.forms.toggleGroup(opts)  mat-button-toggle-group; opts: options, value, onChange.
 *       Returns {el, value(), setValue(text)}.
 *   EM.forms.stepper(opts)      mat-horizontal-stepper; opts: labels. Returns {el, panels,
 *       selected(), select(i)}.
 *   EM.forms.datepicker(opts)   lives in material-calendar.js.
 *
 * Panels go through EM.overlay.connect (material.js), so B9.3's one-panel, backdrop, Escape and
 * body-click rules hold for every widget; this file adds the autocomplete's close-on-blur.
 */
(function () {
  'use strict';
  var EM = window.EM;
  var h = EM.h;
  var ids = { select: 0, option: 0, label: 0, input: 0, auto: 0, chip: 0, toggle: 0 };
  function nextId(kind) { return ids[kind]++; }

  function fieldOf(node) { return node.closest ? node.closest('mat-form-field') : null; }
  function setFloat(node, on) { var f = fieldOf(node); if (f) f.classList.toggle('mat-form-field-should-float', !!on); }
  function setFocused(node, on) { var f = fieldOf(node); if (f) f.classList.toggle('mat-focused', !!on); }

  /* ---- form field ------------------------------------------------------------------------ */
  function formField(label, control, opts) {
    opts = opts || {};
    var labelId = 'mat-form-field-label-' + nextId('label');
    var labelWrapper = h('span', { class: 'mat-form-field-label-wrapper' });
    if (label) {
      // The required marker sits in its own span so `mat-label` text is exactly the label (B9.2).
      labelWrapper.appendChild(h('label', { class: 'mat-form-field-label', id: labelId, for: control.id || null },
        h('mat-label', {}, label),
        opts.required ? h('span', { class: 'mat-placeholder-required mat-form-field-required-marker', 'aria-hidden': 'true' }, ' *') : null));
    }
    var subscript = h('div', { class: 'mat-form-field-subscript-wrapper' });
    var el = h('mat-form-field', {
      class: 'mat-form-field mat-form-field-appearance-legacy mat-form-field-can-float mat-primary' +
        (opts.type ? ' mat-form-field-type-' + opts.type : '') + (opts.classes ? ' ' + opts.classes : '')
    }, h('div', { class: 'mat-form-field-wrapper' },
      h('div', { class: 'mat-form-field-flex' },
        h('div', { class: 'mat-form-field-infix' }, control, labelWrapper),
        opts.suffix ? h('div', { class: 'mat-form-field-suffix' }, opts.suffix) : null),
      h('div', { class: 'mat-form-field-underline' }, h('span', { class: 'mat-form-field-ripple' })),
      subscript));
    var hint = opts.hint || '';
    var error = null;
    function render() {
      subscript.textContent = '';
      el.classList.toggle('mat-form-field-invalid', !!error);
      if (error) {
        subscript.appendChild(h('div', { inserted: true }, h('mat-error', { class: 'mat-error', role: 'alert', inserted: true }, error)));
      } else if (hint) {
        subscript.appendChild(h('div', { class: 'mat-form-field-hint-wrapper', inserted: true },
          h('mat-hint', { class: 'mat-hint', inserted: true }, hint), h('div', { class: 'mat-form-field-hint-spacer' })));
      }
    }
    render();
    if (label && control.tagName === 'MAT-SELECT') {
      control.setAttribute('aria-labelledby', labelId + ' ' + control.getAttribute('aria-labelledby'));
    }
    return {
      el: el, control: control,
      setError: function (text) { error = text || null; render(); },
      setHint: function (text) { hint = text || ''; render(); }
    };
  }

  /* ---- options (select and autocomplete panels) -------------------------------------------- */
  function norm(option) { return typeof option === 'string' ? { text: option } : option; }

  function optionEl(option, selected, onPick) {
    // span.mat-option-text: class exactly that; its first text node is the option text (A6), an
    // icon (SVG element) may precede it.
    var text = h('span', { class: 'mat-option-text' }, option.icon ? option.icon() : null, option.text);
    var el = h('mat-option', {
      id: 'mat-option-' + nextId('option'), role: 'option', tabindex: '0', inserted: true,
      class: 'mat-option mat-focus-indicator' + (selected ? ' mat-selected mat-active' : ''),
      'aria-selected': String(!!selected), 'aria-disabled': 'false',
      on: {
        // Keep focus in an autocomplete input while an option is clicked.
        mousedown: function (event) { event.preventDefault(); },
        click: function () { onPick(option.text); },
        mouseenter: function () {
          Array.prototype.forEach.call(el.parentNode.children, function (o) { o.classList.remove('mat-active'); });
          el.classList.add('mat-active');
        }
      }
    }, text, h('div', { class: 'mat-ripple mat-option-ripple' }));
    return el;
  }

  /* ---- select -------------------------------------------------------------------------------- */
  function select(opts) {
    opts = opts || {};
    var n = nextId('select');
    var options = (opts.options || []).map(norm);
    var current = opts.value === undefined ? null : opts.value;
    var valueBox = h('div', { class: 'mat-select-value', id: 'mat-select-value-' + n });
    var el = h('mat-select', {
      id: 'mat-select-' + n, class: 'mat-select', role: 'combobox', 'aria-haspopup': 'true',
      'aria-expanded': 'false', 'aria-required': String(!!opts.required), 'aria-disabled': 'false',
      'aria-invalid': 'false', 'aria-labelledby': 'mat-select-value-' + n, tabindex: '0',
      formcontrolname: opts.formcontrolname || null
    }, h('div', { class: 'mat-select-trigger', 'aria-hidden': 'true' }, valueBox,
      h('div', { class: 'mat-select-arrow-wrapper' }, h('div', { class: 'mat-select-arrow' }))));
    var handle = null;

    function renderValue() {
      valueBox.textContent = '';
      if (current === null) {
        valueBox.appendChild(h('span', { class: 'mat-select-placeholder mat-select-min-line' }));
      } else {
        valueBox.appendChild(h('span', { class: 'mat-select-value-text', inserted: true },
          h('span', { class: 'mat-select-min-line', inserted: true }, current)));
      }
      el.classList.toggle('mat-select-empty', current === null);
      setFloat(el, current !== null);
    }

    function close() { if (handle) handle.close('api'); }

    function pick(text) {
      var changed = text !== current;
      current = text;
      renderValue();
      close();
      if (changed && opts.onChange) opts.onChange(text);
    }

    function open() {
      if (handle) return;
      var panel = h('div', {
        id: 'mat-select-' + n + '-panel', class: 'mat-select-panel mat-primary', role: 'listbox',
        tabindex: '-1', 'aria-multiselectable': 'false', 'aria-labelledby': el.getAttribute('aria-labelledby')
      }, options.map(function (o) { return optionEl(o, o.text === current, pick); }));
      el.setAttribute('aria-expanded', 'true');
      el.setAttribute('aria-controls', panel.id);
      setFocused(el, true);
      handle = EM.overlay.connect(el, h('div', { class: 'mat-select-panel-wrap', inserted: true }, panel), {
        width: Math.max(el.getBoundingClientRect().width + 32, 120),
        onClose: function () {
          handle = null;
          el.setAttribute('aria-expanded', 'false');
          el.removeAttribute('aria-controls');
          setFocused(el, false);
        }
      });
      var chosen = panel.querySelector('.mat-selected');
      if (chosen) panel.scrollTop = Math.max(0, chosen.offsetTop - 2 * chosen.offsetHeight);
    }

    el.addEventListener('click', open);
    el.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' || event.key === ' ' || event.key === 'ArrowDown') { event.preventDefault(); open(); }
    });
    // The form field may wrap this element only after creation: render the value once attached.
    setTimeout(renderValue, 0);
    renderValue();
    return {
      el: el,
      value: function () { return current; },
      setValue: function (text, silent) {
        current = text;
        renderValue();
        if (!silent && opts.onChange) opts.onChange(text);
      },
      setOptions: function (list, value) { options = list.map(norm); current = value === undefined ? null : value; renderValue(); close(); },
      open: open,
      close: close
    };
  }

  /* ---- text input ---------------------------------------------------------------------------- */
  function input(opts) {
    opts = Object.assign({}, opts || {});
    var onInput = opts.onInput;
    delete opts.onInput;
    var attrs = Object.assign({ id: 'mat-input-' + nextId('input'), matinput: true }, opts);
    attrs.class = 'mat-input-element mat-form-field-autofill-control' + (opts.class ? ' ' + opts.class : '');
    var el = h('input', attrs);
    el.addEventListener('focus', function () { setFocused(el, true); setFloat(el, true); });
    el.addEventListener('blur', function () { setFocused(el, false); setFloat(el, el.value !== ''); });
    el.addEventListener('input', function () { setFloat(el, true); if (onInput) onInput(el.value); });
    setTimeout(function () { setFloat(el, el.value !== ''); }, 0);
    return el;
  }

  /* ---- autocomplete ------------------------------------------------------------------------ */
  function autocomplete(opts) {
    opts = opts || {};
    var n = nextId('auto');
    var el = input({
      formcontrolname: opts.formcontrolname || null, placeholder: opts.placeholder || null,
      class: 'mat-autocomplete-trigger', autocomplete: 'off', role: 'combobox',
      'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-haspopup': 'true'
    });
    var handle = null;
    function all() { return typeof opts.options === 'function' ? opts.options() : (opts.options || []); }
    function matches() {
      var query = el.value.trim().toLowerCase();
      var filter = opts.filter || function (o, q) { return o.toLowerCase().indexOf(q) !== -1; };
      return all().filter(function (o) { return !query || filter(o, query); });
    }
    function close() { if (handle) handle.close('api'); }
    function pick(text) {
      el.value = text;
      close();
      setFloat(el, true);
      if (opts.onSelect) opts.onSelect(text);
    }
    function open() {
      var list = matches();
      if (handle) handle.close('replaced');
      if (!list.length) return;
      var panel = h('div', {
        id: 'mat-autocomplete-' + n, role: 'listbox', inserted: true,
        class: 'mat-autocomplete-panel mat-autocomplete-visible'
      }, list.map(function (o) { return optionEl({ text: o }, false, pick); }));
      el.setAttribute('aria-expanded', 'true');
      el.setAttribute('aria-owns', panel.id);
      handle = EM.overlay.connect(el, panel, {
        backdrop: false, paneClass: 'mat-autocomplete-panel-above-none',
        onClose: function () { handle = null; el.setAttribute('aria-expanded', 'false'); el.removeAttribute('aria-owns'); }
      });
    }
    el.addEventListener('focus', open);
    el.addEventListener('click', function () { if (!handle) open(); });
    el.addEventListener('input', open);
    // B9.3: focus leaving an autocomplete closes its panel.
    el.addEventListener('blur', close);
    el.addEventListener('keydown', function (event) { if (event.key === 'Escape') close(); });
    return {
      input: el,
      value: function () { return el.value.trim(); },
      setValue: function (text) { el.value = text; setFloat(el, text !== ''); },
      isOption: function () { return all().indexOf(el.value.trim()) !== -1; }
    };
  }

  /* ---- chips ------------------------------------------------------------------------------- */
  function chipList(opts) {
    opts = opts || {};
    var max = opts.max || 10;
    var values = [];
    var chipInput = input({
      formcontrolname: opts.formcontrolname, placeholder: opts.placeholder || null,
      class: 'mat-chip-input', 'aria-invalid': 'false', 'aria-required': 'false'
    });
    var wrapper = h('div', { class: 'mat-chip-list-wrapper' }, chipInput);
    var list = h('mat-chip-list', {
      class: 'mat-chip-list', role: 'listbox', tabindex: '0', 'aria-required': 'false',
      'aria-disabled': 'false', 'aria-invalid': 'false', 'aria-multiselectable': 'false',
      'aria-orientation': 'horizontal'
    }, wrapper);
    var field = formField(opts.label || null, list, { type: 'mat-chip-list', classes: opts.classes });
    function hint() { return opts.hint === false ? '' : values.length + ' / Maximum Allowed(' + max + ')'; }
    field.setHint(hint());
    function changed() {
      field.setHint(hint());
      setFloat(list, values.length > 0);
      if (opts.onChange) opts.onChange(values.slice());
    }
    function remove(value) {
      var i = values.indexOf(value);
      if (i === -1) return;
      values.splice(i, 1);
      var chip = wrapper.querySelector('mat-chip[data-value="' + value + '"]');
      if (chip) chip.remove();
      changed();
    }
    function add(raw) {
      var value = raw.trim().toUpperCase();
      if (!value) return;
      chipInput.value = '';
      if (opts.pattern && !opts.pattern.test(value)) { field.setError(opts.patternError || 'Invalid'); return; }
      field.setError(null);
      if (values.indexOf(value) !== -1 || values.length >= max) return;
      values.push(value);
      var chip = h('mat-chip', {
        class: 'mat-chip mat-focus-indicator mat-primary mat-standard-chip mat-chip-with-trailing-icon',
        role: 'option', tabindex: '-1', 'aria-selected': 'false', inserted: true
      }, h('span', {}, value), h('mat-icon', {
        class: 'mat-icon notranslate mat-chip-remove mat-chip-trailing-icon material-icons mat-icon-no-color',
        matchipremove: true, role: 'img', 'aria-hidden': 'true', 'data-mat-icon-type': 'font',
        on: { click: function () { remove(value); } }
      }, 'cancel'), h('div', { class: 'mat-chip-ripple' }));
      // data-value only lets this script find its own chip again; nothing outside reads it.
      chip.dataset.value = value;
      wrapper.insertBefore(chip, chipInput);
      changed();
      if (opts.onAdd) {
        Promise.resolve(opts.onAdd(value)).then(function (keep) { if (keep === false) remove(value); });
      }
    }
    // Enter adds a chip; blur adds nothing [S].
    chipInput.addEventListener('keydown', function (event) {
      if (event.key === 'Enter') { event.preventDefault(); add(chipInput.value); }
    });
    return {
      el: field.el, field: field, input: chipInput,
      values: function () { return values.slice(); },
      remove: remove
    };
  }

  /* ---- button toggles ------------------------------------------------------------------------ */
  function toggleGroup(opts) {
    opts = opts || {};
    var current = opts.value;
    var group = h('mat-button-toggle-group', {
      class: 'mat-button-toggle-group mat-button-toggle-group-appearance-standard', role: 'group'
    });
    var toggles = (opts.options || ['YES', 'NO']).map(function (text) {
      var button = h('button', {
        type: 'button', class: 'mat-button-toggle-button mat-focus-indicator', tabindex: '0',
        id: 'mat-button-toggle-' + nextId('toggle') + '-button', 'aria-pressed': 'false'
      }, h('span', { class: 'mat-button-toggle-label-content' }, text));
      var host = h('mat-button-toggle', { class: 'mat-button-toggle mat-button-toggle-appearance-standard' },
        button, h('span', { class: 'mat-button-toggle-focus-overlay' }));
      button.addEventListener('click', function () { setValue(text); });
      group.appendChild(host);
      return { text: text, host: host, button: button };
    });
    function render() {
      toggles.forEach(function (t) {
        t.host.classList.toggle('mat-button-toggle-checked', t.text === current);
        t.button.setAttribute('aria-pressed', String(t.text === current));
      });
    }
    function setValue(text, silent) {
      var changed = text !== current;
      current = text;
      render();
      if (changed && !silent && opts.onChange) opts.onChange(text);
    }
    render();
    return { el: group, value: function () { return current; }, setValue: setValue };
  }

  /* ---- stepper (B11.1) ---------------------------------------------------------------------- */
  function stepper(opts) {
    var labels = opts.labels;
    var selected = 0;
    var headerBox = h('div', { class: 'mat-horizontal-stepper-header-container' });
    var contentBox = h('div', { class: 'mat-horizontal-content-container' });
    var headers = [];
    var panels = labels.map(function (label, i) {
      if (i > 0) headerBox.appendChild(h('div', { class: 'mat-stepper-horizontal-line' }));
      var icon = h('div', { class: 'mat-step-icon mat-step-icon-state-number' },
        h('div', { class: 'mat-step-icon-content' }, h('span', {}, String(i + 1))));
      var text = h('div', { class: 'mat-step-label' }, h('div', { class: 'mat-step-text-label' }, label));
      var header = h('mat-step-header', {
        class: 'mat-step-header mat-horizontal-stepper-header mat-focus-indicator', role: 'tab',
        id: 'cdk-step-label-0-' + i, tabindex: i === 0 ? '0' : '-1', 'aria-posinset': String(i + 1),
        'aria-setsize': String(labels.length), 'aria-controls': 'cdk-step-content-0-' + i,
        'aria-selected': 'false', 'aria-disabled': 'false'
      }, h('div', { class: 'mat-step-header-ripple mat-ripple' }), icon, text);
      headers.push({ el: header, icon: icon, label: text });
      headerBox.appendChild(header);
      // All four panels always stay in the DOM; inactive ones are hidden by class (B11.1).
      var panel = h('div', {
        class: 'mat-horizontal-stepper-content', role: 'tabpanel', id: 'cdk-step-content-0-' + i,
        'aria-labelledby': 'cdk-step-label-0-' + i, 'aria-expanded': 'false'
      });
      contentBox.appendChild(panel);
      return panel;
    });
    var el = h('mat-horizontal-stepper', {
      class: 'mat-stepper-horizontal mat-stepper-label-position-end', role: 'tablist',
      'aria-orientation': 'horizontal'
    }, headerBox, contentBox);
    function select(index) {
      EM.overlay.close('api');
      selected = index;
      headers.forEach(function (header, i) {
        var on = i === index;
        header.el.setAttribute('aria-selected', String(on));
        header.el.setAttribute('tabindex', on ? '0' : '-1');
        header.icon.classList.toggle('mat-step-icon-selected', on);
        header.icon.classList.toggle('mat-step-icon-state-done', i < index);
        header.icon.classList.toggle('mat-step-icon-state-number', i >= index);
        header.label.classList.toggle('mat-step-label-active', i <= index);
        header.label.classList.toggle('mat-step-label-selected', on);
        panels[i].classList.toggle('mat-horizontal-stepper-content-inactive', !on);
        panels[i].setAttribute('aria-expanded', String(on));
      });
    }
    select(0);
    return { el: el, panels: panels, selected: function () { return selected; }, select: select };
  }

  EM.forms = {
    formField: formField, select: select, input: input, autocomplete: autocomplete,
    chipList: chipList, toggleGroup: toggleGroup, stepper: stepper
  };
})();
