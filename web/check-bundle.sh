#!/usr/bin/env bash
# Rebuilds the web bundle from web/src and the locked npm packages, and fails when it differs
# from the committed web/static/app.js (someone changed the source and forgot `npm run build`).
# Needs `npm ci` in web/ first; CI runs both.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ]; then
    echo "web/node_modules missing: run 'npm ci' in web/ first" >&2
    exit 2
fi
fresh="$(mktemp --suffix=.js)"
fresh_mermaid="$(mktemp --suffix=.js)"
trap 'rm -f "$fresh" "$fresh_mermaid"' EXIT
BUNDLE_OUT="$fresh" MERMAID_OUT="$fresh_mermaid" node build.mjs
for pair in "$fresh:static/app.js" "$fresh_mermaid:static/mermaid.js"; do
    if ! cmp -s "${pair%%:*}" "${pair#*:}"; then
        echo "web/${pair#*:} is stale: run 'npm run build' in web/ and commit the result" >&2
        exit 1
    fi
    echo "web/${pair#*:} matches web/src ($(wc -c <"${pair#*:}") bytes)"
done
