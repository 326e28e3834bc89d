// Minimal glue around htmx: dismissible flashes, and a readable banner for failures that did not come
// from the portal's own error pages (network down, a proxy's 502).
(function () {
  "use strict";

  function banner(message) {
    var flash = document.getElementById("flash");
    if (!flash) { return; }
    var div = document.createElement("div");
    div.className = "flash flash-error";
    div.setAttribute("role", "alert");
    div.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "flash-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    div.appendChild(close);
    flash.replaceChildren(div);
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof Element && target.classList.contains("flash-close")) {
      target.parentElement.remove();
    }
    // An open menu closes when the click lands outside it.
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!(target instanceof Node && menu.contains(target))) { menu.removeAttribute("open"); }
    });
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.status !== 422 && !xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = false;
      banner("The request failed (" + xhr.status + "). Please try again.");
    }
  });

  document.addEventListener("htmx:sendError", function () {
    banner("The portal could not be reached. Check your connection and try again.");
  });

  // A confirm() for destructive buttons that carry data-confirm (htmx's hx-confirm covers htmx ones).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form instanceof HTMLFormElement && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
})();

// Timesheets and finance (issue 6): a checkbox with data-select-all="name" ticks every box of that name in its form.
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.dataset.selectAll || !box.form) { return; }
  box.form.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]').forEach(function (other) {
    other.checked = box.checked;
  });
});

// My time's week grid (issue 15 item 21): ↑/↓ move between rows (Tab moves along the days), Shift+Enter opens
// a cell's entries; Close or Escape shuts that panel and puts the focus back on its cell.
(function () {
  "use strict";

  function closePanel(panel) {
    var cell = document.getElementById(panel.dataset.cell || "");
    panel.replaceChildren();
    panel.hidden = true;
    panel.removeAttribute("data-cell");
    if (cell instanceof HTMLInputElement) { cell.focus(); return; }
    var open = cell && cell.closest("td") && cell.closest("td").querySelector(".cell-open");
    if (open) { open.focus(); }
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    var panel = target.closest("#cell-panel");
    if (panel && event.key === "Escape") { closePanel(panel); return; }
    if (!(target instanceof HTMLInputElement) || !target.classList.contains("cell-hours")) { return; }
    var cell = target.closest("td");
    if (event.key === "Enter" && event.shiftKey) {
      var open = cell.querySelector(".cell-open");
      if (open) { event.preventDefault(); open.click(); }
      return;
    }
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") { return; }
    var column = Array.prototype.indexOf.call(cell.parentElement.children, cell);
    var row = cell.parentElement;
    while ((row = event.key === "ArrowUp" ? row.previousElementSibling : row.nextElementSibling)) {
      var next = row.children[column] && row.children[column].querySelector("input.cell-hours");
      if (next) { event.preventDefault(); next.focus(); next.select(); return; }
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("[data-close-panel]");
    if (button) { closePanel(button.closest("#cell-panel")); }
  });
})();

// A button with data-toggle-row shows or hides the table row its aria-controls names (the approvals queue's
// days × projects of one timesheet, issue 15 item 20); htmx loads that row's content when it first shows.
document.addEventListener("click", function (event) {
  var button = event.target instanceof Element && event.target.closest("[data-toggle-row]");
  if (!button) { return; }
  var row = document.getElementById(button.getAttribute("aria-controls"));
  if (!row) { return; }
  var open = button.getAttribute("aria-expanded") !== "true";
  row.hidden = !open;
  button.setAttribute("aria-expanded", open ? "true" : "false");
});
