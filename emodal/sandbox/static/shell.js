/*
 * Sandbox platform, part 1: boot, Angular-like testability, app bar, tracked XHRs (window.EM).
 *
 *   EM.page            window.__EM_PAGE__ = {app, base, knobs, data}
 *   EM.boot(render)    after knobs.page_boot_ms build app-root > mat-sidenav-container >
 *                      mat-sidenav-content > mat-toolbar + router-outlet, then render(outlet)
 *                      (render may return a promise; it is tracked)
 *   EM.track(promise)  keep isStable() false until the promise settles; returns the promise
 *   EM.delay(ms)       tracked timer promise
 *   EM.api(method, path, body)  tracked JSON XHR to EM.page.base + '/' + path; a 401 reloads the
 *                      page (which then lands on the login or the 401 page); other non-2xx reject
 *                      with {status, body}; network failures reject with {status: 0, body: null}
 *
 * Why: the real portal is an Angular app. Automation waits on getAllAngularTestabilities() and
 * isStable(), so every delay the sandbox simulates must be visible there (B9.1, B14).
 */
(function () {
  'use strict';
  var EM = window.EM = window.EM || {};
  EM.page = window.__EM_PAGE__ || { app: '', base: '', knobs: {}, data: {} };

  var pending = 0;
  var stableCallbacks = [];

  function flushWhenStable() {
    // Angular notifies whenStable callbacks asynchronously, after the zone has settled.
    setTimeout(function () {
      if (pending !== 0) return;
      var callbacks = stableCallbacks;
      stableCallbacks = [];
      callbacks.forEach(function (cb) {
        try { cb(true); } catch (err) { console.error(err); }
      });
    }, 0);
  }

  function settle() {
    pending -= 1;
    if (pending === 0) flushWhenStable();
  }

  EM.track = function (promise) {
    pending += 1;
    promise.then(settle, settle);
    return promise;
  };

  EM.delay = function (ms) {
    return EM.track(new Promise(function (resolve) { setTimeout(resolve, Math.max(0, ms || 0)); }));
  };

  var testability = {
    isStable: function () { return pending === 0; },
    whenStable: function (cb) {
      stableCallbacks.push(cb);
      if (pending === 0) flushWhenStable();
    },
    getPendingRequestCount: function () { return pending; },
    findProviders: function () { return []; }
  };

  function defineTestability() {
    // Real Angular registers these when the app bootstraps, not in the served HTML.
    window.getAllAngularTestabilities = function () { return [testability]; };
    window.getAngularTestability = function () { return testability; };
  }

  var APP_NAMES = {
    ecp2: 'Port Manager',
    termops: 'eModal Community Portal',
    truckerportal: 'Trucker Portal',
    account: ''
  };

  function logo(kind) {
    // Local marks, not the real artwork (B2 "Offline"); images add no innerText.
    var svg = kind === 'cargosprint'
      ? '<svg xmlns="http://www.w3.org/2000/svg" width="36" height="36" viewBox="0 0 36 36">' +
        '<path d="M14 4h8v10h10v8H22v10h-8V22H4v-8h10z" fill="#3aaa35"/></svg>'
      : '<svg xmlns="http://www.w3.org/2000/svg" width="36" height="36" viewBox="0 0 36 36">' +
        '<circle cx="18" cy="18" r="14" fill="#263238"/><path d="M11 19h14a7 7 0 1 0-2 5" ' +
        'stroke="#8bc34a" stroke-width="3" fill="none"/></svg>';
    return EM.h('img', {
      class: 'app-logo app-logo-' + kind,
      src: 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg),
      alt: ''
    });
  }

  /* The A6 app bar: menu on a coloured square, logos, app name, then the action icons. */
  EM.appBar = function () {
    var app = EM.page.app;
    var name = APP_NAMES[app] || '';
    var toolbar = EM.h('mat-toolbar', {
      class: 'mat-toolbar mat-primary mat-toolbar-single-row app-bar app-bar-' + app
    });
    toolbar.appendChild(EM.button(EM.icon('menu'), { flavour: 'mat-icon-button', classes: 'menu-square' }));
    toolbar.appendChild(logo('cargosprint'));
    if (name) toolbar.appendChild(EM.h('span', { class: 'app-name' }, name));
    toolbar.appendChild(logo('emodal'));
    toolbar.appendChild(EM.h('span', { class: 'app-bar-spacer' }));
    // The Welcome page (account app) shows no cart (A5).
    var actions = app === 'account' ? ['settings', 'help', 'person'] : ['shopping_cart', 'settings', 'help', 'person'];
    actions.forEach(function (ligature) {
      toolbar.appendChild(EM.button(EM.icon(ligature), {
        flavour: 'mat-icon-button',
        classes: ligature === 'person' ? 'user-button' : 'app-bar-action'
      }));
    });
    return toolbar;
  };

  EM.boot = function (render) {
    defineTestability();
    var boot = EM.delay(EM.page.knobs.page_boot_ms || 0).then(function () {
      var root = document.querySelector('app-root');
      root.setAttribute('ng-version', '14.2.12');
      var outlet = EM.h('router-outlet');
      var content = EM.h('mat-sidenav-content', { class: 'mat-drawer-content mat-sidenav-content' },
        EM.appBar(), outlet);
      root.appendChild(EM.h('mat-sidenav-container', { class: 'mat-drawer-container mat-sidenav-container' }, content));
      return render ? render(outlet) : undefined;
    });
    EM.track(boot).catch(function (err) { console.error(err); });
    return boot;
  };

  EM.api = function (method, path, body) {
    var url = EM.page.base + '/' + String(path).replace(/^\/+/, '');
    var init = {
      method: method,
      credentials: 'same-origin',
      headers: { 'Accept': 'application/json', 'X-Requested-With': 'XMLHttpRequest' }
    };
    if (body !== undefined && body !== null) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    var call = fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (err) { data = text; }
        if (response.status === 401) {
          // Session gone: reload, so the server answers with the login chain or the 401 page.
          // The promise never settles, so the page stays "unstable" until the reload happens.
          location.reload();
          return new Promise(function () {});
        }
        if (!response.ok) throw { status: response.status, body: data };
        return data;
      });
    }, function () {
      throw { status: 0, body: null };
    });
    return EM.track(call);
  };
})();
