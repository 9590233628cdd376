#!/usr/bin/env bash
# Rebuilds the web bundles from web/src and the locked npm packages, and fails when one differs
# from the committed web/static/app.js or web/static/charts.js (someone changed the source and
# forgot `npm run build`). Needs `npm ci` in web/ first; CI runs both.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ]; then
    echo "web/node_modules missing: run 'npm ci' in web/ first" >&2
    exit 2
fi
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
BUNDLE_DIR="$fresh" node build.mjs
for bundle in app.js charts.js mermaid.js; do
    if ! cmp -s "$fresh/$bundle" "static/$bundle"; then
        echo "web/static/$bundle is stale: run 'npm run build' in web/ and commit the result" >&2
        exit 1
    fi
    echo "web/static/$bundle matches web/src ($(wc -c <"static/$bundle") bytes)"
done
