// Runs the partner page's script in Node against a minimal DOM stand-in and a scripted API, then
// prints what the page did as JSON (read by test_cr_page_script.py). No browser, no network.
"use strict";
const fs = require("fs");
const vm = require("vm");

const html = fs.readFileSync(process.argv[2], "utf8");
const script = html.match(/<script>([\s\S]*?)<\/script>/)[1];

function makeElement(id) {
  const el = {
    id, hidden: false, textContent: "", href: "", value: 0, className: "", children: [], listeners: {},
    addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); },
    appendChild(child) { this.children.push(child); return child; },
    removeChild(child) { this.children.splice(this.children.indexOf(child), 1); },
    get firstChild() { return this.children[0] || null; },
    click() {},
    insertCell() { const c = makeElement(); this.cells.push(c); return c; },
    cells: [],
  };
  const body = { rows: [], insertRow() { const r = makeElement(); this.rows.push(r); return r; },
                 deleteRow(i) { this.rows.splice(i, 1); } };
  el.tBodies = [body];
  return el;
}
const elements = {};
const document = {
  getElementById(id) { return elements[id] || (elements[id] = makeElement(id)); },
  createElement() { return makeElement(); },
};

const calls = [];
const responses = {
  "GET /prod/collect/TOK": [200, {
    request: { title: "Census <b>", message: "Hi", due_date: "2026-12-01", requester_email: "r@x.example" },
    schema: { fields: [{ name: "id", type_words: "a whole number", required: true },
                       { name: "school", type_words: "text", allowed_values: ["A", "B"] }] },
    accepts_uploads: true, upload: { max_bytes: 1048576, file_types: [".csv", ".xlsx"] },
  }],
  "POST /prod/collect/TOK/uploads": [200, { url: "https://bucket.s3.example/", fields: { key: "uploads/r/s/a.csv", policy: "P" } }],
};
let submissionsAnswers = [
  { status: "awaiting-upload", submissions: [] },
  { status: "awaiting-upload", submissions: [] },
  { status: "checking", submissions: [{ file_name: "a.csv", status: "checking" }] },
  { status: "invalid", submissions: [{ file_name: "a.csv", status: "invalid", rows: 2, error_count: 1 }],
    errors: [{ row: 3, column: "A", field: "id", value: "x", message: "not a whole number" }] },
];
function fetch(url, init) {
  calls.push({ url, method: init.method, accept: init.headers.Accept, body: init.body || null });
  let answer = responses[init.method + " " + url];
  if (url.endsWith("/submissions")) answer = [200, submissionsAnswers.shift()];
  if (!answer) answer = [404, { code: "not-found", message: "nope" }];
  return Promise.resolve({ ok: answer[0] < 300, status: answer[0], json: () => Promise.resolve(answer[1]) });
}
class FormData { constructor() { this.entries = []; } append(k, v) { this.entries.push([k, typeof v === "string" ? v : "<file>"]); } }
const xhrs = [];
class XMLHttpRequest {
  constructor() { this.upload = {}; xhrs.push(this); }
  open(method, url) { this.method = method; this.url = url; }
  send(form) { this.form = form; }
}
const timers = [];
const context = {
  window: { location: { pathname: "/prod/collect/TOK" }, setTimeout: (fn) => timers.push(fn) },
  document, fetch, FormData, XMLHttpRequest, Date, Math, JSON, Object, String, Error, Promise,
};
const settle = () => new Promise((resolve) => setImmediate(resolve));

(async () => {
  vm.runInNewContext(script, context);
  await settle(); await settle(); await settle();
  const out = {
    title: elements.title.textContent,
    template: elements.template.href,
    fieldRows: elements.fields.tBodies[0].rows.map((r) => r.cells.map((c) => c.textContent)),
    uploadHidden: elements["upload-section"].hidden,
  };
  // choose a file: presign, then XHR POST to S3 with the fields first and the file last
  elements.file.listeners.change[0]({ target: { files: [{ name: "a.csv", size: 10 }], value: "x" } });
  await settle(); await settle(); await settle();
  const xhr = xhrs[0];
  out.xhr = { method: xhr.method, url: xhr.url, form: xhr.form.entries.map((e) => e[0]) };
  xhr.upload.onprogress({ lengthComputable: true, loaded: 5, total: 10 });
  out.progressMid = elements.progress.value;
  xhr.status = 201; xhr.onload();
  for (let i = 0; i < 6; i++) {  // let each poll answer arrive, then fire the next poll timer
    await settle(); await settle(); await settle();
    const next = timers.shift(); if (next) next();
  }
  await settle(); await settle();
  out.calls = calls.map((c) => [c.method, c.url, c.accept, c.body]);
  out.banner = elements.result.children.map((c) => [c.className, c.textContent]);
  out.errorRows = elements.errors.tBodies[0].rows.map((r) => r.cells.map((c) => c.textContent));
  out.errorsHidden = elements.errors.hidden;
  out.historyRows = elements.history.tBodies[0].rows.length;
  process.stdout.write(JSON.stringify(out));
})();
