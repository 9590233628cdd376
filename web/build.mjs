// Builds the browser bundles into web/static/: app.js, the one bundle every page loads;
// charts.js (Chart.js for the dashboard's cockpit, loaded by it on demand, so that pages
// without charts never download it; it sets window.ClassroomCharts); and mermaid.js (Mermaid,
// loaded on demand by pages that show a diagram).
// The bundles are committed so the server needs no Node; web/check-bundle.sh rebuilds them in
// CI (into BUNDLE_DIR) and fails when a committed file is stale.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = process.env.BUNDLE_DIR ?? path.join(here, "static");

const common = {
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  platform: "browser",
  // No source map or build date: the output must be byte-for-byte reproducible.
  sourcemap: false,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
  metafile: true,
};
const bundles = [
  { ...common, entryPoints: [path.join(here, "src", "main.js")], outfile: path.join(outdir, "app.js") },
  { ...common, entryPoints: [path.join(here, "src", "charts.js")], outfile: path.join(outdir, "charts.js"), globalName: "ClassroomCharts" },
  { ...common, entryPoints: [path.join(here, "src", "diagrams.js")], outfile: path.join(outdir, "mermaid.js") },
];

if (process.argv.includes("--watch")) {
  for (const options of bundles) await (await esbuild.context(options)).watch();
  console.log("watching web/src for changes");
} else {
  for (const options of bundles) {
    const result = await esbuild.build(options);
    const bytes = Object.values(result.metafile.outputs)[0].bytes;
    console.log(`${path.relative(process.cwd(), options.outfile)}: ${bytes} bytes minified`);
  }
}
