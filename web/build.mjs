// Builds web/static/app.js, the one bundle every page loads.
// The bundle is committed so the server needs no Node; web/check-bundle.sh rebuilds it in CI
// and fails when the committed file is stale.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outfile = process.env.BUNDLE_OUT ?? path.join(here, "static", "app.js");
// Mermaid is a bundle of its own, loaded on demand by pages that show a diagram.
const mermaidOut = process.env.MERMAID_OUT ?? path.join(here, "static", "mermaid.js");

const options = {
  entryPoints: [path.join(here, "src", "main.js")],
  outfile,
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

const mermaidOptions = { ...options, entryPoints: [path.join(here, "src", "diagrams.js")], outfile: mermaidOut };

if (process.argv.includes("--watch")) {
  for (const each of [options, mermaidOptions]) await (await esbuild.context(each)).watch();
  console.log("watching web/src for changes");
} else {
  for (const each of [options, mermaidOptions]) {
    const result = await esbuild.build(each);
    const bytes = Object.values(result.metafile.outputs)[0].bytes;
    console.log(`${path.relative(process.cwd(), each.outfile)}: ${bytes} bytes minified`);
  }
}
