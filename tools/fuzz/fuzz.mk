# tools/fuzz/fuzz.mk - build and run the libFuzzer targets with clang. GNU make; `make fuzz`
# (tools/fuzz/local.mk) calls it with the variables below, from any configured tree, gcc or
# clang alike: everything here is compiled again by $(CLANG) with the fuzzing flags, the
# library's sources included, so that every object the fuzzers run is instrumented.
#
#   top_srcdir, top_builddir   absolute; config.h comes from top_builddir
#   FUZZ_LIB_SOURCES           the library's .c files, relative to top_srcdir
#   FUZZ_TARGETS               the targets to build and run (tools/fuzz/fuzz_<target>.c)
#   FUZZ_SECONDS               seconds each target runs (60)
#   HF_FIXTURES                the built tools/hf-fixtures, which writes the seeds' fixtures
#   WARN_CFLAGS, CJSON_*, CURL_*, CRYPTO_* as configure found them
#
# Goals: build (the fuzzers, in $(FUZZ_DIR)), run (each target over a fresh copy of its
# seeds, the committed ones and those of the test fixtures (fixture-seeds.sh); non-zero if
# any finds a crash, a leak, a timeout or runs out of memory).

CLANG = clang
FUZZ_SECONDS = 60
FUZZ_DIR = $(top_builddir)/tools/fuzz/build
SEEDS_DIR = $(FUZZ_DIR)/fixture-seeds
FUZZ_SAN = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -std=c11 -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) $(WARN_CFLAGS) -pthread
FUZZ_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/src -I$(top_builddir) \
	-D_POSIX_C_SOURCE=200809L -DHF_SANITIZE=1 -DHFZ_LIBFUZZER \
	$(CJSON_CFLAGS) $(CURL_CFLAGS) $(CRYPTO_CFLAGS)
FUZZ_LIBS = $(CJSON_LIBS) $(CURL_LIBS) $(CRYPTO_LIBS) -pthread

LIB_OBJS = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(filter %.c,$(FUZZ_LIB_SOURCES)))
FUZZERS = $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))

build: $(FUZZERS)

run: $(addprefix run-,$(FUZZ_TARGETS))

$(FUZZ_DIR)/obj/%.o: $(top_srcdir)/%.c $(top_builddir)/config.h
	@mkdir -p $(@D)
	@echo "  CLANG    $*.c"
	@$(CLANG) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/libhfasync-fuzz.a: $(LIB_OBJS)
	@rm -f $@
	@echo "  AR       $(@F)"
	@ar rcs $@ $(LIB_OBJS)

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tools/fuzz/fuzz_%.o $(FUZZ_DIR)/libhfasync-fuzz.a
	@echo "  CLANGLD  $(@F)"
	@$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_DIR)/libhfasync-fuzz.a $(FUZZ_LIBS)

# The fixtures' seeds, written again whenever hf-fixtures is rebuilt.
$(SEEDS_DIR)/stamp: $(HF_FIXTURES) $(top_srcdir)/tools/fuzz/fixture-seeds.sh
	@echo "  SEEDS    hf-fixtures"
	@sh $(top_srcdir)/tools/fuzz/fixture-seeds.sh $(HF_FIXTURES) $(SEEDS_DIR)
	@touch $@

run-%: $(FUZZ_DIR)/fuzz_% $(SEEDS_DIR)/stamp FORCE
	@sh $(top_srcdir)/tools/fuzz/run.sh $* $(FUZZ_DIR) $(top_srcdir)/tools/fuzz $(FUZZ_SECONDS) \
	    $(SEEDS_DIR)

FORCE:
.PHONY: build run FORCE
.SECONDARY:

-include $(LIB_OBJS:.o=.d) $(patsubst %,$(FUZZ_DIR)/obj/tools/fuzz/fuzz_%.d,$(FUZZ_TARGETS))
