// The firm strip: says aloud a shard that stops being heard, or is heard again.
//
// Each view the page swaps in (the "killswitch:view" event from console.js) carries one
// #firm-strip card per shard, with its state (data-shard-state: SHARD_LIVE, or why it is not
// heard). The first view read is what was so already; after it, a shard whose state changed is
// announced once in the page's assertive live region (#announce) — "shard desk-b NOT HEARD:
// ..." (the focus stays where it is). Nothing is fetched here: the strip is the runner's view,
// read from the firm's tables by the runner this page talks to.
"use strict";
(() => {
  let last = null; // shard -> state of the last view read (null: none read yet)

  function states() {
    const out = new Map();
    for (const row of document.querySelectorAll("#firm-strip [data-shard]")) {
      out.set(row.dataset.shard, {state: row.dataset.shardState, why: (row.querySelector(".why") || {}).textContent});
    }
    return out;
  }
  function read() {
    const now = states();
    if (last !== null && now.size) {
      const said = [];
      for (const [shard, s] of now) {
        const was = last.get(shard);
        if (!was || was.state === s.state) continue;
        said.push(s.state === "SHARD_LIVE" ? "shard " + shard + " is heard again"
          : "shard " + shard + " NOT HEARD: " + (s.why || s.state).trim());
      }
      if (said.length) {
        const a = document.getElementById("announce");
        if (a) {
          a.textContent = "";
          window.setTimeout(() => { a.textContent = said.join(". "); }, 30);
        }
      }
    }
    if (now.size) last = now;
  }
  document.addEventListener("killswitch:view", read);
  if (document.readyState !== "loading") read(); else document.addEventListener("DOMContentLoaded", read);
})();
