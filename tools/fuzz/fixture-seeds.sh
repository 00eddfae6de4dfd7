#!/bin/sh
# fixture-seeds.sh HF_FIXTURES OUTDIR - seeds from the test fixtures. Runs HF_FIXTURES (the
# built tools/hf-fixtures) into OUTDIR/tree, then copies every file of it that a fuzz target
# reads and that is at most 64 KiB (larger seeds only slow libFuzzer down) into
# OUTDIR/<target>/, named for its path in the tree. tools/fuzz/run.sh adds OUTDIR/<target>/
# to the target's fresh corpus, next to the committed seeds of tools/fuzz/corpus/<target>/.
set -eu
tool=$1 out=$2
rm -rf "$out"
mkdir -p "$out/tree" "$out/gguf" "$out/safetensors" "$out/st_index" "$out/tokenizer" \
    "$out/config"
"$tool" "$out/tree" >/dev/null
find "$out/tree" -type f -size -65537c | while read -r f; do
    case $f in
        */.mockhub.json) continue ;;    # hf-mock-hub's settings, not a file of the repo
        *.gguf) t=gguf ;;
        *.safetensors) t=safetensors ;;
        *.safetensors.index.json) t=st_index ;;
        *tokenizer.json) t=tokenizer ;;
        *.json) t=config ;;
        *) continue ;;
    esac
    cp "$f" "$out/$t/$(printf '%s' "${f#"$out"/tree/}" | tr / _)"
done
