# src/formats: GGUF, safetensors, sharded index, tokenizer/config JSON readers; writers
# of GGUF and safetensors (internal, for tests and fixtures). Depends on cJSON and libc only.
hfinclude_HEADERS += include/hf/formats.h
