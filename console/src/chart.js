// Charts with Observable Plot (pinned, vendored): SVG output with ARIA labels, so a chart is readable
// by assistive technology, styled by our CSS and downloadable as an SVG file as it is drawn. Every
// chart comes with its data as a table (the accessible alternative) in a details element.
import { h, saveFile, table } from "./ui.js";

let loading = null;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

/** d3 then Plot (UMD builds, as classic scripts from our own origin: the CSP allows 'self' only). */
export function loadPlot() {
  if (!loading) loading = loadScript("d3.min.js").then(() => loadScript("plot.umd.min.js")).then(() => window.Plot);
  return loading;
}

const STATISTICS = new Set([
  "mean", "sd", "iqr", "min", "p2_5", "q1", "median", "q3", "p97_5", "max", "ci_low", "ci_high",
  "variance", "lower", "upper", "value", "difference",
]);

/** Which columns of an output table are what: the year (x), the value, its interval, and the keys. */
export function describeColumns(columns) {
  const value = ["mean", "value", "difference"].find((name) => columns.includes(name)) ||
    columns.find((name) => !STATISTICS.has(name) && /count|total|cost|population|value/.test(name));
  let interval = null;
  if (columns.includes("p2_5") && columns.includes("p97_5")) interval = ["p2_5", "p97_5", "2.5% to 97.5% of simulations"];
  else if (columns.includes("lower") && columns.includes("upper")) interval = ["lower", "upper", "95% interval"];
  else if (columns.includes("ci_low") && columns.includes("ci_high")) interval = ["ci_low", "ci_high", "95% interval of the mean"];
  const keys = columns.filter((name) => !STATISTICS.has(name) && name !== value);
  const x = keys.find((name) => /(^|_)year$/.test(name) || name === "year") || keys.find((name) => /year|date|age/.test(name)) || keys[0];
  return { x, value, interval, keys: keys.filter((name) => name !== x) };
}

export function numberFormat(value) {
  if (value === null || value === undefined || value === "") return "";
  const number = Number(value);
  if (!Number.isFinite(number)) return String(value);
  return number.toLocaleString("en-GB", { maximumFractionDigits: Math.abs(number) < 10 ? 2 : 0 });
}

/**
 * A line per series (mean) with its interval as a band. rows: [{series, x, y, low, high}].
 * Returns a figure with the chart, an SVG download button and the data as a table.
 */
export async function intervalChart({ id, title, description, rows, xLabel, yLabel, intervalLabel, zeroLine = false }) {
  const Plot = await loadPlot();
  const series = [...new Set(rows.map((row) => row.series))];
  const marks = [];
  if (zeroLine) marks.push(Plot.ruleY([0], { stroke: "#505a5f" }));
  if (rows.some((row) => row.low !== null && row.high !== null)) {
    marks.push(Plot.areaY(rows, { x: "x", y1: "low", y2: "high", fill: "series", fillOpacity: 0.18, curve: "linear" }));
  }
  marks.push(Plot.lineY(rows, { x: "x", y: "y", stroke: "series", strokeWidth: 2.5, marker: "circle" }));
  const svg = Plot.plot({
    ariaLabel: title,
    ariaDescription: description,
    width: 900,
    height: 380,
    marginLeft: 80,
    marginBottom: 45,
    x: { label: xLabel, tickFormat: (d) => String(d), type: "point" },
    y: { label: yLabel, grid: true },
    color: { legend: true, domain: series, range: ["#1d70b8", "#d4351c", "#00703c", "#4c2c92", "#f47738", "#28a197"] },
    marks,
    className: "witan-plot",
    style: { fontSize: "14px", fontFamily: "arial, sans-serif" },
  });
  // Plot adds <style> elements for its defaults; the CSP allows no inline styles, so they go before the
  // chart reaches the page (console.css holds the same rules).
  svg.querySelectorAll("style").forEach((element) => element.remove());
  // Plot labels its groups (axes, marks) with aria-label on <g>, which ARIA does not allow on a generic
  // element: the chart is one image, named and described on its <svg>, with its data as a table below.
  const root = svg.tagName.toLowerCase() === "svg" ? svg : svg.querySelector("svg.witan-plot");
  root.setAttribute("role", "img");
  root.querySelectorAll("[aria-label]").forEach((element) => element.removeAttribute("aria-label"));
  root.querySelectorAll("[aria-description]").forEach((element) => element.removeAttribute("aria-description"));
  const columns = ["Series", xLabel, yLabel, ...(intervalLabel ? [`Lower (${intervalLabel})`, `Upper (${intervalLabel})`] : [])];
  const tableRows = rows.map((row) => [row.series, String(row.x), numberFormat(row.y), ...(intervalLabel ? [numberFormat(row.low), numberFormat(row.high)] : [])]);
  const download = () => {
    const copy = (svg.tagName.toLowerCase() === "svg" ? svg : svg.querySelector("svg")).cloneNode(true);
    copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
    saveFile(`${id}.svg`, new XMLSerializer().serializeToString(copy), "image/svg+xml");
  };
  return h(
    "figure.witan-chart",
    { id },
    h("figcaption.govuk-heading-s", title),
    description ? h("p.govuk-body-s", description) : null,
    svg,
    h("button.govuk-button.govuk-button--secondary", { type: "button", "data-module": "govuk-button", onclick: download }, `Download this chart (SVG)`, h("span.govuk-visually-hidden", `: ${title}`)),
    h(
      "details.govuk-details",
      h("summary.govuk-details__summary", h("span.govuk-details__summary-text", `Show the chart's data as a table`, h("span.govuk-visually-hidden", `: ${title}`))),
      h("div.govuk-details__text", table(null, columns, tableRows, { numeric: columns.slice(2) })),
    ),
  );
}
