// Browser notifications of a new stage entry, for the operator who asks for them.
//
// Nothing is asked of the browser until the operator clicks "Enable notifications": only then
// is the permission requested (Notification API). The choice is kept in this browser's
// localStorage (a preference, not a secret). Each view the page swaps in (the "killswitch:view"
// event from console.js) lists the open stage entries in #stage-entries, each named by its
// incident id, new at every entry: an id this page has not seen before is one notification,
// once, whatever the number of refreshes; the entries of the first view this page reads are
// what was open already, and are not news. A click on a notification brings this tab forward
// with the entry's runbook open (the /#runbook= link console.js reads).
"use strict";
(() => {
  const KEY = "killswitch.console.notify";
  const $ = (id) => document.getElementById(id);
  const button = $("notify-btn");
  const said = $("notify-state");
  const supported = typeof window.Notification === "function";
  let seen = null; // the entry ids of the views read so far (null: none read yet)

  const enabled = () => supported && localStorage.getItem(KEY) === "on" && Notification.permission === "granted";
  function show() {
    if (!button || !said) return;
    if (!supported || !window.isSecureContext) {
      button.hidden = true;
      said.textContent = "Notifications: " + (supported ? "need https (or this machine's own address)."
        : "this browser has none.");
      return;
    }
    const on = enabled();
    button.hidden = false;
    button.textContent = on ? "Disable notifications" : "Enable notifications";
    button.setAttribute("aria-pressed", String(on));
    said.textContent = on ? "Notifications on: one per new stage entry."
      : Notification.permission === "denied" ? "Notifications are blocked for this page in the browser's site settings."
      : "Notifications off.";
  }
  if (button) {
    button.addEventListener("click", async () => {
      if (enabled()) { localStorage.removeItem(KEY); show(); return; }
      let permission = Notification.permission;
      if (permission === "default") {
        try { permission = await Notification.requestPermission(); } catch (e) { permission = "denied"; }
      }
      if (permission === "granted") localStorage.setItem(KEY, "on");
      show();
    });
  }
  function notify(li) {
    const id = li.dataset.entry;
    const n = new Notification("killswitch: " + (li.dataset.title || "stage entered"),
                               {body: li.textContent, tag: "killswitch-entry:" + id});
    n.onclick = () => {
      window.focus();
      window.location.hash = "#runbook=" + encodeURIComponent(id);
      n.close();
    };
  }
  function read() {
    const list = $("stage-entries");
    if (!list) return; // no view (signed out): nothing known, nothing news
    const items = Array.from(list.querySelectorAll("li[data-entry]"));
    if (seen === null) {
      seen = new Set(items.map((li) => li.dataset.entry));
      return;
    }
    for (const li of items) {
      if (seen.has(li.dataset.entry)) continue;
      seen.add(li.dataset.entry);
      if (enabled()) {
        try { notify(li); } catch (e) { /* the browser refused one: the title and icon still say it */ }
      }
    }
  }
  document.addEventListener("killswitch:view", read);
  show();
  read(); // a public page comes with its view
})();
