// The killswitch console: refreshes the server-rendered view, and runs an operator's actions as
// fill in -> preview (a dry run on the runner) -> type the scope -> send.
//
// The token an operator types is kept in this tab's sessionStorage and sent only as an
// Authorization header by fetch() to this origin: never in a URL (logs, history, Referer) and
// never in a cookie (a cookie would be sent with any request to the runner, so a page elsewhere
// could make the browser act with it). A person signed in through the firm's identity provider
// (the runner started with --oidc-config: "Sign in") holds the runner's own session cookie
// instead: HttpOnly (no script reads it), SameSite=Strict, sent by fetch() to this origin only;
// the runner takes a write it authenticates only from this page's origin. A token typed here
// wins over the session. Polling, not server-sent events: an EventSource cannot
// send an Authorization header. Data from the runner is written with textContent only, or is HTML
// the runner rendered escaping every value (the view, a runbook).
//
// A dead runner looks dead: when a refresh gets no answer (no connection, a 5xx, nothing within
// TIMEOUT_MS) a red banner says since when and how old the view is, the view is greyed, the tab's
// title and icon change; all of it goes back at the next answer. A runner that answers says in
// the same title and icon what its book is in: halted, or a stage entered (notify.js tells of a
// new entry while the tab is elsewhere, when the operator asked for it). Every age on the page keeps
// counting meanwhile (each carries its absolute time in data-ts; the runner's clock is carried
// forward from the view's data-now-ms by the browser's monotonic clock).
"use strict";
(() => {
  const KEY = "killswitch.console.token";
  const REFRESH_MS = 2000;
  const HIDDEN_REFRESH_MS = 10000; // a background tab still notices a dead runner (its title says so)
  const TIMEOUT_MS = 5000;
  const TITLE = document.title;
  const CLOSE_POLL_MS = 1000;
  const FINAL_CLOSE_STATES = ["settled", "dry_run", "unplanned", "expired", "refused"];
  const ACTIONS = {
    lock: {title: "Lock trading on", path: "/v1/lock", fields: ["scope", "mode", "ttl", "reason"]},
    unlock: {title: "Unlock", path: "/v1/unlock", fields: ["scope", "reason"]},
    reset: {title: "Approve the reset of", path: "/v1/reset", fields: ["policy", "scope", "reason"]},
    close: {title: "Close every position of", path: "/v1/close", fields: ["scope", "symbol", "leg", "reason"]},
    restore: {title: "Approve the restore of trading on", path: "/v1/revoke/restore", fields: ["scope", "reason"]},
  };
  const $ = (id) => document.getElementById(id);
  const isPublic = document.body.dataset.public === "true";
  const hasSignin = document.body.dataset.signin === "true"; // single sign-on is configured
  // a trusted authenticating proxy in front names the person on each request (no token, no cookie of ours)
  const proxied = document.body.dataset.proxied === "true";
  let paused = false;
  let inflight = false;
  let lastHtml = null;
  let current = null; // {action, body}: what was previewed, and so what Send sends
  let shown = null; // {runnerMs, at}: the runner's time of the view shown, and performance.now() when it came
  let down = null; // {sinceMs, why, title}: since when (runner's clock) the refresh gets no answer
  let lastTry = 0;

  const token = () => sessionStorage.getItem(KEY);
  let session = null; // the signed-in person (whoami's answer) while the session cookie is taken
  const signedIn = () => !!token() || session !== null; // a credential the runner may take
  let refusedWhy = null; // why the runner refused the last token tried (null: none refused)
  function headers(json) {
    const h = {};
    const t = token();
    if (t) h["Authorization"] = "Bearer " + t;
    if (json) h["Content-Type"] = "application/json";
    return h;
  }
  function announce(text) {
    const a = $("announce");
    a.textContent = "";
    window.setTimeout(() => { a.textContent = text; }, 30);
  }
  function reasonOf(r) {
    if (r.doc && typeof r.doc.reason === "string") return r.doc.reason;
    if (r.doc && typeof r.doc.error === "string") return r.doc.error;
    return "HTTP " + r.status;
  }
  async function api(method, path, body) {
    const init = {method, headers: headers(body !== undefined), cache: "no-store", credentials: "same-origin"};
    if (body !== undefined) init.body = JSON.stringify(body);
    const r = await fetch(path, init);
    let doc = null;
    try { doc = await r.json(); } catch (e) { doc = null; }
    return {status: r.status, ok: r.ok, doc};
  }

  // --- who is signed in ---------------------------------------------------------------------------

  function setWho(doc, problem) {
    const who = $("who");
    if (doc) {
      who.textContent = "Signed in as " + doc.identity + " (" + doc.roles.slice().sort().join(", ") + ")"
        + (token() ? "." : proxied ? " through the firm's proxy." : " through the firm's sign-in.");
    } else {
      who.textContent = problem ? (hasSignin && !token() ? "Sign-in refused: " : "Token refused: ") + problem
        : (isPublic ? "No token: read-only view." : "No token.");
    }
    document.body.dataset.signedIn = session !== null && !token() ? "true" : "false";
    if (hasSignin) {
      $("sign-in").hidden = session !== null;
      $("sign-out").hidden = session === null;
    }
    fold();
  }
  // a phone folds the token and settings under one toggle (layout.css), open while no credential
  // is in and the view needs one; a wide screen always shows them
  const narrow = window.matchMedia("(max-width: 640px)");
  function fold() { $("settings").open = !narrow.matches || (!signedIn() && !isPublic); }
  narrow.addEventListener("change", fold);
  async function checkSession() { // the session cookie, when single sign-on is configured and no token is typed
    session = null;
    const r = await api("GET", "/v1/whoami");
    if (r.ok && r.doc) { session = r.doc; refusedWhy = null; setWho(r.doc); return true; }
    if (r.status !== 401 || (r.doc && r.doc.error !== "AUTH_REQUIRED")) refusedWhy = reasonOf(r);
    setWho(null, refusedWhy);
    return false;
  }
  async function checkToken() {
    if (!token()) {
      if (hasSignin || proxied) return checkSession();
      setWho(null);
      return false;
    }
    const r = await api("GET", "/v1/whoami");
    if (r.ok && r.doc) { refusedWhy = null; setWho(r.doc); return true; }
    sessionStorage.removeItem(KEY);
    refusedWhy = reasonOf(r);
    setWho(null, refusedWhy);
    return false;
  }
  if (hasSignin) {
    $("sign-out").addEventListener("click", async () => {
      const r = await api("POST", "/v1/auth/logout", {});
      session = null;
      refusedWhy = null;
      setWho(null);
      announce(r.ok ? "Signed out." : "Sign-out: " + reasonOf(r));
      if (!isPublic && !token()) showSignedOut();
    });
    // the runner's callback sends a refused sign-in back here with its reason code alone
    const refused = /^#signin-refused=([A-Z_]{1,40})$/.exec(window.location.hash);
    if (refused) {
      history.replaceState(null, "", window.location.pathname + window.location.search);
      refusedWhy = refused[1];
      window.setTimeout(() => announce("Sign-in refused: " + refused[1]), 0);
    }
  }
  $("token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("token");
    const value = input.value.trim();
    input.value = "";
    if (!value) { input.focus(); return; }
    sessionStorage.setItem(KEY, value);
    if (await checkToken()) { announce($("who").textContent); lastHtml = null; refresh(); linkedRunbook(); }
    else { announce($("who").textContent); if (!isPublic) showSignedOut(); input.focus(); }
  });
  $("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    refusedWhy = null;
    setWho(null);
    announce("Token forgotten.");
    if (hasSignin) { checkSession().then((ok) => { if (ok) { lastHtml = null; refresh(); } }); }
    if (!isPublic) { showSignedOut(); }
  });

  // --- the view, refreshed without reloading the page --------------------------------------------

  function showSignedOut() {
    $("view").replaceChildren();
    lastHtml = null;
    shown = null;
    down = null;
    $("signed-out").hidden = false;
    // a token the runner refused is not "no token": say so, with the runner's words
    const why = $("signed-out-why");
    why.hidden = refusedWhy === null;
    const what = hasSignin && !token() ? "sign-in" : "token";
    why.textContent = refusedWhy === null ? "" : "The runner refused the " + what + ": " + refusedWhy + ".";
    $("refresh-state").textContent = refusedWhy === null ? "Not updating: no token."
      : "Not updating: the " + what + " was refused (" + refusedWhy + ").";
    health();
  }

  // --- ages that keep counting, and the runner's health in the banner, the title and the icon ----

  // whole seconds in their two largest units, each unit's word from [second, minute, hour, day]
  function twoUnits(s, [sec, min, hour, day]) {
    const two = (a, ua, b, ub) => (b ? a + ua + " " + b + ub : a + ua);
    if (s < 60) return s + sec;
    if (s < 3600) return two(Math.floor(s / 60), min, s % 60, sec);
    if (s < 86400) return two(Math.floor(s / 3600), hour, Math.floor((s % 3600) / 60), min);
    return two(Math.floor(s / 86400), day, Math.floor((s % 86400) / 3600), hour);
  }
  function ageText(seconds) { // as model.py's age_text
    return twoUnits(Math.max(0, Math.round(seconds)), ["s", "m", "h", "d"]);
  }
  function spelled(seconds) { // as model.py's spelled
    return twoUnits(Math.max(0, Math.floor(seconds)), [" s", " min", " h", " d"]);
  }
  // numbers as killswitch/figures.py writes them (the page and ksctl status agree): separators,
  // at most 8 significant digits and no float noise, a price on its market's tick when known
  function places(step) {
    const [mant, exp] = String(step).split("e-");
    const decimals = (mant.split(".")[1] || "").length;
    return exp === undefined ? decimals : decimals + Number(exp);
  }
  function figure(x, step) {
    if (x === null || x === undefined) return "-";
    if (!Number.isFinite(x)) return Number.isNaN(x) ? "unknown" : (x < 0 ? "-" : "") + "infinite";
    if (Math.abs(x) >= 1e15) return x.toExponential(3);
    let d;
    if (step > 0) {
      d = places(step);
      x = Math.round(x / step) * step;
    } else {
      d = Math.min(12, Math.max(0, 7 - (x ? Math.floor(Math.log10(Math.abs(x))) : 0)));
    }
    const text = x.toLocaleString("en-US", {minimumFractionDigits: step > 0 ? d : 0, maximumFractionDigits: d});
    return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
  }
  function money(x) {
    const text = x.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
    return text === "-0.00" ? "0.00" : text;
  }
  function clockText(ms) { return new Date(ms).toISOString().slice(11, 19) + " UTC"; }
  function runnerNow() { return shown ? shown.runnerMs + (performance.now() - shown.at) : Date.now(); }
  function viewAge() { return shown ? (performance.now() - shown.at) / 1000 : 0; }
  function noteShown() {
    const state = $("view").querySelector("[data-now-ms]");
    const ms = state ? Number(state.dataset.nowMs) : NaN;
    shown = Number.isFinite(ms) ? {runnerMs: ms, at: performance.now()} : null;
  }
  function count() {
    const now = runnerNow();
    for (const el of document.querySelectorAll("#view [data-ts], #preview-facts [data-ts]")) {
      const ts = Number(el.dataset.ts);
      if (!Number.isFinite(ts)) continue;
      const d = (now - ts) / 1000;
      const form = el.dataset.form;
      const text = form === "age" ? ageText(d) : form === "left" ? ageText(-d) : form === "spelled" ? spelled(d)
        : d >= 0 ? ageText(d) + " ago" : "in " + ageText(-d);
      if (el.textContent !== text) el.textContent = text;
    }
    if (down) {
      $("liveness-since").textContent = clockText(down.sinceMs);
      $("liveness-age").textContent = spelled(viewAge());
    }
  }
  // the tab's icon per state: the runner's health first (unreachable, stalled), then what the
  // book is in (halted: a halt lock in force; stage-<n>: a scope at stage n), else ok
  const ICON_COLOURS = {ok: "#1e8e3e", stalled: "#e8a600", unreachable: "#d93025", none: "#7a808a",
                        halted: "#b3261e", stage: "#e8710a"};
  const ICON_MARKS = {
    ok: "",
    stalled: "<rect x='27' y='12' width='10' height='26' rx='3' fill='#1a1d21'/><circle cx='32' cy='48' r='5' fill='#1a1d21'/>",
    unreachable: "<path d='M19 19L45 45M45 19L19 45' stroke='#fff' stroke-width='9' stroke-linecap='round'/>",
    none: "",
    halted: "<rect x='12' y='26' width='40' height='12' rx='3' fill='#fff'/>",
  };
  function iconMark(kind, n) { // a stage's level as a digit (a number the view gave, checked here)
    if (kind !== "stage") return ICON_MARKS[kind];
    const digit = /^[1-9]$/.test(n) ? n : "!";
    return "<text x='32' y='46' font-size='40' font-weight='700' font-family='sans-serif' text-anchor='middle' "
      + "fill='#fff'>" + digit + "</text>";
  }
  function setIcon(state) { // an inline SVG made here from constants: nothing is fetched
    let link = document.querySelector("link[rel~='icon']");
    if (!link) {
      link = document.createElement("link");
      link.rel = "icon";
      link.type = "image/svg+xml";
      document.head.appendChild(link);
    }
    if (link.dataset.state === state) return;
    const [kind, n] = state.split("-");
    const svg = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 64 64'><circle cx='32' cy='32' r='30' fill='"
      + ICON_COLOURS[kind] + "'/>" + iconMark(kind, n) + "</svg>";
    link.href = "data:image/svg+xml," + encodeURIComponent(svg);
    link.dataset.state = state;
  }
  function health() {
    const view = $("view");
    const state = view.querySelector("[data-health]");
    const alert = state ? state.dataset.alert || "ok" : "ok"; // halted | stage | ok (model.py's tab_alert)
    const level = down ? "unreachable" : !state ? "none" : state.dataset.health === "stalled" ? "stalled"
      : alert === "halted" ? "halted" : alert === "stage" ? "stage-" + (state.dataset.alertLevel || "") : "ok";
    $("liveness").hidden = !down;
    view.classList.toggle("unreachable", !!down);
    if (down) {
      $("liveness-title").textContent = down.title;
      $("liveness-why").textContent = down.why + "; trying again every " + REFRESH_MS / 1000
        + " s. The state below is what the runner last said, not what it does now.";
      view.setAttribute("aria-label", "The runner's state as last seen: the runner does not answer, this view is old");
    } else {
      view.setAttribute("aria-label", "The runner's state");
    }
    document.title = level === "unreachable" ? (down.title === "RUNNER UNREACHABLE" ? "UNREACHABLE" : "NOT UPDATED")
      + " — " + TITLE : level === "stalled" ? "STALLED — " + TITLE
      : level !== "ok" && level !== "none" && state.dataset.alertTitle ? state.dataset.alertTitle + " — " + TITLE : TITLE;
    setIcon(level);
    count();
  }
  function wentDown(why, title, sinceMs) { // sinceMs: when the unanswered request was sent
    if (!down) {
      down = {sinceMs, why, title};
      health();
      announce(title + ": " + why + ". The view is greyed and keeps what the runner last said.");
    } else {
      down.why = why;
      down.title = title;
      health();
    }
  }
  function cameBack() {
    const was = down;
    down = null;
    health();
    if (was) announce("The runner answers again; the view is up to date.");
  }
  window.setInterval(count, 1000);
  function swap(html) {
    const view = $("view");
    const active = document.activeElement;
    const key = active && view.contains(active) ? active.getAttribute("data-focus") : null;
    // a standing problem the operator opened stays open across refreshes (and one closed, closed)
    const opened = new Set(Array.from(view.querySelectorAll("details[data-keep][open]")).map((d) => d.dataset.keep));
    view.innerHTML = html; // server-rendered by the runner's sandboxed, autoescaping templates
    lastHtml = html;
    for (const d of view.querySelectorAll("details[data-keep]")) d.open = opened.has(d.dataset.keep);
    if (key) {
      const again = Array.from(view.querySelectorAll("[data-focus]")).find((el) => el.getAttribute("data-focus") === key);
      if (again) again.focus();
    }
  }
  async function refresh() {
    if (paused || inflight) return;
    if (!isPublic && !signedIn()) { showSignedOut(); return; }
    inflight = true;
    lastTry = performance.now();
    const sent = runnerNow();
    const ctl = new AbortController();
    const timer = window.setTimeout(() => ctl.abort(), TIMEOUT_MS);
    try {
      const r = await fetch("/console/view", {headers: headers(false), cache: "no-store", credentials: "same-origin",
                                              signal: ctl.signal});
      if (r.ok) {
        const html = await r.text();
        $("signed-out").hidden = true;
        if (html !== lastHtml) swap(html);
        noteShown();
        document.dispatchEvent(new CustomEvent("killswitch:view")); // notify.js, tables.js: a view is in
        const state = $("view").querySelector("[data-now]");
        $("refresh-state").textContent = "Updates every 2 s; runner time " + (state ? state.dataset.now : "?") + ".";
        cameBack();
      } else {
        let doc = null;
        try { doc = await r.json(); } catch (e) { doc = null; }
        const why = reasonOf({status: r.status, doc});
        $("refresh-state").textContent = "Not updated: " + why;
        if (r.status === 401 || r.status === 403) {
          refusedWhy = why;
          if (!token()) session = null; // the session ended, expired, or its groups map to no role now
          setWho(null, why);
          cameBack(); // it answered: the token is the problem, not the runner
          if (!isPublic) showSignedOut();
        } else if (r.status >= 500) {
          wentDown("the runner answers HTTP " + r.status + (why.startsWith("HTTP ") ? "" : " (" + why + ")"),
                   "RUNNER UNREACHABLE", sent);
        } else {
          wentDown("the runner refuses the view: HTTP " + r.status + (why.startsWith("HTTP ") ? "" : " (" + why + ")"),
                   "VIEW NOT UPDATED", sent);
        }
      }
    } catch (e) {
      const why = e.name === "AbortError" ? "no answer within " + TIMEOUT_MS / 1000 + " s"
        : "no connection (" + e.message + ")";
      $("refresh-state").textContent = "The runner does not answer: " + why + "; trying again.";
      wentDown(why, "RUNNER UNREACHABLE", sent);
    } finally {
      window.clearTimeout(timer);
      inflight = false;
    }
  }
  $("pause").addEventListener("click", () => {
    paused = !paused;
    $("pause").setAttribute("aria-pressed", String(paused));
    $("pause").textContent = paused ? "Resume updates" : "Pause updates";
    $("refresh-state").textContent = paused ? "Paused." : "Updates every 2 s.";
    if (!paused) refresh();
  });
  window.setInterval(() => {
    if (!document.hidden || performance.now() - lastTry >= HIDDEN_REFRESH_MS) refresh();
  }, REFRESH_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });

  // --- actions: fill in, preview, type the scope, send -------------------------------------------

  const dialog = $("action-dialog");
  function showFields(action) {
    for (const el of dialog.querySelectorAll(".field")) {
      el.hidden = !ACTIONS[action].fields.includes(el.dataset.field)
        || (el.dataset.field === "leg" && !$("f-symbol").value.trim()); // a leg is of one symbol
    }
  }
  $("f-symbol").addEventListener("input", () => showFields(dialog.dataset.action));
  $("f-leg").addEventListener("change", () => {
    const symbol = $("f-symbol").value.trim();
    if (dialog.dataset.action === "close" && symbol) {
      $("action-title").textContent = closeTitle(symbol, $("f-leg").value, $("f-scope").value);
    }
  });
  function resetSteps() {
    current = null;
    $("action-fields").disabled = false;
    $("preview-btn").hidden = false;
    $("edit-btn").hidden = true;
    $("preview").hidden = true;
    $("confirm").hidden = true;
    $("result").hidden = true;
    $("form-error").hidden = true;
    $("f-confirm").value = "";
    $("confirm-mismatch").hidden = true;
    $("send-btn").disabled = true;
    $("close-progress").replaceChildren();
  }
  function closeTitle(symbol, leg, scope) {
    return "Close " + (leg ? "the " + leg + " leg of " : "") + symbol + " in " + scope;
  }
  function openDialog(action, scope, policy, symbol, leg) {
    if (!signedIn()) {
      announce(hasSignin ? "Sign in or enter a token first: actions need one." : "Enter a token first: actions need one.");
      $("token").focus();
      return;
    }
    dialog.dataset.action = action;
    $("action-title").textContent = symbol ? closeTitle(symbol, leg, scope)
      : ACTIONS[action].title + (scope ? " " + scope : " a scope");
    $("f-scope").value = scope;
    $("f-symbol").value = symbol || "";
    $("f-leg").value = leg || ""; // a hedge leg's row names its leg; both legs is a choice made here
    $("f-policy").value = policy;
    $("f-reason").value = "";
    $("f-ttl").value = "";
    $("f-mode").value = "halted";
    showFields(action);
    resetSteps();
    dialog.showModal();
    (scope ? $("f-reason") : $("f-scope")).focus();
  }
  document.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-action]");
    if (b) openDialog(b.dataset.action, b.dataset.scope || "", b.dataset.policy || "", b.dataset.symbol || "",
                      b.dataset.leg || "");
  });
  $("cancel-btn").addEventListener("click", () => dialog.close());
  // The preview button submits the form, so Enter in a field previews too. Nothing sends but the
  // Send button, once the scope is typed.
  $("action-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (!$("preview-btn").hidden && !current) runPreview();
  });
  dialog.addEventListener("close", () => { current = null; lastHtml = null; refresh(); });

  // A lock's expiry as the CLI writes it (policy/units.py's grammar): 30m, 2h, 1h30m, 1d; empty: none.
  const DURATION_MS = {ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000};
  function durationSeconds(text) {
    const t = text.replace(/\s+/g, "");
    if (t === "") return null;
    if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/.test(t)) return NaN;
    let ms = 0;
    for (const [, n, unit] of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) ms += Number(n) * DURATION_MS[unit];
    return ms / 1000;
  }
  function body(action) {
    const b = {scope: $("f-scope").value, reason: $("f-reason").value};
    if (action === "lock") {
      b.mode = $("f-mode").value;
      b.ttl_s = durationSeconds($("f-ttl").value);
    }
    if (action === "reset") b.policy = $("f-policy").value;
    if (action === "close" && $("f-symbol").value.trim()) {
      b.symbol = $("f-symbol").value.trim();
      if ($("f-leg").value) b.leg = $("f-leg").value;
    }
    return b;
  }
  function formError(text) {
    const el = $("form-error");
    el.textContent = text;
    el.hidden = false;
  }
  function li(text) {
    const el = document.createElement("li");
    el.textContent = text;
    return el;
  }
  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }
  function showPreview(p) {
    $("preview-reason").textContent = p.reason;
    $("preview-reason").classList.toggle("refused", !p.allowed);
    // the lock binding the scope now and after, in the API's words (ksctl's: killswitch/holds.py)
    const lock = typeof p.lock_text === "string" ? p.lock_text : "";
    $("preview-lock").textContent = (p.mode === "dry-run" ? "This runner is a DRY RUN. " : "") + lock;
    $("preview-effects").replaceChildren(...p.effects.map(li));
    const rows = $("preview-orders").querySelector("tbody");
    rows.replaceChildren();
    for (const o of p.orders) {
      const tr = document.createElement("tr");
      cell(tr, o.account);
      cell(tr, o.symbol);
      cell(tr, o.side + (o.position_side ? " " + o.position_side : "") + (o.reduce_only ? " reduce-only" : ""));
      cell(tr, figure(o.amount));
      cell(tr, o.limit_price === null ? "-" : figure(o.limit_price, o.price_tick));
      cell(tr, money(o.notional));
      rows.appendChild(tr);
    }
    $("preview-orders-wrap").hidden = p.action !== "close";
    closeFacts(p);
    $("preview").hidden = false;
  }
  // a close's preview, up front: a dry-run runner sends nothing; the total notional, the cap the close is
  // held to, and how old the positions are (an age that keeps counting)
  function closeFacts(p) {
    const box = $("preview-facts");
    box.replaceChildren();
    box.hidden = p.action !== "close" || p.notional === null || p.notional === undefined;
    if (box.hidden) return;
    const line = (text) => { const el = document.createElement("p"); el.textContent = text; box.appendChild(el); return el; };
    box.classList.toggle("dry-run", p.mode === "dry-run");
    if (p.mode === "dry-run") line("DRY RUN: this runner sends nothing to any venue. Nothing will be sent.");
    line("Total notional " + money(p.notional) + "; the close is sent with a maximum notional of "
      + money(p.max_notional) + " and the preview id " + p.preview_id + ".");
    if (p.as_of_ms !== null && p.as_of_ms !== undefined) {
      const el = line("Positions as of " + clockText(p.as_of_ms) + ", ");
      const age = document.createElement("span");
      age.dataset.ts = String(p.as_of_ms);
      age.dataset.form = "age";
      age.textContent = ageText((runnerNow() - p.as_of_ms) / 1000);
      el.append(age, " old.");
    }
  }
  async function runPreview() {
    const action = dialog.dataset.action;
    const b = body(action);
    if (!b.scope || !b.reason.trim()) { formError("Give a scope and a reason."); return; }
    if (action === "lock" && b.ttl_s !== null && !(b.ttl_s > 0)) {
      formError("The expiry is a duration, as ksctl lock --ttl takes it: a number and a unit (s, m, h, d, w), "
        + "e.g. 30m, 2h, 1h30m; empty: until unlocked."); return;
    }
    $("form-error").hidden = true;
    const r = await api("POST", "/v1/preview/" + action, b);
    if (!r.ok || !r.doc || typeof r.doc.allowed !== "boolean") { formError("Preview refused: " + reasonOf(r)); return; }
    current = {action, body: b, preview: r.doc};
    $("action-fields").disabled = true;
    $("preview-btn").hidden = true;
    $("edit-btn").hidden = false;
    showPreview(r.doc);
    if (r.doc.allowed) {
      $("confirm-scope").textContent = b.scope;
      $("confirm").hidden = false;
      $("f-confirm").focus();
    } else {
      $("edit-btn").focus();
    }
    announce("Preview: " + r.doc.reason);
  }
  $("edit-btn").addEventListener("click", () => { resetSteps(); $("f-reason").focus(); });
  $("f-confirm").addEventListener("input", () => {
    const typed = $("f-confirm").value;
    $("send-btn").disabled = !current || typed !== current.body.scope;
    // Send stays disabled until the scope is typed exactly: a typed scope that does not match says so,
    // as soon as it stops being the start of the scope (a shorter typo too): dialogs.js's typedNote
    const note = current ? window.killswitchDialogs.typedNote(typed, current.body.scope, "the scope") : "";
    $("confirm-mismatch").textContent = note;
    $("confirm-mismatch").hidden = !note;
  });
  $("f-confirm").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); if (!$("send-btn").disabled) $("send-btn").click(); }
  });
  $("send-btn").addEventListener("click", async () => {
    if (!current || $("f-confirm").value !== current.body.scope) return;
    const {action, body: b} = current;
    $("send-btn").disabled = true;
    $("confirm").hidden = true;
    $("edit-btn").hidden = true;
    // a close applies the preview shown: its id and the maximum notional (the runner refuses a plan that moved);
    // a reset whose preview said its trigger still fires was confirmed by typing the scope under that warning
    const r = await api("POST", ACTIONS[action].path, action === "close"
      ? {...b, dry_run: false, preview_id: current.preview.preview_id, max_notional: current.preview.max_notional}
      : action === "reset" && (current.preview.relatch || []).length ? {...b, confirm_relatch: true} : b);
    current = null;
    $("result-reason").textContent = reasonOf(r);
    const done = r.ok && r.doc && (r.doc.done === true || r.doc.accepted === true);
    $("result-reason").classList.toggle("refused", !done);
    $("result").hidden = false;
    announce((done ? "Done: " : "Not done: ") + reasonOf(r));
    $("cancel-btn").focus();
    lastHtml = null;
    refresh();
    if (action === "close" && r.status === 202 && r.doc && r.doc.id) followClose(r.doc.id);
  });
  async function followClose(id) {
    const r = await api("GET", "/v1/close/" + encodeURIComponent(id));
    const box = $("close-progress");
    if (!r.ok || !r.doc) { box.textContent = "Progress of " + id + ": " + reasonOf(r); return; }
    const d = r.doc;
    const p = document.createElement("p");
    p.className = "close-state";
    p.dataset.state = d.state;
    p.textContent = "Close " + d.id + ": " + d.state + ", " + d.orders + " order(s), " + d.filled + " filled, "
      + d.open + " open, " + d.unfilled + " ended unfilled (" + d.mode + ")." + (d.reason ? " " + d.reason : "");
    box.replaceChildren(p);
    if (!FINAL_CLOSE_STATES.includes(d.state) && dialog.open) window.setTimeout(() => followClose(id), CLOSE_POLL_MS);
    else { lastHtml = null; refresh(); }
  }

  // --- a runbook: a plain link cannot send the Authorization header, so the page reads the ------
  // runbook itself (GET /console/runbook/<incident>: its markdown rendered by the runner's
  // escaping converter) and shows it in a dialog; runbook.js adds a copy button to each command
  // block once it is in (the "killswitch:runbook" event).

  const runbookDialog = $("runbook-dialog");
  let runbookFocus = null;
  async function openRunbook(incident, focusKey) {
    runbookFocus = focusKey;
    $("runbook-title").textContent = "Runbook of " + incident;
    const text = $("runbook-text");
    text.textContent = "Loading the runbook...";
    if (!runbookDialog.open) runbookDialog.showModal();
    text.focus();
    const path = "/console/runbook/" + encodeURIComponent(incident);
    try {
      const r = await fetch(path, {headers: headers(false), cache: "no-store", credentials: "same-origin"});
      const body = await r.text();
      if (r.ok) { // server-rendered: every character of the markdown escaped before any tag
        text.innerHTML = body;
        text.dispatchEvent(new CustomEvent("killswitch:runbook", {bubbles: true, detail: {incident}}));
        return;
      }
      let doc = null;
      try { doc = JSON.parse(body); } catch (err) { doc = null; }
      text.textContent = "The runner did not give the runbook: " + reasonOf({status: r.status, doc});
    } catch (err) {
      text.textContent = "The runner does not answer (" + err.message + ").";
    }
  }
  document.addEventListener("click", (e) => {
    const a = e.target.closest("a[data-runbook]");
    if (!a || (!signedIn() && !isPublic)) return;
    e.preventDefault();
    openRunbook(a.dataset.runbook, a.getAttribute("data-focus"));
  });
  // a notification's link: /#runbook=<incident>, opened once a token is in (typed now or before)
  function linkedRunbook() {
    const m = /^#runbook=(.+)$/.exec(window.location.hash);
    if (!m || (!signedIn() && !isPublic)) return;
    let incident;
    try { incident = decodeURIComponent(m[1]); } catch (err) { return; }
    history.replaceState(null, "", window.location.pathname + window.location.search);
    openRunbook(incident, null);
  }
  window.addEventListener("hashchange", linkedRunbook);
  $("runbook-close").addEventListener("click", () => runbookDialog.close());
  runbookDialog.addEventListener("close", () => {
    const again = Array.from($("view").querySelectorAll("[data-focus]"))
      .find((el) => el.getAttribute("data-focus") === runbookFocus);
    if (again) again.focus();
  });

  noteShown(); // a public page comes with the view rendered in it
  health();
  checkToken().then(refresh).then(linkedRunbook);
})();
