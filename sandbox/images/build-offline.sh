#!/usr/bin/env bash
# Build the sandbox images without a container registry: one debootstrap base, then one image per
# language (packages from the ARG PACKAGES line of Dockerfile.<language>), each imported with
# `docker import`. The Debian mirror is the one this machine's apt already uses.
#
# Usage: build-offline.sh [--prefix NAME] [--force] [LANGUAGE...]   (default: all seven; needs root)
#   --prefix  image name prefix (default opencode-classroom): images are NAME-<language>:latest
#   --force   rebuild even when an image's content-hash label matches
# Env: CLASSROOM_IMAGE_CACHE  work/cache dir (default /var/cache/opencode-classroom-images)
# The base, downloads and imports are in debian-root.sh (shared with deploy/image/build-offline.sh).
#
# Cache: every image carries the label opencode-classroom.content-hash (hash of RECIPE, the suite
# and its Dockerfile); a matching image is skipped, so a re-run with nothing changed takes about a
# second. The debootstrap base is kept as a tarball in the cache dir for partial rebuilds.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
RECIPE=2  # bump when the way images are assembled below changes: every image is rebuilt
PREFIX=opencode-classroom
FORCE=0
LANGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$2; shift 2 ;;
        --force) FORCE=1; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) LANGS+=("$1"); shift ;;
    esac
done
[ ${#LANGS[@]} -gt 0 ] || LANGS=(python javascript typescript c cpp go rust)
LABEL=opencode-classroom.content-hash
LOG_NAME=build-offline
# shellcheck source=sandbox/images/debian-root.sh
. "$HERE/debian-root.sh"
debian_setup

packages_of() { sed -n 's/^ARG PACKAGES="\(.*\)"$/\1/p' "$HERE/Dockerfile.$1"; }
hash_of() { { echo "$RECIPE $SUITE"; cat "$HERE/Dockerfile.$1"; } | sha256sum | cut -c1-16; }
image_of() { echo "$PREFIX-$1:latest"; }

TODO=()
for lang in "${LANGS[@]}"; do
    [ -f "$HERE/Dockerfile.$lang" ] || die "unknown language $lang (no Dockerfile.$lang)"
    have=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$(image_of "$lang")" 2>/dev/null || true)
    if [ "$FORCE" = 0 ] && [ "$have" = "$(hash_of "$lang")" ]; then
        log "$(image_of "$lang") is up to date"
    else
        TODO+=("$lang")
    fi
done
[ ${#TODO[@]} -gt 0 ] || { log "all images up to date"; exit 0; }

debian_work
debian_base
# Download every package of every language once, into the shared archive cache.
# shellcheck disable=SC2046
debian_download $(for lang in "${TODO[@]}"; do packages_of "$lang"; done | tr ' ' '\n' | sort -u)

build_one() {
    local lang=$1 root="$WORK/$1" image hash
    image=$(image_of "$lang"); hash=$(hash_of "$lang")
    new_root "$root"
    # shellcheck disable=SC2046
    debian_install "$root" $(packages_of "$lang") || return 1
    debian_import "$root" "$image" \
        "ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin HOME=/work" \
        "WORKDIR /work" \
        "USER 10001:10001" \
        'CMD ["sleep", "infinity"]' \
        "LABEL opencode-classroom.language=$lang $LABEL=$hash"
    log "built $image ($hash)"
}

# Two at a time: installs are CPU-bound (dpkg, triggers), imports are disk-bound.
pids=()
for lang in "${TODO[@]}"; do
    build_one "$lang" &
    pids+=($!)
    if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}" || die "building failed"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || die "building failed"; done
# The images these replaced are now untagged: drop them (those still used by a container stay).
docker image prune -f --filter "label=opencode-classroom.language" >/dev/null || true
log "done: ${TODO[*]}"
