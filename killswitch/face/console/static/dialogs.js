// What every dialog of the console shares (console.js's, silences.js, kill.js, overrides.js):
//
// post(path, body): the one POST of the dialogs: a JSON body to this origin, never cached; the
// token console.js keeps in this tab's sessionStorage sent only in the Authorization header, else
// the session cookie (same-origin credentials: the runner's own, HttpOnly). The runner's answer is
// read back as it came: its document, and its reason code ("HTTP <status>" when it gives none).
//
// typedNote(typed, expected, what): the note under a typed-confirmation field: empty while what is
// typed is the expected text or still its start, else that it is not (a shorter typo too, not
// only once it is as long), so that a Send left disabled always says why.
//
// Loaded before the scripts that use it (window.killswitchDialogs).
"use strict";
(() => {
  const KEY = "killswitch.console.token";
  // -> {ok: the HTTP status is 2xx, status, doc: the JSON answer or null, reason,
  //     done: ok and the runner says the change was made (doc.done)}
  async function post(path, body) {
    const h = {"Content-Type": "application/json"};
    const t = sessionStorage.getItem(KEY);
    if (t) h["Authorization"] = "Bearer " + t;
    const r = await fetch(path, {method: "POST", headers: h, body: JSON.stringify(body), cache: "no-store",
                                 credentials: "same-origin"});
    let doc = null;
    try { doc = await r.json(); } catch (e) { doc = null; }
    const reason = doc && typeof doc.reason === "string" ? doc.reason : "HTTP " + r.status;
    return {ok: r.ok, status: r.status, doc, reason, done: r.ok && !!doc && doc.done === true};
  }
  function typedNote(typed, expected, what) {
    if (!expected || typed === expected || (typed.length < expected.length && expected.startsWith(typed))) return "";
    return "'" + typed + "' is not " + expected + ": type " + what + " exactly (case, spaces) to send.";
  }
  window.killswitchDialogs = Object.freeze({post, typedNote});
})();
