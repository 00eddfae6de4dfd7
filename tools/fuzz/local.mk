# tools/fuzz: libFuzzer targets for the format readers and the Hub's header, name, URL and
# glob parsers (tools/fuzz/README.md). `make fuzz FUZZ_SECONDS=N` builds them with clang
# (tools/fuzz/fuzz.mk) and runs each for N seconds, failing on any finding; `make check`
# replays their corpora through tests/formats/check_regressions.
FUZZ_SECONDS = 60
FUZZ_TARGETS = gguf safetensors st_index tokenizer config headers names url glob
FUZZ_TARGET_SOURCES = \
	tools/fuzz/fuzz.h \
	tools/fuzz/fuzz_gguf.c \
	tools/fuzz/fuzz_safetensors.c \
	tools/fuzz/fuzz_st_index.c \
	tools/fuzz/fuzz_tokenizer.c \
	tools/fuzz/fuzz_config.c \
	tools/fuzz/fuzz_headers.c \
	tools/fuzz/fuzz_names.c \
	tools/fuzz/fuzz_url.c \
	tools/fuzz/fuzz_glob.c
EXTRA_DIST += tools/fuzz/README.md tools/fuzz/fuzz.mk tools/fuzz/run.sh \
	tools/fuzz/fixture-seeds.sh tools/fuzz/json.dict tools/fuzz/headers.dict tools/fuzz/corpus

# The seed writer, built on demand by `make fuzz-seeds`.
EXTRA_PROGRAMS = tools/fuzz/gen-seeds
tools_fuzz_gen_seeds_SOURCES = tools/fuzz/gen-seeds.c
tools_fuzz_gen_seeds_LDADD = libhfasync_impl.la $(CJSON_LIBS) $(PTHREAD_LIBS)

FUZZ_MAKE = $(MAKE) -f '$(abs_top_srcdir)/tools/fuzz/fuzz.mk' \
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	FUZZ_LIB_SOURCES='$(libhfasync_impl_la_SOURCES)' FUZZ_TARGETS='$(FUZZ_TARGETS)' \
	FUZZ_SECONDS='$(FUZZ_SECONDS)' HF_FIXTURES='$(abs_top_builddir)/tools/hf-fixtures$(EXEEXT)' \
	WARN_CFLAGS='$(WARN_CFLAGS)' \
	CJSON_CFLAGS='$(CJSON_CFLAGS)' CJSON_LIBS='$(CJSON_LIBS)' \
	CURL_CFLAGS='$(CURL_CFLAGS)' CURL_LIBS='$(CURL_LIBS)' \
	CRYPTO_CFLAGS='$(CRYPTO_CFLAGS)' CRYPTO_LIBS='$(CRYPTO_LIBS)'

# -k: every target runs even after one has failed, so one run reports every finding.
fuzz: tools/hf-fixtures$(EXEEXT)
	+@$(FUZZ_MAKE) build
	+@$(FUZZ_MAKE) -k run
fuzz-build:
	+@$(FUZZ_MAKE) build
fuzz-seeds: tools/fuzz/gen-seeds$(EXEEXT)
	./tools/fuzz/gen-seeds$(EXEEXT) '$(srcdir)/tools/fuzz/corpus'
clean-local:
	-rm -rf tools/fuzz/build
.PHONY: fuzz fuzz-build fuzz-seeds
