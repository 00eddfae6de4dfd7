#!/bin/sh
# test-demo.sh - hf-demo, the README's first command, end to end at a small size (1 MiB
# weight files, a 20 MB/s CDN): it exits 0, its last line is the JSON object the README
# promises (five models, 24 files of which 21 downloaded during the load and stella's 3
# taken from the cache its warm-up filled, no libcurl call on a compute thread), plain
# lines tell files of different repos apart (sd35's two tokenizer.json), and on a terminal
# it draws progress bars and still ends with the JSON line.
set -u
top=${HF_TOP_BUILDDIR:-.}
demo="$top/tools/hf-demo"
tmp=${TMPDIR:-/tmp}/hfasync-demo.$$
trap 'rm -f "$tmp.out" "$tmp.tty"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$demo" --scale 1 --throttle-bps 20000000 --idle-seconds 0.3 > "$tmp.out" 2>&1 ||
    { tail -n 30 "$tmp.out"; fail "hf-demo exited $?"; }
python3 - "$tmp.out" <<'PY' || exit 1
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
j = json.loads(lines[-1])
want = {"models_loaded": 5, "files": 24, "downloaded_files": 21,
        "transfers_on_compute_threads": 0}
for k, v in want.items():
    if j.get(k) != v:
        sys.exit("FAIL: %s is %r, want %r in %s" % (k, j.get(k), v, lines[-1]))
if not (j["bytes"] > j["downloaded_bytes"] > 0 and 0 < j["compute_ratio_during_downloads"]):
    sys.exit("FAIL: bytes, downloaded_bytes or the ratio: " + lines[-1])
for repo in ("openai/clip-vit-large-patch14", "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k"):
    if not any("sd35-turbo" in l and repo + "/tokenizer.json" in l and l.endswith("done")
               for l in lines):
        sys.exit("FAIL: no plain line for %s/tokenizer.json" % repo)
if any("\x1b[" in l for l in lines):
    sys.exit("FAIL: escape sequences in plain output")
print("ok: plain run:", lines[-1])
PY

python3 - "$demo" "$tmp.tty" <<'PY' || exit 1
import os, pty, subprocess, sys, json
master, slave = pty.openpty()
p = subprocess.Popen([sys.argv[1], "--scale", "1", "--throttle-bps", "20000000",
                      "--idle-seconds", "0.3"], stdout=slave, stderr=subprocess.DEVNULL,
                     close_fds=True)
os.close(slave)
out = b""
while True:
    try:
        b = os.read(master, 65536)
    except OSError:
        break
    if not b:
        break
    out += b
rc = p.wait()
open(sys.argv[2], "wb").write(out)
text = out.decode("utf-8", "replace")
if rc != 0:
    sys.exit("FAIL: hf-demo on a terminal exited %d" % rc)
if "\x1b[" not in text or "MiB/s" not in text:
    sys.exit("FAIL: no progress bars on a terminal")
last = text.replace("\r", "").rstrip("\n").split("\n")[-1]
if json.loads(last).get("models_loaded") != 5:
    sys.exit("FAIL: last line on a terminal: " + last)
print("ok: terminal run draws bars and ends with the JSON line")
PY
