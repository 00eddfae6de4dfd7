# tests/core: one Check suite per concept of src/core.
CORE_TESTS = \
	tests/core/check_future

check_PROGRAMS += $(CORE_TESTS)
TESTS += $(CORE_TESTS)
EXTRA_DIST += tests/common/testutil.h

tests_core_check_future_SOURCES = tests/core/check_future.c
tests_core_check_future_CFLAGS = $(TEST_CFLAGS)
tests_core_check_future_LDADD = $(TEST_LIBS)
