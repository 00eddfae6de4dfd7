# tools: hf-bench.
