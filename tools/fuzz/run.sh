#!/bin/sh
# run.sh TARGET BUILD_DIR FUZZ_SRC_DIR SECONDS [FIXTURE_SEEDS] - run one fuzzer for SECONDS
# over a fresh copy of its seeds (FUZZ_SRC_DIR/corpus/TARGET, plus FIXTURE_SEEDS/TARGET, the
# fixtures' files that fixture-seeds.sh picked) and its past findings
# (FUZZ_SRC_DIR/corpus/regressions/TARGET), in BUILD_DIR/run/TARGET. Prints one line; on a
# finding, the end of libFuzzer's report and the input it saved, and exits non-zero.
set -u
name=$1 build=$2 src=$3 secs=$4 fixtures=${5:-}
work=$build/run/$name
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts" || exit 1
cp "$src/corpus/$name"/* "$work/corpus/" || exit 1
if [ -n "$fixtures" ] && [ -d "$fixtures/$name" ]; then
    find "$fixtures/$name" -type f -exec cp {} "$work/corpus/" \; || exit 1
fi
chmod -R u+w "$work/corpus" || exit 1
set -- "$work/corpus"
if [ -d "$src/corpus/regressions/$name" ]; then set -- "$@" "$src/corpus/regressions/$name"; fi
case $name in
    safetensors|st_index|tokenizer|config) set -- -dict="$src/json.dict" "$@" ;;
    headers) set -- -dict="$src/headers.dict" "$@" ;;
esac
"$build/fuzz_$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$@" >"$work/log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
units=$(ls "$work/corpus" | wc -l)
if [ "$rc" -eq 0 ]; then
    printf 'fuzz_%-12s ok: %s runs in %s s (%s/s), corpus %s inputs\n' \
        "$name" "${runs:-?}" "$secs" "${rate:-?}" "$units"
    exit 0
fi
printf 'fuzz_%-12s FAILED (exit %s) after %s runs; log: %s\n' "$name" "$rc" "${runs:-?}" \
    "$work/log"
grep -v '^stat::\|^#[0-9]' "$work/log" | tail -n 40
ls "$work"/artifacts/* 2>/dev/null | sed 's/^/  input: /'
exit 1
