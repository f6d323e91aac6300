// Sightline page behaviour: htmx wiring, CSRF for scripts, error display, flash dismissal.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // For page scripts that call fetch() themselves (the BPMN designer saves this way).
  window.Sightline = {
    csrfToken: csrfToken,
    post: function (url, body, options) {
      var opts = options || {};
      var headers = Object.assign({ "X-CSRF-Token": csrfToken() }, opts.headers || {});
      return fetch(url, Object.assign({}, opts, {
        method: opts.method || "POST", body: body, headers: headers, credentials: "same-origin"
      }));
    }
  };

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) {
      var box = button.closest(".flash");
      if (box) { box.remove(); }
    }
  });

  if (!window.htmx) { return; }

  // htmx ignores 4xx/5xx bodies by default; show the error fragment where people see it,
  // except 422 (a form re-rendered with its errors), which replaces the target as usual.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status < 400) { return; }
    if (xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      return;
    }
    var source = event.detail.elt;
    if (source && source.closest("[data-quiet-errors]")) { return; }
    var region = document.getElementById("error-region");
    if (!region || !xhr.responseText) { return; }
    event.detail.shouldSwap = true;
    event.detail.isError = false;
    event.detail.target = region;
    event.detail.swapOverride = "innerHTML";
    event.detail.selectOverride = "unset";
    region.scrollIntoView({ block: "nearest" });
  });

  // Network failures: say so instead of doing nothing.
  document.body.addEventListener("htmx:sendError", function () {
    var region = document.getElementById("error-region");
    if (region) {
      region.innerHTML = '<article class="error-page" role="alert"><h1>No connection</h1>' +
        "<p>The server could not be reached — check your connection and try again.</p></article>";
    }
  });

  // A new request clears the last error.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail.elt;
    if (source && source.closest("[data-quiet-errors]")) { return; }
    var region = document.getElementById("error-region");
    if (region) { region.innerHTML = ""; }
  });
})();
