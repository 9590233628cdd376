#!/usr/bin/env bash
# Build the sandbox images without a container registry: one debootstrap base, then one image per
# language (packages from the ARG PACKAGES line of Dockerfile.<language>), each imported with
# `docker import`. The Debian mirror is the one this machine's apt already uses.
#
# Usage: build-offline.sh [--prefix NAME] [--force] [LANGUAGE...]   (default: all seven; needs root)
#   --prefix  image name prefix (default opencode-classroom): images are NAME-<language>:latest
#   --force   rebuild even when an image's content-hash label matches
# Env: CLASSROOM_IMAGE_CACHE  work/cache dir (default /var/cache/opencode-classroom-images)
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
CACHE=${CLASSROOM_IMAGE_CACHE:-/var/cache/opencode-classroom-images}
LABEL=opencode-classroom.content-hash

log() { printf '[build-offline %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
docker info >/dev/null 2>&1 || die "no Docker engine reachable"

# The suite and mirror this machine's apt uses (deb822 sources first, then one-line sources).
. /etc/os-release
SUITE=${VERSION_CODENAME:-bookworm}
mirror_from_apt() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$SUITE" '
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
            END { if (uri != "" && ok) print uri }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$SUITE" '$1 == "deb" {
            for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i + 1) == suite) { print $i; exit } }' "$f"
    done
}
MIRROR=$(mirror_from_apt | head -n1)
[ -n "$MIRROR" ] || die "no Debian mirror for suite $SUITE found in the apt configuration"

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

mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/build.XXXXXX")
MOUNTS=()
cleanup() {
    local m
    # Mounts of background builds are not in MOUNTS: find every mount under WORK.
    for m in "${MOUNTS[@]}" $(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts); do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

# The base: debootstrap once per (suite, mirror, script); kept as a tarball for later runs.
BASE_KEY=$(printf '%s %s %s' "$RECIPE" "$SUITE" "$MIRROR" | sha256sum | cut -c1-16)
BASE_TAR=$CACHE/base-$SUITE-$BASE_KEY.tar
if [ ! -f "$BASE_TAR" ]; then
    log "debootstrap $SUITE from $MIRROR"
    debootstrap --variant=minbase --components=main "$SUITE" "$WORK/base" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    # The same sources and keys as the host, so apt inside reaches the same mirrors.
    rm -f "$WORK/base/etc/apt/sources.list"
    cp -a /etc/apt/sources.list.d/. "$WORK/base/etc/apt/sources.list.d/"
    [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$WORK/base/etc/apt/sources.list"
    find "$WORK/base/etc/apt/sources.list.d" -type f ! -name '*.sources' ! -name '*.list' -delete
    chroot "$WORK/base" sh -c 'groupadd -g 10001 runner && useradd -u 10001 -g 10001 -d /work -s /usr/sbin/nologin runner && mkdir -m 0755 /work'
    printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
        > "$WORK/base/etc/dpkg/dpkg.cfg.d/01-classroom-nodoc"
    rm -f "$CACHE"/base-*.tar  # bases of other recipes or mirrors
    tar -C "$WORK/base" -cf "$BASE_TAR.part" . && mv "$BASE_TAR.part" "$BASE_TAR"
    rm -rf --one-file-system "$WORK/base"
fi

new_root() {  # new_root DIR: a fresh copy of the base with proc mounted
    mkdir -p "$1" && tar -C "$1" -xf "$BASE_TAR"
    cp /etc/resolv.conf "$1/etc/resolv.conf"
    mount -t proc proc "$1/proc" && MOUNTS+=("$1/proc")
}

# Download every package of every language once, into a shared archive cache.
ARCHIVES=$CACHE/archives
mkdir -p "$ARCHIVES/partial"
ALL=$(for lang in "${TODO[@]}"; do packages_of "$lang"; done | tr ' ' '\n' | sort -u | tr '\n' ' ')
log "apt-get update and download: $ALL"
new_root "$WORK/dl"
mkdir -p "$WORK/dl/var/cache/apt/archives"
mount --bind "$ARCHIVES" "$WORK/dl/var/cache/apt/archives" && MOUNTS+=("$WORK/dl/var/cache/apt/archives")
chroot "$WORK/dl" apt-get -qq update
# shellcheck disable=SC2086
chroot "$WORK/dl" apt-get -qq install -y --no-install-recommends --download-only $ALL
LISTS=$WORK/lists
cp -a "$WORK/dl/var/lib/apt/lists" "$LISTS"
umount -l "$WORK/dl/var/cache/apt/archives" "$WORK/dl/proc"
rm -rf --one-file-system "$WORK/dl"

build_one() {
    local lang=$1 root="$WORK/$1" image hash
    image=$(image_of "$lang"); hash=$(hash_of "$lang")
    new_root "$root"
    rm -rf "$root/var/lib/apt/lists" && cp -a "$LISTS" "$root/var/lib/apt/lists"
    cp -al "$ARCHIVES"/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
    # shellcheck disable=SC2046
    chroot "$root" apt-get -qq install -y --no-install-recommends --no-download $(packages_of "$lang") \
        >"$WORK/$lang.log" 2>&1 || { tail -n 30 "$WORK/$lang.log" >&2; return 1; }
    umount -l "$root/proc"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
        "$root"/var/log/* "$root"/tmp/* "$root/etc/resolv.conf"
    : > "$root/etc/resolv.conf"
    tar -C "$root" -c . | docker import \
        --change "ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin HOME=/work" \
        --change "WORKDIR /work" \
        --change "USER 10001:10001" \
        --change "CMD [\"sleep\", \"infinity\"]" \
        --change "LABEL opencode-classroom.language=$lang $LABEL=$hash" \
        - "$image" >/dev/null
    rm -rf --one-file-system "$root"
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
