// Silences and acknowledgements in the console: the "New silence" dialog (matchers, duration,
// comment -> POST /v1/silences; "Preview" -> POST /v1/silences/preview: what it would hold back
// now, before it is made), opened from an incident's card it is made from that incident (it
// matches that incident alone and ends with it); "Extend or edit" of a silence (the same dialog:
// a new end from now and/or a new comment -> POST /v1/silences/change), the Expire button of a
// silence (POST /v1/silences/expire) and the "I have it" dialog of an incident (its reason -> POST /v1/ack's
// comment, as ksctl ack --reason sends it). A silence whose matchers name no scope spans every scope: the
// preview says so (every_scope) and what its matchers match of the last day's pages, and the "It spans every
// scope" box appears, which the person ticks to mean it (every_scope: true); typing other matchers clears it.
// The runner decides and answers with a reason code (UNKNOWN_LABEL with close matches, SILENCE_TOO_BROAD,
// ROLE_REQUIRED, ...), shown as it came: in the dialog, or for a refused Expire in a note at the foot of the
// window. The token is
// the one console.js keeps in this tab's sessionStorage, sent by dialogs.js only in the Authorization header.
// Data from the runner is written with textContent only.
"use strict";
(() => {
  const KEY = "killswitch.console.token";
  const $ = (id) => document.getElementById(id);
  const dialog = $("silence-dialog");
  const ackDialog = $("ack-dialog");
  if (!dialog || !ackDialog) return;

  function say(text) {
    const a = $("announce");
    if (!a) return;
    a.textContent = "";
    window.setTimeout(() => { a.textContent = text; }, 30);
  }
  const call = window.killswitchDialogs.post; // dialogs.js
  async function post(path, body) {
    const {done, reason} = await call(path, body);
    return {ok: done, reason};
  }
  // what the dialog is for: a new silence (of ``incident`` when made from one), or a change of ``changing``
  let incident = "";
  let changing = null; // {id, comment}
  let acking = ""; // the incident the "I have it" dialog acknowledges
  function mode(opts) {
    incident = opts.incident || "";
    changing = opts.changing || null;
    $("silence-title").textContent = changing ? "Extend or edit silence " + changing.id
      : incident ? "Silence the pages of " + incident : "New silence";
    $("s-tied").hidden = !incident;
    $("s-tied").textContent = incident ? "Made from incident " + incident + ": it also matches that incident "
      + "alone, and ends with it unless extended." : "";
    $("s-changing").hidden = !changing;
    $("s-changing").textContent = changing ? "Matchers: " + changing.matchers + " (a silence's matchers do not "
      + "change: expire it and make another)." : "";
    $("s-matchers-field").hidden = !!changing;
    $("s-help").hidden = !!changing;
    $("silence-preview").hidden = !!changing;
    $("s-duration-label").textContent = changing ? "New end, from now (e.g. 2h; empty: keep its end)"
      : "Duration (e.g. 30m, 2h, 1d)";
    $("s-duration").value = changing ? "" : "2h";
    $("s-comment").value = changing ? changing.comment : "";
    $("silence-send").textContent = changing ? "Save" : "Silence";
    $("silence-result").hidden = true;
    $("silence-affects").hidden = true;
    everyScope(false);
  }
  // the box that confirms a silence spanning every scope: shown when the runner's preview says it
  // does, cleared whenever it is hidden (a confirmation is of the matchers previewed)
  function everyScope(shown) {
    $("s-every-scope-field").hidden = !shown;
    if (!shown) $("s-every-scope").checked = false;
  }
  function needToken() {
    if (sessionStorage.getItem(KEY) || document.body.dataset.signedIn === "true") return false;
    say("Enter a token first: silences and acknowledgements need one.");
    $("token").focus();
    return true;
  }
  // "2h", "30m", "1h30m", "1d", "90s" -> seconds; null when it is not one
  function seconds(text) {
    const units = {s: 1, m: 60, h: 3600, d: 86400};
    const t = text.trim();
    if (!/^(\d+(\.\d+)?[smhd])+$/.test(t)) return null;
    let total = 0;
    for (const [, n, , u] of t.matchAll(/(\d+(\.\d+)?)([smhd])/g)) total += parseFloat(n) * units[u];
    return total > 0 ? total : null;
  }
  // matchers separated by spaces; a quoted value may hold spaces: severity=~"critical|warning"
  // Matchers as typed: separated by spaces outside quotes; a {…} list stays one (the runner
  // reads it as Alertmanager does: {policy="futures-book", venue!~"okx|bybit"}).
  function matchers(text) {
    return (text.match(/\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\}?|(?:[^\s"]+|"(?:[^"\\]|\\.)*")+/g) || []);
  }
  // A refusal of Expire, in sight until dismissed or answered again: outside the
  // view, which the refresh swaps (the dialog shows its own answers). Done is seen in the view.
  function refused(text) {
    $("silence-refused-reason").textContent = text;
    $("silence-refused").hidden = !text;
  }
  async function act(button, path, body) {
    button.disabled = true;
    const r = await post(path, body);
    if (r.ok) { refused(""); say(r.reason); return; }
    refused(r.reason);  // (a role="alert": read out as it is shown)
    button.disabled = false;
  }
  function result(text, ok) {
    const p = $("silence-result");
    p.textContent = text;
    p.className = ok ? "reason-code ok" : "reason-code error";
    p.hidden = false;
  }

  document.addEventListener("click", async (e) => {
    const open = e.target.closest("button[data-silence-open]");
    if (open) {
      if (needToken()) return;
      mode({incident: open.dataset.silenceIncident});
      $("s-matchers").value = open.dataset.silenceOpen;
      dialog.showModal();
      (open.dataset.silenceOpen ? $("s-comment") : $("s-matchers")).focus();
      return;
    }
    const change = e.target.closest("button[data-silence-change]");
    if (change) {
      if (needToken()) return;
      mode({changing: {id: change.dataset.silenceChange, comment: change.dataset.silenceComment || "",
                       matchers: change.dataset.silenceMatchers || ""}});
      dialog.showModal();
      $("s-duration").focus();
      return;
    }
    const expire = e.target.closest("button[data-silence-expire]");
    if (expire) {
      if (needToken()) return;
      await act(expire, "/v1/silences/expire", {id: expire.dataset.silenceExpire});
      return;
    }
    const ack = e.target.closest("button[data-ack]");
    if (ack) {
      if (needToken()) return;
      acking = ack.dataset.ack;
      $("ack-what").textContent = "Acknowledge " + acking + ": shown with your identity and this reason on the "
        + "incident, in ksctl status and its runbook. It does not stop the pages: silence them for that.";
      $("ack-reason").value = "";
      $("ack-result").hidden = true;
      ackDialog.showModal();
      $("ack-reason").focus();
    }
  });
  $("silence-cancel").addEventListener("click", () => dialog.close());
  // "I have it": the incident the dialog is open on (acking), acknowledged with the reason typed
  function ackResult(text) {
    const p = $("ack-result");
    p.textContent = text;
    p.className = "reason-code error";
    p.hidden = false;
    say(text);
  }
  $("ack-cancel").addEventListener("click", () => ackDialog.close());
  $("ack-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const comment = $("ack-reason").value.trim();
    if (!comment) { ackResult("BAD_REQUEST: say why in the reason (what you are doing about it)"); return; }
    $("ack-send").disabled = true;
    try {
      const r = await post("/v1/ack", {incident: acking, comment});
      if (!r.ok) { ackResult(r.reason); return; }
      ackDialog.close();
      refused("");
      say(r.reason);
    } finally {
      $("ack-send").disabled = false;
    }
  });
  $("silence-refused-dismiss").addEventListener("click", () => refused(""));
  // what a silence would hold back now, before it is made ("affects 1 open incident, 2 pages"),
  // or why the runner would refuse it (a typo'd value with its close matches)
  $("s-matchers").addEventListener("input", () => everyScope(false));
  async function preview(ms) {
    const body = incident ? {matchers: ms, incident} : {matchers: ms};
    const {ok, doc, reason} = await call("/v1/silences/preview", body);
    everyScope(!!(ok && doc && doc.ok && doc.every_scope));
    const p = $("silence-affects");
    const held = doc && Array.isArray(doc.incidents) && doc.incidents.length ? " (" + doc.incidents.join(", ") + ")" : "";
    // an incident whose pages another silence holds back already: that silence named (id, author, end)
    const already = doc && Array.isArray(doc.already) && doc.already.length
      ? ". Already held back: " + doc.already.join("; ") : "";
    p.textContent = reason + (ok ? held + already : "");
    p.className = ok && doc && doc.ok ? "reason-code ok" : "reason-code error";
    p.hidden = false;
    return p.textContent;
  }
  $("silence-preview").addEventListener("click", async () => {
    const ms = matchers($("s-matchers").value);
    if (!ms.length && !incident) { result("BAD_REQUEST: give at least one matcher, e.g. policy=futures-book", false); return; }
    say(await preview(ms));
  });
  $("silence-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (changing) {
      const text = $("s-duration").value.trim();
      const duration = text ? seconds(text) : null;
      const comment = $("s-comment").value.trim();
      if (text && duration === null) { result("BAD_REQUEST: the new end is like 30m, 2h or 1d from now", false); return; }
      const body = {id: changing.id};
      if (duration !== null) body.duration_s = duration;
      if (comment && comment !== changing.comment) body.comment = comment;
      if (body.duration_s === undefined && body.comment === undefined) {
        result("BAD_REQUEST: give a new end or a new comment", false);
        return;
      }
      $("silence-send").disabled = true;
      try {
        const r = await post("/v1/silences/change", body);
        result(r.reason, r.ok);
        say(r.reason);
      } finally {
        $("silence-send").disabled = false;
      }
      return;
    }
    const ms = matchers($("s-matchers").value);
    const duration = seconds($("s-duration").value);
    const comment = $("s-comment").value.trim();
    if (!ms.length && !incident) { result("BAD_REQUEST: give at least one matcher, e.g. policy=futures-book", false); return; }
    if (duration === null) { result("BAD_REQUEST: the duration is like 30m, 2h or 1d", false); return; }
    if (!comment) { result("BAD_REQUEST: say why in the comment (who is handling what)", false); return; }
    $("silence-send").disabled = true;
    try {
      const body = {matchers: ms, duration_s: duration, comment};
      if (incident) body.incident = incident;
      if ($("s-every-scope").checked) body.every_scope = true;
      const r = await post("/v1/silences", body);
      result(r.reason, r.ok);
      say(r.reason);
      // refused as too broad: the preview says whether it spans every scope (then the box shows)
      if (!r.ok && r.reason.startsWith("SILENCE_TOO_BROAD") && !body.every_scope) await preview(ms);
    } finally {
      $("silence-send").disabled = false;
    }
  });
})();
