// Models: the registered models, a run form generated from a model's JSON Schemas (GET /models/{name}),
// progress of a run (GET /model-runs/{id}) and its results: baseline and scenarios with their intervals,
// each scenario's difference from the baseline with its interval, tables and downloads.
import { api } from "./api.js";
import { describeColumns, intervalChart, numberFormat } from "./chart.js";
import {
  button, failure, field, formatDate, h, heading, link, secondaryButton, showErrors, summaryList, table, tag,
  fill,
} from "./ui.js";

const POLL_MS = 1000;
let polling = null;

export async function show({ area, rest, render }) {
  if (polling) clearTimeout(polling);
  if (area === "runs" && rest[0]) return runPage(rest[0], render);
  if (rest[0]) return modelPage(rest[0], render);
  return listPage(render);
}

async function listPage(render) {
  const [models, runs] = await Promise.all([api("GET", "models"), api("GET", "model-runs")]);
  render(
    heading("Models"),
    h("p.govuk-body", "Choose a model to run it on your datasets, with scenarios compared against the baseline."),
    table(
      null,
      ["Model", "What it projects", "Uncertainty"],
      models.items.map((model) => [
        link(model.title, `#/models/${encodeURIComponent(model.name)}`),
        model.description,
        model.stochastic ? "Simulations" : "One path per scenario",
      ]),
      { id: "models" },
    ),
    h("h2.govuk-heading-m", "Your runs"),
    runs.items.length
      ? table(
          null,
          ["Run", "Model", "Status", "Started", "Scenarios"],
          runs.items.slice(0, 50).map((run) => [
            link(run.id.slice(0, 12), `#/runs/${encodeURIComponent(run.id)}`, { "aria-label": `Run ${run.id}` }),
            run.model,
            tag(run.status),
            formatDate(run.created_at),
            (run.scenarios || []).join(", ") || "baseline only",
          ]),
          { id: "runs" },
        )
      : h("p.govuk-body", "You have no runs yet."),
  );
}

// --- the run form --------------------------------------------------------------------------------

function propertyKind(schema) {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (schema.enum) return "select";
  if (type === "boolean") return "checkbox";
  if (type === "integer" || type === "number") return "number";
  if (type === "string") return "text";
  return "json"; // arrays and objects: JSON, checked against the schema by the API
}

function label(name) {
  const text = name.replace(/[_-]+/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Form fields for the top-level properties of a JSON Schema; `prefix` keeps ids unique. */
function schemaFields(schema, prefix, { skip = [] } = {}) {
  const required = new Set(schema.required || []);
  const fields = [];
  for (const [name, property] of Object.entries(schema.properties || {})) {
    if (skip.includes(name)) continue;
    const kind = propertyKind(property);
    const hints = [property.description];
    if (property.default !== undefined) hints.push(`Leave empty for the default: ${JSON.stringify(property.default)}.`);
    if (property.minimum !== undefined || property.maximum !== undefined) {
      hints.push(`From ${property.minimum ?? "any"} to ${property.maximum ?? "any"}.`);
    }
    if (kind === "json") hints.push("JSON, as the model's scenario format describes.");
    const id = `${prefix}-${name}`;
    const common = { label: required.has(name) ? label(name) : `${label(name)} (optional)`, name, id, hint: hints.filter(Boolean).join(" ") };
    let node;
    if (kind === "select") {
      node = field({ ...common, kind: "select", options: [["", property.default !== undefined ? `Default (${property.default})` : "Not set"], ...property.enum.map((v) => [v, v])] });
    } else if (kind === "checkbox") {
      node = field({ ...common, kind: "select", options: [["", property.default !== undefined ? `Default (${property.default ? "yes" : "no"})` : "Not set"], ["true", "Yes"], ["false", "No"]] });
    } else if (kind === "json") {
      node = field({ ...common, kind: "textarea", attributes: { class: "witan-json", spellcheck: "false", rows: 5 } });
    } else {
      node = field({ ...common, kind: kind === "number" ? "number" : "text", attributes: { class: kind === "number" ? "govuk-input--width-10" : null } });
    }
    node.dataset.property = name;
    node.dataset.kind = kind;
    node.dataset.type = Array.isArray(property.type) ? property.type.join(",") : property.type || "";
    node.dataset.required = required.has(name) ? "true" : "";
    if (property.pattern) node.dataset.pattern = property.pattern;
    fields.push(node);
  }
  return fields;
}

/** Values of fields made by schemaFields; errors as [{field, message}]. */
function readFields(container, errors) {
  const value = {};
  for (const group of container.querySelectorAll(":scope > .govuk-form-group[data-property], :scope > fieldset > .govuk-form-group[data-property]")) {
    const name = group.dataset.property;
    const input = group.querySelector("input, select, textarea");
    const raw = input.value.trim();
    const what = group.querySelector("label").textContent.replace(" (optional)", "");
    if (raw === "") {
      if (group.dataset.required) errors.push({ field: input.id, message: `Enter ${what.toLowerCase()}` });
      continue;
    }
    const kind = group.dataset.kind;
    if (kind === "number") {
      const number = Number(raw);
      if (!Number.isFinite(number) || (group.dataset.type === "integer" && !Number.isInteger(number))) {
        errors.push({ field: input.id, message: `${what} must be ${group.dataset.type === "integer" ? "a whole number" : "a number"}` });
        continue;
      }
      value[name] = number;
    } else if (kind === "checkbox") {
      value[name] = raw === "true";
    } else if (kind === "json") {
      try {
        value[name] = JSON.parse(raw);
      } catch {
        errors.push({ field: input.id, message: `${what} must be valid JSON` });
      }
    } else {
      if (group.dataset.pattern && !new RegExp(group.dataset.pattern).test(raw)) {
        errors.push({ field: input.id, message: `${what} must match ${group.dataset.pattern}` });
        continue;
      }
      value[name] = raw;
    }
  }
  return value;
}

function inputField(input, datasets, runs) {
  const id = `input-${input.role}`;
  const options = [["", input.required ? "Choose a dataset or a run's output" : "Not used"]];
  for (const dataset of datasets) options.push([`dataset:${dataset.id}`, `Dataset: ${dataset.title}`]);
  const from = input.from_model_run;
  if (from) {
    for (const run of runs.filter((r) => r.model === from.model && r.status === "SUCCEEDED")) {
      options.push([`run:${run.id}:${from.output}`, `Output ${from.output} of ${from.model} run ${run.id.slice(0, 12)} (${formatDate(run.created_at)})`]);
    }
  }
  const hint = [input.description, from ? `Or the ${from.output} output of a ${from.model} run: ${from.description}` : null].filter(Boolean).join(". ");
  const group = field({ label: `${label(input.role)}${input.required ? "" : " (optional)"}`, name: input.role, id, kind: "select", options, hint });
  group.dataset.role = input.role;
  const nodes = [group];
  if (from && from.options && from.options.gss_code) {
    const gss = field({ label: `GSS code for ${label(input.role).toLowerCase()} (optional)`, name: `${input.role}-gss`, id: `${id}-gss`, hint: from.options.gss_code, attributes: { class: "govuk-input--width-10" } });
    nodes.push(gss);
  }
  return nodes;
}

function scenarioFieldset(model, index) {
  const prefix = `scenario-${index}`;
  const fieldset = h(
    "fieldset.govuk-fieldset.witan-scenario",
    { id: prefix },
    h("legend.govuk-fieldset__legend.govuk-fieldset__legend--s", `Scenario ${index}`),
    schemaFields(model.scenario, prefix),
    secondaryButton("Remove this scenario", { onclick: () => fieldset.remove(), id: `${prefix}-remove` }),
  );
  return fieldset;
}

async function modelPage(name, render) {
  const [model, datasets, runs] = await Promise.all([
    api("GET", `models/${encodeURIComponent(name)}`),
    api("GET", "datasets"),
    api("GET", "model-runs"),
  ]);
  const datasetItems = datasets.items || [];
  let scenarioCount = 0;
  const scenarios = h("div", { id: "scenarios" });
  const form = h(
    "form",
    { id: "run-form", novalidate: true },
    h("h2.govuk-heading-m", "Inputs"),
    h("p.govuk-body", "Each input is a dataset you may read, or the output of another run."),
    model.inputs.map((input) => inputField(input, datasetItems, runs.items || [])),
    h(
      "fieldset.govuk-fieldset",
      { id: "parameters" },
      h("legend.govuk-fieldset__legend.govuk-fieldset__legend--m", h("h2.govuk-fieldset__heading", "Parameters")),
      schemaFields(model.parameters, "parameter"),
    ),
    model.stochastic
      ? h(
          "fieldset.govuk-fieldset",
          h("legend.govuk-fieldset__legend.govuk-fieldset__legend--m", h("h2.govuk-fieldset__heading", "Simulations")),
          field({ label: "Number of simulations", name: "simulations", id: "run-simulations", kind: "number", value: "200", hint: "More simulations narrow the intervals of the means and take longer. From 1 to 5000.", attributes: { class: "govuk-input--width-5" } }),
          field({ label: "Random seed", name: "seed", id: "run-seed", kind: "number", value: "0", hint: "The same seed and inputs give the same results.", attributes: { class: "govuk-input--width-10" } }),
        )
      : null,
    h("h2.govuk-heading-m", "Scenarios"),
    h("p.govuk-body", "Every run has the baseline. Each scenario you add is compared with it."),
    scenarios,
    secondaryButton("Add a scenario", { id: "add-scenario", onclick: () => { scenarioCount += 1; scenarios.append(scenarioFieldset(model, scenarioCount)); } }),
    h("div.govuk-form-group", field({ label: "Email me when the run ends", name: "notify", id: "run-notify", kind: "checkbox", value: false })),
    h("div", button("Run the model", { id: "run-submit" })),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitRun(model, form).catch((error) => showErrors(form, [{ message: error.message }]));
  });
  render(
    heading(model.title, "Run a model"),
    h("p.govuk-body", model.description),
    summaryList([
      ["Version", model.version],
      ["Outputs", h("ul.govuk-list", model.outputs.map((output) => h("li", `${output.name}: ${output.description || ""}`)))],
    ]),
    form,
  );
}

async function submitRun(model, form) {
  const errors = [];
  const inputs = {};
  for (const group of form.querySelectorAll("[data-role]")) {
    const select = group.querySelector("select");
    const role = group.dataset.role;
    const spec = model.inputs.find((input) => input.role === role);
    if (!select.value) {
      if (spec.required) errors.push({ field: select.id, message: `Choose the ${label(role).toLowerCase()} input` });
      continue;
    }
    const [kind, id, output] = select.value.split(":");
    if (kind === "dataset") inputs[role] = { dataset: id };
    else {
      inputs[role] = { model_run: id, output };
      const gss = document.getElementById(`${select.id}-gss`);
      if (gss && gss.value.trim()) inputs[role].gss_code = gss.value.trim();
    }
  }
  const parameters = readFields(document.getElementById("parameters"), errors);
  const scenarios = [...form.querySelectorAll(".witan-scenario")].map((fieldset) => readFields(fieldset, errors));
  const body = { model: model.name, inputs, parameters, scenarios, notify: document.getElementById("run-notify").checked };
  if (model.stochastic) {
    for (const [name, id, low, high] of [["simulations", "run-simulations", 1, 5000], ["seed", "run-seed", 0, 2147483647]]) {
      const number = Number(document.getElementById(id).value);
      if (!Number.isInteger(number) || number < low || number > high) errors.push({ field: id, message: `${label(name)} must be a whole number from ${low} to ${high}` });
      else body[name] = number;
    }
  }
  if (errors.length) {
    showErrors(form, errors);
    return;
  }
  try {
    const started = await api("POST", "model-runs", { body });
    window.location.hash = `#/runs/${encodeURIComponent(started.id)}`;
  } catch (error) {
    const listed = (error.detail && error.detail.errors) || [];
    showErrors(form, listed.length ? listed.map((e) => ({ message: `${e.location}: ${e.message}` })) : [{ message: error.message }]);
  }
}

// --- a run: progress and results -------------------------------------------------------------------

async function runPage(id, render) {
  const run = await api("GET", `model-runs/${encodeURIComponent(id)}`);
  const progress = Math.round(100 * (run.progress || 0));
  const running = !["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"].includes(run.status);
  const describe = (source) => {
    if (typeof source === "string") return source;
    if (source && source.model_run) return `output ${source.output} of run ${source.model_run}`;
    return (source && (source.dataset || source.key)) || JSON.stringify(source);
  };
  const inputs = Object.entries(run.inputs || {}).map(([role, source]) => `${role}: ${describe(source)}`);
  const nodes = [
    heading(`${run.model} run`, "Model run"),
    summaryList([
      ["Run", h("span.witan-code", run.id)],
      ["Status", h("span", { id: "run-status" }, tag(run.status))],
      ["Progress", h("div", h("progress.witan-progress", { max: 100, value: progress, id: "run-progress", "aria-label": "Chunks simulated" }), ` ${progress}% (${run.chunks_done ?? 0} of ${run.chunks_total ?? "?"} chunks)`)],
      ["Requested by", run.requested_by || ""],
      ["Started", formatDate(run.created_at)],
      ["Finished", formatDate(run.finished_at)],
      ["Scenarios", (run.scenarios || []).join(", ") || "baseline only"],
      run.simulations ? ["Simulations", String(run.simulations)] : null,
      ["Inputs", h("ul.govuk-list", inputs.map((text) => h("li", text)))],
    ]),
  ];
  if (run.error) nodes.push(failure(new Error(`${run.error.code || "failed"}: ${run.error.message || JSON.stringify(run.error)}`)));
  if (running) nodes.push(h("p.govuk-body", { id: "run-waiting" }, "The run is in progress. This page updates itself."));
  render(...nodes);
  if (running) {
    polling = setTimeout(() => {
      if (window.location.hash === `#/runs/${encodeURIComponent(id)}`) runPage(id, render).catch((error) => render(failure(error)));
    }, POLL_MS);
    return;
  }
  if (run.status === "SUCCEEDED") {
    const results = h("div", { id: "results" }, h("p.govuk-body", "Loading the results…"));
    document.getElementById("app").append(results);
    await showResults(run, results);
  }
}

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF). Not d3.csvParse: it builds its row
 * converter with `new Function`, which the CSP (no 'unsafe-eval') refuses. */
function parseCsv(text) {
  const records = [];
  let record = [];
  let value = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') value += c;
      else if (text[i + 1] === '"') {
        value += '"';
        i += 1;
      } else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      record.push(value);
      value = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      record.push(value);
      records.push(record);
      record = [];
      value = "";
    } else value += c;
  }
  if (value !== "" || record.length) {
    record.push(value);
    records.push(record);
  }
  const [columns = [], ...data] = records;
  return {
    columns,
    rows: data.filter((r) => r.length > 1 || r[0] !== "").map((r) => Object.fromEntries(columns.map((name, i) => [name, r[i]]))),
  };
}

async function fetchCsv(links, name) {
  const found = links[name];
  if (!found) return null;
  const response = await fetch(found.url, { credentials: "omit", cache: "no-store" });
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
  return parseCsv(await response.text());
}

function asNumber(value) {
  if (value === undefined || value === null || value === "") return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

/** Points of one table for one series, after filtering by the chosen values of the other keys. */
function points(table, series, filters, measure) {
  const { x, value, interval, keys } = describeColumns(table.columns.filter((c) => c !== "measure"));
  return {
    x, value, interval, keys,
    rows: table.rows
      .filter((row) => (!measure || row.measure === undefined || row.measure === measure) && keys.every((key) => filters[key] === undefined || row[key] === filters[key]))
      .map((row) => ({
        series,
        x: asNumber(row[x]) ?? row[x],
        y: asNumber(row[value]),
        low: interval ? asNumber(row[interval[0]]) : null,
        high: interval ? asNumber(row[interval[1]]) : null,
      })),
  };
}

async function showResults(run, container) {
  const { loadPlot } = await import("./chart.js");
  await loadPlot();
  const links = Object.fromEntries((run.outputs || []).map((link) => [link.name, link]));
  const model = await api("GET", `models/${encodeURIComponent(run.model)}`);
  const outputs = model.outputs.map((output) => output.name).filter((name) => links[`${name}.csv`]);
  const scenarios = run.scenarios || [];
  const select = field({ label: "Output to chart", name: "output", id: "result-output", kind: "select", options: outputs, value: outputs[0] });
  const charts = h("div", { id: "result-charts" }, h("p.govuk-body", "Drawing…"));
  const downloads = (run.outputs || []).filter((link) => link.kind === "workbook" || link.kind === "chart" || link.name.endsWith(".csv"));
  fill(container, 
    h("h2.govuk-heading-l", "Results"),
    select,
    charts,
    h("h2.govuk-heading-m", "Downloads"),
    h(
      "ul.govuk-list",
      { id: "downloads" },
      downloads
        .sort((a, b) => (a.kind === "workbook" ? -1 : b.kind === "workbook" ? 1 : a.name.localeCompare(b.name)))
        .map((link) => h("li", h("a.govuk-link", { href: link.url, download: link.name.split("/").pop(), rel: "noreferrer" }, link.kind === "workbook" ? `All results as a workbook (${link.name})` : link.name))),
    ),
    h("p.govuk-body-s", "Download links work for 5 minutes; reload the run to get new ones."),
  );
  const draw = async () => {
    const output = select.querySelector("select").value;
    fill(charts, h("p.govuk-body", "Drawing…"));
    try {
      fill(charts, ...(await outputCharts(output, links, scenarios)).filter(Boolean));
    } catch (error) {
      fill(charts, failure(error));
    }
  };
  select.querySelector("select").addEventListener("change", draw);
  await draw();
}

async function outputCharts(output, links, scenarios) {
  const baseline = await fetchCsv(links, `${output}.csv`);
  const { x, keys } = describeColumns(baseline.columns);
  // Other key columns (need, setting, age group, ...): one value each, the first, so lines stay few.
  const filters = Object.fromEntries(keys.map((key) => [key, baseline.rows[0] ? baseline.rows[0][key] : undefined]));
  const note = keys.length ? `Showing ${keys.map((key) => `${key} ${filters[key]}`).join(", ")}.` : null;
  const series = [points(baseline, "baseline", filters)];
  for (const name of scenarios) {
    const table = await fetchCsv(links, `scenarios/${name}/${output}.csv`);
    if (table) series.push(points(table, name, filters));
  }
  const first = series[0];
  const nodes = [
    await intervalChart({
      id: `chart-${output}`,
      title: `${label(output)}: baseline and scenarios`,
      description: [note, first.interval ? `Lines are the ${first.value}; bands are ${first.interval[2]}.` : null].filter(Boolean).join(" "),
      rows: series.flatMap((s) => s.rows),
      xLabel: x,
      yLabel: first.value,
      intervalLabel: first.interval ? first.interval[2] : null,
    }),
  ];
  for (const name of scenarios) {
    const comparison = await fetchCsv(links, `scenarios/${name}/comparison.csv`);
    if (!comparison) continue;
    const measures = comparison.columns.includes("measure") ? [...new Set(comparison.rows.map((row) => row.measure))] : [null];
    const measure = measures.includes(output) ? output : measures[0];
    const table = measure ? { columns: comparison.columns, rows: comparison.rows.filter((row) => row.measure === measure) } : comparison;
    const present = describeColumns(table.columns.filter((c) => c !== "measure"));
    const keyFilters = Object.fromEntries(present.keys.map((key) => [key, table.rows[0] ? table.rows[0][key] : undefined]));
    const difference = points(table, name, keyFilters);
    const shown = difference.rows.filter((row) => row.y !== null);
    const last = shown[shown.length - 1];
    nodes.push(
      h("h3.govuk-heading-m", `${name} compared with the baseline`),
      last
        ? h("p.govuk-body.witan-difference", { "data-scenario": name },
            `In ${last.x}, ${name} differs from the baseline by ${numberFormat(last.y)}${difference.interval ? ` (${difference.interval[2]}: ${numberFormat(last.low)} to ${numberFormat(last.high)})` : ""} in ${measure || output}.`)
        : null,
      await intervalChart({
        id: `comparison-${name}`,
        title: `${label(measure || output)}: ${name} minus baseline`,
        description: `The difference from the baseline${difference.interval ? `, with ${difference.interval[2]}` : ""}. Zero means no change.`,
        rows: difference.rows,
        xLabel: difference.x,
        yLabel: `difference (${difference.value})`,
        intervalLabel: difference.interval ? difference.interval[2] : null,
        zeroLine: true,
      }),
    );
  }
  return nodes;
}
