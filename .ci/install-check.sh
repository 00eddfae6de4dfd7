#!/usr/bin/env bash
# install-check.sh - hfasync as its users get it: build the tree in build-install/,
# `make install DESTDIR=<tmp>`, check that every installed piece is there (library,
# headers, hfasync.pc, hf-fetch, its man page), then build a tiny program against the
# installed copy with `pkg-config --cflags --libs hfasync` alone and run it, and run the
# installed hf-fetch. Needs no network. Usage: .ci/install-check.sh (from anywhere). If the
# source tree itself is configured (config.status at the top), that build is used instead
# of build-install/, with its prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
prefix=/usr/local
tmp=$(mktemp -d /tmp/hfasync-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root

step() { printf '\n=== install-check: %s\n' "$*"; }
fail() { echo "install-check: FAIL: $*" >&2; exit 1; }

step "build"
if [ -f config.status ]; then
    # configured in the source tree (as .ci/run's first steps leave it): use that build
    prefix=$(sed -n 's/^prefix = //p' Makefile)
else
    [ -x configure ] || ./autogen.sh
    mkdir -p "$top/build-install"
    cd "$top/build-install"
    ../configure --prefix="$prefix" >/dev/null
fi
make -j"$jobs" >/dev/null

step "make install DESTDIR=$root"
make install DESTDIR="$root" >/dev/null
for f in bin/hf-fetch include/hfasync.h include/hf/future.h include/hf/hub.h \
         lib/libhfasync.so lib/pkgconfig/hfasync.pc share/man/man1/hf-fetch.1; do
    [ -e "$root$prefix/$f" ] || fail "$prefix/$f was not installed"
done
echo "installed: lib, headers, hfasync.pc, bin/hf-fetch, man1/hf-fetch.1"

step "a program built with pkg-config --cflags --libs hfasync"
export PKG_CONFIG_SYSROOT_DIR=$root
export PKG_CONFIG_PATH=$root$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
flags=$(pkg-config --cflags --libs hfasync)
echo "pkg-config: $flags"
cat > "$tmp/tiny.c" <<'PROG'
/* tiny.c - a runtime, a task on the compute pool, a continuation chained on it. */
#include <hfasync.h>
#include <stdint.h>
#include <stdio.h>

static void *answer(void *arg, hf_error_t *err)
{
    (void)err;
    return (void *)((intptr_t)arg * 6);
}

static void plus_one(hf_future_t *done, hf_promise_t *next, void *arg)
{
    (void)arg;
    hf_promise_resolve(next, (void *)((intptr_t)hf_future_value(done) + 1), NULL);
}

int main(void)
{
    hf_runtime_t *rt = hf_runtime_new(NULL);
    hf_future_t *a, *b;
    intptr_t v = 0;

    if (!rt)
        return 1;
    a = hf_async(hf_runtime_compute(rt), answer, (void *)(intptr_t)7);
    b = hf_future_then(a, hf_runtime_compute(rt), plus_one, NULL);
    if (hf_future_wait(b, -1) == 0 && hf_future_state(b) == HF_FUTURE_FULFILLED)
        v = (intptr_t)hf_future_value(b);
    hf_future_release(b);
    hf_future_release(a);
    hf_runtime_free(rt);
    printf("tiny: %ld (%s)\n", (long)v, v == 43 ? "ok" : "wrong");
    return v == 43 ? 0 : 1;
}
PROG
# shellcheck disable=SC2086 # $flags is a list of words
${CC:-cc} -std=c11 -Wall -Wextra -Werror -o "$tmp/tiny" "$tmp/tiny.c" $flags
export LD_LIBRARY_PATH=$root$prefix/lib
"$tmp/tiny" || fail "the tiny program did not print 43"
loaded=$(ldd "$tmp/tiny")
case $loaded in
*"$root$prefix/lib/libhfasync.so"*) ;;
*) fail "the tiny program did not load the installed libhfasync: $loaded" ;;
esac

step "the installed hf-fetch"
"$root$prefix/bin/hf-fetch" --version
"$root$prefix/bin/hf-fetch" download --help >/dev/null || fail "hf-fetch download --help"
HF_HUB_CACHE=$tmp/cache "$root$prefix/bin/hf-fetch" scan-cache --json --offline ||
    fail "hf-fetch scan-cache"
if command -v man >/dev/null 2>&1; then
    MANPATH=$root$prefix/share/man man -w hf-fetch >/dev/null || fail "man hf-fetch"
fi

step "install-check passed"
