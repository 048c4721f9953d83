// Datapacks: a sealed, reproducible bundle of dataset versions, model runs and notes. Start a pack, add
// members, seal it (every file hashed, the manifest's hash in the audit trail), verify and export it.
import { api } from "./api.js";
import { button, failure, field, formatDate, h, heading, link, notice, secondaryButton, showErrors, summaryList, table, tag, fill } from "./ui.js";

let flash = null;

function again() {
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

export async function show({ rest, render }) {
  if (rest[0]) return packPage(rest[0], render);
  return listPage(render);
}

async function listPage(render) {
  const packs = await api("GET", "datapacks");
  const form = h(
    "form",
    { id: "pack-form", novalidate: true },
    h("h2.govuk-heading-m", "Start a pack"),
    field({ label: "Title", name: "title", id: "pack-title" }),
    field({ label: "Summary (optional)", name: "summary", id: "pack-summary", kind: "textarea" }),
    field({ label: "Licence (optional)", name: "licence", id: "pack-licence", hint: "For example OGL-UK-3.0.", attributes: { class: "govuk-input--width-20" } }),
    button("Start the pack", { id: "pack-submit" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = form.elements.title.value.trim();
    if (!title) return showErrors(form, [{ field: "pack-title", message: "Enter a title" }]);
    try {
      const created = await api("POST", "datapacks", { body: { title, summary: form.elements.summary.value.trim(), licence: form.elements.licence.value.trim() } });
      const id = (created.pack || created).id;
      flash = "The pack is started: add its members, then seal it.";
      window.location.hash = `#/datapacks/${id}`;
    } catch (error) {
      showErrors(form, [{ field: "pack-title", message: error.message }]);
    }
  });
  render(
    heading("Datapacks"),
    h("p.govuk-body", "A datapack bundles dataset versions, model runs and notes; once sealed, every file is hashed and kept unchanged, so anyone it is shared with can check and re-run it."),
    packs.items.length
      ? table(null, ["Pack", "Owner", "Status", "Sealed"], packs.items.map((pack) => [link(pack.title, `#/datapacks/${pack.id}`), pack.owner_org, tag(pack.status), formatDate(pack.sealed_at)]), { id: "packs" })
      : h("p.govuk-body", "There are no packs you may see yet."),
    form,
  );
}

async function packPage(id, render) {
  const pack = await api("GET", `datapacks/${id}`);
  const draft = pack.status === "draft";
  const may = new Set(pack.access || []);
  const nodes = [
    flash ? notice(flash, "success") : null,
    heading(pack.title, "Datapack"),
    summaryList([
      ["Status", tag(pack.status)],
      ["Owner", pack.owner_org],
      ["Summary", pack.summary || ""],
      ["Licence", pack.licence || ""],
      ["Created", `${formatDate(pack.created_at)}`],
      pack.sealed_at ? ["Sealed", `${formatDate(pack.sealed_at)}`] : null,
      pack.manifest_sha256 ? ["Manifest SHA-256", h("span.witan-code", pack.manifest_sha256)] : null,
    ]),
    table(
      "Members",
      ["Kind", "Role", "What", "Caption", "Personal data"],
      pack.members.map((member) => [
        member.kind,
        member.role,
        member.dataset_id ? link(`${member.dataset_id.slice(0, 8)}… v${member.version ?? ""}`, `#/datasets/${member.dataset_id}`) : member.run_id ? link(`run ${member.run_id.slice(0, 12)}`, `#/runs/${member.run_id}`) : member.file_name || "",
        member.caption || "",
        member.personal ? "Yes" : "No",
      ]),
      { id: "members" },
    ),
  ];
  flash = null;
  if (draft && (may.has("meta-update") || may.has("share") || may.size === 0)) nodes.push(await memberForm(id), sealButton(id));
  if (!draft) nodes.push(sealedActions(id));
  render(...nodes);
}

async function memberForm(id) {
  const [datasets, runs] = await Promise.all([api("GET", "datasets"), api("GET", "model-runs")]);
  const options = [["", "Choose what to add"]];
  for (const dataset of datasets.items || []) {
    options.push([`dataset-file:${dataset.id}`, `Dataset file: ${dataset.title}`]);
    options.push([`dataset-metadata:${dataset.id}`, `Dataset description only: ${dataset.title}`]);
  }
  for (const run of (runs.items || []).filter((r) => r.status === "SUCCEEDED")) {
    options.push([`model-run:${run.id}`, `Model run: ${run.model} ${run.id.slice(0, 12)} (${formatDate(run.created_at)})`]);
  }
  const form = h(
    "form",
    { id: "member-form", novalidate: true },
    h("h2.govuk-heading-m", "Add a member"),
    field({ label: "What to add", name: "what", id: "member-what", kind: "select", options }),
    field({ label: "Its role in the pack", name: "role", id: "member-role", kind: "select", options: ["input", "output", "script", "chart", "report", "other"] }),
    field({ label: "Caption (optional)", name: "caption", id: "member-caption" }),
    button("Add to the pack", { id: "member-submit", class: "govuk-button--secondary" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const what = form.elements.what.value;
    if (!what) return showErrors(form, [{ field: "member-what", message: "Choose what to add" }]);
    const [kind, ref] = what.split(":");
    const body = { kind, role: form.elements.role.value, caption: form.elements.caption.value.trim() };
    if (kind === "model-run") body.model_run = ref;
    else body.dataset = ref;
    try {
      await api("POST", `datapacks/${id}/members`, { body });
      flash = "Added to the pack.";
      again();
    } catch (error) {
      showErrors(form, [{ field: "member-what", message: error.message }]);
    }
  });
  return form;
}

function sealButton(id) {
  const result = h("div", { id: "seal-result" });
  return h(
    "div",
    h("h2.govuk-heading-m", "Seal the pack"),
    h("p.govuk-body", "Sealing hashes every member's bytes, keeps copies that cannot be changed or deleted, and records the manifest's hash in the audit trail. A sealed pack cannot be edited."),
    h("button.govuk-button.govuk-button--warning", {
      type: "button",
      id: "seal",
      onclick: async () => {
        try {
          await api("POST", `datapacks/${id}/seal`, { body: {} });
          flash = "The pack is sealed.";
          again();
        } catch (error) {
          fill(result, failure(error));
        }
      },
    }, "Seal the pack"),
    result,
  );
}

function sealedActions(id) {
  const result = h("div", { id: "pack-result", "aria-live": "polite" });
  const verify = async () => {
    try {
      const report = await api("GET", `datapacks/${id}/verify`);
      fill(result, 
        report.ok ? notice("Every file matches the sealed manifest, and the manifest matches the audit trail.", "success") : failure(new Error((report.problems || []).join("; ") || "the pack does not match its seal")),
        summaryList([
          ["Files checked", String(report.checked)],
          ["Changed", (report.changed || []).join(", ") || "none"],
          ["Missing", (report.missing || []).join(", ") || "none"],
        ]),
      );
    } catch (error) {
      fill(result, failure(error));
    }
  };
  const exportPack = async () => {
    try {
      const exported = await api("GET", `datapacks/${id}/export`);
      fill(result, 
        h("p.govuk-body", h("a.govuk-link", { href: exported.url, id: "export-link", rel: "noreferrer" }, `Download the pack (zip, ${Math.ceil(exported.bytes / 1024)} KB)`), ` — the link works until ${formatDate(exported.expires_at)}.`),
        exported.withheld && exported.withheld.length ? h("p.govuk-body", `Personal-data files exported as references only: ${exported.withheld.join(", ")}.`) : null,
      );
    } catch (error) {
      fill(result, failure(error));
    }
  };
  return h(
    "div",
    h("h2.govuk-heading-m", "Check and export"),
    h("div.govuk-button-group", secondaryButton("Verify the pack", { id: "verify-pack", onclick: verify }), secondaryButton("Export as a zip", { id: "export-pack", onclick: exportPack })),
    result,
  );
}
