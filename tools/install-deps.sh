#!/bin/sh
# Install what building and testing hfasync needs. On Debian or Ubuntu it installs the
# packages (as root, or through sudo); elsewhere it prints what to install and stops.
set -e

PKGS="build-essential autoconf automake libtool pkg-config clang python3 \
libcurl4-openssl-dev libcjson-dev libssl-dev check \
libtbb-dev libglib2.0-dev libuv1-dev \
nginx-light aria2 openssl"

if command -v apt-get >/dev/null 2>&1; then
    SUDO=
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
            echo "install-deps: run as root (or install sudo)" >&2; exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q --no-install-recommends $PKGS
else
    echo "install-deps: not a Debian-like system. Install the equivalents of:" >&2
    echo "  $PKGS" >&2
    echo "  (a C11 compiler, autotools, pkg-config, libcurl, cJSON, OpenSSL libcrypto, Check;" >&2
    echo "   oneTBB, GLib and libuv only for the side-by-side benchmarks; nginx and aria2" >&2
    echo "   only for hf-bench download; the openssl command only for the mock Hub's TLS test)" >&2
    exit 1
fi
