# Shared by the offline image builders (sandbox/images/build-offline.sh and
# deploy/image/build-offline.sh); source it, don't run it. A debootstrap base of this machine's
# Debian suite, from the mirror this machine's apt already uses, kept as a tarball in the cache
# dir; fresh root trees from it; Debian packages downloaded once and installed without network.
#
# The caller sets LOG_NAME (log prefix) before sourcing, then calls, in order:
#   debian_setup              checks (root, debootstrap, Docker), SUITE, MIRROR, CACHE, WORK
#   debian_base               the base tarball (BASE_TAR), made once per (suite, mirror)
#   debian_download PKG...    every package and its dependencies into the shared archive
#   new_root DIR              a fresh copy of the base with proc mounted
#   debian_install DIR PKG... install (no network) what debian_download fetched
#   debian_import DIR IMAGE CHANGE...   clean DIR up and `docker import` it with --change lines
# Env: CLASSROOM_IMAGE_CACHE  work/cache dir (default /var/cache/opencode-classroom-images)

BASE_RECIPE=2  # bump when the base below changes: every base (and so every image) is rebuilt
CACHE=${CLASSROOM_IMAGE_CACHE:-/var/cache/opencode-classroom-images}
MOUNTS=()

log() { printf '[%s %s] %s\n' "${LOG_NAME:-build}" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The suite and mirror this machine's apt uses (deb822 sources first, then one-line sources).
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

debian_setup() {
    [ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot)"
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    docker info >/dev/null 2>&1 || die "no Docker engine reachable"
    # shellcheck disable=SC1091
    . /etc/os-release
    SUITE=${VERSION_CODENAME:-bookworm}
    MIRROR=$(mirror_from_apt | head -n1)
    [ -n "$MIRROR" ] || die "no Debian mirror for suite $SUITE found in the apt configuration"
}

debian_cleanup() {
    local m
    # Mounts of background builds are not in MOUNTS: find every mount under WORK.
    for m in "${MOUNTS[@]}" $(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts); do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$WORK"
}

debian_work() {  # the scratch dir WORK, removed (with its mounts) on exit
    mkdir -p "$CACHE"
    WORK=$(mktemp -d "$CACHE/build.XXXXXX")
    trap debian_cleanup EXIT
}

# The base: debootstrap once per (suite, mirror, recipe); kept as a tarball for later runs.
debian_base() {
    local key
    key=$(printf '%s %s %s' "$BASE_RECIPE" "$SUITE" "$MIRROR" | sha256sum | cut -c1-16)
    BASE_TAR=$CACHE/base-$SUITE-$key.tar
    [ -f "$BASE_TAR" ] && return 0
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
}

new_root() {  # new_root DIR: a fresh copy of the base with proc mounted
    mkdir -p "$1" && tar -C "$1" -xf "$BASE_TAR"
    cp /etc/resolv.conf "$1/etc/resolv.conf"
    # No service starts while packages are installed (nginx, postgresql, redis-server).
    printf '#!/bin/sh\nexit 101\n' > "$1/usr/sbin/policy-rc.d" && chmod 0755 "$1/usr/sbin/policy-rc.d"
    mount -t proc proc "$1/proc" && MOUNTS+=("$1/proc")
}

# Download packages (and their dependencies) once, into a shared archive cache; LISTS is a copy
# of the package lists they came from, for the offline installs.
debian_download() {
    ARCHIVES=$CACHE/archives
    mkdir -p "$ARCHIVES/partial"
    log "apt-get update and download: $*"
    new_root "$WORK/dl"
    mkdir -p "$WORK/dl/var/cache/apt/archives"
    mount --bind "$ARCHIVES" "$WORK/dl/var/cache/apt/archives" && MOUNTS+=("$WORK/dl/var/cache/apt/archives")
    chroot "$WORK/dl" apt-get -qq update
    chroot "$WORK/dl" apt-get -qq install -y --no-install-recommends --download-only "$@"
    LISTS=$WORK/lists
    rm -rf "$LISTS" && cp -a "$WORK/dl/var/lib/apt/lists" "$LISTS"
    umount -l "$WORK/dl/var/cache/apt/archives" "$WORK/dl/proc"
    rm -rf --one-file-system "$WORK/dl"
}

debian_install() {  # debian_install DIR PKG...: from what debian_download fetched, no network
    local root=$1; shift
    rm -rf "$root/var/lib/apt/lists" && cp -a "$LISTS" "$root/var/lib/apt/lists"
    cp -al "$ARCHIVES"/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
    chroot "$root" apt-get -qq install -y --no-install-recommends --no-download "$@" \
        >"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; return 1; }
}

debian_import() {  # debian_import DIR IMAGE CHANGE...: clean DIR up, import it, remove it
    local root=$1 image=$2 change args=()
    shift 2
    umount -l "$root/proc"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
        "$root"/var/log/* "$root"/tmp/* "$root/etc/resolv.conf" "$root/usr/sbin/policy-rc.d"
    : > "$root/etc/resolv.conf"
    for change in "$@"; do args+=(--change "$change"); done
    tar -C "$root" -c . | docker import "${args[@]}" - "$image" >/dev/null
    rm -rf --one-file-system "$root"
}
