#!/bin/bash
# pack-portable.sh - hf-bench, its helpers and the shared libraries they load, in one folder
# that runs on another x86-64 Linux machine with no build dependencies (a bigger machine
# to measure how the pools scale, say). Not part of the build or of `make check`.
#
# usage: tools/bench/pack-portable.sh BUILDDIR OUTDIR [TSAN_BUILDDIR]
#   BUILDDIR      a build configured with --disable-shared (the tools are then real
#                 programs, not libtool wrappers); `make tools/hf-bench tools/hf-fixtures
#                 tools/hf-demo tools/hf-fetch` and the core tests are built here if needed
#   TSAN_BUILDDIR optional: a --enable-sanitizers=thread --disable-shared build configured
#                 with LDFLAGS=-static-libtsan, whose core tests go to OUTDIR/tsan
#
# OUTDIR gets bin/ (the tools, and nginx when it is installed here: hf-bench's CDN), lib/
# (every library they load except the C library's own), core/ (the core Check programs)
# and env.sh. Each program's RPATH is $ORIGIN/../lib (DT_RPATH, which also serves the
# libraries' own dependencies), so nothing leaks into the environment of the programs they
# start: the mock Hub's python3 keeps its own libraries. Needs patchelf.
#
# On the other machine, from a copy of the source tree (the mock Hub is a python script):
#   . OUTDIR/env.sh && hf-bench models --reps 5
# TSan programs there may need `setarch "$(uname -m)" -R` (older TSan runtimes refuse the
# high-entropy address layouts of newer kernels).
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
b=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
tsan=${3:+$(cd "$3" && pwd)}
src=$(cd "$(dirname "$0")/../.." && pwd)
command -v patchelf >/dev/null || { echo "pack-portable: patchelf is not installed" >&2; exit 1; }
grep -q '^build_libtool_libs=no' "$b/libtool" 2>/dev/null ||
    { echo "pack-portable: $b is not configured with --disable-shared" >&2; exit 1; }

tools=(tools/hf-bench tools/hf-fixtures tools/hf-demo tools/hf-fetch)
mapfile -t tests < <(sed -n '/^CORE_TSAN_TESTS/,/^$/p' "$src/tests/core/local.mk" |
                     grep -o 'tests/core/check_[a-z_]*')
make -C "$b" -j"$(nproc)" "${tools[@]}" "${tests[@]}" >/dev/null
[ -z "$tsan" ] || make -C "$tsan" -j"$(nproc)" "${tests[@]}" >/dev/null

rm -rf "${out:?}/bin" "${out:?}/lib" "${out:?}/core" "${out:?}/tsan"
mkdir -p "$out/bin" "$out/lib" "$out/core"
for t in "${tools[@]}"; do cp "$b/$t" "$out/bin/"; done
for t in "${tests[@]}"; do cp "$b/$t" "$out/core/"; done
if [ -n "$tsan" ]; then
    mkdir -p "$out/tsan"
    for t in "${tests[@]}"; do cp "$tsan/$t" "$out/tsan/"; done
    strip --strip-debug "$out"/tsan/*
fi
if command -v nginx >/dev/null; then cp "$(command -v nginx)" "$out/bin/"; fi
strip "$out"/bin/* "$out"/core/*

for f in "$out"/bin/* "$out"/core/* ${tsan:+"$out"/tsan/*}; do
    ldd "$f" | awk '/=> \//{ print $3 }'
done | sort -u | while read -r l; do
    case "$(basename "$l")" in
        libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|ld-linux*) ;;
        *) cp -L "$l" "$out/lib/" ;;
    esac
done
# shellcheck disable=SC2016  # $ORIGIN is for the dynamic loader, not the shell
for f in "$out"/bin/* "$out"/core/* ${tsan:+"$out"/tsan/*}; do
    patchelf --force-rpath --set-rpath '$ORIGIN/../lib' "$f"
done
# shellcheck disable=SC2016
for f in "$out"/lib/*; do patchelf --force-rpath --set-rpath '$ORIGIN' "$f"; done

cat > "$out/env.sh" <<'EOF'
# source from the root of a copy of the hfasync source tree
P=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH="$P/bin:$PATH" HF_TOP_SRCDIR="$PWD" HF_MOCK_HUB="$PWD/tools/mock-hub/hf-mock-hub" \
       HF_FIXTURES="$P/bin/hf-fixtures" CK_DEFAULT_TIMEOUT=120
# nginx opens its compiled-in error log before it reads hf-bench's configuration
mkdir -p /var/log/nginx 2>/dev/null || true
EOF
du -sh "$out"
