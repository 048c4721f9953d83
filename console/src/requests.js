// Requests (Collect+Share): ask partners for data against a schema, track who has submitted, read each
// submission's check, close, cancel or reissue a partner's link.
import { api } from "./api.js";
import { button, failure, field, formatDate, h, heading, link, notice, secondaryButton, showErrors, summaryList, table, tag } from "./ui.js";

let flash = null;

export async function show({ rest, render }) {
  if (rest[0] === "new") return createPage(render);
  if (rest[0]) return requestPage(rest[0], render);
  return listPage(render);
}

function again() {
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

async function listPage(render) {
  const found = await api("GET", "requests");
  const items = found.requests || [];
  render(
    flash ? notice(flash, "success") : null,
    heading("Requests"),
    h("p.govuk-body", "Ask partners for data: each gets a link to upload against a schema, and every upload is checked at once."),
    h("a.govuk-button", { href: "#/requests/new", role: "button", draggable: "false", id: "new-request" }, "Create a request"),
    items.length
      ? table(
          null,
          ["Request", "Schema", "Due", "Status", "Recipients"],
          items.map((item) => [
            link(item.title, `#/requests/${encodeURIComponent(item.request_id)}`),
            item.schema,
            formatDate(item.due_date),
            tag(item.status),
            String(item.recipient_count ?? ""),
          ]),
          { id: "requests" },
        )
      : h("p.govuk-body", "You have not made any requests yet."),
  );
  flash = null;
}

function parseRecipients(text) {
  const recipients = [];
  const problems = [];
  text.split(/\n+/).map((line) => line.trim()).filter(Boolean).forEach((line, index) => {
    const [email, name, organisation] = line.split(",").map((part) => part.trim());
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email || "")) problems.push(`line ${index + 1}: ${email || "(empty)"} is not an email address`);
    else recipients.push({ email, ...(name ? { name } : {}), ...(organisation ? { organisation } : {}) });
  });
  return { recipients, problems };
}

function parseShares(text) {
  const shares = [];
  const problems = [];
  text.split(/[\n,]+/).map((item) => item.trim()).filter(Boolean).forEach((item) => {
    const [kind, id] = item.includes(":") ? item.split(/:(.*)/s) : ["group", item];
    if (!["user", "group"].includes(kind) || !id) problems.push(`${item} is not group:ID or user:ID`);
    else shares.push({ type: kind, id });
  });
  return { shares, problems };
}

async function createPage(render) {
  const [schemas, datasets] = await Promise.all([api("GET", "schemas"), api("GET", "datasets")]);
  const names = (schemas.schemas || []).map((item) => item.name);
  const due = new Date(Date.now() + 14 * 86400000).toISOString().slice(0, 10);
  const form = h(
    "form",
    { id: "request-form", novalidate: true },
    field({ label: "Title", name: "title", id: "request-title", hint: "Partners see this in their email and on their upload page." }),
    field({ label: "Schema", name: "schema", id: "request-schema", kind: "select", options: [["", "Choose a schema"], ...names.map((name) => [name, name])], hint: "The columns partners must send, and how each is checked." }),
    field({ label: "Due date", name: "due_date", id: "request-due", kind: "date", value: due }),
    field({ label: "Message (optional)", name: "message", id: "request-message", kind: "textarea" }),
    field({ label: "Recipients", name: "recipients", id: "request-recipients", kind: "textarea", hint: "One per line: email, name, organisation (name and organisation optional)." }),
    field({ label: "Destination dataset (optional)", name: "dataset_id", id: "request-dataset", kind: "select", options: [["", "A new dataset for this request"], ...(datasets.items || []).filter((d) => (d.access || []).includes("meta-update")).map((d) => [d.id, d.title])], hint: "Valid uploads become its next versions." }),
    field({ label: "Share valid data with (optional)", name: "share_with", id: "request-share", hint: "Groups or users, comma separated: group:org-hackney, user:SUB." }),
    button("Send the request", { id: "request-submit" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errors = [];
    const title = form.elements.title.value.trim();
    if (!title) errors.push({ field: "request-title", message: "Enter a title" });
    const schema = form.elements.schema.value;
    if (!schema) errors.push({ field: "request-schema", message: "Choose a schema" });
    const dueDate = form.elements.due_date.value;
    if (!dueDate) errors.push({ field: "request-due", message: "Enter the due date" });
    else if (dueDate < new Date().toISOString().slice(0, 10)) errors.push({ field: "request-due", message: "The due date must be today or in the future" });
    const { recipients, problems } = parseRecipients(form.elements.recipients.value);
    if (problems.length) errors.push({ field: "request-recipients", message: `Recipients: ${problems.join("; ")}` });
    else if (!recipients.length) errors.push({ field: "request-recipients", message: "Enter at least one recipient" });
    const { shares, problems: shareProblems } = parseShares(form.elements.share_with.value);
    if (shareProblems.length) errors.push({ field: "request-share", message: `Share with: ${shareProblems.join("; ")}` });
    if (errors.length) return showErrors(form, errors);
    const body = { title, schema, due_date: dueDate, recipients };
    const message = form.elements.message.value.trim();
    if (message) body.message = message;
    if (form.elements.dataset_id.value) body.dataset_id = form.elements.dataset_id.value;
    if (shares.length) body.share_with = shares;
    try {
      const created = await api("POST", "requests", { body });
      flash = `Request sent to ${recipients.length} recipient${recipients.length === 1 ? "" : "s"}.`;
      window.location.hash = `#/requests/${encodeURIComponent(created.request.request_id)}`;
    } catch (error) {
      showErrors(form, [{ field: "request-title", message: error.message }]);
    }
  });
  render(heading("Create a request", "Requests"), form);
}

const STATE_TEXT = { invited: "invited", opened: "opened", checking: "checking", valid: "valid", invalid: "invalid", unusable: "invalid" };

async function requestPage(id, render) {
  const view = await api("GET", `requests/${encodeURIComponent(id)}`);
  const request = view.request || {};
  const totals = view.totals || {};
  const open = (view.status || request.status) === "open";
  const actions = h("div.govuk-button-group", { id: "request-actions" });
  if (open) {
    actions.append(
      secondaryButton("Close: stop taking uploads", { id: "request-close", onclick: () => act(`requests/${id}/close`, "The request is closed.") }),
      h("button.govuk-button.govuk-button--warning", { type: "button", id: "request-cancel", onclick: () => act(`requests/${id}/cancel`, "The request is cancelled and every link stopped.") }, "Cancel the request"),
    );
  }
  const rows = (view.recipients || []).map((r) => [
    h("span", r.name ? `${r.name} ` : "", h("span.govuk-body-s", `<${r.email}>`), r.organisation ? ` (${r.organisation})` : ""),
    tag(STATE_TEXT[r.state] || r.state),
    r.submitted ? `${r.uploads} upload${r.uploads === 1 ? "" : "s"}, last ${formatDate(r.last_submission_at)}` : "outstanding",
    r.error_count !== undefined ? `${r.error_count} error${r.error_count === 1 ? "" : "s"}${r.rows !== undefined ? ` in ${r.rows} rows` : ""}` : "",
    r.last_reminded_on ? tag("reminded") : "",
    open && !r.valid
      ? h(
          "div.govuk-button-group.govuk-!-margin-bottom-0",
          h("button.govuk-button.govuk-button--secondary.govuk-!-margin-bottom-0", { type: "button", "data-reissue": r.submission_id, onclick: () => act(`requests/${id}/recipients/${r.submission_id}/reissue`, `A new link was emailed to ${r.email}.`) }, "Reissue link", h("span.govuk-visually-hidden", ` for ${r.email}`)),
          r.link_revoked
            ? h("span.govuk-body-s", "links revoked")
            : h("button.govuk-button.govuk-button--warning.govuk-!-margin-bottom-0", { type: "button", "data-revoke": r.submission_id, onclick: () => act(`requests/${id}/recipients/${r.submission_id}/revoke`, `${r.email}'s links no longer work.`) }, "Revoke", h("span.govuk-visually-hidden", ` the links of ${r.email}`)),
        )
      : "",
  ]);
  render(
    flash ? notice(flash, "success") : null,
    heading(request.title || id, "Request"),
    summaryList([
      ["Status", tag(view.status || request.status)],
      ["Schema", request.schema],
      ["Due", formatDate(view.due_date || request.due_date)],
      ["Message", request.message || ""],
      ["Dataset", request.dataset_id ? link(request.dataset_id, `#/datasets/${request.dataset_id}`) : ""],
      ["Shared with", (request.share_with || []).map((s) => `${s.type}:${s.id}`).join(", ")],
    ]),
    h("h2.govuk-heading-m", "Tracking"),
    summaryList([
      ["Recipients", String(totals.recipients ?? 0)],
      ["Opened their link", String(totals.opened ?? 0)],
      ["Submitted", String(totals.submitted ?? 0)],
      ["Valid", String(totals.valid ?? 0)],
      ["Invalid", String(totals.invalid ?? 0)],
      ["Outstanding", String(totals.outstanding ?? 0)],
    ]),
    table("Recipients", ["Who", "State", "Uploads", "Latest check", "Reminded", "Link"], rows, { id: "tracking" }),
    actions,
  );
  flash = null;

  async function act(path, message) {
    try {
      await api("POST", path, { body: {} });
      flash = message;
      again();
    } catch (error) {
      render(failure(error));
    }
  }
}
