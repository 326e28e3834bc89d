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
