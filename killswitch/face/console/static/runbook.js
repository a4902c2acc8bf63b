// The runbook dialog's command blocks: a Copy button on each, so that a command reaches the
// terminal exactly as the runbook wrote it (no stray prompt, no mangled quote from a selection).
//
// console.js puts the runbook in (rendered by the runner, escaped) and fires "killswitch:runbook";
// this file only adds the buttons. The text copied is the block's own textContent. The
// Clipboard API needs a secure context (https, or this machine's own address); elsewhere the
// page copies through a selected, off-screen text area, and when even that is refused the block
// is selected so that Ctrl+C copies it, and the button says so.
"use strict";
(() => {
  const SAID_MS = 2500;
  const announce = (text) => {
    const a = document.getElementById("announce");
    if (!a) return;
    a.textContent = "";
    window.setTimeout(() => { a.textContent = text; }, 30);
  };
  function copyBySelection(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "copy-buffer";
    const dialog = document.getElementById("runbook-dialog"); // a modal dialog: the only focusable place
    (dialog || document.body).appendChild(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  }
  async function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); return true; } catch (e) { /* refused: try the other way */ }
    }
    return copyBySelection(text);
  }
  function said(button, text) {
    button.textContent = text;
    window.clearTimeout(Number(button.dataset.timer || 0));
    button.dataset.timer = String(window.setTimeout(() => { button.textContent = "Copy"; }, SAID_MS));
  }
  function addButtons(root) {
    const blocks = Array.from(root.querySelectorAll("pre"));
    blocks.forEach((pre, n) => {
      if (pre.parentElement && pre.parentElement.classList.contains("code-block")) return;
      const box = document.createElement("div");
      box.className = "code-block";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = "Copy";
      const first = (pre.textContent.split("\n")[0] || "").trim();
      button.setAttribute("aria-label", "Copy command block " + (n + 1) + " of " + blocks.length
        + (first ? ": " + (first.length > 60 ? first.slice(0, 57) + "..." : first) : ""));
      pre.replaceWith(box);
      box.append(button, pre);
      button.addEventListener("click", async () => {
        const text = pre.textContent.replace(/\n$/, "");
        if (await copy(text)) {
          said(button, "Copied");
          announce("Copied command block " + (n + 1) + " to the clipboard.");
          return;
        }
        const range = document.createRange();
        range.selectNodeContents(pre);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        said(button, "Selected: press Ctrl+C");
        announce("The browser refused to copy; the block is selected: press Ctrl+C to copy it.");
      });
    });
  }
  document.addEventListener("killswitch:runbook", (e) => addButtons(e.target));
})();
