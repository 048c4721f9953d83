// Builds the console into layers/shared/python/witan/console/site/ (not committed): our source files
// and the vendored npm files, flat (the API serves one path segment per file). Run by `make console`
// after `npm ci`, so the vendored files are exactly those of package-lock.json.
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "layers", "shared", "python", "witan", "console", "site");
const modules = join(here, "node_modules");
const govuk = join(modules, "govuk-frontend", "dist", "govuk");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

for (const name of readdirSync(join(here, "src"))) {
  cpSync(join(here, "src", name), join(out, name));
}

// govuk-frontend's stylesheet without its @font-face rules: GDS Transport is licensed for GOV.UK
// services only, so a council service falls back to Arial, as the Design System asks. Its only image
// (the crest) is not used, nor its icons (the console serves text files only).
const css = readFileSync(join(govuk, "govuk-frontend.min.css"), "utf8")
  .replace(/\/\*![^*]*\*\//g, "")
  .replace(/@font-face\{[^}]*\}/g, "")
  .replace(/\/\*# sourceMappingURL=[^*]*\*\//g, "");
writeFileSync(join(out, "govuk-frontend.min.css"), css);
const js = readFileSync(join(govuk, "govuk-frontend.min.js"), "utf8").replace(/\/\/# sourceMappingURL=.*$/m, "");
writeFileSync(join(out, "govuk-frontend.min.js"), js);
for (const [from, to] of [
  [join(modules, "d3", "dist", "d3.min.js"), "d3.min.js"],
  [join(modules, "@observablehq", "plot", "dist", "plot.umd.min.js"), "plot.umd.min.js"],
]) {
  writeFileSync(join(out, to), readFileSync(from, "utf8").replace(/\/\/# sourceMappingURL=.*$/m, ""));
}
const versions = Object.fromEntries(
  ["govuk-frontend", "d3", "@observablehq/plot"].map((name) => [
    name,
    JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")).version,
  ]),
);
writeFileSync(join(out, "versions.json"), JSON.stringify(versions, null, 1) + "\n");
console.log(`console built into ${out}: ${readdirSync(out).length} files`, versions);
