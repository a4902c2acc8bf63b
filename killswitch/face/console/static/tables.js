// Narrow windows: each cell of a table in the view carries its column's heading (data-label),
// so that layout.css can lay a row out as a card ("Stage: 1 halt", "Lock: halted by ...") when
// the table no longer fits the window. Run on every view the page swaps in ("killswitch:view"),
// and on every runbook the dialog shows ("killswitch:runbook"), whose tables are cards on a phone.
"use strict";
(() => {
  function label(root) {
    for (const table of root.querySelectorAll("table")) {
      const heads = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
      if (!heads.length) continue;
      table.classList.add("labelled");
      for (const row of table.querySelectorAll("tbody tr")) {
        Array.from(row.children).forEach((cell, n) => {
          if (heads[n] && !cell.hasAttribute("colspan")) cell.setAttribute("data-label", heads[n]);
        });
      }
    }
  }
  const view = document.getElementById("view");
  document.addEventListener("killswitch:view", () => label(view));
  document.addEventListener("killswitch:runbook", (e) => label(e.target));
  label(view); // a public page comes with its view
})();
