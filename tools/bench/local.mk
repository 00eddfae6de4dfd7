# tools/bench: hf-bench, side-by-side benchmarks.
