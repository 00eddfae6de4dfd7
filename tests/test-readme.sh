#!/bin/sh
# test-readme.sh - the C example that README.md shows is tests/cli/readme_example.c (the
# part between its README-BEGIN and README-END markers), which the build compiles and
# check_fetch_cli runs: the README's copy cannot drift from code that works.
set -u
src=${HF_TOP_SRCDIR:-.}
tmp=${TMPDIR:-/tmp}/hfasync-readme.$$
trap 'rm -f "$tmp.c" "$tmp.md"' EXIT

sed -n '/^\/\* README-BEGIN \*\/$/,/^\/\* README-END \*\/$/p' "$src/tests/cli/readme_example.c" |
    sed '1d;$d' > "$tmp.c"
sed -n '/^<!-- tests\/cli\/readme_example.c -->$/,/^```$/p' "$src/README.md" |
    sed '1,2d;$d' > "$tmp.md"
if [ ! -s "$tmp.c" ] || [ ! -s "$tmp.md" ]; then
    echo "FAIL: the example (markers in readme_example.c) or its README copy is missing"
    exit 1
fi
if ! diff -u "$tmp.c" "$tmp.md"; then
    echo "FAIL: README.md's C example differs from tests/cli/readme_example.c (diff above)"
    exit 1
fi
echo "ok: README.md quotes tests/cli/readme_example.c ($(wc -l < "$tmp.c") lines)"
