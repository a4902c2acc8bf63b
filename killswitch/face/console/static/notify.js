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
//
// A tone, for the operator who turns the sound on ("Turn sound on": kept in localStorage too):
// one short tone per refresh that brings new stage entries, made by the Web Audio API (nothing is
// fetched; no https needed). Turning it on plays it once, so the operator hears what to listen
// for. A browser plays sound only once the page has been clicked: after a reload the tone waits
// for the first click (the state line says so).
"use strict";
(() => {
  const KEY = "killswitch.console.notify";
  const $ = (id) => document.getElementById(id);
  const button = $("notify-btn");
  const said = $("notify-state");
  const supported = typeof window.Notification === "function";
  let seen = null; // the entry ids of the views read so far (null: none read yet)
  const SOUND_KEY = "killswitch.console.sound";
  const soundButton = $("sound-btn");
  const soundSaid = $("sound-state");
  const AudioCtx = window.AudioContext || window.webkitAudioContext;
  let audio = null; // made at the first tone (a browser starts one made before a click suspended)

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
  const soundOn = () => typeof AudioCtx === "function" && localStorage.getItem(SOUND_KEY) === "on";
  function showSound() {
    if (!soundButton || !soundSaid) return;
    if (typeof AudioCtx !== "function") {
      soundButton.hidden = true;
      soundSaid.textContent = "Sound: this browser has none.";
      return;
    }
    const on = soundOn();
    soundButton.hidden = false;
    soundButton.textContent = on ? "Turn sound off" : "Turn sound on";
    soundButton.setAttribute("aria-pressed", String(on));
    soundSaid.textContent = !on ? "Sound off."
      : audio && audio.state !== "running" ? "Sound on: the browser plays it once this page is clicked."
      : "Sound on: a tone per new stage entry.";
  }
  function tone() {
    if (!audio) audio = new AudioCtx();
    if (audio.state === "suspended") audio.resume().then(showSound, () => {});
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    const t = audio.currentTime;
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, t); // two notes, high then low: heard over a room's noise
    osc.frequency.setValueAtTime(660, t + 0.18);
    gain.gain.setValueAtTime(0.25, t);
    gain.gain.exponentialRampToValueAtTime(0.001, t + 0.4);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.4);
  }
  if (soundButton) {
    soundButton.addEventListener("click", () => {
      if (soundOn()) { localStorage.removeItem(SOUND_KEY); showSound(); return; }
      localStorage.setItem(SOUND_KEY, "on");
      try { tone(); } catch (e) { /* no sound device: the title and icon still say it */ }
      showSound();
    });
  }
  // after a reload with the sound on, the first click lets the browser play it
  document.addEventListener("click", () => {
    if (audio && audio.state === "suspended") audio.resume().then(showSound, () => {});
  });
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
    let news = 0;
    for (const li of items) {
      if (seen.has(li.dataset.entry)) continue;
      seen.add(li.dataset.entry);
      news += 1;
      if (enabled()) {
        try { notify(li); } catch (e) { /* the browser refused one: the title and icon still say it */ }
      }
    }
    if (news && soundOn()) {
      try { tone(); } catch (e) { /* no sound device: the title and icon still say it */ }
      showSound();
    }
  }
  document.addEventListener("killswitch:view", read);
  show();
  showSound();
  read(); // a public page comes with its view
})();
