// Instance pages: draw the process diagram with bpmn-js (read-only, pan and zoom) and mark
// the steps that are done and the ones that wait now; the print view's Print button.
(function () {
  "use strict";

  function idsFrom(element, name) {
    try {
      var ids = JSON.parse(element.getAttribute(name) || "[]");
      return Array.isArray(ids) ? ids : [];
    } catch (error) {
      return [];
    }
  }

  function showProblem(element, text) {
    var note = document.createElement("p");
    note.className = "diagram-problem muted";
    note.textContent = text;
    element.replaceChildren(note);
  }

  function drawDiagram(element) {
    if (element.dataset.drawn) { return; }
    element.dataset.drawn = "yes";
    if (typeof window.BpmnJS !== "function") {
      showProblem(element, "The diagram viewer did not load; the timeline below tells the same story.");
      return;
    }
    var viewer = new window.BpmnJS({ container: element });
    fetch(element.dataset.bpmnSrc, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        var marks = [
          ["data-completed", "sl-completed"],
          ["data-current", "sl-current"],
          ["data-failed", "sl-failed"]
        ];
        marks.forEach(function (pair) {
          idsFrom(element, pair[0]).forEach(function (id) {
            if (registry.get(id)) { canvas.addMarker(id, pair[1]); }
          });
        });
        canvas.zoom("fit-viewport");
      })
      .catch(function () {
        showProblem(element, "The diagram could not be drawn; the timeline below tells the same story.");
      });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("[data-bpmn-src]").forEach(drawDiagram);
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print-page]")) { window.print(); }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(); });
  } else {
    drawAll();
  }
  // Pages swapped in by htmx (boosted navigation) get their diagram too.
  document.addEventListener("htmx:load", function (event) { drawAll(event.target); });
})();
