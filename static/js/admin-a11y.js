/* The Django admin: what its templates leave out, for keyboard and screen-reader users
   (checked by tests/e2e/test_axe.py).
   - A split date/time field (Django 5 renders it in a <fieldset>) gets one label per input:
     "Created: Date", "Created: Time".
   - An empty column header (tabular inlines' first and "delete" columns) becomes a plain cell: a
     header with no text names nothing (axe "empty-table-header").
   - A region that scrolls sideways (inline formsets, wide change lists) can take keyboard focus
     so it can be scrolled with the arrow keys. */
(function () {
  function nameOf(el) { return (el.textContent || "").replace(/\s+/g, " ").replace(/[:\s]+$/, "").trim(); }

  document.querySelectorAll("p.datetime").forEach(function (p) {
    var row = p.closest(".form-row, fieldset, .fieldBox") || p.parentElement;
    var legend = row && row.querySelector("legend, label");
    var field = legend ? nameOf(legend) : "";
    var part = "";
    p.childNodes.forEach(function (node) {
      if (node.nodeType === Node.TEXT_NODE && node.textContent.trim()) { part = node.textContent.replace(/[:\s]+$/, "").trim(); }
      if (node.nodeType === Node.ELEMENT_NODE && node.tagName === "INPUT" && node.type !== "hidden") {
        var labelled = node.labels && node.labels.length || node.getAttribute("aria-label");
        if (!labelled) node.setAttribute("aria-label", field && part ? field + ": " + part : (part || field));
      }
    });
  });

  document.querySelectorAll("thead th").forEach(function (th) {
    if (th.textContent.trim() || th.querySelector("input, img, svg, [aria-label]")) return;
    var td = document.createElement("td");
    td.className = th.className;
    th.replaceWith(td);
  });

  function markScrollable() {
    document.querySelectorAll(".inline-group, .results, .module, #changelist-form, .tabular").forEach(function (el) {
      var scrolls = el.scrollWidth > el.clientWidth + 1 && /(auto|scroll)/.test(getComputedStyle(el).overflowX);
      if (scrolls && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
        el.dataset.a11yScroll = "1";
      } else if (!scrolls && el.dataset.a11yScroll) {
        el.removeAttribute("tabindex");
        delete el.dataset.a11yScroll;
      }
    });
  }
  markScrollable();
  window.addEventListener("resize", markScrollable);
})();
