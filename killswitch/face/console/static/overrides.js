// Overrides of the pre-trade limits in the console: "Request an override…" under the limits opens
// the dialog for a request (POST /v1/overrides: the requester is the caller); each pending override
// has "Approve…" (POST /v1/overrides/approve: the approver is the caller, never the requester), and
// each pending or active one "End…" (POST /v1/overrides/end). A request is confirmed by typing its
// scope, an approval or an end by typing the override's id. The runner decides and answers with a
// reason code (SELF_APPROVAL, EXPIRY_TOO_LONG, UNKNOWN_LIMIT with its close matches, SCOPE_HALTED,
// ROLE_REQUIRED, ...), shown as it came. The token is the one console.js keeps in this tab's
// sessionStorage, sent by dialogs.js only in the Authorization header. Data from the runner is written with
// textContent only.
"use strict";
(() => {
  const KEY = "killswitch.console.token";
  const $ = (id) => document.getElementById(id);
  const dialog = $("override-dialog");
  if (!dialog) return;
  let act = null; // {kind: "request" | "approve" | "end", id?: string}

  // a duration as the CLI writes it (30m, 1h30m), in seconds; NaN when it is not one
  const UNIT_S = {s: 1, m: 60, h: 3600, d: 86400};
  function seconds(text) {
    const t = text.replace(/\s+/g, "");
    if (!/^(?:\d+(?:\.\d+)?[smhd])+$/.test(t)) return NaN;
    let s = 0;
    for (const [, n, u] of t.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) s += Number(n) * UNIT_S[u];
    return s;
  }
  async function post(path, body) { // dialogs.js's, as done or not and the reason
    const {done, reason} = await window.killswitchDialogs.post(path, body);
    return {ok: done, reason};
  }
  function result(text, refused) {
    const p = $("override-result");
    p.textContent = text;
    p.classList.toggle("refused", refused);
    p.hidden = false;
  }
  function expected() { return act && act.kind === "request" ? $("o-scope").value.trim() : act ? act.id : ""; }
  function check() {
    $("override-send").disabled = !act || !expected() || $("o-confirm").value !== expected();
    // a typo says so under the field (dialogs.js): the scope or the id, as typed above
    const note = act ? window.killswitchDialogs.typedNote($("o-confirm").value, expected(),
                                                          act.kind === "request" ? "the scope" : "the id") : "";
    $("o-confirm-mismatch").textContent = note;
    $("o-confirm-mismatch").hidden = !note;
  }
  function showKind() {
    const kind = $("o-kind").value;
    for (const el of dialog.querySelectorAll("[data-kind]")) el.hidden = !el.dataset.kind.split(" ").includes(kind);
  }
  function open(kind, id, line) {
    if (!sessionStorage.getItem(KEY) && document.body.dataset.signedIn !== "true") {
      const t = $("token"); if (t) t.focus(); return;
    }
    act = {kind, id};
    $("override-result").hidden = true;
    $("o-confirm").value = "";
    const request = kind === "request";
    $("override-fields").hidden = !request;
    $("override-help").hidden = !request;
    $("override-what").hidden = request;
    $("override-what").textContent = line || "";
    $("override-title").textContent = request ? "Request an override of a pre-trade limit"
      : (kind === "approve" ? "Approve override " : "End override ") + id;
    $("o-confirm-what").textContent = request ? "the scope" : id;
    if (request) { for (const f of ["o-scope", "o-strategy", "o-limit", "o-raise-to", "o-order", "o-code",
                                     "o-reason", "o-expires"]) $(f).value = ""; showKind(); }
    check();
    dialog.showModal();
    (request ? $("o-scope") : $("o-confirm")).focus();
  }
  document.addEventListener("click", (e) => {
    const b = e.target.closest ? e.target.closest("button[data-override]") : null;
    if (b) open(b.dataset.override, b.dataset.id || null, b.dataset.line || "");
  });
  $("o-kind").addEventListener("change", showKind);
  $("o-confirm").addEventListener("input", check);
  $("o-scope").addEventListener("input", () => {
    $("o-confirm-what").textContent = $("o-scope").value.trim() || "the scope";
    check();
  });
  $("override-cancel").addEventListener("click", () => dialog.close());
  $("override-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!act || $("o-confirm").value !== expected()) return;
    $("override-send").disabled = true;
    $("override-result").hidden = true; // the last answer goes: what is shown next is this one's
    if (act.kind !== "request") {
      const r = await post("/v1/overrides/" + act.kind, {id: act.id});
      result(r.reason, !r.ok);
      return;
    }
    const kind = $("o-kind").value;
    const body = {scope: $("o-scope").value.trim(), reason_code: $("o-code").value.trim(),
                  reason: $("o-reason").value, expires_s: seconds($("o-expires").value)};
    if (!(body.expires_s > 0)) { result("BAD_REQUEST: the expiry is a duration such as 15m or 1h: an override "
                                        + "is temporary", true); return; }
    if ($("o-strategy").value.trim()) body.strategy = $("o-strategy").value.trim();
    if (kind === "order") body.order = $("o-order").value.trim();
    else if (kind === "waive") body.waive = $("o-limit").value.trim();
    // the value as typed (200k, 1.5M, 7%): the runner reads it as ksctl override request
    // --raise-to does, and names the field when it cannot
    else { body.limit = $("o-limit").value.trim(); body.raise_to = $("o-raise-to").value; }
    const r = await post("/v1/overrides", body);
    result(r.reason, !r.ok);
  });
})();
