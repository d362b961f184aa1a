/* The account switcher's type-ahead (progressive enhancement; no inline script: CSP).
 *
 * Without JavaScript the switcher is the plain <select> form. With it, a search box (an ARIA
 * combobox) asks the server for matching clients (name, BN or RM number; 20 at most) and shows
 * the recent clients when empty. Arrow keys move, Enter acts for the highlighted client, Escape
 * closes. The form posts to the broker app's act-for view, which remembers recent clients.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var searchUrl = script && script.dataset.searchUrl;
  var actUrl = script && script.dataset.actUrl;
  var labels = {
    placeholder: (script && script.dataset.placeholder) || "Search clients",
    none: (script && script.dataset.none) || "No client found",
    more: (script && script.dataset.more) || "More clients match: type more"
  };

  function init() {
    var form = document.querySelector("form.switcher");
    var select = form && form.querySelector("select[name=business]");
    if (!form || !select || !searchUrl) return;
    if (script && script.dataset.cssUrl) {
      var css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = script.dataset.cssUrl;
      document.head.appendChild(css);
    }

    var wrap = document.createElement("div");
    wrap.className = "switcher-combo";
    var input = document.createElement("input");
    input.type = "search";
    input.id = "switch-search";
    input.autocomplete = "off";
    input.placeholder = labels.placeholder;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", "switch-results");
    input.setAttribute("aria-label", labels.placeholder);
    var list = document.createElement("ul");
    list.id = "switch-results";
    list.className = "switcher-results";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    var status = document.createElement("span");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    wrap.appendChild(input);
    wrap.appendChild(list);
    wrap.appendChild(status);

    select.hidden = true;
    select.required = false;
    var label = form.querySelector("label[for=switch-business]");
    if (label) label.htmlFor = "switch-search";
    select.parentNode.insertBefore(wrap, select);
    var button = form.querySelector("button");
    if (button) button.hidden = true;
    if (actUrl) form.action = actUrl;

    var results = [];
    var active = -1;
    var timer = null;
    var seq = 0;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(i) {
      var items = list.querySelectorAll("[role=option]");
      if (!items.length) return;
      active = (i + items.length) % items.length;
      items.forEach(function (el, n) { el.setAttribute("aria-selected", n === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", items[active].id);
      items[active].scrollIntoView({ block: "nearest" });
    }

    function choose(i) {
      var client = results[i];
      if (!client) return;
      var option = select.querySelector('option[value="' + client.id + '"]');
      if (!option) {
        option = document.createElement("option");
        option.value = String(client.id);
        select.appendChild(option);
      }
      select.value = String(client.id);
      form.submit();
    }

    function render(data) {
      results = data.results || [];
      list.textContent = "";
      results.forEach(function (client, n) {
        var li = document.createElement("li");
        li.id = "switch-option-" + n;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.textContent = client.name + " (" + client.bn + ")";
        li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(n); });
        list.appendChild(li);
      });
      if (!results.length) {
        var empty = document.createElement("li");
        empty.className = "switcher-empty";
        empty.textContent = input.value.trim() ? labels.none : "";
        if (empty.textContent) list.appendChild(empty);
      } else if (data.more) {
        var more = document.createElement("li");
        more.className = "switcher-empty";
        more.textContent = labels.more;
        list.appendChild(more);
      }
      status.textContent = results.length ? String(results.length) : (input.value.trim() ? labels.none : "");
      list.hidden = !list.children.length;
      input.setAttribute("aria-expanded", list.hidden ? "false" : "true");
      active = -1;
      if (results.length) highlight(0);
    }

    function search() {
      var mine = ++seq;
      fetch(searchUrl + "?q=" + encodeURIComponent(input.value.trim()), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (data) { if (mine === seq) render(data); })
        .catch(function () { /* the plain form still works */ });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 150);
    });
    input.addEventListener("focus", search);
    input.addEventListener("blur", function () { setTimeout(close, 150); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") { event.preventDefault(); if (list.hidden) search(); else highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter") { event.preventDefault(); if (active >= 0) choose(active); }
      else if (event.key === "Escape") { close(); }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
