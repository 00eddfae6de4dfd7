#!/bin/sh
# test-exports.sh - the shared library exports the public API and nothing else: every
# defined dynamic symbol of libhfasync.so starts with hf_ (internal hfi_ names, static
# helpers and whatever the toolchain adds stay hidden), and every function a public
# header marks HF_API is among them.
#
# Run by `make check` (HF_TOP_BUILDDIR, HF_TOP_SRCDIR set by the test environment).
# Exit 77 (skipped) for a static-only build or without nm.
set -u
build=${HF_TOP_BUILDDIR:-.}
src=${HF_TOP_SRCDIR:-.}
lib=$build/.libs/libhfasync.so

if [ ! -f "$lib" ]; then
    echo "no $lib (a static-only build?): skipped"
    exit 77
fi
if ! command -v nm >/dev/null 2>&1; then
    echo "nm not found: skipped"
    exit 77
fi

exported=$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | sort -u)
if [ -z "$exported" ]; then
    echo "FAIL: nm found no exported symbol in $lib"
    exit 1
fi
status=0

foreign=$(printf '%s\n' "$exported" | grep -v '^hf_')
if [ -n "$foreign" ]; then
    echo "FAIL: $lib exports symbols outside the hf_ API:"
    printf '  %s\n' $foreign
    status=1
fi

declared=$(cat "$src"/include/hfasync.h "$src"/include/hf/*.h |
    grep -oE 'HF_API[^(;]*\(' | sed -E 's/.*[ *]([A-Za-z_0-9]+)\($/\1/' | grep '^hf_' | sort -u)
missing=$(printf '%s\n' "$declared" | while read -r name; do
    printf '%s\n' "$exported" | grep -qx "$name" || echo "$name"
done)
if [ -n "$missing" ]; then
    echo "FAIL: declared HF_API in include/ but not exported by $lib:"
    printf '  %s\n' $missing
    status=1
fi

[ $status -eq 0 ] && echo "ok: $(printf '%s\n' "$exported" | wc -l) symbols exported, all hf_," \
    "$(printf '%s\n' "$declared" | wc -l) HF_API functions declared, all exported"
exit $status
