/* The board's "Select all on this page" ticks every client's box (progressive enhancement; no
 * inline script: CSP). Without JavaScript the box is a form field: the server reminds every client
 * of the page when it is ticked. */
(function () {
  "use strict";
  function init() {
    var all = document.getElementById("remind-all");
    if (!all) return;
    var picks = document.querySelectorAll("input.remind-pick");
    all.addEventListener("change", function () {
      for (var i = 0; i < picks.length; i++) picks[i].checked = all.checked;
    });
    for (var i = 0; i < picks.length; i++) {
      picks[i].addEventListener("change", function () {
        if (!this.checked) all.checked = false;
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
