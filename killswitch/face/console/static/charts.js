// The console's charts: each policy instance's chart, drawn by the runner as SVG
// (GET /v1/charts/{policy}/{scope}), fetched when its <details> is opened and every REFRESH_MS
// while it stays open, and placed in the page as SVG elements. Nothing is drawn here and nothing
// is fetched from anywhere but this runner.
//
// The token is read from the tab's sessionStorage, as console.js keeps it, and sent only in the
// Authorization header. The runner's answer is parsed as an SVG document (never as HTML), and a
// document that does not parse, or whose root is not <svg>, is not placed. The view is swapped
// every 2 s by console.js: which charts are open, and the last drawing of each, are kept here
// and put back into the new view at once, so a chart neither closes nor blinks at a refresh.
"use strict";
(() => {
  const KEY = "killswitch.console.token";
  const REFRESH_MS = 10000;
  const HOURS = 3;
  const opened = new Map(); // chart key -> true (opened by the reader) | false (closed by the reader)
  const drawn = new Map(); // chart key -> {node, at}: the last drawing placed, and when it was fetched
  const loading = new Set();

  function headers() {
    const t = sessionStorage.getItem(KEY);
    return t ? {Authorization: "Bearer " + t} : {};
  }
  function say(body, text) {
    const p = document.createElement("p");
    p.className = "chart-error";
    p.textContent = text;
    body.replaceChildren(p);
  }
  async function load(details) {
    const key = details.dataset.chartKey;
    if (loading.has(key)) return;
    loading.add(key);
    const body = () => document.querySelector("details[data-chart-key=\"" + CSS.escape(key) + "\"] .chart-body");
    const first = body();
    if (first && !drawn.has(key)) first.setAttribute("aria-busy", "true");
    try {
      const r = await fetch(details.dataset.chart + "?hours=" + HOURS,
                            {headers: headers(), cache: "no-store", credentials: "same-origin"});
      const text = await r.text();
      const target = body(); // the view may have been swapped meanwhile
      if (!target) return;
      target.setAttribute("aria-busy", "false");
      if (!r.ok) {
        let why = "HTTP " + r.status;
        try { const doc = JSON.parse(text); if (typeof doc.reason === "string") why = doc.reason; } catch (e) { /* not JSON */ }
        say(target, "The runner did not give the chart: " + why);
        return;
      }
      const doc = new DOMParser().parseFromString(text, "image/svg+xml");
      const root = doc.documentElement;
      if (doc.querySelector("parsererror") || root.namespaceURI !== "http://www.w3.org/2000/svg" || root.localName !== "svg") {
        say(target, "The runner's chart could not be read.");
        return;
      }
      const node = document.importNode(root, true);
      drawn.set(key, {node, at: performance.now()});
      target.replaceChildren(node.cloneNode(true));
    } catch (e) {
      const target = body();
      if (target) { target.setAttribute("aria-busy", "false"); say(target, "The runner does not answer (" + e.message + ")."); }
    } finally {
      loading.delete(key);
    }
  }
  function wantsOpen(details) {
    const key = details.dataset.chartKey;
    return opened.has(key) ? opened.get(key) : details.dataset.openDefault === "true";
  }
  // the view was swapped: open what was open, put back the last drawing, fetch what is stale
  function restore() {
    for (const details of document.querySelectorAll("details[data-chart]")) {
      if (!wantsOpen(details)) continue;
      const key = details.dataset.chartKey;
      const last = drawn.get(key);
      if (last) details.querySelector(".chart-body").replaceChildren(last.node.cloneNode(true));
      if (!details.open) { details.dataset.restoring = "true"; details.open = true; }
      if (!last || performance.now() - last.at >= REFRESH_MS) load(details);
    }
  }
  // toggle does not bubble: listened for on its way down
  document.addEventListener("toggle", (e) => {
    const details = e.target;
    if (!(details instanceof HTMLDetailsElement) || !details.dataset.chart) return;
    if (details.dataset.restoring === "true") { delete details.dataset.restoring; return; }
    opened.set(details.dataset.chartKey, details.open);
    if (details.open) load(details);
  }, true);
  const view = document.getElementById("view");
  if (view) new MutationObserver(restore).observe(view, {childList: true});
  window.setInterval(() => {
    for (const details of document.querySelectorAll("details[data-chart][open]")) load(details);
  }, REFRESH_MS);
  restore();
})();
