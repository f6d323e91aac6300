// DMN editor: dmn-js Modeler (decision tables and the requirements diagram); every change is
// saved as the designer's draft a moment after the last edit.
(function () {
  "use strict";

  var SAVE_DELAY_MS = 1500;
  var root = document.getElementById("dmn-editor");
  if (!root) { return; }
  var statusLine = document.getElementById("save-status");
  var modeler = null;
  var saveTimer = null;

  // The page's own words for these messages, in the reader's language (data-words).
  var words = JSON.parse(statusLine.dataset.words || "{}");

  function said(text) {
    return words[text] || text;
  }

  function say(text, kind) {
    statusLine.textContent = text;
    statusLine.dataset.kind = kind || "info";
  }

  function save() {
    clearTimeout(saveTimer);
    saveTimer = null;
    return modeler.saveXML({ format: true }).then(function (result) {
      return window.Sightline.post(root.dataset.save, result.xml, {
        headers: { "Content-Type": "application/xml" }
      });
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      say(said("Draft saved"), "success");
      var box = document.getElementById("designer-problems");
      if (box && window.htmx) { window.htmx.trigger(box, "refresh"); }
    }).catch(function (error) {
      say(said("Could not save the draft — your changes are still here.") + " (" + error.message + ")",
          "error");
    });
  }

  function scheduleSave() {
    say(said("Unsaved changes…"), "info");
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, SAVE_DELAY_MS);
  }

  // Each view (table, diagram) has its own command stack: listen to whichever is open.
  function watchActiveViewer() {
    var viewer = modeler.getActiveViewer();
    if (viewer && !viewer.sightlineWatched) {
      viewer.sightlineWatched = true;
      viewer.get("eventBus").on("commandStack.changed", scheduleSave);
    }
  }

  function openTable(id) {
    var view = modeler.getViews().filter(function (v) {
      return v.type === "decisionTable" && (!id || v.element.id === id);
    })[0];
    if (view) { return modeler.open(view); }
    return Promise.resolve();
  }

  function start() {
    if (typeof window.DmnJS !== "function") {
      say(said("The decision table editor did not load."), "error");
      return;
    }
    modeler = new window.DmnJS({
      container: root.querySelector(".designer-canvas"),
      keyboard: { bindTo: document }
    });
    window.sightlineModeler = modeler; // the browser tests read the tables through it
    modeler.on("views.changed", function (event) {
      renderTabs(event.views, event.activeView);
      watchActiveViewer();
    });
    fetch(root.dataset.source, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (xml) { return modeler.importXML(xml); })
      .then(function () { return openTable(root.dataset.decision); })
      .then(function () {
        watchActiveViewer();
        say(said("All changes saved"), "success");
        root.dataset.ready = "yes";
      })
      .catch(function (error) {
        say(said("The decision tables could not be opened: ") + error.message, "error");
      });
  }

  function renderTabs(views, active) {
    var tabs = document.getElementById("dmn-views");
    if (!tabs) { return; }
    tabs.replaceChildren();
    views.forEach(function (view) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "outline secondary";
      if (active && view.element === active.element) { button.setAttribute("aria-pressed", "true"); }
      var label = view.element.name || view.element.id;
      button.textContent = view.type === "drd" ? said("Diagram") : label;
      button.addEventListener("click", function () { modeler.open(view); });
      tabs.appendChild(button);
    });
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-save-now]") && modeler) { save(); }
  });

  window.addEventListener("beforeunload", function (event) {
    if (saveTimer) { event.preventDefault(); }
  });

  start();
})();
