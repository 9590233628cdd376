#!/usr/bin/env bash
# Document fan-out benchmark: our server against the Node reference y-websocket server.
# Installs the load generator's npm packages when missing, then runs bench/docs_bench.py
# (all scenarios, both servers, unless options say otherwise; see --help).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -d "$root/bench/docs/node_modules/y-websocket" ]; then
  (cd "$root/bench/docs" && npm ci --no-audit --no-fund)
fi
exec "$root/.venv/bin/python" "$root/bench/docs_bench.py" "$@"
