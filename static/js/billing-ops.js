/* Billing runs page: poll the progress endpoint every 3 s while a run is pending or running. */
(function () {
  var table = document.getElementById("billing-runs");
  if (!table || table.dataset.live !== "1") return;
  var url = table.dataset.progressUrl;
  function set(row, field, value) {
    var el = row.querySelector('[data-field="' + field + '"]');
    if (!el) return;
    if (el.tagName === "PROGRESS") { el.value = value; el.textContent = value + "%"; } else { el.textContent = value; }
  }
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        var live = false;
        data.runs.forEach(function (run) {
          var row = table.querySelector('tr[data-run="' + run.id + '"]');
          if (!row) { live = true; return; }  // a new run: the next full reload shows it
          ["done", "failed", "total", "percent", "status_display"].forEach(function (f) { set(row, f, run[f]); });
          set(row, "percent-text", run.percent + "%");
          if (run.status === "pending" || run.status === "running") live = true;
        });
        if (live) { setTimeout(tick, 3000); } else { window.location.reload(); }
      })
      .catch(function () { setTimeout(tick, 10000); });
  }
  setTimeout(tick, 3000);
})();
