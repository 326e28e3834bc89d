// Minimal glue around htmx: dismissible flashes, and a banner with the server's own words for every failed
// request that is not a fragment of the page (a proxy's 502, an error page), or a sentence when the network fails.
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

  // The words of an error answer: the portal's own error fragment or page carries them in its alert; a
  // proxy's or server's page in its heading or title; plain text as it is.
  function serverMessage(xhr) {
    var type = (xhr.getResponseHeader("Content-Type") || "").toLowerCase();
    var body = xhr.responseText || "";
    var text = "";
    if (type.indexOf("html") !== -1) {
      var doc = new DOMParser().parseFromString(body, "text/html");
      doc.querySelectorAll("script, style, .flash-close").forEach(function (node) { node.remove(); });
      var found = doc.querySelector("[role=alert]") || doc.querySelector("h1") || doc.querySelector("title");
      text = found ? found.textContent : (doc.body ? doc.body.textContent : "");
    } else if (type.indexOf("json") !== -1) {
      try {
        var data = JSON.parse(body);
        text = data.message || data.error || data.detail || "";
      } catch (ignored) { text = ""; }
    } else {
      text = body;
    }
    text = text.replace(/\s+/g, " ").trim();
    return text.length > 400 ? text.slice(0, 400) + "…" : text;
  }

  function failureMessage(xhr) {
    var words = serverMessage(xhr);
    var status = xhr.status + (xhr.statusText ? " " + xhr.statusText : "");
    if (!words) { return "The request failed (" + status + ") without saying why. Please try again."; }
    if (words.indexOf(String(xhr.status)) !== -1) { return "The request failed: " + words; }
    return "The request failed (" + status + "): " + words;
  }

  // Error answers: the portal's own fragments are swapped in (a form with its errors, a 409 offering what
  // to do next, an error retargeted at #flash); anything else becomes a banner with the server's words.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status < 400) { return; }
    if (xhr.getResponseHeader("HX-Retarget") || xhr.getResponseHeader("X-Portal-Fragment")) {
      event.detail.shouldSwap = true;
      return;
    }
    event.detail.shouldSwap = false;
    banner(failureMessage(xhr));
  });

  document.addEventListener("htmx:sendError", function () {
    banner("The portal could not be reached (the network or the server is down), so this may not have " +
           "been saved. Check your connection, reload the page and try again.");
  });

  document.addEventListener("htmx:timeout", function () {
    banner("The portal did not answer in time. It may still be working on it: reload the page to see " +
           "whether the change was made before trying again.");
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

// A select whose options an htmx request replaced (My time's offering search) chose another option without a
// "change" event: announce it, so the task list that follows the chosen project is asked for again.
document.addEventListener("htmx:afterSwap", function (event) {
  var target = event.detail.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("hx-get")) {
    target.dispatchEvent(new Event("change", { bubbles: true }));
  }
});

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

// The workflow matrix (issue 15): "only the settings that differ" hides the rows whose cells all hold the same
// value, read from the cells when it is ticked (a row being edited does not vanish under the pointer).
(function () {
  "use strict";

  function cellValue(cell) {
    var input = cell.querySelector("input, select");
    if (!input) { return ""; }
    return input.type === "checkbox" ? String(input.checked) : input.value;
  }

  function markSameRows(table) {
    table.querySelectorAll("tr[data-setting]").forEach(function (row) {
      var values = Array.prototype.map.call(row.querySelectorAll("td"), cellValue);
      row.classList.toggle("same", values.every(function (value) { return value === values[0]; }));
    });
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box instanceof HTMLInputElement && box.dataset.matrixFilter) {
      var table = document.getElementById(box.dataset.matrixFilter);
      if (!table) { return; }
      markSameRows(table);
      table.classList.toggle("only-differences", box.checked);
    }
  });
})();
