// The dashboard's behaviour on top of htmx: the CSRF header, server errors shown where the user acted,
// field-error state for screen readers, session expiry, and the countdowns of running jobs.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request carries the session's CSRF token; the server rejects state changes without it (403).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  function alertHtml(text) {
    var p = document.createElement("p");
    p.className = "alert alert-error";
    p.setAttribute("role", "alert");
    p.textContent = text; // textContent, never innerHTML: the server's message is data, not markup
    return p.outerHTML;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    // The session expired: the server redirected the partial to the login page. Go there as a whole page.
    if (xhr.responseURL && xhr.responseURL.indexOf("/ui/login") !== -1 && location.pathname !== "/ui/login") {
      event.detail.shouldSwap = false;
      location.assign(xhr.responseURL);
      return;
    }
    // An API-style error (problem+json) is shown as its `detail`, in the place the request was made from.
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("json") !== -1 && xhr.status >= 400) {
      var detail = "The server answered " + xhr.status + ".";
      try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (e) { /* keep the status line */ }
      event.detail.serverResponse = alertHtml(detail);
      event.detail.shouldSwap = true;
    }
  });

  // No answer at all (server down, network gone): say so in the element that asked, instead of staying silent.
  document.addEventListener("htmx:sendError", function (event) {
    var target = event.detail.target;
    if (target) target.innerHTML = alertHtml("The server did not answer. It will be asked again at the next refresh.");
  });

  // After any swap, mark inputs whose error slot has a message as invalid (and clear fixed ones).
  function syncInvalid(root) {
    var slots = (root || document).querySelectorAll("[data-error-for]");
    for (var i = 0; i < slots.length; i++) {
      var input = document.getElementById(slots[i].getAttribute("data-error-for"));
      if (!input) continue;
      if (slots[i].textContent.trim()) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }
  document.addEventListener("htmx:afterSettle", function () { syncInvalid(document); });

  // Countdowns: every element with data-expires-at shows the time left, updated each second in the browser
  // (the server renders the first value, so the text is right even before this runs).
  function format(seconds) {
    if (seconds <= 0) return "finishing…";
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + "m " + (s < 10 ? "0" : "") + s + "s left";
  }
  function tick() {
    var now = Date.now();
    var items = document.querySelectorAll("[data-expires-at]");
    for (var i = 0; i < items.length; i++) {
      var end = Date.parse(items[i].getAttribute("data-expires-at"));
      if (!isNaN(end)) items[i].textContent = format(Math.round((end - now) / 1000));
    }
  }
  document.addEventListener("htmx:afterSettle", tick);
  document.addEventListener("DOMContentLoaded", function () { tick(); syncInvalid(document); });
  setInterval(tick, 1000);
})();
