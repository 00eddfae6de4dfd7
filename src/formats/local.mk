# src/formats: GGUF, safetensors, sharded index, tokenizer/config JSON readers; writers
# of GGUF and safetensors (internal, for tests and fixtures). Depends on cJSON and libc only.
hfinclude_HEADERS += include/hf/formats.h
libhfasync_impl_la_SOURCES += \
	src/formats/arena.c src/formats/arena.h \
	src/formats/buf.c \
	src/formats/bytes.h \
	src/formats/config.c \
	src/formats/dtype.c src/formats/dtype.h \
	src/formats/ferror.c src/formats/ferror.h \
	src/formats/gguf.c src/formats/gguf_impl.h \
	src/formats/gguf_get.c \
	src/formats/gguf_meta.c \
	src/formats/gguf_split.c \
	src/formats/gguf_tensors.c \
	src/formats/gguf_writer.c \
	src/formats/json.c src/formats/json.h \
	src/formats/mapfile.c src/formats/mapfile.h \
	src/formats/safetensors.c \
	src/formats/st_index.c \
	src/formats/st_writer.c \
	src/formats/strmap.c src/formats/strmap.h \
	src/formats/tensor_table.c src/formats/tensor_table.h \
	src/formats/tokenizer.c \
	src/formats/utf8.c src/formats/utf8.h \
	src/formats/writer.h \
	src/formats/wtensors.c
