// Searchable selects (portal/lookups.py, templates/macros/lookup.html): a text box whose list of matches comes
// from /lookup/<kind>?q=... as the person types, a page at a time. Keyboard: Down opens the list and moves
// down, Up moves up, Enter chooses, Escape closes it and puts the chosen name back. Leaving the box with
// its text emptied clears the choice. Choosing fires a `change` event on the value input (filter forms
// listening for `change` update), and clears any box whose list follows this one (data-lookup-with).
(function () {
  "use strict";

  var DELAY = 200;
  var state = new WeakMap();

  function boxOf(element) {
    return element instanceof Element ? element.closest("[data-lookup]") : null;
  }

  function parts(box) {
    var memory = state.get(box);
    if (!memory) {
      memory = {};
      state.set(box, memory);
    }
    return {
      box: box,
      text: box.querySelector("input[role=combobox]"),
      value: box.querySelector("input[data-lookup-value]"),
      list: box.querySelector("[role=listbox]"),
      chosen: box.querySelector("[data-lookup-chosen]"),
      memory: memory
    };
  }

  function options(p) {
    return Array.prototype.slice.call(p.list.querySelectorAll("[role=option]"));
  }

  function active(p) {
    return p.list.querySelector("[role=option][aria-selected=true]");
  }

  function open(p) {
    p.list.hidden = false;
    p.text.setAttribute("aria-expanded", "true");
  }

  function close(p) {
    p.list.hidden = true;
    p.text.setAttribute("aria-expanded", "false");
    p.text.removeAttribute("aria-activedescendant");
    options(p).forEach(function (option) { option.setAttribute("aria-selected", "false"); });
  }

  function highlight(p, option) {
    options(p).forEach(function (other) { other.setAttribute("aria-selected", other === option ? "true" : "false"); });
    if (option) {
      p.text.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({block: "nearest"});
    }
  }

  function move(p, step) {
    var all = options(p);
    if (!all.length) { return; }
    var index = all.indexOf(active(p)) + step;
    highlight(p, all[Math.max(0, Math.min(all.length - 1, index))]);
  }

  function note(p, message) {
    var item = document.createElement("li");
    item.className = "lookup-note";
    item.setAttribute("role", "presentation");
    item.textContent = message;
    p.list.replaceChildren(item);
    open(p);
  }

  function query(p) {
    var url = new URL(p.box.dataset.lookupUrl, window.location.href);
    url.searchParams.set("q", p.text.value);
    (p.box.dataset.lookupWith || "").split(",").forEach(function (pair) {
      var name = pair.split("=")[0], source = document.getElementById(pair.split("=")[1] || "");
      if (name && source) { url.searchParams.set(name, source.value); }
    });
    if (p.memory.controller) { p.memory.controller.abort(); }
    var controller = p.memory.controller = new AbortController();
    fetch(url, {headers: {"HX-Request": "true"}, credentials: "same-origin", signal: controller.signal})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        p.list.innerHTML = html;
        options(p).forEach(function (option, index) { option.id = p.list.id + "-" + index; });
        open(p);
      })
      .catch(function (error) {
        if (error.name !== "AbortError") { note(p, "The list could not be loaded; try again."); }
      });
  }

  function changed(element) {
    element.dispatchEvent(new Event("change", {bubbles: true}));
  }

  function choose(p, option) {
    if (p.chosen) {
      var name = p.box.dataset.lookupName;
      var taken = p.chosen.querySelector('input[value="' + option.dataset.value + '"]');
      if (!taken) {
        var item = document.createElement("li");
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = option.dataset.value;
        var label = document.createElement("span");
        label.textContent = option.dataset.label;
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "small secondary";
        remove.setAttribute("data-lookup-remove", "");
        remove.setAttribute("aria-label", "Remove " + option.dataset.label);
        remove.textContent = "Remove";
        item.append(input, label, " ", remove);
        p.chosen.appendChild(item);
        changed(p.box);
      }
      p.text.value = "";
      close(p);
      return;
    }
    var before = p.value.value;
    p.value.value = option.dataset.value;
    p.text.value = option.dataset.label;
    p.text.dataset.chosen = option.dataset.label;
    close(p);
    if (before !== p.value.value) { changed(p.value); }
  }

  // Leaving the box: an emptied box clears the choice; half-typed text gives way to the chosen name.
  function settle(p) {
    close(p);
    if (p.chosen) {
      p.text.value = "";
      return;
    }
    if (!p.text.value.trim() && p.value.value) {
      p.value.value = "";
      p.text.dataset.chosen = "";
      changed(p.value);
    }
    p.text.value = p.text.dataset.chosen || "";
  }

  document.addEventListener("input", function (event) {
    var box = boxOf(event.target);
    if (!box || event.target.getAttribute("role") !== "combobox") { return; }
    var p = parts(box);
    clearTimeout(p.memory.timer);
    p.memory.timer = setTimeout(function () { query(p); }, DELAY);
  });

  document.addEventListener("keydown", function (event) {
    var box = boxOf(event.target);
    if (!box || event.target.getAttribute("role") !== "combobox") { return; }
    var p = parts(box);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (p.list.hidden) {
        if (options(p).length) { open(p); } else { query(p); }
        return;
      }
      move(p, event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter" && !p.list.hidden) {
      event.preventDefault();
      var option = active(p);
      if (option) { choose(p, option); }
    } else if (event.key === "Escape") {
      clearTimeout(p.memory.timer);
      if (p.memory.controller) { p.memory.controller.abort(); }
      var edited = !p.chosen && p.text.value !== (p.text.dataset.chosen || "");
      if (!p.list.hidden || edited) {  // handled here: a dialog around the box stays open
        event.preventDefault();
        event.stopPropagation();
      }
      close(p);
      if (!p.chosen) { p.text.value = p.text.dataset.chosen || ""; }
    }
  });

  document.addEventListener("click", function (event) {
    var box = boxOf(event.target);
    if (!box) { return; }
    var p = parts(box);
    if (event.target.matches("[data-lookup-remove]")) {
      event.target.closest("li").remove();
      changed(box);
      p.text.focus();
    } else if (event.target.getAttribute("role") === "combobox" && p.list.hidden) {
      query(p);
    }
  });

  // mousedown, not click: the box keeps the focus, so leaving it does not close the list first.
  document.addEventListener("mousedown", function (event) {
    var option = event.target instanceof Element ? event.target.closest("[data-lookup] [role=option]") : null;
    if (!option) { return; }
    event.preventDefault();
    choose(parts(boxOf(option)), option);
  });

  document.addEventListener("focusout", function (event) {
    var box = boxOf(event.target);
    if (!box || event.target.getAttribute("role") !== "combobox") { return; }
    if (event.relatedTarget instanceof Node && box.contains(event.relatedTarget)) { return; }
    settle(parts(box));
  });

  // The text box's own change events are not choices: keep them from forms that reload on `change`.
  document.addEventListener("change", function (event) {
    if (event.target instanceof Element && event.target.getAttribute("role") === "combobox" && boxOf(event.target)) {
      event.stopPropagation();
    }
  }, true);

  // A box whose list follows another (tasks follow the offering) starts over when that one changes.
  document.addEventListener("change", function (event) {
    var source = event.target;
    if (!(source instanceof HTMLInputElement) || !source.hasAttribute("data-lookup-value") || !source.id) { return; }
    document.querySelectorAll("[data-lookup-with]").forEach(function (box) {
      var follows = box.dataset.lookupWith.split(",").some(function (pair) { return pair.split("=")[1] === source.id; });
      if (!follows) { return; }
      var p = parts(box);
      if (p.value) { p.value.value = ""; }
      p.text.value = "";
      p.text.dataset.chosen = "";
      p.list.replaceChildren();
      close(p);
    });
  });
})();
