// The console's shell: sign-in, the navigation, and a hash router (#/models, #/datasets/ID, ...) so the
// page never reloads and the tokens held in memory stay.
import { completeSignIn, onChange, signOut, startSignIn, user } from "./auth.js";
import { failure, h, heading, link, summaryList } from "./ui.js";
import { initAll } from "./govuk-frontend.min.js";

const app = document.getElementById("app");
const PAGES = {
  models: () => import("./models.js"),
  runs: () => import("./models.js"),
  datasets: () => import("./datasets.js"),
  requests: () => import("./requests.js"),
  datapacks: () => import("./datapacks.js"),
  audit: () => import("./audit.js"),
};

document.body.classList.add("js-enabled", "govuk-frontend-supported");
// govuk-frontend's behaviour for the shell: the skip link and the navigation's menu toggle on small screens.
initAll();

function setTitle(text) {
  document.title = `${text} – Witan council console`;
}

export function render(...nodes) {
  app.replaceChildren(...nodes.flat(Infinity).filter((node) => node !== null && node !== undefined && node !== false));
  const h1 = app.querySelector("h1");
  if (h1) setTitle(h1.textContent);
}

function signInPage(problem) {
  render(
    heading("Sign in"),
    problem ? failure(problem) : null,
    h("p.govuk-body", "Sign in with your council account to see your datasets, requests, model runs and the audit trail."),
    h("button.govuk-button.govuk-button--start", { type: "button", id: "sign-in", onclick: () => startSignIn().catch((error) => signInPage(error)) }, "Sign in"),
  );
}

function homePage(who) {
  const admin = who.groups.includes("platform-admin");
  render(
    heading("Council console", "Witan"),
    h("p.govuk-body", { id: "signed-in-as" }, `Signed in as ${who.email}.`),
    summaryList([
      ["Your groups", who.groups.join(", ") || "none"],
      ["Role", admin ? "Platform administrator" : "Council user"],
    ]),
    h("h2.govuk-heading-m", "What you can do"),
    h(
      "ul.govuk-list.govuk-list--spaced",
      h("li", link("Models", "#/models"), ": choose a model, set its scenarios, run it and compare the results with the baseline."),
      h("li", link("Datasets", "#/datasets"), ": find datasets, see their metadata and versions, share and download them."),
      h("li", link("Requests", "#/requests"), ": ask partners for data and track their returns."),
      h("li", link("Datapacks", "#/datapacks"), ": seal datasets and model runs into a bundle others can check and re-run."),
      h("li", link("Audit", "#/audit"), ": who did what, and whether the trail is intact."),
    ),
  );
}

function markNavigation(area) {
  for (const item of document.querySelectorAll("#navigation [data-area]")) {
    const active = item.dataset.area === area || (area === "runs" && item.dataset.area === "models");
    item.classList.toggle("govuk-service-navigation__item--active", active);
    const anchor = item.querySelector("a");
    if (active) anchor.setAttribute("aria-current", "page");
    else anchor.removeAttribute("aria-current");
  }
}

async function route() {
  const who = user();
  document.getElementById("navigation-wrapper").hidden = !who;
  if (!who) {
    markNavigation(null);
    signInPage();
    return;
  }
  const hash = window.location.hash;
  if (hash && !hash.startsWith("#/")) return; // an in-page link (skip link, error summary)
  // #/area/id...?query: the query belongs to the page (search filters), not to the route.
  const [area, ...rest] = hash.replace(/^#\/?/, "").split("?")[0].split("/").map(decodeURIComponent);
  markNavigation(area || null);
  if (!area || !PAGES[area]) {
    homePage(who);
    return;
  }
  try {
    const module = await PAGES[area]();
    await module.show({ area, rest, who, render, app });
  } catch (error) {
    render(heading("Sorry, there is a problem"), failure(error));
  }
  document.getElementById("main-content").focus({ preventScroll: true });
}

document.getElementById("sign-out").addEventListener("click", () => signOut());
onChange(() => route());
window.addEventListener("hashchange", () => route());

async function start() {
  try {
    const back = await completeSignIn();
    if (back) {
      window.location.hash = back; // hashchange routes
      if (window.location.hash === back) route();
      return;
    }
  } catch (error) {
    signInPage(error);
    return;
  }
  route();
}

start();
