# src/formats: GGUF, safetensors, sharded index, tokenizer/config JSON readers.
