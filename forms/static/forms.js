// Sightline task forms. A table's running total while typing (the server re-checks it).
document.addEventListener("input", (event) => {
  const table = event.target.closest && event.target.closest("table[data-sl-total-column]");
  if (!table) return;
  const suffix = "-" + table.dataset.slTotalColumn;
  let sum = 0;
  for (const input of table.querySelectorAll("tbody input")) {
    const value = parseFloat(input.value);
    if (input.name.endsWith(suffix) && !Number.isNaN(value)) sum += value;
  }
  const output = table.querySelector("output[data-sl-total]");
  if (output) output.value = String(Math.round(sum * 1e6) / 1e6);
});

// Live validation answers with the field re-rendered by the server. While someone types, the
// inputs must stay theirs (a swap would drop keys typed meanwhile and the focus): so for a
// check triggered by an input, only the verdicts are taken over — error messages, totals,
// aria-invalid and the person a person field names — and the inputs are left alone.
// Add/Remove row buttons still swap the table.
document.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  const source = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (!target || !source || !target.classList || !target.classList.contains("sl-field")) return;
  if (!source.matches("input, select, textarea")) return;
  if (event.detail.xhr.status >= 400 && event.detail.xhr.status !== 422) return;
  const fresh = new DOMParser().parseFromString(event.detail.serverResponse, "text/html")
    .getElementById(target.id);
  if (!fresh) return;
  event.detail.shouldSwap = false;
  for (const input of target.querySelectorAll("input, select, textarea")) {
    const twin = input.id && fresh.querySelector("#" + CSS.escape(input.id));
    if (!twin) continue;
    for (const name of ["aria-invalid", "aria-describedby"]) {
      if (twin.hasAttribute(name)) input.setAttribute(name, twin.getAttribute(name));
      else input.removeAttribute(name);
    }
  }
  for (const person of target.querySelectorAll("[data-sl-person]")) {
    const twin = fresh.querySelector("#" + CSS.escape(person.id));
    if (twin) person.textContent = twin.textContent;
  }
  // A typed name that fits several people: the buttons to choose one of them come and go
  // with the verdict, right under the person's label.
  for (const choices of target.querySelectorAll(".sl-person-choices")) choices.remove();
  for (const choices of fresh.querySelectorAll(".sl-person-choices")) {
    const label = choices.previousElementSibling;
    const place = label && label.id && target.querySelector("#" + CSS.escape(label.id));
    if (!place) continue;
    const adopted = document.importNode(choices, true);
    place.after(adopted);
    if (window.htmx) window.htmx.process(adopted);
  }
  // Not nested in one another: the total's output is taken over with its tfoot cell.
  const verdicts = ".sl-error, tfoot td";
  const old = target.querySelectorAll(verdicts);
  const updated = fresh.querySelectorAll(verdicts);
  // Same structure (same rows): replace verdict by verdict; else take the new field whole.
  if (old.length === updated.length) {
    old.forEach((element, index) => element.replaceWith(updated[index]));
  } else {
    for (const error of target.querySelectorAll(".sl-error")) error.remove();
    for (const error of fresh.querySelectorAll(".sl-error")) {
      const anchor = error.id && target.querySelector(
        "#" + CSS.escape(error.id.replace(/-error$/, "")));
      (anchor ? anchor.closest("td, .sl-field") : target).append(error);
    }
  }
});

// A person picker: picking a suggestion replaces the whole value (Chrome says so with
// inputType "insertReplacementText", Firefox with a plain Event); that is when it is checked.
document.addEventListener("input", (event) => {
  const input = event.target;
  if (!input.matches || !input.matches("input[data-sl-picker]")) return;
  if (event instanceof InputEvent && event.inputType !== "insertReplacementText") return;
  input.dispatchEvent(new Event("sl-picked"));
});

// After a failed submit the error summary is where people look next: bring it into view and
// give it the focus (screen readers read it out). A page drawn by the server opens on it
// (autofocus); a form swapped in by htmx gets the same here. Each summary is shown once, so
// later live checks never pull the page back up.
function showErrorSummary() {
  const summary = document.querySelector("[data-sl-error-summary]:not([data-sl-shown])");
  if (!summary) return;
  summary.setAttribute("data-sl-shown", "");
  summary.scrollIntoView({ block: "start" });
  summary.focus({ preventScroll: true });
}
document.addEventListener("DOMContentLoaded", showErrorSummary);
document.addEventListener("htmx:afterSettle", showErrorSummary);

// A summary entry takes you to its field: the input gets the focus, scrolled to the middle of
// the screen with its label in view. Groups link to their first option; a table's total to
// the first box of its column that can change it.
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("[data-sl-error-summary] a[href^='#']");
  if (!link) return;
  const id = decodeURIComponent(link.getAttribute("href").slice(1));
  let target = document.getElementById(id);
  if (!target) return;
  if (target.matches("output[data-sl-total]")) {
    const table = target.closest("table[data-sl-total-column]");
    const suffix = "-" + table.dataset.slTotalColumn;
    const cell = [...table.querySelectorAll("tbody input:not([type=hidden]):not([readonly])")]
      .find((input) => input.name.endsWith(suffix));
    if (cell) target = cell;
  }
  event.preventDefault();
  const wrapper = target.closest("td, fieldset, .sl-field") || target;
  wrapper.scrollIntoView({ block: "center" });
  if (typeof target.focus === "function") {
    if (!target.matches("input, select, textarea, button, [tabindex]")) target.tabIndex = -1;
    target.focus({ preventScroll: true });
  }
});

// Long text grows with what is typed instead of scrolling inside a small box; a one-line
// text drawn this way (a wrapping table cell) keeps Enter from starting a new line.
function fitHeight(box) {
  if (!box.isConnected || box.offsetParent === null) return;
  const style = getComputedStyle(box);
  const borders = parseFloat(style.borderTopWidth) + parseFloat(style.borderBottomWidth);
  box.style.height = "auto";
  box.style.height = (box.scrollHeight + borders) + "px";
}
function fitAll(root) {
  for (const box of (root || document).querySelectorAll("textarea[data-sl-autogrow]")) {
    fitHeight(box);
  }
}
document.addEventListener("input", (event) => {
  if (event.target.matches && event.target.matches("textarea[data-sl-autogrow]")) {
    fitHeight(event.target);
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && event.target.matches &&
      event.target.matches("textarea[data-sl-one-line]")) {
    event.preventDefault();
  }
});
document.addEventListener("DOMContentLoaded", () => fitAll());
document.addEventListener("htmx:afterSettle", () => fitAll());
window.addEventListener("resize", () => fitAll());
