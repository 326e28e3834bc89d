// Keyboard and screen-reader glue (issue 15 item 23): the focus after an htmx swap, modal dialogs, the menus.
(function () {
  "use strict";

  var FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), " +
                  "textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])";

  function visible(el) { return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length); }

  function focusables(container) {
    return Array.prototype.filter.call(container.querySelectorAll(FOCUSABLE), visible);
  }

  function focusOn(el) {
    if (!el.matches(FOCUSABLE) && !el.hasAttribute("tabindex")) { el.setAttribute("tabindex", "-1"); }
    el.focus();
  }

  function focusLost() {
    var active = document.activeElement;
    return !active || active === document.body || !active.isConnected;
  }

  function modal() { return document.querySelector("[role=dialog][aria-modal=true]"); }

  // After a swap the focus lands in the region that changed, never on <body> (where the next Tab would restart
  // at the top of the page): on its error (the form's, else the first field refused), else on the element that
  // had it (same id), else on its status message, else on the region itself. Only a swap that took the focus
  // away moves it: a poll elsewhere does not.
  // Modal dialogs ([role=dialog][aria-modal=true], e.g. the move dialog): the focus moves in when one opens and
  // stays inside (Tab wraps); Escape closes it through its own [data-dialog-close] control; the focus then goes
  // back to the control that opened it (its data-opener, else the one that asked for it).
  var lost = null;  // {el, id, focusedId}: the swap target that held the focus
  var requester = null;  // the element of the latest request
  var opener = null;  // while a modal dialog is open: where the focus goes back when it closes

  document.addEventListener("htmx:beforeRequest", function (event) { requester = event.detail.elt; });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var active = document.activeElement;
    lost = null;
    if (target instanceof Element && active && active !== document.body && target.contains(active)) {
      lost = { el: target, id: target.id, focusedId: active.id };
    }
  });

  function swappedRegion(event) {
    var el = event.target;
    if (!lost || !(el instanceof Element) || !el.isConnected) { return null; }
    if (el === lost.el || (lost.id && el.id === lost.id)) { return el; }
    if (!lost.el.isConnected && !lost.id) { return el; }  // an outerHTML swap of a region without an id
    return null;
  }

  function restoreFocus(region, focusedId) {
    if (!focusLost()) { return; }
    var again = focusedId && document.getElementById(focusedId);
    var invalid = Array.prototype.filter.call(region.querySelectorAll("[aria-invalid=true]"), visible)[0];
    focusOn(region.querySelector("[role=alert]") || invalid ||
            (again && region.contains(again) && again.matches(FOCUSABLE) && visible(again) ? again : null) ||
            region.querySelector("[role=status]") || region);
  }

  function settle(event) {
    var dialog = modal();
    if (!dialog && opener) {  // the dialog closed
      var back = opener;
      opener = lost = null;
      if (back.isConnected) { back.focus(); return; }
    }
    if (dialog && !opener) {
      opener = document.getElementById(dialog.getAttribute("data-opener") || "") || requester;
    }
    var region = event && swappedRegion(event);
    if (region) {
      var focusedId = lost.focusedId;
      lost = null;
      restoreFocus(region, focusedId);
    }
    if (dialog && !dialog.contains(document.activeElement)) {
      focusOn(dialog.querySelector("[autofocus]") || focusables(dialog)[0] || dialog);
    }
  }

  document.addEventListener("htmx:afterSettle", settle);
  document.addEventListener("DOMContentLoaded", function () { settle(null); });

  document.addEventListener("keydown", function (event) {
    var dialog = modal();
    if (dialog && event.key === "Tab") {
      var items = focusables(dialog);
      if (!items.length) { event.preventDefault(); return; }
      var first = items[0], last = items[items.length - 1];
      if (!dialog.contains(document.activeElement)) { event.preventDefault(); first.focus(); }
      else if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
      else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
      return;
    }
    if (event.key !== "Escape" || event.defaultPrevented) { return; }  // (a list of matches closed first)
    if (dialog) {
      var close = dialog.querySelector("[data-dialog-close]");
      if (close) { event.preventDefault(); close.click(); }
      return;
    }
    // Escape closes the menu the focus is in (the Admin menu, else the phone's navigation) and puts the focus on
    // its button; with the focus elsewhere, it closes an open Admin menu.
    var active = document.activeElement;
    var menu = active && active.closest("details.menu[open]");
    var toggle = document.querySelector(".nav-toggle[aria-expanded=true]");
    if (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    } else if (toggle && active && active.closest(".topbar")) {
      setNavigation(toggle, false);
      toggle.focus();
    } else {
      document.querySelectorAll("details.menu[open]").forEach(function (open) { open.removeAttribute("open"); });
    }
  });

  // A focus that wanders out of an open modal dialog (a click on the dimmed page) is brought back.
  document.addEventListener("focusin", function (event) {
    var dialog = modal();
    if (dialog && event.target instanceof Element && !dialog.contains(event.target) && !event.target.closest("#flash")) {
      var first = focusables(dialog)[0];
      focusOn(first || dialog);
    }
  });

  // A click on the dimmed page behind an open modal dialog does nothing (the flash messages stay usable).
  document.addEventListener("click", function (event) {
    var dialog = modal();
    if (dialog && event.target instanceof Element && !dialog.contains(event.target) && !event.target.closest("#flash")) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  // An opened Admin menu stays on the screen: it hangs to the left of its summary, or to the right when the bar
  // wrapped and put the summary near the left edge.
  document.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (!(menu instanceof HTMLDetailsElement) || !menu.classList.contains("menu") || !menu.open) { return; }
    var items = menu.querySelector(".menu-items");
    items.classList.remove("menu-items-start");
    if (items.getBoundingClientRect().left < 0) { items.classList.add("menu-items-start"); }
  }, true);

  // The phone's navigation: the Menu button shows and hides the links (portal.css collapses them).
  function setNavigation(toggle, open) {
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.closest(".topbar").classList.toggle("nav-open", open);
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target instanceof Element && event.target.closest(".nav-toggle");
    if (toggle) { setNavigation(toggle, toggle.getAttribute("aria-expanded") !== "true"); }
  });
})();
