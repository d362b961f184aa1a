/* Tables marked class="table-cards" become stacked cards on phones (portal.css, under 760 px):
   each cell gets its column's header as data-label, shown before the value. The table keeps its
   semantics (explicit ARIA table roles, since display:block drops them in some browsers).
   Without this script the table scrolls sideways inside its focusable .table-wrap region. */
(function () {
  document.querySelectorAll("table.table-cards").forEach(function (table) {
    var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.replace(/\s+/g, " ").trim();
    });
    table.setAttribute("role", "table");
    table.querySelectorAll("thead, tbody, tfoot").forEach(function (g) { g.setAttribute("role", "rowgroup"); });
    table.querySelectorAll("tr").forEach(function (tr) {
      tr.setAttribute("role", "row");
      Array.prototype.forEach.call(tr.children, function (cell, i) {
        if (cell.closest("thead")) { cell.setAttribute("role", "columnheader"); return; }
        cell.setAttribute("role", cell.tagName === "TH" ? "rowheader" : "cell");
        if (heads[i]) cell.setAttribute("data-label", heads[i]);
      });
    });
    table.classList.add("cards-ready");
  });
})();
