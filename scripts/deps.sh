#!/bin/sh
# Installs the Debian packages qbench needs, only those that are missing.
# Uses apt-get, through sudo when not root. --quiet prints nothing when all
# packages are present (make runs this before every target).
set -u

PACKAGES="gcc make libc6-dev pkg-config
libcsv-dev libhwloc-dev hwloc libpapi-dev papi-tools
gnuplot-nox libopenblas-dev libdnnl-dev zlib1g-dev
protobuf-c-compiler libprotobuf-c-dev libonnx-dev libonnx-testdata
dataset-fashion-mnist libcmocka-dev"

quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done

if [ -z "$missing" ]; then
    [ $quiet -eq 1 ] || echo "deps: all Debian packages qbench needs are installed"
    exit 0
fi

echo "deps: installing missing Debian packages:$missing" >&2
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: apt-get not found. qbench targets Debian 12; install these packages" >&2
    echo "      with your system's package manager:$missing" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: not root and sudo is missing; as root run:" >&2
    echo "      apt-get install -y$missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y --no-install-recommends $missing >&2; then
    echo "deps: install failed; refreshing the package lists and retrying" >&2
    $SUDO apt-get update >&2 || true
    # shellcheck disable=SC2086
    if ! $SUDO apt-get install -y --no-install-recommends $missing >&2; then
        echo "deps: could not install:$missing" >&2
        echo "      try: sudo apt-get update && sudo apt-get install$missing" >&2
        exit 1
    fi
fi
echo "deps: done" >&2
