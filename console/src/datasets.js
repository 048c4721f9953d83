// Datasets: search and list; one dataset's metadata, history and file version; who can access it;
// grants with purpose and expiry; download with a stated purpose; upload a new version.
import { api } from "./api.js";
import {
  button, failure, field, formatDate, h, heading, link, notice, showErrors, summaryList, table, tag,
  fill,
} from "./ui.js";

let flash = null; // a success message for the next render of a dataset page

export async function show({ rest, render }) {
  if (rest[0]) return datasetPage(rest[0], render);
  return listPage(render);
}

async function listPage(render) {
  const params = new URLSearchParams(window.location.hash.split("?")[1] || "");
  const query = { text: params.get("text") || "", tag: params.get("tag") || "" };
  const found = await api("GET", "datasets", { query });
  const form = h(
    "form",
    { id: "dataset-search", role: "search", novalidate: true },
    h(
      "div.govuk-grid-row",
      h("div.govuk-grid-column-one-half", field({ label: "Search titles and descriptions", name: "text", id: "search-text", value: query.text })),
      h("div.govuk-grid-column-one-quarter", field({ label: "Tag", name: "tag", id: "search-tag", value: query.tag })),
    ),
    button("Search", { id: "search-submit", class: "govuk-button--secondary" }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of ["text", "tag"]) {
      const value = form.elements[name].value.trim();
      if (value) next.set(name, value);
    }
    window.location.hash = `#/datasets${next.toString() ? `?${next}` : ""}`;
  });
  render(
    heading("Datasets"),
    form,
    h("p.govuk-body", { id: "dataset-count" }, `${found.items.length} dataset${found.items.length === 1 ? "" : "s"} you may see.`),
    table(
      null,
      ["Title", "Owner", "Tags", "What you may do", "Updated"],
      found.items.map((dataset) => [
        link(dataset.title, `#/datasets/${dataset.id}`),
        dataset.owner_org,
        (dataset.tags || []).join(", "),
        (dataset.access || []).join(", "),
        formatDate(dataset.updated_at),
      ]),
      { id: "datasets" },
    ),
  );
}

async function optional(promise) {
  try {
    return await promise;
  } catch (error) {
    return { error };
  }
}

async function datasetPage(id, render) {
  const dataset = await api("GET", `datasets/${id}`);
  const [history, access] = await Promise.all([
    optional(api("GET", `datasets/${id}/history`)),
    optional(api("GET", `datasets/${id}/access`)),
  ]);
  const metadata = dataset.metadata || {};
  const may = new Set(dataset.access || []);
  const nodes = [
    flash ? notice(flash, "success") : null,
    heading(metadata.title || id, "Dataset"),
    h("h2.govuk-heading-m", "About this dataset"),
    summaryList([
      ["Description", metadata.description || ""],
      ["Owner", dataset.owner_org],
      ["Tags", (metadata.tags || []).join(", ")],
      ["Personal data", metadata.personal_data === undefined ? "" : metadata.personal_data ? "Yes" : "No"],
      ["Legal basis and use", metadata.legal_use || ""],
      ["Ethical use", metadata.ethical_use || ""],
      ["Metadata version", String(dataset.metadata_version)],
      ["Latest file", dataset.file ? `${dataset.file.file_name}, version ${dataset.file.version}, ${formatDate(dataset.file.created_at)}` : "No file yet"],
      ["What you may do", (dataset.access || []).map((activity) => tag(activity))],
    ]),
  ];
  if (may.has("file-read") && dataset.file) nodes.push(downloadForm(id));
  if (history.versions) {
    nodes.push(
      table(
        "Metadata history",
        ["Version", "Edited", "By", "What changed"],
        history.versions.map((entry) => [String(entry.version), formatDate(entry.edited_at), entry.edited_by, (entry.changed || []).join(", ") || "created"]),
        { id: "history" },
      ),
    );
  }
  if (access.entries) {
    nodes.push(
      table(
        "Who can access this",
        ["Who", "Type", "What they may do", "Through", "Purpose", "Expires"],
        access.entries.map((entry) => [
          entry.grantee,
          entry.grantee_type,
          entry.activities.join(", "),
          entry.via,
          entry.purpose ? `${entry.purpose.code || ""}${entry.purpose.text ? `: ${entry.purpose.text}` : ""}` : "",
          entry.expired ? tag("expired") : formatDate(entry.expires_at) || "never",
        ]),
        { id: "access" },
      ),
    );
  }
  if (may.has("share")) nodes.push(grantForm(id));
  if (may.has("meta-update") || may.has("share")) nodes.push(uploadForm(id));
  flash = null;
  render(...nodes);
}

function downloadForm(id) {
  const result = h("div", { id: "download-result", "aria-live": "polite" });
  const form = h(
    "form",
    { id: "download-form", novalidate: true },
    h("h2.govuk-heading-m", "Download the data"),
    field({ label: "Why you need the data", name: "purpose", id: "download-purpose", hint: "This is recorded in the audit trail with your download.", kind: "textarea" }),
    button("Get a download link", { id: "download-submit" }),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const purpose = form.elements.purpose.value.trim();
    if (purpose.length < 3) {
      showErrors(form, [{ field: "download-purpose", message: "Enter why you need the data (at least 3 characters)" }]);
      return;
    }
    try {
      const download = await api("GET", `datasets/${id}/download`, { query: { purpose } });
      fill(result, 
        h("p.govuk-body", h("a.govuk-link", { href: download.url, id: "download-link", rel: "noreferrer" }, `Download version ${download.version}`), ` (the link works until ${formatDate(download.expires_at)})`),
      );
    } catch (error) {
      showErrors(form, [{ field: "download-purpose", message: error.message }]);
    }
  });
  return form;
}

const ACTIVITIES = [
  ["meta-visible", "See that the dataset exists"],
  ["meta-read", "Read its metadata"],
  ["file-read", "Download its files"],
  ["meta-update", "Edit its metadata and add versions"],
  ["share", "Share it with others"],
];

function grantForm(id) {
  const checkboxes = h(
    "div.govuk-form-group",
    { id: "grant-activities-group" },
    h(
      "fieldset.govuk-fieldset",
      { "aria-describedby": "grant-activities-hint" },
      h("legend.govuk-fieldset__legend.govuk-fieldset__legend--s", "What they may do"),
      h("div.govuk-hint", { id: "grant-activities-hint" }, "Select all that apply."),
      h(
        "div.govuk-checkboxes.govuk-checkboxes--small",
        { id: "grant-activities" },
        ACTIVITIES.map(([value, text], index) =>
          h("div.govuk-checkboxes__item",
            h("input.govuk-checkboxes__input", { id: index === 0 ? "grant-activity" : `grant-activity-${value}`, name: "activities", type: "checkbox", value, checked: value === "meta-read" }),
            h("label.govuk-label.govuk-checkboxes__label", { for: index === 0 ? "grant-activity" : `grant-activity-${value}` }, text)),
        ),
      ),
    ),
  );
  const form = h(
    "form",
    { id: "grant-form", novalidate: true },
    h("h2.govuk-heading-m", "Share this dataset"),
    field({ label: "Share with", name: "grantee_type", id: "grant-type", kind: "select", options: [["group", "An organisation (group)"], ["user", "A person (user id)"]] }),
    field({ label: "Group or user id", name: "grantee", id: "grant-grantee", hint: "For example org-hackney.", attributes: { class: "govuk-input--width-20" } }),
    checkboxes,
    field({ label: "Purpose code", name: "purpose_code", id: "grant-purpose-code", hint: "Lower case letters, digits and hyphens, for example send-planning.", attributes: { class: "govuk-input--width-20" } }),
    field({ label: "Purpose", name: "purpose_text", id: "grant-purpose-text", kind: "textarea", hint: "What the data may be used for." }),
    field({ label: "Expires on (optional)", name: "expires", id: "grant-expires", kind: "date", hint: "After this date the grant no longer applies." }),
    button("Share", { id: "grant-submit" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errors = [];
    const grantee = form.elements.grantee.value.trim();
    if (!/^[A-Za-z0-9:@._+-]+$/.test(grantee)) errors.push({ field: "grant-grantee", message: "Enter a group or user id" });
    const activities = [...form.querySelectorAll("input[name=activities]:checked")].map((input) => input.value);
    if (!activities.length) errors.push({ field: "grant-activity", message: "Select what they may do" });
    const code = form.elements.purpose_code.value.trim();
    if (!/^[a-z0-9][a-z0-9-]{1,60}$/.test(code)) errors.push({ field: "grant-purpose-code", message: "Enter a purpose code of lower case letters, digits and hyphens" });
    const expires = form.elements.expires.value;
    if (expires && new Date(`${expires}T23:59:59Z`) < new Date()) errors.push({ field: "grant-expires", message: "The expiry date must be in the future" });
    if (errors.length) return showErrors(form, errors);
    try {
      await api("PUT", `datasets/${id}/grants`, {
        body: {
          grantee_type: form.elements.grantee_type.value,
          grantee,
          activities,
          purpose: { code, text: form.elements.purpose_text.value.trim() },
          expires_at: expires ? `${expires}T23:59:59Z` : null,
        },
      });
      flash = `Shared with ${grantee}.`;
      window.dispatchEvent(new HashChangeEvent("hashchange")); // the page again, with the new grant
    } catch (error) {
      showErrors(form, [{ field: "grant-grantee", message: error.message }]);
    }
  });
  return form;
}

function uploadForm(id) {
  const status = h("div", { id: "upload-result", "aria-live": "polite" });
  const form = h(
    "form",
    { id: "upload-form", novalidate: true },
    h("h2.govuk-heading-m", "Upload a new version"),
    h("div.govuk-form-group",
      h("label.govuk-label", { for: "upload-file" }, "File"),
      h("div.govuk-hint", { id: "upload-file-hint" }, "CSV or Excel. It goes straight to storage with a link only valid for this upload."),
      h("input.govuk-file-upload", { id: "upload-file", name: "file", type: "file", "aria-describedby": "upload-file-hint" })),
    button("Upload", { id: "upload-submit", class: "govuk-button--secondary" }),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.elements.file.files[0];
    if (!file) return showErrors(form, [{ field: "upload-file", message: "Choose a file" }]);
    const safeName = file.name.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "") || "upload.csv";
    try {
      const created = await api("POST", `datasets/${id}/versions`, { body: { file_name: safeName, content_type: file.type || "text/csv", size_bytes: file.size } });
      const data = new FormData();
      for (const [name, value] of Object.entries(created.upload.fields)) data.append(name, value);
      data.append("file", file);
      const response = await fetch(created.upload.url, { method: "POST", body: data, credentials: "omit" });
      if (!response.ok) throw new Error(`the upload was refused (HTTP ${response.status})`);
      fill(status, notice(`Uploaded ${safeName} as version ${created.upload.version}.`, "success"));
    } catch (error) {
      fill(status, failure(error));
    }
  });
  return form;
}
