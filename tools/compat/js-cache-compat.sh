#!/bin/sh
# js-cache-compat.sh - check that hfasync's cache is byte-compatible with the one the official
# JavaScript client (@huggingface/hub, npm) writes, on a repo served by tools/mock-hub.
#
# Design notes: not part of `make check` (it needs the npm registry). This script only sets
# the stage: it installs the pinned @huggingface/hub into a temporary folder, makes a small
# repo (text, LFS binaries, nested folders, a name with a space; an empty file in a second
# repo), starts hf-mock-hub on loopback and hands everything to js-cache-compat.mjs, which runs both
# clients, compares the caches and prints the verdict. Exit status: 0 everything matches,
# 1 differences (listed), 2 the stage could not be set (npm, build, mock).
#
# usage: tools/compat/js-cache-compat.sh [BUILDDIR]
#   BUILDDIR  the build folder that holds tools/hf-fetch (default: $HF_TOP_BUILDDIR, else .)
# environment: HFJS_VERSION (default 2.17.5), KEEP=1 keeps the temporary folder.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${1:-${HF_TOP_BUILDDIR:-.}}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "js-cache-compat: no build folder $1" >&2; exit 2; }
fetch="$build/tools/hf-fetch"
version=${HFJS_VERSION:-2.17.5}

for tool in node npm python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "js-cache-compat: needs $tool" >&2; exit 2; }
done
[ -x "$fetch" ] || { echo "js-cache-compat: no $fetch (build hfasync first)" >&2; exit 2; }

work=$(mktemp -d /tmp/js-cache-compat-XXXXXX) || exit 2
mock_pid=
cleanup() {
    if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null; wait "$mock_pid" 2>/dev/null; fi
    if [ "${KEEP:-0}" = 1 ]; then echo "js-cache-compat: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

# 1. the JS client, pinned
echo "== installing @huggingface/hub@$version into $work/npm"
if ! npm install --prefix "$work/npm" --no-audit --no-fund --loglevel=error \
        "@huggingface/hub@$version" >"$work/npm.log" 2>&1; then
    cat "$work/npm.log" >&2
    echo "js-cache-compat: npm install failed" >&2
    exit 2
fi
got=$(node -p "require('$work/npm/node_modules/@huggingface/hub/package.json').version")
echo "@huggingface/hub version: $got (node $(node --version))"

# 2. the repos: LFS from 64 KiB on; model.bin and nested/deep/weights.bin are over it
repo=compat-org/compat-model
rdir="$work/root/models/$repo"
mkdir -p "$rdir/nested/deep" "$rdir/docs" || exit 2
python3 - "$rdir" <<'EOF' || exit 2
import hashlib, json, os, sys
d = sys.argv[1]
def put(p, b):
    with open(os.path.join(d, p), "wb") as f:
        f.write(b)
def prng(seed, n):              # deterministic bytes: the same repo (and commit) every run
    out, i = bytearray(), 0
    while len(out) < n:
        out += hashlib.sha256(b"%s-%d" % (seed, i)).digest()
        i += 1
    return bytes(out[:n])
put(".mockhub.json", json.dumps({"lfs_threshold": 65536, "date": "2024-01-01T00:00:00.000Z"}).encode())
put(".gitattributes", b"*.bin filter=lfs diff=lfs merge=lfs -text\n")
put("README.md", b"---\nlicense: mit\n---\n# compat-model\n\nA repo for the cache check.\n")
put("config.json", b'{"model_type": "compat", "hidden_size": 8}\n')
put("model.bin", prng(b"model", 300000))
put("nested/tokenizer.json", b'{"version": "1.0", "model": {"type": "BPE"}}\n')
put("nested/deep/weights.bin", prng(b"weights", 70001))
put("docs/read me.txt", "spaces and unicode: caf\u00e9\n".encode())
# a second repo for an empty file (the JS client's size probe cannot handle one, see the .mjs)
e = os.path.join(os.path.dirname(d), "compat-empty")
os.makedirs(e)
with open(os.path.join(e, "empty.txt"), "wb"):
    pass
with open(os.path.join(e, "keep.txt"), "wb") as f:
    f.write(b"not empty\n")
EOF

# 3. the mock
python3 "$top/tools/mock-hub/hf-mock-hub" --root "$work/root" --port 0 --cdn-port 0 \
    >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
i=0
while ! grep -q '^listening ' "$work/mock.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$mock_pid" 2>/dev/null; then
        cat "$work/mock.err" >&2
        echo "js-cache-compat: hf-mock-hub did not start" >&2
        exit 2
    fi
    sleep 0.1
done
hub=$(awk '/^listening /{print $2; exit}' "$work/mock.out")
echo "mock hub: $hub (repo $repo)"

# 4. the comparison proper
NODE_PATH="$work/npm/node_modules" node "$here/js-cache-compat.mjs" \
    --work "$work" --hub "$hub" --repo "$repo" --src "$rdir" --empty-repo compat-org/compat-empty --fetch "$fetch" \
    --hfjs "$work/npm/node_modules/@huggingface/hub"
rc=$?
exit $rc
