// Audit: events with filters (admins, and dataset owners for their datasets), the usage report, and a
// verification of the hash chains (admins).
import { api } from "./api.js";
import { button, failure, field, formatDate, h, heading, notice, saveFile, secondaryButton, showErrors, summaryList, table, tag, fill } from "./ui.js";

export async function show({ who, render }) {
  const admin = who.groups.includes("platform-admin");
  const params = new URLSearchParams(window.location.hash.split("?")[1] || "");
  const filters = Object.fromEntries(["dataset", "actor", "action", "from", "to"].map((name) => [name, params.get(name) || ""]));
  const form = h(
    "form",
    { id: "audit-filters", novalidate: true },
    h(
      "div.govuk-grid-row",
      h("div.govuk-grid-column-one-half", field({ label: "Dataset id", name: "dataset", id: "audit-dataset", value: filters.dataset, hint: admin ? "Optional." : "A dataset your organisation owns." })),
      h("div.govuk-grid-column-one-half", field({ label: "Action", name: "action", id: "audit-action", value: filters.action, hint: "For example dataset.download." })),
    ),
    h(
      "div.govuk-grid-row",
      h("div.govuk-grid-column-one-third", field({ label: "Actor (user id)", name: "actor", id: "audit-actor", value: filters.actor })),
      h("div.govuk-grid-column-one-third", field({ label: "From", name: "from", id: "audit-from", kind: "date", value: filters.from })),
      h("div.govuk-grid-column-one-third", field({ label: "To", name: "to", id: "audit-to", kind: "date", value: filters.to })),
    ),
    button("Show events", { id: "audit-submit", class: "govuk-button--secondary" }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of Object.keys(filters)) {
      const value = form.elements[name].value.trim();
      if (value) next.set(name, value);
    }
    window.location.hash = `#/audit?${next}`;
  });
  const results = h("div", { id: "audit-results" });
  const verify = h("div", { id: "audit-verify" });
  render(
    heading("Audit trail"),
    h("p.govuk-body", "Every request to Witan, allowed or refused, is recorded in a hash-chained trail that cannot be edited."),
    form,
    results,
    admin
      ? h("div", h("h2.govuk-heading-m", "Check the trail"), h("p.govuk-body", "Recompute every hash chain and digest: any edited, removed or inserted event shows up."),
          secondaryButton("Verify the audit trail", { id: "audit-verify-button", onclick: () => runVerify(verify) }), verify)
      : null,
  );
  document.getElementById("app").append(subjectExport(who, admin));
  if (admin || filters.dataset) results.after(await usageReport(filters));
  if (!admin && !filters.dataset) {
    results.append(notice("Enter the id of a dataset your organisation owns to see its events."));
    return;
  }
  try {
    const query = { ...filters, from: filters.from ? `${filters.from}T00:00:00Z` : "", to: filters.to ? `${filters.to}T23:59:59Z` : "", limit: 100 };
    const page = await api("GET", "audit/events", { query });
    results.append(
      table(
        `${page.items.length} event${page.items.length === 1 ? "" : "s"}${page.next_token ? " (the latest 100)" : ""}`,
        ["When", "Who", "Action", "Resource", "Decision", "Status", "Reason"],
        page.items.map((event) => [
          formatDate(event.at || event.time || event.timestamp || event.created_at),
          event.actor_email || event.actor_sub || "anonymous",
          event.action,
          event.resource || "",
          tag(event.decision),
          String(event.status ?? ""),
          event.reason || "",
        ]),
        { id: "audit-events", numeric: ["Status"] },
      ),
    );
  } catch (error) {
    results.append(failure(error));
  }
}

async function runVerify(container) {
  fill(container, h("p.govuk-body", "Checking…"));
  try {
    const report = await api("GET", "audit/verify");
    fill(container, 
      report.ok ? notice("The audit trail is intact.", "success") : failure(new Error(`${report.problems.length} problem(s) found in the audit trail`)),
      summaryList([
        ["Result", tag(report.ok ? "ok" : "failed")],
        ["Events checked", String(report.items)],
        ["Chains", String(Object.keys(report.chains || {}).length)],
        ["Digests", String(report.digests)],
      ]),
      report.problems && report.problems.length
        ? table("Problems", ["Problem"], report.problems.slice(0, 50).map((problem) => [JSON.stringify(problem)]))
        : null,
    );
  } catch (error) {
    fill(container, failure(error));
  }
}

/** Reads, downloads and denied attempts per day, dataset and user (GET /audit/reports/usage). */
async function usageReport(filters) {
  const section = h("div", { id: "audit-usage" }, h("h2.govuk-heading-m", "Usage"));
  try {
    const query = { dataset: filters.dataset, from: filters.from ? `${filters.from}T00:00:00Z` : "", to: filters.to ? `${filters.to}T23:59:59Z` : "" };
    const report = await api("GET", "audit/reports/usage", { query });
    const rows = report.rows || [];
    section.append(
      rows.length
        ? table(
            null,
            ["Day", "Dataset", "Who", "Reads", "Downloads", "Denied"],
            rows.slice(0, 200).map((row) => [row.day, row.dataset, row.actor_email || row.actor_sub, String(row.reads), String(row.downloads), String(row.denied)]),
            { id: "audit-usage-table", numeric: ["Reads", "Downloads", "Denied"] },
          )
        : h("p.govuk-body", "No reads or downloads in this period."),
    );
  } catch (error) {
    section.append(failure(error));
  }
  return section;
}

/** A subject access export: everything the trail holds about one person (admins: anyone; others: themselves). */
function subjectExport(who, admin) {
  const result = h("div", { id: "subject-result", "aria-live": "polite" });
  const form = h(
    "form",
    { id: "subject-form", novalidate: true },
    h("h2.govuk-heading-m", admin ? "Subject access export" : "Your own record"),
    h("p.govuk-body", admin ? "Everything the audit trail holds about one person, for a subject access request." : "Everything the audit trail holds about you."),
    admin ? field({ label: "User id", name: "user", id: "subject-user", hint: "The person's user id (sub).", attributes: { class: "govuk-input--width-30" } }) : null,
    admin ? field({ label: "Email address (optional)", name: "email", id: "subject-email", kind: "email", hint: "Also finds events that name the address.", attributes: { class: "govuk-input--width-30" } }) : null,
    button(admin ? "Export" : "Export my record", { id: "subject-submit", class: "govuk-button--secondary" }),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const user = admin ? form.elements.user.value.trim() : who.sub;
    if (!/^[A-Za-z0-9:@._+-]{1,128}$/.test(user)) return showErrors(form, [{ field: "subject-user", message: "Enter the person's user id" }]);
    const email = admin ? form.elements.email.value.trim() : "";
    try {
      const exported = await api("GET", `audit/subjects/${encodeURIComponent(user)}`, { query: { email } });
      const events = exported.events || [];
      fill(
        result,
        summaryList([["Subject", exported.subject], ["Events", String(exported.count ?? events.length)], ["Generated", formatDate(exported.generated_at)]]),
        table(
          "The latest events",
          ["When", "Action", "Resource", "Decision"],
          events.slice(-20).reverse().map((e) => [formatDate(e.time), e.action, e.resource || "", tag(e.decision)]),
          { id: "subject-events" },
        ),
        secondaryButton("Download the whole export (JSON)", {
          id: "subject-download",
          onclick: () => saveFile(`audit-subject-${user}.json`, JSON.stringify(exported, null, 2), "application/json"),
        }),
      );
    } catch (error) {
      fill(result, failure(error));
    }
  });
  return form;
}
