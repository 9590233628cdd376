#!/usr/bin/env bash
# Build the application image and the compose stack's service images without a container
# registry: each Dockerfile's steps run on the debootstrap base of the sandbox images
# (sandbox/images/debian-root.sh), then the tree is imported with `docker import` and the
# Dockerfile's metadata. The Debian mirror is the one this machine's apt already uses; PyPI
# packages come from deploy/image/requirements.lock.
#
# Usage: build-offline.sh [--force] [IMAGE...]   (needs root)
#   IMAGE: app (the root Dockerfile), postgres, redis, nginx, prometheus
#          (deploy/image/Dockerfile.IMAGE); default all five. Images are
#          opencode-classroom-IMAGE:latest.
#   --force   rebuild even when an image's content-hash label matches
# Env: CLASSROOM_IMAGE_CACHE  work/cache dir (default /var/cache/opencode-classroom-images)
#
# What is read from a Dockerfile (one instruction per line, `\` continuations joined):
#   ARG PACKAGES="…"   installed from the Debian mirror (the RUN line using $PACKAGES is skipped)
#   RUN, COPY SRC… DST run / copied in order (as root, before any USER; COPY from the repo root)
#   ENV, WORKDIR, USER, VOLUME, EXPOSE, ENTRYPOINT, CMD, LABEL   the image's metadata
#   HEALTHCHECK        added by a one-line `docker build` FROM the imported image (no pull)
#
# Cache: every image carries the label opencode-classroom.content-hash (hash of RECIPE, the
# suite, the Dockerfile and every file it copies); a matching image is skipped, so a re-run
# with nothing changed takes about a second.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RECIPE=2  # bump when the way images are assembled below changes: every image is rebuilt
PREFIX=opencode-classroom
LABEL=opencode-classroom.content-hash
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin  # debian:bookworm-slim's
FORCE=0
NAMES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) NAMES+=("$1"); shift ;;
    esac
done
[ ${#NAMES[@]} -gt 0 ] || NAMES=(app postgres redis nginx prometheus)
LOG_NAME=build-offline
# shellcheck source=sandbox/images/debian-root.sh
. "$ROOT/sandbox/images/debian-root.sh"
debian_setup

dockerfile_of() { if [ "$1" = app ]; then echo "$ROOT/Dockerfile"; else echo "$HERE/Dockerfile.$1"; fi; }
image_of() { echo "$PREFIX-$1:latest"; }
instructions() {  # the Dockerfile's instructions, one a line, comments dropped
    awk '/^[[:space:]]*#/ { next }
         { line = line $0 }
         /\\$/ { sub(/\\$/, "", line); next }
         { if (line ~ /[^[:space:]]/) print line; line = "" }' "$1"
}
packages_of() { sed -n 's/^ARG PACKAGES="\(.*\)"$/\1/p' "$1"; }
copied() { instructions "$1" | awk '$1 == "COPY" { for (i = 2; i < NF; i++) print $i }'; }
sources_hash() {  # sources_hash SRC...: the files under the sources, hashed
    local src
    for src in "$@"; do
        (cd "$ROOT" && find "$src" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
            | LC_ALL=C sort | xargs -r sha256sum)
    done | sha256sum | cut -c1-16
}
hash_of() {
    local df
    df=$(dockerfile_of "$1")
    {
        echo "$RECIPE $SUITE"
        cat "$df"
        copied "$df" | while read -r src; do
            (cd "$ROOT" && find "$src" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
                | LC_ALL=C sort | xargs -r sha256sum)
        done
    } | sha256sum | cut -c1-16
}

TODO=()
for name in "${NAMES[@]}"; do
    [ -f "$(dockerfile_of "$name")" ] || die "unknown image $name (no $(dockerfile_of "$name"))"
    have=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$(image_of "$name")" 2>/dev/null || true)
    if [ "$FORCE" = 0 ] && [ "$have" = "$(hash_of "$name")" ]; then
        log "$(image_of "$name") is up to date"
    else
        TODO+=("$name")
    fi
done
[ ${#TODO[@]} -gt 0 ] || { log "all images up to date"; exit 0; }

debian_work
debian_base
# shellcheck disable=SC2046
debian_download $(for name in "${TODO[@]}"; do packages_of "$(dockerfile_of "$name")"; done | tr ' ' '\n' | sort -u)

# PyPI as this machine's pip reaches it: its index and CA bundle (a proxy's CA is often only in
# the host's bundle), given to the RUN steps only; nothing of it stays in an image.
PIP_HOST_CERT=${PIP_CERT:-$(pip3 config get global.cert 2>/dev/null || true)}
PIP_HOST_INDEX=${PIP_INDEX_URL:-$(pip3 config get global.index-url 2>/dev/null || true)}
[ -n "$PIP_HOST_CERT" ] || PIP_HOST_CERT=/etc/ssl/certs/ca-certificates.crt

copy_into() {  # copy_into ROOT "SRC… DST": a COPY instruction (sources relative to the repo)
    local root=$1 parts dst src
    read -ra parts <<<"$2"
    dst=${parts[-1]}
    for src in "${parts[@]:0:${#parts[@]}-1}"; do
        [ -e "$ROOT/$src" ] || die "COPY $src: no such file in the repository"
        if [ -d "$ROOT/$src" ]; then
            mkdir -p "$root$dst"
            tar -C "$ROOT/$src" --exclude=__pycache__ --exclude='*.pyc' -c . \
                | tar -C "$root$dst" --no-same-owner -x
        elif [[ $dst == */ ]]; then
            mkdir -p "$root$dst" && cp --preserve=mode "$ROOT/$src" "$root$dst"
        else
            mkdir -p "$(dirname "$root$dst")" && cp --preserve=mode "$ROOT/$src" "$root$dst"
        fi
    done
}

# Stages: the root after each RUN but the last is kept in STAGES, keyed by a hash of everything
# before it (the base, the packages, the instructions, the files COPY took). A rebuild restores
# the latest stage whose key still matches and goes on from there: a change of the code alone
# reinstalls no package and downloads nothing from PyPI.
STAGES=$CACHE/stages
mkdir -p "$STAGES"

build_one() {
    local name=$1 df root="$WORK/$1" image hash line op args workdir=/ user="" health=""
    local env=("PATH=$DEFAULT_PATH") changes=("ENV PATH=$DEFAULT_PATH")
    local -a lines keys parts
    local i key start=-1 lastrun=-1
    df=$(dockerfile_of "$name"); image=$(image_of "$name"); hash=$(hash_of "$name")
    mapfile -t lines < <(instructions "$df")
    key=$(printf '%s %s %s %s' "$RECIPE" "$SUITE" "$(packages_of "$df")" "$(basename "$BASE_TAR")" | sha256sum | cut -c1-16)
    for i in "${!lines[@]}"; do
        line=${lines[$i]}; op=${line%%[[:space:]]*}; args=${line#"$op"}
        if [ "$op" = COPY ]; then
            read -ra parts <<<"$args"
            line="$line $(sources_hash "${parts[@]:0:${#parts[@]}-1}")"
        fi
        key=$(printf '%s\n%s\n' "$key" "$line" | sha256sum | cut -c1-16)
        keys[i]=$key
        [ "$op" != RUN ] || lastrun=$i
    done
    for i in "${!lines[@]}"; do
        [ ! -f "$STAGES/$name-${keys[$i]}.tar" ] || start=$i
    done
    if [ "$start" -ge 0 ]; then
        log "$name: from the stage after instruction $((start + 1)) (${keys[$start]})"
        mkdir -p "$root" && tar -C "$root" -xf "$STAGES/$name-${keys[$start]}.tar"
        cp /etc/resolv.conf "$root/etc/resolv.conf"
        mkdir -p "$root/proc" && mount -t proc proc "$root/proc" && MOUNTS+=("$root/proc")
    else
        new_root "$root"
        # shellcheck disable=SC2046
        debian_install "$root" $(packages_of "$df") || return 1
    fi
    if [ -f "$PIP_HOST_CERT" ]; then
        cp "$PIP_HOST_CERT" "$root/tmp/host-ca.pem" && env+=(PIP_CERT=/tmp/host-ca.pem)
    fi
    [ -z "$PIP_HOST_INDEX" ] || env+=("PIP_INDEX_URL=$PIP_HOST_INDEX")
    for i in "${!lines[@]}"; do
        line=${lines[$i]}
        op=${line%%[[:space:]]*}; args=${line#"$op"}; args=${args#"${args%%[![:space:]]*}"}
        if [ "$i" -le "$start" ] && { [ "$op" = RUN ] || [ "$op" = COPY ]; }; then
            continue  # in the restored stage
        fi
        case "$op" in
            FROM|ARG) ;;
            RUN)
                # shellcheck disable=SC2016
                [[ $args == *'$PACKAGES'* ]] && continue  # the Debian packages: installed above
                [ -z "$user" ] || { log "$name: RUN after USER is not supported"; return 1; }
                chroot "$root" /usr/bin/env -i "${env[@]}" PIP_DISABLE_PIP_VERSION_CHECK=1 /bin/sh -ec "cd $workdir; $args" \
                    >>"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; log "$name: RUN failed: $args"; return 1; }
                if [ "$i" -lt "$lastrun" ]; then
                    find "$STAGES" -name "$name-*.tar" -delete
                    # Not kept: what the package installs needed (lists, the shared archive).
                    tar -C "$root" --exclude=./proc --exclude=./var/cache/apt \
                        --exclude=./var/lib/apt/lists -cf "$STAGES/$name-${keys[$i]}.tar.part" . \
                        && mv "$STAGES/$name-${keys[$i]}.tar.part" "$STAGES/$name-${keys[$i]}.tar"
                fi
                ;;
            COPY)
                [[ $args != --* ]] || { log "$name: COPY options are not supported"; return 1; }
                copy_into "$root" "$args"
                ;;
            ENV)
                local kv
                for kv in $args; do env+=("$kv"); done
                changes+=("$line")
                ;;
            WORKDIR) workdir=$args; mkdir -p "$root$args"; changes+=("$line") ;;
            USER) user=$args; changes+=("$line") ;;
            VOLUME|EXPOSE|ENTRYPOINT|CMD|LABEL) changes+=("$line") ;;
            HEALTHCHECK) health=$line ;;
            *) log "$name: unsupported instruction $op"; return 1 ;;
        esac
    done
    # As in debian:bookworm-slim: no manuals, translations or docs (copyright files stay).
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/info/*
    find "$root/usr/share/doc" -type f ! -name copyright -delete 2>/dev/null || true
    debian_import "$root" "$image" "${changes[@]}" \
        "LABEL opencode-classroom.image=$name $LABEL=$hash"
    if [ -n "$health" ]; then
        printf 'FROM %s\n%s\n' "$image" "$health" | DOCKER_BUILDKIT=0 docker build -q -t "$image" - \
            >"$root.health.log" 2>&1 || { cat "$root.health.log" >&2; return 1; }
    fi
    log "built $image ($hash, $(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

# Two at a time: installs are CPU-bound (dpkg, triggers), imports are disk-bound.
pids=()
for name in "${TODO[@]}"; do
    build_one "$name" &
    pids+=($!)
    if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}" || die "building failed"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || die "building failed"; done
# The images these replaced (and the imports under a HEALTHCHECK) are now untagged: drop them.
docker image prune -f --filter "label=opencode-classroom.image" >/dev/null || true
log "done: ${TODO[*]}"
