/* Main nav on narrow screens: a "Menu" button folds the links (WAI-ARIA disclosure pattern).
   Without this script the links simply wrap onto several lines (portal.css). The button is a real
   <button> (Enter and Space work); Escape closes the menu and puts focus back on the button. */
(function () {
  var nav = document.getElementById("main-nav");
  if (!nav) return;
  var button = nav.querySelector(".nav-toggle");
  var list = document.getElementById("main-nav-list");
  if (!button || !list) return;
  nav.classList.add("nav-js");
  button.hidden = false;

  function setOpen(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    nav.classList.toggle("nav-open", open);
  }
  button.addEventListener("click", function () {
    setOpen(button.getAttribute("aria-expanded") !== "true");
  });
  nav.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      setOpen(false);
      button.focus();
    }
  });
  setOpen(false);
})();
