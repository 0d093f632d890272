/*
 * Sandbox platform, part 2: DOM builder and the primitive legacy-Material widgets (B9.2, B9.3).
 *
 *   EM.h(tag, attrs, ...children)  element builder. attrs.class, attrs.style (string or object),
 *       attrs.on = {event: fn}, attrs.inserted -> class ng-star-inserted; other keys become
 *       attributes (names lower-cased; true -> "", false/null/undefined -> omitted).
 *       Children: strings (text nodes), nodes, arrays, null (skipped).
 *   EM.icon(ligature, cls)         font mat-icon;  EM.svgIcon(name, cls): svg mat-icon
 *       (names: xls (the Excel icon of B9.2), pdf, fees, upload, download)
 *   EM.button(label, opts)         opts: flavour ('mat-button' | 'mat-raised-button' |
 *       'mat-stroked-button' | 'mat-flat-button' | 'mat-icon-button'), classes, disabled, onClick,
 *       attrs. Returns the <button>, with button.setDisabled(bool).
 *   EM.checkbox(opts)              legacy mat-checkbox; opts: label, checked, onChange(checked).
 *       Returns {el, input, isChecked(), setChecked(b, silent), setIndeterminate(b)}.
 *   EM.overlayContainer()          div.cdk-overlay-container, last child of body, recreated when a
 *       popup sweep deleted it.
 *   EM.overlay.connect(anchor, content, opts)   attach a connected panel (mat-select/autocomplete/
 *       datepicker). Builds [backdrop] + div.cdk-overlay-connected-position-bounding-box >
 *       div.cdk-overlay-pane(.opts.paneClass) > content, positioned under the anchor (or above it
 *       when there is no room). opts:
 *         backdrop: true (default) -> div.cdk-overlay-backdrop.cdk-overlay-transparent-backdrop
 *                   .cdk-overlay-backdrop-showing, closing the panel when clicked;
 *                   false -> no backdrop; a click outside anchor and pane closes (autocomplete);
 *         width: 'anchor' (default: the anchor's width) | number of px | null (content width);
 *         onClose(reason): called once; reason is 'backdrop' | 'outside' | 'body' | 'escape' |
 *                   'replaced' | 'api'.
 *       Returns a handle {pane, box, backdrop, close(reason), isOpen()}. At most one connected
 *       panel is open: connecting another closes the previous one ('replaced'). Any click whose
 *       target is <body> (a user click or document.body.click()) closes it and blurs the focused
 *       element; so does Escape.
 *   EM.overlay.current()           the open connected panel handle, or null.
 *   EM.overlay.close(reason)       close the open connected panel, if any.
 *   EM.dialog(message)             B9.2 message dialog with CLOSE; resolves when it closes (CLOSE,
 *       Escape or a backdrop click).
 *   EM.tooltip(el, text)           matTooltip: sets [mattooltip] and shows div.mat-tooltip on hover
 *       or click, removed on mouseleave.
 */
(function () {
  'use strict';
  var EM = window.EM = window.EM || {};

  function appendChildren(el, children) {
    children.forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      if (Array.isArray(child)) { appendChildren(el, child); return; }
      el.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
    });
  }

  EM.h = function (tag, attrs) {
    var el = document.createElement(tag);
    var classes = [];
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (key === 'class') { if (value) classes.push(value); }
      else if (key === 'inserted') { if (value) classes.push('ng-star-inserted'); }
      else if (key === 'on') {
        Object.keys(value || {}).forEach(function (ev) { el.addEventListener(ev, value[ev]); });
      } else if (key === 'style' && value && typeof value === 'object') {
        Object.keys(value).forEach(function (prop) { el.style[prop] = value[prop]; });
      } else if (value !== null && value !== undefined && value !== false) {
        el.setAttribute(key.toLowerCase(), value === true ? '' : String(value));
      }
    });
    if (classes.length) el.setAttribute('class', classes.join(' '));
    appendChildren(el, Array.prototype.slice.call(arguments, 2));
    return el;
  };

  EM.icon = function (ligature, cls) {
    return EM.h('mat-icon', {
      class: 'mat-icon notranslate material-icons mat-icon-no-color' + (cls ? ' ' + cls : ''),
      role: 'img', 'aria-hidden': 'true', 'data-mat-icon-type': 'font'
    }, ligature);
  };

  var SVGS = {
    // The Excel icon the earlier automation located by g#excel_icon / path#Path_346 (A7.9).
    xls: '<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="100%" viewBox="0 0 24 24" ' +
      'fit="" preserveAspectRatio="xMidYMid meet" focusable="false"><g id="excel_icon">' +
      '<path id="Path_346" data-name="Path 346" fill="#1a8e07" d="M3 2h18a1 1 0 0 1 1 1v18a1 1 0 0 1-1 1H3a1 ' +
      '1 0 0 1-1-1V3a1 1 0 0 1 1-1z"/><path id="Path_347" data-name="Path 347" fill="#ffffff" ' +
      'd="M7.2 6h2.6l2.2 3.9L14.2 6h2.6l-3.5 6 3.5 6h-2.6L12 14.1 9.8 18H7.2l3.5-6z"/></g></svg>',
    pdf: '<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="100%" viewBox="0 0 24 24" ' +
      'focusable="false"><path fill="#d32f2f" d="M5 2h10l5 5v15H5z"/><path fill="#fff" d="M8 13h8v2H8zm0 3h6v2H8z"/></svg>',
    fees: '<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="100%" viewBox="0 0 24 24" ' +
      'focusable="false"><circle cx="12" cy="12" r="10" fill="#1976d2"/><path fill="#fff" d="M11 10h2v7h-2zm0-4h2v2h-2z"/></svg>',
    upload: '<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="100%" viewBox="0 0 24 24" ' +
      'focusable="false"><path fill="#607d8b" d="M19 15v4H5v-4H3v6h18v-6zM11 16h2V7l3 3 1.4-1.4L12 3.2 6.6 8.6 8 10l3-3z"/></svg>',
    download: '<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="100%" viewBox="0 0 24 24" ' +
      'focusable="false"><path fill="#607d8b" d="M19 15v4H5v-4H3v6h18v-6zM13 3h-2v9l-3-3-1.4 1.4L12 15.8l5.4-5.4L16 9l-3 3z"/></svg>'
  };

  EM.svgIcon = function (name, cls) {
    var extra = name === 'xls' ? ' svg-xls-icon' : '';
    var icon = EM.h('mat-icon', {
      class: 'mat-icon notranslate mat-icon-no-color' + extra + (cls ? ' ' + cls : ''),
      role: 'img', svgicon: name, 'aria-hidden': 'true',
      'data-mat-icon-type': 'svg', 'data-mat-icon-name': name
    });
    icon.innerHTML = SVGS[name] || '';
    return icon;
  };

  EM.button = function (label, opts) {
    opts = opts || {};
    var flavour = opts.flavour || 'mat-button';
    var attrs = Object.assign({ type: 'button' }, opts.attrs || {});
    attrs.class = 'mat-focus-indicator ' + flavour + ' mat-button-base' + (opts.classes ? ' ' + opts.classes : '');
    // The wrapper's class must be exactly `mat-button-wrapper` and its text exactly the label (A6).
    var button = EM.h('button', attrs,
      EM.h('span', { class: 'mat-button-wrapper' }, label),
      EM.h('span', { class: 'mat-ripple mat-button-ripple' }),
      EM.h('span', { class: 'mat-button-focus-overlay' }));
    button.setDisabled = function (disabled) {
      if (disabled) { button.setAttribute('disabled', 'true'); button.classList.add('mat-button-disabled'); }
      else { button.removeAttribute('disabled'); button.classList.remove('mat-button-disabled'); }
    };
    button.setDisabled(!!opts.disabled);
    if (opts.onClick) {
      button.addEventListener('click', function (event) {
        if (!button.hasAttribute('disabled')) opts.onClick(event);
      });
    }
    return button;
  };

  var checkboxCount = 0;
  EM.checkbox = function (opts) {
    opts = opts || {};
    checkboxCount += 1;
    var id = 'mat-checkbox-' + checkboxCount;
    var input = EM.h('input', {
      type: 'checkbox', class: 'mat-checkbox-input cdk-visually-hidden', id: id + '-input',
      tabindex: '0', 'aria-checked': 'false', value: ''
    });
    var background = EM.h('span', { class: 'mat-checkbox-background' });
    background.innerHTML = '<svg version="1.1" focusable="false" viewBox="0 0 24 24" xml:space="preserve" ' +
      'class="mat-checkbox-checkmark"><path fill="none" stroke="white" d="M4.1,12.7 9,17.6 20.3,6.3" ' +
      'class="mat-checkbox-checkmark-path"></path></svg><span class="mat-checkbox-mixedmark"></span>';
    var label = EM.h('label', { class: 'mat-checkbox-layout', for: id + '-input' },
      EM.h('span', { class: 'mat-checkbox-inner-container' }, input,
        EM.h('span', { class: 'mat-checkbox-frame' }), background),
      EM.h('span', { class: 'mat-checkbox-label' }, opts.label || ''));
    // Legacy Material: aria-checked lives on the input only, never on the host (B9.2).
    var host = EM.h('mat-checkbox', { class: 'mat-checkbox mat-accent', id: id }, label);

    function sync() {
      input.setAttribute('aria-checked', input.indeterminate ? 'mixed' : String(input.checked));
      host.classList.toggle('mat-checkbox-checked', input.checked);
      host.classList.toggle('mat-checkbox-indeterminate', input.indeterminate);
    }
    input.addEventListener('change', function () {
      input.indeterminate = false;
      sync();
      if (opts.onChange) opts.onChange(input.checked);
    });
    // A click on the host outside the label (e.g. a script's host.click()) toggles once.
    host.addEventListener('click', function (event) { if (event.target === host) input.click(); });
    input.checked = !!opts.checked;
    sync();
    return {
      el: host,
      input: input,
      isChecked: function () { return input.checked; },
      setChecked: function (checked, silent) {
        input.checked = !!checked;
        input.indeterminate = false;
        sync();
        if (!silent && opts.onChange) opts.onChange(input.checked);
      },
      setIndeterminate: function (on) { input.indeterminate = !!on; sync(); }
    };
  };

  EM.overlayContainer = function () {
    var container = document.querySelector('body > div.cdk-overlay-container');
    if (!container) {
      container = EM.h('div', { class: 'cdk-overlay-container' });
      document.body.appendChild(container);
    }
    return container;
  };

  var openPanel = null;

  function place(box, anchor, width) {
    var rect = anchor.getBoundingClientRect();
    box.style.position = 'absolute';
    box.style.left = Math.max(0, rect.left) + 'px';
    if (width === 'anchor' || width === undefined) box.style.width = rect.width + 'px';
    else if (typeof width === 'number') box.style.width = width + 'px';
    var below = window.innerHeight - rect.bottom;
    if (below < 260 && rect.top > below) {
      box.style.top = '';
      box.style.bottom = (window.innerHeight - rect.top) + 'px';
    } else {
      box.style.top = rect.bottom + 'px';
    }
  }

  EM.overlay = {
    current: function () { return openPanel; },
    close: function (reason) { if (openPanel) openPanel.close(reason || 'api'); },
    connect: function (anchor, content, opts) {
      opts = opts || {};
      EM.overlay.close('replaced');
      var container = EM.overlayContainer();
      var pane = EM.h('div', { class: 'cdk-overlay-pane' + (opts.paneClass ? ' ' + opts.paneClass : '') }, content);
      var box = EM.h('div', { class: 'cdk-overlay-connected-position-bounding-box', dir: 'ltr' }, pane);
      var backdrop = null;
      var open = true;
      var handle = {
        pane: pane, box: box, backdrop: null,
        isOpen: function () { return open; },
        close: function (reason) {
          if (!open) return;
          open = false;
          if (openPanel === handle) openPanel = null;
          if (backdrop) backdrop.remove();
          box.remove();
          if (opts.onClose) opts.onClose(reason || 'api');
        }
      };
      if (opts.backdrop !== false) {
        backdrop = EM.h('div', {
          class: 'cdk-overlay-backdrop cdk-overlay-transparent-backdrop cdk-overlay-backdrop-showing',
          on: { click: function () { handle.close('backdrop'); } }
        });
        handle.backdrop = backdrop;
        container.appendChild(backdrop);
      } else {
        handle.outside = function (target) {
          return !pane.contains(target) && !anchor.contains(target);
        };
      }
      container.appendChild(box);
      place(box, anchor, opts.width);
      openPanel = handle;
      return handle;
    }
  };

  var dialogCount = 0;
  var openDialogs = [];

  EM.dialog = function (message) {
    EM.overlay.close('replaced');
    dialogCount += 1;
    var container = EM.overlayContainer();
    return new Promise(function (resolve) {
      var record = {};
      function close() {
        if (record.closed) return;
        record.closed = true;
        backdrop.remove();
        wrapper.remove();
        openDialogs = openDialogs.filter(function (d) { return d !== record; });
        resolve();
      }
      record.close = close;
      var backdrop = EM.h('div', {
        class: 'cdk-overlay-backdrop cdk-overlay-dark-backdrop cdk-overlay-backdrop-showing',
        on: { click: close }
      });
      var dialog = EM.h('mat-dialog-container', {
        class: 'mat-dialog-container ng-star-inserted', tabindex: '-1', 'aria-modal': 'true',
        id: 'mat-dialog-' + (dialogCount - 1), role: 'dialog'
      }, EM.h('app-message-dialog', { inserted: true },
        EM.h('div', { class: 'mat-dialog-content dialog-content' }, EM.h('span', {}, message)),
        EM.h('div', { class: 'mat-dialog-actions' }, EM.button('CLOSE', { flavour: 'mat-button', onClick: close }))));
      var wrapper = EM.h('div', { class: 'cdk-global-overlay-wrapper', dir: 'ltr' },
        EM.h('div', { class: 'cdk-overlay-pane', style: 'max-width: 80vw; position: static;' }, dialog));
      container.appendChild(backdrop);
      container.appendChild(wrapper);
      openDialogs.push(record);
    });
  };

  EM.tooltip = function (el, text) {
    if (!el.hasAttribute('mattooltip')) el.setAttribute('mattooltip', text);
    var shown = null;
    function show() {
      if (shown && shown.isConnected) return;
      var rect = el.getBoundingClientRect();
      shown = EM.h('div', { class: 'cdk-overlay-connected-position-bounding-box', dir: 'ltr' },
        EM.h('div', { class: 'cdk-overlay-pane mat-tooltip-panel' },
          EM.h('mat-tooltip-component', { inserted: true, 'aria-hidden': 'true' },
            EM.h('div', { class: 'mat-tooltip mat-tooltip-show' }, text))));
      shown.style.position = 'absolute';
      shown.style.left = rect.left + 'px';
      shown.style.top = (rect.bottom + 4) + 'px';
      EM.overlayContainer().appendChild(shown);
    }
    function hide() { if (shown) { shown.remove(); shown = null; } }
    el.addEventListener('mouseenter', show);
    el.addEventListener('click', show);
    el.addEventListener('mouseleave', hide);
    return el;
  };

  // B9.3: a click whose target is <body> (also document.body.click()) closes the open panel and
  // blurs the focused input; outside clicks close a backdrop-less panel (autocomplete).
  document.addEventListener('click', function (event) {
    if (event.target === document.body) {
      EM.overlay.close('body');
      if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    } else if (openPanel && openPanel.outside && openPanel.outside(event.target)) {
      openPanel.close('outside');
    }
  }, true);

  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Escape') return;
    if (openPanel) { openPanel.close('escape'); return; }
    var top = openDialogs[openDialogs.length - 1];
    if (top) top.close();
  });
})();
