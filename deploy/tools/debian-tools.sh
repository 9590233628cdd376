#!/usr/bin/env bash
# promtool (from Debian's prometheus package) and nginx, unpacked from their .deb files into a
# cache and linked into /usr/local/bin, without installing the packages: nothing is started,
# no service is configured. The packages come through this machine's apt configuration.
#
# Usage: debian-tools.sh   (needs root for /usr/local/bin; idempotent)
# Env: CLASSROOM_TOOLS_CACHE  cache dir (default /var/cache/opencode-classroom-tools)
#
# Cache: one directory per package version; a run with nothing new takes well under a second.
set -euo pipefail
CACHE=${CLASSROOM_TOOLS_CACHE:-/var/cache/opencode-classroom-tools}
log() { printf '[debian-tools] %s\n' "$*" >&2; }

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'; }

unpack() {  # unpack PACKAGE: echo the directory holding its files
    local pkg=$1 version dir work
    version=$(candidate "$pkg")
    if [ -z "$version" ] || [ "$version" = "(none)" ]; then
        apt-get update -qq
        version=$(candidate "$pkg")
    fi
    [ -n "$version" ] && [ "$version" != "(none)" ] || { log "no $pkg package in the apt sources"; exit 1; }
    dir="$CACHE/$pkg-$version"
    if [ ! -d "$dir" ]; then
        log "unpacking $pkg $version"
        rm -rf "$CACHE/$pkg"-*  # other versions
        work=$(mktemp -d)
        (cd "$work" && apt-get download -qq "$pkg=$version" 2>/dev/null)
        dpkg-deb -x "$work"/*.deb "$dir.part"
        rm -rf "$work"
        mv "$dir.part" "$dir"
    fi
    echo "$dir"
}

mkdir -p "$CACHE"
prometheus=$(unpack prometheus)
nginx=$(unpack nginx)
ln -sf "$prometheus/usr/bin/promtool" /usr/local/bin/promtool
ln -sf "$nginx/usr/sbin/nginx" /usr/local/bin/nginx
promtool --version 2>&1 | head -n1 >&2
nginx -v
