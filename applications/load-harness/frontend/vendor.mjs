// Copies htmx and uPlot from node_modules into the Python package's static folder, with their licences and
// versions, so that the app serves them itself (no CDN) and Python users never need node.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, "..", "src", "load_harness", "static", "vendor");
const packages = {
  "htmx.org": { dir: "htmx", files: { "dist/htmx.min.js": "htmx.min.js" } },
  uplot: { dir: "uplot", files: { "dist/uPlot.iife.min.js": "uPlot.iife.min.js", "dist/uPlot.min.css": "uPlot.min.css" } },
};

for (const [name, spec] of Object.entries(packages)) {
  const source = join(here, "node_modules", name);
  const target = join(vendor, spec.dir);
  mkdirSync(target, { recursive: true });
  for (const [from, to] of Object.entries(spec.files)) copyFileSync(join(source, from), join(target, to));
  copyFileSync(join(source, "LICENSE"), join(target, "LICENSE"));
  const version = JSON.parse(readFileSync(join(source, "package.json"), "utf8")).version;
  writeFileSync(join(target, "VERSION"), `${name} ${version}\n`);
  console.log(`vendored ${name} ${version} -> ${target}`);
}
