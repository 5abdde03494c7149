// Dark mode, remembered. Runs in <head> before the first paint so a dark page never flashes white; the toggle
// button is wired once the document has loaded. The choice lives in localStorage and as a class on <html>.
(function () {
  "use strict";
  var KEY = "lh-theme";
  var root = document.documentElement;

  function stored() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function prefersDark() {
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  }
  function apply(dark) {
    root.classList.toggle("dark", dark);
    var buttons = document.querySelectorAll("[data-theme-toggle]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", dark ? "true" : "false");
    }
    document.dispatchEvent(new CustomEvent("lh:theme", { detail: { dark: dark } }));
  }

  var choice = stored();
  apply(choice ? choice === "dark" : prefersDark());

  document.addEventListener("DOMContentLoaded", function () {
    apply(root.classList.contains("dark"));
    document.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("[data-theme-toggle]");
      if (!button) return;
      var dark = !root.classList.contains("dark");
      try { localStorage.setItem(KEY, dark ? "dark" : "light"); } catch (e) { /* private mode: not remembered */ }
      apply(dark);
    });
  });
})();
