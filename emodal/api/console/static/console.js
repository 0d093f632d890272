// Operator console: confirmations, relative times, and a refresh of the live parts of the page.
// Every few seconds the page's own URL is fetched again; each element marked data-live is
// compared with its fresh copy and only the children whose server HTML changed are replaced, so
// screenshots are not downloaded again while nothing new happened.
"use strict";

const REFRESH_MS = 4000;
const served = new WeakMap();  // element -> the server HTML it was built from

function remember(region) {
  served.set(region, region.innerHTML);
  for (const child of region.children) served.set(child, child.outerHTML);
}

function keyed(children) {
  return children.length > 0 && children.every((c) => c.id);
}

function patch(region, fresh) {
  const old = [...region.children];
  const kids = [...fresh.children].map((c) => document.importNode(c, true));
  const sameRows = keyed(old) && keyed(kids) && old.length === kids.length && old.every((c, i) => c.id === kids[i].id);
  if (!sameRows) {
    if (served.get(region) !== fresh.innerHTML) {
      region.replaceChildren(...kids);
    }
  } else {
    old.forEach((child, i) => {
      if (served.get(child) !== kids[i].outerHTML) child.replaceWith(kids[i]);
    });
  }
  remember(region);
}

function ago(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d`;
}

function humanize() {
  const now = Date.now();
  for (const t of document.querySelectorAll("time[datetime]")) {
    const delta = (now - Date.parse(t.getAttribute("datetime"))) / 1000;
    if (t.hasAttribute("data-since")) t.textContent = ago(delta);
    else if (t.hasAttribute("data-until")) t.textContent = delta < 0 ? `in ${ago(-delta)}` : "now";
    else t.textContent = `${ago(delta)} ago`;
  }
}

async function refresh() {
  if (document.hidden) return;
  let response;
  try {
    response = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
  } catch (err) {
    return;  // service unreachable for a moment: try again at the next tick
  }
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const region of document.querySelectorAll("[data-live]")) {
    const fresh = doc.getElementById(region.id);
    if (!response.ok || response.redirected || !fresh) {
      location.reload();  // signed out, session gone, or an error: show the page the server has now
      return;
    }
    patch(region, fresh);
  }
  humanize();
}

document.addEventListener("submit", (event) => {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});

document.addEventListener("DOMContentLoaded", () => {
  const regions = document.querySelectorAll("[data-live]");
  regions.forEach(remember);
  humanize();
  setInterval(humanize, 1000);
  if (regions.length) setInterval(refresh, REFRESH_MS);
});
