# tests/formats: Check suites of the format readers and writers.
FORMATS_TESTS = \
	tests/formats/check_complexity \
	tests/formats/check_config \
	tests/formats/check_contract_formats \
	tests/formats/check_gguf \
	tests/formats/check_gguf_corrupt \
	tests/formats/check_gguf_split \
	tests/formats/check_regressions \
	tests/formats/check_safetensors \
	tests/formats/check_safetensors_corrupt \
	tests/formats/check_st_index \
	tests/formats/check_strmap \
	tests/formats/check_tokenizer \
	tests/formats/check_utf8 \
	tests/formats/check_writer

check_PROGRAMS += $(FORMATS_TESTS)
TESTS += $(FORMATS_TESTS)
EXTRA_DIST += tests/formats/fmtutil.h

tests_formats_check_complexity_SOURCES = tests/formats/check_complexity.c
tests_formats_check_complexity_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_complexity_LDADD = $(TEST_LIBS)

tests_formats_check_config_SOURCES = tests/formats/check_config.c
tests_formats_check_config_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_config_LDADD = $(TEST_LIBS)

tests_formats_check_contract_formats_SOURCES = tests/formats/check_contract_formats.c
tests_formats_check_contract_formats_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_contract_formats_LDADD = $(TEST_LIBS)

tests_formats_check_gguf_SOURCES = tests/formats/check_gguf.c
tests_formats_check_gguf_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_gguf_LDADD = $(TEST_LIBS)

tests_formats_check_gguf_corrupt_SOURCES = tests/formats/check_gguf_corrupt.c
tests_formats_check_gguf_corrupt_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_gguf_corrupt_LDADD = $(TEST_LIBS)

tests_formats_check_gguf_split_SOURCES = tests/formats/check_gguf_split.c
tests_formats_check_gguf_split_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_gguf_split_LDADD = $(TEST_LIBS)

# the fuzz targets' corpora, replayed through the targets themselves (tools/fuzz)
tests_formats_check_regressions_SOURCES = tests/formats/check_regressions.c $(FUZZ_TARGET_SOURCES)
tests_formats_check_regressions_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools/fuzz
tests_formats_check_regressions_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_regressions_LDADD = $(TEST_LIBS)

tests_formats_check_safetensors_SOURCES = tests/formats/check_safetensors.c
tests_formats_check_safetensors_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_safetensors_LDADD = $(TEST_LIBS)

tests_formats_check_safetensors_corrupt_SOURCES = tests/formats/check_safetensors_corrupt.c
tests_formats_check_safetensors_corrupt_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_safetensors_corrupt_LDADD = $(TEST_LIBS)

tests_formats_check_st_index_SOURCES = tests/formats/check_st_index.c
tests_formats_check_st_index_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_st_index_LDADD = $(TEST_LIBS)

tests_formats_check_strmap_SOURCES = tests/formats/check_strmap.c
tests_formats_check_strmap_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_strmap_LDADD = $(TEST_LIBS)

tests_formats_check_tokenizer_SOURCES = tests/formats/check_tokenizer.c
tests_formats_check_tokenizer_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_tokenizer_LDADD = $(TEST_LIBS)

tests_formats_check_utf8_SOURCES = tests/formats/check_utf8.c
tests_formats_check_utf8_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_utf8_LDADD = $(TEST_LIBS)

tests_formats_check_writer_SOURCES = tests/formats/check_writer.c
tests_formats_check_writer_CFLAGS = $(TEST_CFLAGS)
tests_formats_check_writer_LDADD = $(TEST_LIBS)
