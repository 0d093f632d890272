/*
 * Page side of the reCAPTCHA-like widget (B6.1): window.grecaptcha, window.___grecaptcha_cfg and
 * the postMessage bridge to the anchor and challenge frames. The anchor iframe is already in the
 * served HTML; the challenge (bframe) iframe is created in a separate body-level div only when a
 * challenge opens, and removed when it closes.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  var origin = script ? new URL(script.src).origin : location.origin;
  var widget = document.querySelector('.g-recaptcha');
  if (!widget) return;
  var anchorFrame = widget.querySelector('iframe');
  var textarea = widget.querySelector('textarea.g-recaptcha-response');
  var sitekey = widget.getAttribute('data-sitekey');
  var client = {
    sitekey: sitekey,
    callback: widget.getAttribute('data-callback'),
    'expired-callback': widget.getAttribute('data-expired-callback'),
    size: 'normal',
    theme: 'light'
  };
  // Shaped like Google's: callbacks nest a few (obfuscated) levels under clients[0].
  window.___grecaptcha_cfg = { count: 1, isolated_count: 0, clients: { 0: { id: 0, version: 'sandbox', Q: { Q: client } } } };

  function invoke(name, arg) {
    var fn = typeof name === 'function' ? name : window[name];
    if (typeof fn === 'function') fn(arg);
  }
  function toAnchor(message) {
    message.source = 'sbx-recaptcha-host';
    anchorFrame.contentWindow.postMessage(message, '*');
  }

  var challengeBox = document.createElement('div');
  challengeBox.setAttribute('style', 'visibility: hidden; position: absolute; width: 100%; top: -10000px; left: 0; right: 0;');
  document.body.appendChild(challengeBox);
  var challengeFrame = null;

  function openChallenge() {
    closeChallenge();
    var rect = anchorFrame.getBoundingClientRect();
    challengeFrame = document.createElement('iframe');
    challengeFrame.setAttribute('title', 'recaptcha challenge expires in two minutes');
    challengeFrame.setAttribute('name', 'c-' + Math.random().toString(36).slice(2, 14));
    challengeFrame.setAttribute('frameborder', '0');
    challengeFrame.setAttribute('scrolling', 'no');
    challengeFrame.setAttribute('width', '400');
    challengeFrame.setAttribute('height', '580');
    challengeFrame.setAttribute('src', origin + '/google/recaptcha/api2/bframe?hl=en&v=sandbox&k=' + encodeURIComponent(sitekey));
    challengeBox.appendChild(challengeFrame);
    challengeBox.setAttribute('style', 'visibility: visible; position: absolute; z-index: 2000000000; left: ' +
      Math.round(rect.left + window.scrollX) + 'px; top: ' + Math.max(0, Math.round(rect.top + window.scrollY - 200)) + 'px;');
  }
  function closeChallenge() {
    if (challengeFrame) challengeFrame.remove();
    challengeFrame = null;
    challengeBox.setAttribute('style', 'visibility: hidden; position: absolute; width: 100%; top: -10000px; left: 0; right: 0;');
  }
  function deliver(token) {
    textarea.value = token;
    invoke(client.callback, token);
  }

  window.addEventListener('message', function (event) {
    var data = event.data || {};
    if (data.source !== 'sbx-recaptcha') return;
    if (data.type === 'challenge') openChallenge();
    else if (data.type === 'token') deliver(data.token);
    else if (data.type === 'solved') {
      closeChallenge();
      toAnchor({ type: 'checked', ttl_s: data.ttl_s });
      deliver(data.token);
    } else if (data.type === 'expired') {
      textarea.value = '';
      invoke(client['expired-callback']);
    }
  });

  // A click outside the open challenge closes it; the box stays unchecked (B6.3).
  document.addEventListener('click', function (event) {
    if (challengeFrame && !challengeBox.contains(event.target)) {
      closeChallenge();
      toAnchor({ type: 'reset' });
    }
  });

  window.grecaptcha = {
    getResponse: function () { return textarea.value; },
    reset: function () { textarea.value = ''; closeChallenge(); toAnchor({ type: 'reset' }); },
    render: function () { return 0; },
    execute: function () {},
    ready: function (cb) { setTimeout(cb, 0); }
  };
})();
