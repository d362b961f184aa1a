/* CAD pages: line formset add/remove, live totals, CSV upload progress. No dependencies.
 *
 * Live totals POST the whole form (as the browser would submit it) to the form's
 * data-calculate-url, which answers {ok, totals, lines: {prefix: amounts}, errors: {name: [..]},
 * payment_warning}.
 * Nothing the user typed is touched: only the totals, the per-line amounts and the messages
 * next to the fields change. Messages show only for fields the user has filled or left.
 */
(function () {
  "use strict";

  function $(root, selector) { return root.querySelector(selector); }
  function $all(root, selector) { return Array.prototype.slice.call(root.querySelectorAll(selector)); }

  // --- Line formset ------------------------------------------------------------------------
  function setupLines(form) {
    var container = $(form, "[data-lines]");
    var template = document.getElementById("line-template");
    var total = $(form, "input[name$='-TOTAL_FORMS']");
    if (!container || !template || !total) { return; }

    function renumber() {
      var n = 0;
      $all(container, ".line-card").forEach(function (card) {
        if (card.classList.contains("removed")) { return; }
        n += 1;
        var label = $(card, "[data-line-number]");
        if (label) { label.textContent = String(n); }
      });
      $all(container, "[data-remove-line]").forEach(function (button) { button.hidden = n <= 1; });
    }

    function wire(card) {
      var remover = $(card, "[data-remove-line]");
      var box = $(card, "input[name$='-DELETE']");
      if (box && box.parentElement) { box.parentElement.hidden = true; }
      if (remover && box) {
        remover.addEventListener("click", function () {
          box.checked = true;
          card.classList.add("removed");
          renumber();
          schedule(form, true);
        });
      }
    }

    $all(container, ".line-card").forEach(wire);
    var add = $(form, "[data-add-line]");
    if (add) {
      add.addEventListener("click", function (event) {
        event.preventDefault();
        var index = parseInt(total.value, 10) || 0;
        var html = template.innerHTML.replace(/__prefix__/g, String(index));
        var holder = document.createElement("div");
        holder.innerHTML = html.trim();
        var card = holder.firstElementChild;
        container.appendChild(card);
        total.value = String(index + 1);
        wire(card);
        renumber();
        var first = $(card, "input[type=text], input:not([type=hidden]), select");
        if (first) { first.focus(); }
      });
    }
    renumber();
  }

  // --- Live totals -------------------------------------------------------------------------
  var timers = new WeakMap();
  var sequence = 0;

  function schedule(form, immediate) {
    clearTimeout(timers.get(form));
    var status = $(form, "[data-live-status]");
    if (status && status.dataset.busyText) { status.textContent = status.dataset.busyText; }
    timers.set(form, setTimeout(function () { calculate(form); }, immediate ? 0 : 400));
  }

  function clearLiveErrors(form) {
    $all(form, "ul.live-errors").forEach(function (list) { list.remove(); });
    $all(form, ".field.live-error").forEach(function (field) { field.classList.remove("live-error", "has-error"); });
  }

  function showError(form, name, messages) {
    var input = form.elements.namedItem(name);
    if (!input || input.type === "hidden") { return false; }
    if (!(input.dataset.touched || (input.value && input.value !== ""))) { return true; }
    var field = input.closest(".field");
    if (!field) { return false; }
    var list = document.createElement("ul");
    list.className = "field-errors live-errors";
    messages.forEach(function (message) {
      var item = document.createElement("li");
      item.textContent = message;
      list.appendChild(item);
    });
    field.insertBefore(list, input);
    if (!field.classList.contains("has-error")) { field.classList.add("has-error", "live-error"); }
    return true;
  }

  // Pay-at-release (no RPP) warning for the chosen RM account and release date: "" when RPP
  // applies, null when no account is chosen (the page keeps what the server rendered).
  function showPaymentWarning(form, text) {
    var box = $(form, "[data-payment-warnings]");
    if (!box || typeof text !== "string") { return; }
    box.textContent = "";
    if (!text) { return; }
    var note = document.createElement("div");
    note.className = "callout callout-warn";
    note.setAttribute("role", "status");
    note.setAttribute("data-payment-warning", "");
    note.textContent = text;
    box.appendChild(note);
  }

  function calculate(form) {
    var url = form.dataset.calculateUrl;
    if (!url || !window.fetch) { return; }
    var status = $(form, "[data-live-status]");
    var mine = ++sequence;
    var body = new FormData(form);
    body.delete("action");
    fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "X-Requested-With": "XMLHttpRequest" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) {
        if (mine !== sequence) { return; }  // a newer request is on its way
        Object.keys(data.totals || {}).forEach(function (key) {
          var cell = $(form, "[data-total='" + key + "']");
          if (cell) {
            cell.textContent = (data.totals_display || data.totals)[key];
            cell.dataset.value = data.totals[key];  // the plain decimal, for scripts and tests
          }
        });
        $all(form, ".line-card").forEach(function (card) {
          var amounts = (data.lines || {})[card.dataset.line];
          $all(card, "[data-amount]").forEach(function (cell) {
            var shown = amounts && amounts.display && cell.dataset.amount in amounts.display ? amounts.display : amounts;
            cell.textContent = shown ? shown[cell.dataset.amount] : "—";
          });
        });
        showPaymentWarning(form, data.payment_warning);
        clearLiveErrors(form);
        var hidden = 0;
        Object.keys(data.errors || {}).forEach(function (name) {
          if (!showError(form, name, data.errors[name])) { hidden += 1; }
        });
        if (status) {
          status.textContent = data.ok ? status.dataset.okText || "✓" : (hidden ? status.dataset.pendingText || "…" : "");
        }
      })
      .catch(function () {
        if (status && mine === sequence) { status.textContent = status.dataset.failText || "—"; }
      });
  }

  function setupLive(form) {
    var status = $(form, "[data-live-status]");
    if (status) {
      var lang = (document.documentElement.lang || "en").slice(0, 2);
      status.dataset.okText = lang === "fr" ? "Totaux à jour : prêt à produire." : "Totals up to date: ready to file.";
      status.dataset.pendingText = lang === "fr" ? "Totaux à jour; certains champs restent à remplir." : "Totals up to date; some fields still need a value.";
      status.dataset.busyText = lang === "fr" ? "Calcul des totaux…" : "Updating the totals…";
      status.dataset.failText = lang === "fr" ? "Totaux indisponibles pour le moment." : "Totals unavailable right now.";
    }
    form.addEventListener("input", function () { schedule(form, false); });
    form.addEventListener("change", function (event) {
      if (event.target && event.target.name) { event.target.dataset.touched = "1"; }
      schedule(form, false);
    });
    form.addEventListener("focusout", function (event) {
      if (event.target && event.target.name) { event.target.dataset.touched = "1"; }
    });
    schedule(form, true);
  }

  // --- CSV upload progress -------------------------------------------------------------------
  function setupProgress(panel) {
    var url = panel.dataset.progressUrl;
    var text = $(panel, "[data-progress-text]");
    var bar = $(panel, "[data-progress-bar]");
    var lang = (document.documentElement.lang || "en").slice(0, 2);
    var polls = 0;
    function poll() {
      polls += 1;
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (state) {
        if (state.finished) { window.location.reload(); return; }
        if (state.total) {
          if (state.state === "importing") {
            text.textContent = state.done + (lang === "fr" ? " de " : " of ") + state.total + (lang === "fr" ? " lignes" : " lines");
          }
          bar.style.width = Math.round(100 * state.done / state.total) + "%";
        }
        if (polls < 1800) { setTimeout(poll, 1000); }
      }).catch(function () { if (polls < 1800) { setTimeout(poll, 3000); } });
    }
    setTimeout(poll, 500);
  }

  document.addEventListener("DOMContentLoaded", function () {
    $all(document, "form[data-cad-form]").forEach(function (form) {
      setupLines(form);
      setupLive(form);
    });
    $all(document, "[data-progress-url]").forEach(setupProgress);
  });
})();
