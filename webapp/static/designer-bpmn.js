// BPMN editor: bpmn-js Modeler with the spiffworkflow moddle extension. The side panel is
// rendered by the server: selecting an element posts its current values and gets a form back;
// submitting the form asks the server to check the values, then applies them to the diagram
// and saves the XML as the designer's draft. Problems from validation are marked on the canvas.
(function () {
  "use strict";

  var SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var SAVE_DELAY_MS = 1500;

  var root = document.getElementById("bpmn-editor");
  if (!root) { return; }
  var panel = document.getElementById("designer-panel");
  var statusLine = document.getElementById("save-status");
  var modeler = null;
  var selected = null;
  var saveTimer = null;
  var problemIds = [];

  // The page's own words for these messages, in the reader's language (data-words).
  var words = JSON.parse(statusLine.dataset.words || "{}");

  function said(text) {
    return words[text] || text;
  }

  function say(text, kind) {
    statusLine.textContent = text;
    statusLine.dataset.kind = kind || "info";
  }

  // -- loading --------------------------------------------------------------------------------

  // Extension elements the descriptor does not name would be dropped by moddle; give each one
  // a generic type (attributes, text and children kept) so a save never loses them.
  function withUnknownTypes(descriptor, xml) {
    var known = {};
    descriptor.types.forEach(function (type) { known[type.name] = true; });
    var doc = new DOMParser().parseFromString(xml, "application/xml");
    var found = doc.getElementsByTagNameNS(SPIFF, "*");
    for (var i = 0; i < found.length; i++) {
      var name = found[i].localName;
      if (known[name]) { continue; }
      known[name] = true;
      descriptor.types.push({
        name: name,
        superClass: ["Element"],
        properties: [
          { name: "text", isBody: true, type: "String" },
          { name: "children", type: "Element", isMany: true }
        ]
      });
    }
    return descriptor;
  }

  function fetchText(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error(url + ": HTTP " + response.status); }
      return response.text();
    });
  }

  function start() {
    if (typeof window.BpmnJS !== "function") {
      say(said("The diagram editor did not load."), "error");
      return;
    }
    Promise.all([fetchText(root.dataset.moddle), fetchText(root.dataset.source)])
      .then(function (loaded) {
        var descriptor = withUnknownTypes(JSON.parse(loaded[0]), loaded[1]);
        modeler = new window.BpmnJS({
          container: root.querySelector(".designer-canvas"),
          moddleExtensions: { spiffworkflow: descriptor }
        });
        window.sightlineModeler = modeler; // the browser tests read the diagram through it
        return modeler.importXML(loaded[1]);
      })
      .then(function () {
        fitBesidePalette();
        modeler.get("eventBus").on("selection.changed", function (event) {
          var element = event.newSelection.length === 1 ? event.newSelection[0] : null;
          selected = element;
          showPanel(element);
        });
        modeler.get("eventBus").on("commandStack.changed", scheduleSave);
        markProblems();
        say(said("All changes saved"), "success");
        root.dataset.ready = "yes";
      })
      .catch(function (error) {
        say(said("The diagram could not be opened: ") + error.message, "error");
      });
  }

  // The whole diagram in view, starting to the right of the palette (which floats over the
  // canvas's left edge), never zoomed in beyond 100 %.
  function fitBesidePalette() {
    var canvas = modeler.get("canvas");
    canvas.zoom("fit-viewport");
    var box = canvas.viewbox();
    var palette = root.querySelector(".djs-palette");
    var left = (palette ? palette.getBoundingClientRect().right -
      root.getBoundingClientRect().left : 0) + 24;
    var pad = 24;
    var width = box.outer.width - left - pad;
    var height = box.outer.height - 2 * pad;
    if (width <= 0 || height <= 0 || !box.inner.width) { return; }
    var scale = Math.min(1, width / box.inner.width, height / box.inner.height);
    canvas.viewbox({
      x: box.inner.x - left / scale,
      y: box.inner.y - pad / scale,
      width: box.outer.width / scale,
      height: box.outer.height / scale
    });
  }

  // -- reading an element's values ------------------------------------------------------------

  function extensionValues(bo) {
    return (bo.extensionElements && bo.extensionElements.values) || [];
  }

  function extension(bo, type) {
    return extensionValues(bo).filter(function (value) { return value.$type === type; })[0];
  }

  function spiffProperties(bo) {
    var props = {};
    var holder = extension(bo, "spiffworkflow:properties");
    ((holder && holder.properties) || []).forEach(function (p) { props[p.name] = p.value; });
    return props;
  }

  function laneOf(bo) {
    var registry = modeler.get("elementRegistry");
    var lanes = registry.filter(function (el) { return el.type === "bpmn:Lane"; });
    for (var i = 0; i < lanes.length; i++) {
      if ((lanes[i].businessObject.flowNodeRef || []).indexOf(bo) >= 0) {
        return lanes[i].businessObject.name || lanes[i].id;
      }
    }
    return "";
  }

  function flowState(flow) {
    var bo = flow.businessObject;
    var source = bo.sourceRef;
    return {
      id: bo.id,
      name: bo.name || "",
      target: (bo.targetRef && (bo.targetRef.name || bo.targetRef.id)) || "",
      condition: (bo.conditionExpression && bo.conditionExpression.body) || "",
      is_default: !!(source && source.default === bo)
    };
  }

  function timerOf(bo) {
    var timer = (bo.eventDefinitions || []).filter(function (d) {
      return d.$type === "bpmn:TimerEventDefinition";
    })[0];
    return timer || null;
  }

  function elementState(element) {
    var bo = element.businessObject;
    var timer = timerOf(bo);
    var registry = modeler.get("elementRegistry");
    var body = function (type, key) {
      var found = extension(bo, type);
      return (found && found[key]) || "";
    };
    return {
      id: bo.id,
      type: bo.$type,
      name: bo.name || "",
      lane: laneOf(bo),
      lanes: registry.filter(function (el) { return el.type === "bpmn:Lane"; })
        .map(function (el) { return el.businessObject.name || el.id; }),
      properties: spiffProperties(bo),
      instructions: body("spiffworkflow:instructionsForEndUser", "text"),
      pre_script: body("spiffworkflow:preScript", "script"),
      post_script: body("spiffworkflow:postScript", "script"),
      called_decision: body("spiffworkflow:calledDecisionId", "decisionId"),
      script: bo.script || "",
      condition: (bo.conditionExpression && bo.conditionExpression.body) || "",
      timer: (timer && timer.timeDuration && timer.timeDuration.body) || "",
      outgoing: (element.outgoing || []).filter(function (c) {
        return c.type === "bpmn:SequenceFlow";
      }).map(flowState)
    };
  }

  // -- the side panel -------------------------------------------------------------------------

  function postPanel(body) {
    body.append("csrf_token", window.Sightline.csrfToken());
    return window.Sightline.post(root.dataset.panel, body, {
      headers: { "HX-Request": "true" }
    }).then(function (response) {
      return response.text().then(function (html) { return { ok: response.ok, html: html }; });
    });
  }

  // Selecting the element the panel already shows (clicking its problem, say) keeps the
  // panel as it is, with whatever the designer has typed there and not yet applied.
  var panelShows = null;

  function showPanel(element) {
    if (!element || element.type === "label") {
      panelShows = null;
      panel.innerHTML = '<p class="muted">Select a task, gateway or flow to edit it.</p>';
      return;
    }
    if (panelShows === element.id) { return; }
    panelShows = element.id;
    var body = new FormData();
    body.append("element", element.id);
    body.append("state", JSON.stringify(elementState(element)));
    postPanel(body).then(function (answer) {
      if (panelShows === element.id) { panel.innerHTML = answer.html; } // not overtaken
    });
  }

  panel.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-panel-form]");
    if (!form || !selected) { return; }
    event.preventDefault();
    var element = selected;
    var body = new FormData(form);
    body.append("apply", "yes");
    body.append("state", JSON.stringify(elementState(element)));
    postPanel(body).then(function (answer) {
      panel.innerHTML = answer.html;
      var changes = panel.querySelector("script[data-panel-changes]");
      if (answer.ok && changes) {
        applyChanges(element, JSON.parse(changes.textContent));
        say(said("Applied — saving…"), "info");
      }
    });
  });

  // -- writing values back --------------------------------------------------------------------

  function setBodyExtension(values, type, key, text) {
    var moddle = modeler.get("moddle");
    var kept = values.filter(function (value) { return value.$type !== type; });
    if (text) {
      var created = moddle.create(type);
      created[key] = text;
      kept.push(created);
    }
    return kept;
  }

  function setProperties(values, changes) {
    var moddle = modeler.get("moddle");
    var holder = values.filter(function (v) { return v.$type === "spiffworkflow:properties"; })[0];
    var current = (holder && holder.properties) || [];
    var byName = {};
    current.forEach(function (p) { byName[p.name] = p.value; });
    Object.keys(changes).forEach(function (name) {
      if (changes[name]) { byName[name] = changes[name]; } else { delete byName[name]; }
    });
    var order = current.map(function (p) { return p.name; });
    Object.keys(byName).forEach(function (name) {
      if (order.indexOf(name) < 0) { order.push(name); }
    });
    var properties = order.filter(function (name) { return name in byName; })
      .map(function (name) {
        return moddle.create("spiffworkflow:property", { name: name, value: byName[name] });
      });
    var kept = values.filter(function (v) { return v !== holder; });
    if (properties.length) {
      var fresh = moddle.create("spiffworkflow:properties", { properties: properties });
      kept.splice(holder ? values.indexOf(holder) : kept.length, 0, fresh);
    }
    return kept;
  }

  function moveToLane(element, laneName) {
    var registry = modeler.get("elementRegistry");
    var lane = registry.filter(function (el) {
      return el.type === "bpmn:Lane" && (el.businessObject.name || el.id) === laneName;
    })[0];
    if (!lane) { return; }
    var middle = element.y + element.height / 2;
    if (middle >= lane.y && middle <= lane.y + lane.height) { return; }
    var dy = Math.round(lane.y + lane.height / 2 - middle);
    modeler.get("modeling").moveElements([element], { x: 0, y: dy });
  }

  function applyChanges(element, changes) {
    var modeling = modeler.get("modeling");
    var moddle = modeler.get("moddle");
    var bo = element.businessObject;
    if ("name" in changes) {
      modeling.updateProperties(element, { name: changes.name || undefined });
    }
    if ("condition" in changes) {
      modeling.updateProperties(element, {
        conditionExpression: changes.condition
          ? moddle.create("bpmn:FormalExpression", { body: changes.condition }) : undefined
      });
    }
    if ("timer" in changes && timerOf(bo)) {
      modeling.updateModdleProperties(element, timerOf(bo), {
        timeDuration: moddle.create("bpmn:FormalExpression", { body: changes.timer })
      });
    }
    if ("script" in changes) {
      modeling.updateProperties(element, { script: changes.script || undefined });
    }
    if (changes.extensions) {
      var values = extensionValues(bo).slice();
      var ext = changes.extensions;
      if (ext.properties) { values = setProperties(values, ext.properties); }
      [
        ["instructions", "spiffworkflow:instructionsForEndUser", "text"],
        ["pre_script", "spiffworkflow:preScript", "script"],
        ["post_script", "spiffworkflow:postScript", "script"],
        ["called_decision", "spiffworkflow:calledDecisionId", "decisionId"]
      ].forEach(function (row) {
        if (row[0] in ext) { values = setBodyExtension(values, row[1], row[2], ext[row[0]]); }
      });
      var holder = bo.extensionElements;
      if (!holder) {
        holder = moddle.create("bpmn:ExtensionElements", { values: [] });
        modeling.updateProperties(element, { extensionElements: holder });
      }
      modeling.updateModdleProperties(element, holder, { values: values });
    }
    (changes.flows || []).forEach(function (flow) {
      var shape = modeler.get("elementRegistry").get(flow.id);
      if (!shape) { return; }
      modeling.updateProperties(shape, {
        name: flow.name || undefined,
        conditionExpression: flow.condition
          ? moddle.create("bpmn:FormalExpression", { body: flow.condition }) : undefined
      });
    });
    if (changes.lane) { moveToLane(element, changes.lane); }
  }

  // -- saving the draft -----------------------------------------------------------------------

  function scheduleSave() {
    say(said("Unsaved changes…"), "info");
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, SAVE_DELAY_MS);
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
      refreshProblems();
    }).catch(function (error) {
      say(said("Could not save the draft — your changes are still here.") + " (" + error.message + ")",
          "error");
    });
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-save-now]")) { save(); }
  });

  // -- problems on the canvas -----------------------------------------------------------------

  function refreshProblems() {
    var box = document.getElementById("designer-problems");
    if (box && window.htmx) { window.htmx.trigger(box, "refresh"); }
  }

  function markProblems() {
    if (!modeler) { return; }
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    problemIds.forEach(function (id) {
      if (registry.get(id)) { canvas.removeMarker(id, "sl-problem"); }
    });
    problemIds = [];
    document.querySelectorAll("#designer-problems [data-element-id]").forEach(function (item) {
      var id = item.dataset.elementId;
      if (item.dataset.file !== root.dataset.path || !registry.get(id)) { return; }
      canvas.addMarker(id, "sl-problem");
      problemIds.push(id);
    });
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target.closest && event.target.closest("#designer-problems")) { markProblems(); }
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest("#designer-problems [data-element-id]");
    if (!link || !modeler || link.dataset.file !== root.dataset.path) { return; }
    var element = modeler.get("elementRegistry").get(link.dataset.elementId);
    if (!element) { return; }
    event.preventDefault();
    modeler.get("selection").select(element);
    modeler.get("canvas").scrollToElement(element);
  });

  window.addEventListener("beforeunload", function (event) {
    if (saveTimer) { event.preventDefault(); }
  });

  start();
})();
