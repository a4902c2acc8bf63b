// The firm-wide kill in the console: the firm strip's button opens the dialog; "Preview" ->
// POST /v1/preview/firm-kill (what each shard locks, cancels and revokes; the shards not heard);
// KILL typed -> POST /v1/firm/kill with the preview's id; "Approve its release" opens it for one
// approval of the release (POST /v1/firm/kill/release: the second distinct approver's releases
// it; the same person twice is refused, DUPLICATE_APPROVER). The runner decides and answers with a
// reason code (KILL_IN_FORCE, PREVIEW_MISMATCH, ROLE_REQUIRED, ...), shown as it came. The token
// is the one console.js keeps in this tab's sessionStorage, sent by dialogs.js only in the Authorization header.
// Data from the runner is written with textContent only.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const dialog = $("kill-dialog");
  if (!dialog) return;
  let previewId = null;

  const call = window.killswitchDialogs.post; // dialogs.js
  function result(text, refused) {
    const p = $("kill-result");
    p.textContent = text;
    p.classList.toggle("refused", !!refused);
    p.hidden = false;
  }
  function reset() {
    previewId = null;
    $("kill-shown").hidden = true;
    $("kill-result").hidden = true;
    $("kill-send").disabled = true;
    $("k-confirm").value = "";
    check();
  }
  function open(release) {
    reset();
    $("kill-title").textContent = release ? "Approve the release of the firm-wide kill" : "Kill trading across the firm";
    $("kill-preview").hidden = release;
    $("kill-send").hidden = release;
    $("kill-approve").hidden = !release;
    dialog.showModal();
    $("k-reason").focus();
  }
  document.addEventListener("click", (e) => {
    const at = (sel) => (e.target.closest ? e.target.closest(sel) : null);
    if (at("[data-kill-open]")) open(false);
    else if (at("[data-kill-release]")) open(true);
  });
  $("kill-approve").addEventListener("click", async () => {
    if (!$("k-reason").value.trim()) { result("BAD_REQUEST: a reason is needed", true); return; }
    const {done, reason} = await call("/v1/firm/kill/release", {reason: $("k-reason").value});
    result(reason, !done);
  });
  $("kill-cancel").addEventListener("click", () => dialog.close());
  $("kill-preview").addEventListener("click", async () => {
    reset();
    const {ok, doc, reason} = await call("/v1/preview/firm-kill", {reason: $("k-reason").value});
    if (!ok || !doc) { result(reason, true); return; }
    $("kill-head").textContent = doc.reason;
    $("kill-head").classList.toggle("refused", !doc.allowed);
    const li = (t) => { const x = document.createElement("li"); x.textContent = t; return x; };
    $("kill-lines").replaceChildren(...(doc.lines || []).map(li), ...(doc.allowed ? [li(doc.release)] : []));
    $("kill-shown").hidden = false;
    previewId = doc.allowed ? doc.preview_id : null;
    $("k-confirm").focus();
  });
  function check() {
    $("kill-send").disabled = !(previewId && $("k-confirm").value === "KILL" && $("k-reason").value.trim());
    const note = window.killswitchDialogs.typedNote($("k-confirm").value, "KILL", "KILL"); // dialogs.js
    $("k-confirm-mismatch").textContent = note;
    $("k-confirm-mismatch").hidden = !note;
  }
  $("k-confirm").addEventListener("input", check);
  $("kill-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!previewId || $("k-confirm").value !== "KILL") return;
    $("kill-send").disabled = true;
    const {done, reason} = await call("/v1/firm/kill", {reason: $("k-reason").value, preview_id: previewId});
    result(reason, !done);
    previewId = null;
  });
})();
