// Small DOM helpers that build GOV.UK Design System markup. Text is always set as text (never parsed
// as HTML), so nothing the API returns can inject markup.

/** h("p.govuk-body", {id: "x"}, "text", child, ...) */
export function h(tag, attributes, ...children) {
  const [name, ...classes] = tag.split(".");
  const element = document.createElement(name || "div");
  if (classes.length) element.className = classes.join(" ");
  if (attributes && (typeof attributes !== "object" || attributes instanceof Node || Array.isArray(attributes))) {
    children.unshift(attributes);
    attributes = null;
  }
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className += (element.className ? " " : "") + value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function heading(text, caption) {
  return [caption ? h("span.govuk-caption-l", caption) : null, h("h1.govuk-heading-l", text)];
}

export function link(text, href, attributes = {}) {
  return h("a.govuk-link", { href, ...attributes }, text);
}

const TAG_COLOURS = {
  succeeded: "green", valid: "green", ok: "green", open: "blue", running: "blue", submitted: "blue",
  started: "blue", pending: "grey", outstanding: "grey", invited: "grey", opened: "light-blue",
  failed: "red", invalid: "red", cancelled: "red", deny: "red", denied: "red", closed: "grey",
  allow: "green", reminded: "yellow", late: "orange", error: "red",
};

export function tag(status) {
  const text = String(status ?? "");
  const colour = TAG_COLOURS[text.toLowerCase()];
  return h(`strong.govuk-tag${colour ? `.govuk-tag--${colour}` : ""}`, text);
}

export function summaryList(rows) {
  return h(
    "dl.govuk-summary-list",
    rows
      .filter((row) => row)
      .map(([key, value]) =>
        h("div.govuk-summary-list__row", h("dt.govuk-summary-list__key", key), h("dd.govuk-summary-list__value", value ?? "")),
      ),
  );
}

/** A GOV.UK table; `cell` values may be nodes. Numeric columns (by name in `numeric`) align right. */
export function table(caption, columns, rows, { numeric = [], id } = {}) {
  const numericSet = new Set(numeric);
  // The wrapper scrolls wide tables sideways; keyboard users reach it by Tab (a named region).
  return h(
    "div.witan-scroll",
    { tabindex: 0, role: "region", "aria-label": caption || "Table" },
    h(
      "table.govuk-table",
      { id },
      caption ? h("caption.govuk-table__caption.govuk-table__caption--m", caption) : null,
      h(
        "thead.govuk-table__head",
        h(
          "tr.govuk-table__row",
          columns.map((column) =>
            h(`th.govuk-table__header${numericSet.has(column) ? ".govuk-table__header--numeric" : ""}`, { scope: "col" }, column),
          ),
        ),
      ),
      h(
        "tbody.govuk-table__body",
        rows.map((row) =>
          h(
            "tr.govuk-table__row",
            row.map((value, index) =>
              h(`td.govuk-table__cell${numericSet.has(columns[index]) ? ".govuk-table__cell--numeric" : ""}`, value ?? ""),
            ),
          ),
        ),
      ),
    ),
  );
}

/** An error summary whose links move focus to the fields (errors: [{field id, message}]). */
export function errorSummary(errors) {
  const summary = h(
    "div.govuk-error-summary",
    { "data-module": "govuk-error-summary" },
    h(
      "div",
      { role: "alert" },
      h("h2.govuk-error-summary__title", "There is a problem"),
      h(
        "div.govuk-error-summary__body",
        h(
          "ul.govuk-list.govuk-error-summary__list",
          errors.map(({ field, message }) =>
            h("li", field ? h("a", { href: `#${field}`, onclick: (event) => focusField(event, field) }, message) : message),
          ),
        ),
      ),
    ),
  );
  return summary;
}

function focusField(event, field) {
  event.preventDefault(); // the hash is the router's: move focus without navigating
  const target = document.getElementById(field);
  if (target) {
    target.scrollIntoView({ block: "center" });
    target.focus();
  }
}

/** Shows errors at the top of `form` and on each field's group; focuses the summary. */
export function showErrors(form, errors) {
  clearErrors(form);
  const summary = errorSummary(errors);
  form.prepend(summary);
  for (const { field, message } of errors) {
    const input = field && document.getElementById(field);
    const group = input && input.closest(".govuk-form-group");
    if (!group) continue;
    group.classList.add("govuk-form-group--error");
    const errorId = `${field}-error`;
    const error = h("p.govuk-error-message", { id: errorId }, h("span.govuk-visually-hidden", "Error: "), message);
    input.parentNode.insertBefore(error, input);
    input.setAttribute("aria-describedby", [input.getAttribute("aria-describedby"), errorId].filter(Boolean).join(" "));
    if (input.classList.contains("govuk-input")) input.classList.add("govuk-input--error");
    if (input.classList.contains("govuk-select")) input.classList.add("govuk-select--error");
    if (input.classList.contains("govuk-textarea")) input.classList.add("govuk-textarea--error");
  }
  summary.setAttribute("tabindex", "-1");
  summary.focus();
}

export function clearErrors(form) {
  form.querySelectorAll(".govuk-error-summary, .govuk-error-message").forEach((node) => node.remove());
  form.querySelectorAll(".govuk-form-group--error").forEach((node) => node.classList.remove("govuk-form-group--error"));
  form.querySelectorAll(".govuk-input--error, .govuk-select--error, .govuk-textarea--error").forEach((node) =>
    node.classList.remove("govuk-input--error", "govuk-select--error", "govuk-textarea--error"),
  );
}

let fieldCounter = 0;

/** A labelled input in a form group. kind: text | number | date | email | select | textarea | checkbox. */
export function field({ label, name, kind = "text", hint, value, options = [], required = false, id, attributes = {} }) {
  const fieldId = id || `f-${name.replace(/[^A-Za-z0-9_-]/g, "-")}-${++fieldCounter}`;
  const hintId = hint ? `${fieldId}-hint` : null;
  let input;
  if (kind === "select") {
    input = h(
      "select.govuk-select",
      { id: fieldId, name, "aria-describedby": hintId, ...attributes },
      options.map((option) => {
        const [optionValue, text] = Array.isArray(option) ? option : [option, option];
        return h("option", { value: optionValue, selected: String(optionValue) === String(value ?? "") }, text);
      }),
    );
  } else if (kind === "textarea") {
    input = h("textarea.govuk-textarea", { id: fieldId, name, rows: 4, "aria-describedby": hintId, ...attributes }, value ?? "");
  } else if (kind === "checkbox") {
    return h(
      "div.govuk-form-group",
      h(
        "div.govuk-checkboxes.govuk-checkboxes--small",
        { "data-module": "govuk-checkboxes" },
        h(
          "div.govuk-checkboxes__item",
          h("input.govuk-checkboxes__input", { id: fieldId, name, type: "checkbox", checked: Boolean(value), "aria-describedby": hintId, ...attributes }),
          h("label.govuk-label.govuk-checkboxes__label", { for: fieldId }, label),
          hint ? h("div.govuk-hint.govuk-checkboxes__hint", { id: hintId }, hint) : null,
        ),
      ),
    );
  } else {
    const type = kind === "number" ? "text" : kind;
    const extra = kind === "number" ? { inputmode: "decimal", spellcheck: "false" } : {};
    input = h("input.govuk-input", { id: fieldId, name, type, value: value ?? "", "aria-describedby": hintId, required, ...extra, ...attributes });
  }
  return h(
    "div.govuk-form-group",
    h("label.govuk-label", { for: fieldId }, label),
    hint ? h("div.govuk-hint", { id: hintId }, hint) : null,
    input,
  );
}

export function button(text, attributes = {}) {
  return h("button.govuk-button", { type: "submit", "data-module": "govuk-button", ...attributes }, text);
}

export function secondaryButton(text, attributes = {}) {
  return h("button.govuk-button.govuk-button--secondary", { type: "button", "data-module": "govuk-button", ...attributes }, text);
}

export function notice(text, kind = "info") {
  if (kind === "success") {
    const titleId = `banner-title-${++fieldCounter}`; // unique: a page may show two banners
    return h(
      "div.govuk-notification-banner.govuk-notification-banner--success",
      { role: "alert", "aria-labelledby": titleId },
      h("div.govuk-notification-banner__header", h("h2.govuk-notification-banner__title", { id: titleId }, "Success")),
      h("div.govuk-notification-banner__content", h("p.govuk-notification-banner__heading", text)),
    );
  }
  return h("div.govuk-inset-text", text);
}

export function failure(error) {
  const message = error && error.message ? error.message : String(error);
  return h("div.govuk-error-summary", h("div", { role: "alert" }, h("h2.govuk-error-summary__title", "There is a problem"),
    h("div.govuk-error-summary__body", h("p.govuk-body", message))));
}

export function formatDate(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: value.length > 10 ? "short" : undefined, timeZone: "UTC" });
}

export function saveFile(name, content, type) {
  const url = URL.createObjectURL(content instanceof Blob ? content : new Blob([content], { type }));
  const anchor = h("a", { href: url, download: name });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Replaces a container's children, leaving out the null/false of optional parts. */
export function fill(container, ...nodes) {
  container.replaceChildren(...nodes.flat(Infinity).filter((node) => node !== null && node !== undefined && node !== false));
}
