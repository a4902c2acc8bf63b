// The firm-wide kill in the console: the firm strip's button opens the dialog; "Preview" ->
// POST /v1/preview/firm-kill (what each shard locks, cancels and revokes; the shards not heard);
// KILL typed -> POST /v1/firm/kill with the preview's id; "Approve its release" opens it for one
// approval of the release (POST /v1/firm/kill/release: the second distinct approver's releases
// it; the same person twice is refused, DUPLICATE_APPROVER). The runner decides and answers with a
// reason code (KILL_IN_FORCE, PREVIEW_MISMATCH, ROLE_REQUIRED, ...), shown as it came. The token
// is the one console.js keeps in this tab's sessionStorage, sent only in the Authorization header.
// Data from the runner is written with textContent only.
"use strict";
(() => {
  const KEY = "killswitch.console.token";
  const $ = (id) => document.getElementById(id);
  const dialog = $("kill-dialog");
  if (!dialog) return;
  let previewId = null;

  async function call(path, body) {
    const h = {"Content-Type": "application/json"};
    const t = sessionStorage.getItem(KEY);
    if (t) h["Authorization"] = "Bearer " + t;
    const r = await fetch(path, {method: "POST", headers: h, body: JSON.stringify(body), cache: "no-store",
                                 credentials: "same-origin"});
    let doc = null;
    try { doc = await r.json(); } catch (e) { doc = null; }
    const reason = doc && typeof doc.reason === "string" ? doc.reason : "HTTP " + r.status;
    return {r, doc, reason};
  }
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
    const {r, doc, reason} = await call("/v1/firm/kill/release", {reason: $("k-reason").value});
    result(reason, !(r.ok && doc && doc.done === true));
  });
  $("kill-cancel").addEventListener("click", () => dialog.close());
  $("kill-preview").addEventListener("click", async () => {
    reset();
    const {r, doc, reason} = await call("/v1/preview/firm-kill", {reason: $("k-reason").value});
    if (!r.ok || !doc) { result(reason, true); return; }
    $("kill-head").textContent = doc.reason;
    $("kill-head").classList.toggle("refused", !doc.allowed);
    const li = (t) => { const x = document.createElement("li"); x.textContent = t; return x; };
    $("kill-lines").replaceChildren(...(doc.lines || []).map(li), ...(doc.allowed ? [li(doc.release)] : []));
    $("kill-shown").hidden = false;
    previewId = doc.allowed ? doc.preview_id : null;
    $("k-confirm").focus();
  });
  $("k-confirm").addEventListener("input", () => {
    $("kill-send").disabled = !(previewId && $("k-confirm").value === "KILL" && $("k-reason").value.trim());
  });
  $("kill-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!previewId || $("k-confirm").value !== "KILL") return;
    $("kill-send").disabled = true;
    const {r, doc, reason} = await call("/v1/firm/kill", {reason: $("k-reason").value, preview_id: previewId});
    result(reason, !(r.ok && doc && doc.done === true));
    previewId = null;
  });
})();
