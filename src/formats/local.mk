# src/formats: GGUF, safetensors, sharded index, tokenizer/config JSON readers; writers
# of GGUF and safetensors (internal, for tests and fixtures). Depends on cJSON and libc only.
hfinclude_HEADERS += include/hf/formats.h
libhfasync_impl_la_SOURCES += \
	src/formats/arena.c src/formats/arena.h \
	src/formats/bytes.h \
	src/formats/ferror.c src/formats/ferror.h \
	src/formats/mapfile.c src/formats/mapfile.h \
	src/formats/strmap.c src/formats/strmap.h \
	src/formats/utf8.c src/formats/utf8.h
