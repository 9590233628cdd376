// Builds web/static/app.js, the one bundle every page loads.
// The bundle is committed so the server needs no Node; web/check-bundle.sh rebuilds it in CI
// and fails when the committed file is stale.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outfile = process.env.BUNDLE_OUT ?? path.join(here, "static", "app.js");

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

if (process.argv.includes("--watch")) {
  const context = await esbuild.context(options);
  await context.watch();
  console.log("watching web/src for changes");
} else {
  const result = await esbuild.build(options);
  const bytes = Object.values(result.metafile.outputs)[0].bytes;
  console.log(`${path.relative(process.cwd(), outfile)}: ${bytes} bytes minified`);
}
