#!/bin/sh
# test-headers.sh - the public headers as C and C++ consumers see them (inference code is
# often C++):
#  1. each installed header (include/hfasync.h, include/hf/*.h) compiles on its own, as the
#     first include of an otherwise empty file, as C11 with -Wpedantic and as C++11 and
#     C++17, all with -Wall -Wextra -Werror, with every C and C++ compiler at hand (the
#     configured ones, gcc, g++, clang and clang++);
#  2. a program that uses the headers' macros and types as their comments show (HF_INLINE,
#     HF_ON_* bits, HF_ERR_MIN, HF_TENSOR_MAX_DIMS, HFASYNC_VERSION, hf_error_set's printf
#     format, the zero-initialised configurations) and takes the address of every function
#     a header marks HF_API (so each must have C linkage in C++), compiles as C11 and as
#     C++11 and C++17, links against the built libhfasync with the flags the build's
#     hfasync.pc gives (pointed at the build tree), and runs.
#
# Run by `make check` (HF_TOP_BUILDDIR, HF_TOP_SRCDIR set by the test environment). The
# compilers are the ones configure chose (the build's Makefile) unless CC or CXX is set.
# Exit 77 (skipped) only when no C++ compiler works.
set -u
build=${HF_TOP_BUILDDIR:-.}
src=${HF_TOP_SRCDIR:-.}
tmp=${TMPDIR:-/tmp}/hfasync-headers.$$
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

# A variable of the build's Makefile (CC, CXX, SAN_LDFLAGS, ...), or "".
mkvar() { sed -n "s/^$1 = //p" "$build/Makefile" 2>/dev/null | head -n 1; }

headers=$(cd "$src/include" && ls hfasync.h hf/*.h)
[ -n "$headers" ] || { echo "FAIL: no header in $src/include"; exit 1; }

printf 'int main(void) { return 0; }\n' > "$tmp/probe.c"
cp "$tmp/probe.c" "$tmp/probe.cpp"
# works COMPILER SOURCE: COMPILER (a command, maybe with flags) builds a program from SOURCE.
# shellcheck disable=SC2086 # the compiler is a list of words
works() { [ -n "$1" ] && $1 -o "$tmp/probe" "$2" >/dev/null 2>&1; }

cc=${CC:-$(mkvar CC)}
cxx=
for c in "${CXX:-$(mkvar CXX)}" c++ g++ clang++; do
    if works "$c" "$tmp/probe.cpp"; then cxx=$c; break; fi
done
if [ -z "$cxx" ]; then
    echo "no working C++ compiler (CXX, c++, g++, clang++): skipped"
    exit 77
fi
works "$cc" "$tmp/probe.c" || cc=cc

# Every compiler at hand, the configured ones first, each named once.
ccs=$cc; cxxs=$cxx
for c in gcc clang; do
    case " $ccs " in *" $c "*) ;; *) works "$c" "$tmp/probe.c" && ccs="$ccs $c" ;; esac
done
for c in g++ clang++; do
    case " $cxxs " in *" $c "*) ;; *) works "$c" "$tmp/probe.cpp" && cxxs="$cxxs $c" ;; esac
done
echo "C: $ccs; C++: $cxxs"

cflags_c="-std=c11 -Wall -Wextra -Wpedantic -Werror"
cflags_cxx="-Wall -Wextra -Wpedantic -Werror"

# ---- 1. each header alone ---------------------------------------------------------------
n=0
for h in $headers; do
    printf '#include <%s>\n' "$h" > "$tmp/alone.c"
    cp "$tmp/alone.c" "$tmp/alone.cpp"
    for c in $ccs; do
        # shellcheck disable=SC2086
        $c $cflags_c -I"$src/include" -c -o "$tmp/alone.o" "$tmp/alone.c" > "$tmp/log" 2>&1 ||
            { fail "$h alone, $c $cflags_c:"; head -n 20 "$tmp/log"; }
        n=$((n + 1))
    done
    for c in $cxxs; do
        for std in c++11 c++17; do
            # shellcheck disable=SC2086
            $c -std=$std $cflags_cxx -I"$src/include" -c -o "$tmp/alone.o" "$tmp/alone.cpp" \
                > "$tmp/log" 2>&1 ||
                { fail "$h alone, $c -std=$std $cflags_cxx:"; head -n 20 "$tmp/log"; }
            n=$((n + 1))
        done
    done
done
[ $status -eq 0 ] && echo "ok: $(echo "$headers" | wc -w) headers, each alone, $n compiles"

# ---- 2. a consumer, in C and C++, linked against the built library ----------------------
# HF_FN(hf_x), for every function a header marks HF_API (found as test-exports.sh finds them).
# shellcheck disable=SC2086 # one word per header
fns=$(cd "$src/include" && cat $headers |
    grep -oE 'HF_API[^(;]*\(' | sed -E 's/.*[ *]([A-Za-z_0-9]+)\($/\1/' | grep '^hf_' | sort -u)
[ -n "$fns" ] || { echo "FAIL: no HF_API function found in the headers"; exit 1; }
printf '%s\n' "$fns" | sed 's/.*/    HF_FN(&),/' > "$tmp/fns.inc"

cat > "$tmp/consumer.c" <<'PROG'
/* consumer.c - the headers used as their comments show; compiled as C and as C++. */
#include <hfasync.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
#define HF_FN(f) reinterpret_cast<void (*)(void)>(&f)
#define ZERO {}
#else
#define HF_FN(f) ((void (*)(void))&f)
#define ZERO {0}
#endif

/* Every HF_API function: in C++, an undefined reference here is a missing extern "C". */
static void (*const every_fn[])(void) = {
#include "fns.inc"
};

/* A consumer's own printf-like helper, checked as the library's are. */
static int fail_with(hf_error_t *err, const char *fmt, ...) HF_PRINTF(2, 3);
static int fail_with(hf_error_t *err, const char *fmt, ...)
{
    (void)fmt;
    return hf_error_set(err, HF_EINVAL, 0, "%s", "consumer");
}

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

static const char *state_name(hf_future_state_t s)
{
    switch (s) {
    case HF_FUTURE_PENDING: return "pending";
    case HF_FUTURE_FULFILLED: return "fulfilled";
    case HF_FUTURE_REJECTED: return "rejected";
    case HF_FUTURE_CANCELLED: return "cancelled";
    }
    return "?";
}

int main(void)
{
    hf_runtime_config_t cfg = ZERO;
    hf_hub_config_t hub_cfg = ZERO;
    hf_model_opts_t model_opts = ZERO;
    hf_error_t err;
    uint64_t shape[HF_TENSOR_MAX_DIMS] = {0};
    static const char json[] = "{\"vocab_size\": 32000}";
    const char *version = "hfasync " HFASYNC_VERSION;
    hf_runtime_t *rt;
    hf_future_t *a, *b, *c, *r;
    hf_config_t *conf = NULL;
    intptr_t v = 0;
    size_t i, nfn = sizeof every_fn / sizeof every_fn[0];
    int bad = 0;

    for (i = 0; i < nfn; i++)
        bad += every_fn[i] == NULL;
    hub_cfg.offline = HF_YES;
    hub_cfg.disable_symlinks = HF_NO;
    model_opts.dim = 1024;
    cfg.compute_threads = 2;
    if ((rt = hf_runtime_new(&cfg)) == NULL)
        return 1;
    a = hf_async(hf_runtime_compute(rt), answer, (void *)(intptr_t)7);
    b = hf_future_then(a, HF_INLINE, plus_one, NULL);
    c = hf_future_then_on(b, hf_runtime_io(rt), HF_ON_VALUE | HF_ON_ERROR, plus_one, NULL);
    if (hf_future_wait(c, -1) == 0 && hf_future_state(c) == HF_FUTURE_FULFILLED)
        v = (intptr_t)hf_future_value(c);
    r = hf_future_rejected(HF_ENOENT, 404, "%s/%d", "no such file", 3);
    bad += hf_future_error(r) == NULL || hf_future_error(r)->code != HF_ENOENT;
    bad += strcmp(state_name(hf_future_state(r)), "rejected") != 0;
    hf_future_release(r);
    hf_future_release(c);
    hf_future_release(b);
    hf_future_release(a);
    hf_runtime_free(rt);

    bad += hf_error_set(&err, HF_EIO, 0, "reading %s: %d", "x", 5) != HF_EIO;
    bad += hf_error_set(&err, HF_EIO, 0, NULL) != HF_EIO || err.message[0] != '\0';
    bad += fail_with(&err, "%d", 1) != HF_EINVAL;
    bad += strcmp(hf_strerror(HF_ERR_MIN - 1), "unknown error") != 0;
    bad += strcmp(hf_dtype_name(HF_DTYPE_BF16), "BF16") != 0;
    bad += strcmp(hf_repo_type_name(HF_REPO_DATASET), "dataset") != 0;
    bad += hf_glob_match("*.safetensors", "model.safetensors") != 1;
    bad += hf_model_module_count() == 0;
    bad += shape[HF_TENSOR_MAX_DIMS - 1] != 0 || HF_SAFETENSORS_MAX_HEADER < 1000000u;
    bad += hf_config_parse(json, sizeof json - 1, "config.json", &conf, NULL) != 0 ||
           hf_config_type(conf, "vocab_size") != HF_JSON_NUMBER;
    hf_config_free(conf);
    printf("%s: %lu HF_API functions, value %ld, %d failed checks (hub offline %d, dim %u)\n",
           version, (unsigned long)nfn, (long)v, bad, hub_cfg.offline, model_opts.dim);
    return v == 44 && bad == 0 ? 0 : 1;
}
PROG
cp "$tmp/consumer.c" "$tmp/consumer.cpp"

# The build's hfasync.pc, pointed at the source headers and the built library.
pc=${PKG_CONFIG:-$(mkvar PKG_CONFIG)}
pc=${pc:-pkg-config}
mkdir -p "$tmp/pc"
if [ -f "$build/hfasync.pc" ] && command -v "$pc" >/dev/null 2>&1; then
    sed -e "s|^libdir=.*|libdir=$build/.libs|" -e "s|^includedir=.*|includedir=$src/include|" \
        "$build/hfasync.pc" > "$tmp/pc/hfasync.pc"
    export PKG_CONFIG_PATH="$tmp/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    if ! flags=$($pc --cflags --libs hfasync); then
        echo "FAIL: $pc --cflags --libs hfasync (the build's hfasync.pc)"
        exit 1
    fi
    if [ ! -f "$build/.libs/libhfasync.so" ]; then
        # a static-only build: add what the archive needs
        # shellcheck disable=SC2046
        flags="$flags $($pc --libs $($pc --print-requires-private hfasync)) $(mkvar PTHREAD_LIBS)"
    fi
else
    echo "note: no $pc or no $build/hfasync.pc: linking with -lhfasync alone"
    flags="-I$src/include -L$build/.libs -lhfasync $(mkvar PTHREAD_LIBS)"
fi
# A sanitized library needs its runtime in the program too.
san="$(mkvar SAN_LDFLAGS)"
echo "flags: $flags $san"

linked=0
link_run() { # COMPILER STDFLAG SOURCE
    # shellcheck disable=SC2086
    if ! $1 $2 -Wall -Wextra -Werror -I"$tmp" -o "$tmp/consumer" "$3" $flags $san \
            > "$tmp/log" 2>&1; then
        fail "consumer $(basename "$3"), $1 $2:"
        head -n 30 "$tmp/log"
        return
    fi
    if ! LD_LIBRARY_PATH="$build/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
            "$tmp/consumer" > "$tmp/log" 2>&1; then
        fail "consumer $(basename "$3") built by $1 $2 failed:"
        head -n 30 "$tmp/log"
        return
    fi
    linked=$((linked + 1))
    echo "ok: $1 $2: $(tail -n 1 "$tmp/log")"
}
link_run "$cc" "-std=c11 -Wpedantic" "$tmp/consumer.c"
link_run "$cxx" "-std=c++11 -Wpedantic" "$tmp/consumer.cpp"
link_run "$cxx" "-std=c++17 -Wpedantic" "$tmp/consumer.cpp"

[ $status -eq 0 ] && echo "ok: every header alone as C11, C++11 and C++17; the consumer" \
    "built and ran $linked times"
exit $status
