// Sightline task forms: shows a table's running total while typing. The server re-checks it.
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
