/*
 * The platform's own small pages: the account Welcome page (A5) and the termops home (B13).
 * EM.page.data.page selects which one to render.
 */
(function () {
  'use strict';
  var h = EM.h;

  function welcome(data) {
    var items = data.preferences.map(function (pair) {
      return h('div', { class: 'pref-item' + (pair[0] === 'Default page' ? ' pref-highlight' : '') },
        h('label', {}, pair[0]),
        h('div', { class: 'pref-value' }, pair[1]));
    });
    return h('app-welcome', { inserted: true },
      h('div', { class: 'welcome' },
        h('div', { class: 'welcome-title' }, 'Welcome to eModal'),
        h('p', {}, 'with ecp2.0 now you can set your favorite page as your default page.'),
        h('p', {}, 'To set your default page go to ', h('b', {}, 'User Profile >> User Preferences and Settings')),
        h('div', { class: 'pref-card' },
          h('div', { class: 'pref-card-title' }, 'User Preferences and Settings', EM.icon('edit')),
          h('div', { class: 'pref-grid' }, items))));
  }

  function home(data) {
    return h('app-home', { inserted: true },
      h('div', { class: 'page-body' },
        h('p', {}, 'Welcome to the eModal Community Portal, ' + data.username + '.'),
        h('p', {}, h('a', { class: 'home-link', href: data.addvisit }, 'Add Appointment'))));
  }

  var pages = { welcome: welcome, home: home };
  EM.boot(function (outlet) {
    var data = EM.page.data;
    outlet.parentNode.appendChild(pages[data.page](data));
  });
})();
