# tools/bench: hf-bench, side-by-side benchmarks of hfasync against oneTBB, GLib and libuv.
# Each competitor is compiled in only when configure found it; hf-bench links the installed
# library (libhfasync.la) and so sees only the public API.
noinst_PROGRAMS += tools/hf-bench
tools_hf_bench_SOURCES = \
	tools/bench/bench.h \
	tools/bench/hf-bench.c \
	tools/bench/core_hfasync.c \
	tools/bench/malloc_count.c
tools_hf_bench_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(LIBUV_CFLAGS)
tools_hf_bench_CXXFLAGS = $(AM_CXXFLAGS) $(TBB_CFLAGS)
tools_hf_bench_LDADD = libhfasync.la $(TBB_LIBS) $(GLIB_LIBS) $(LIBUV_LIBS) $(PTHREAD_LIBS)
if HAVE_TBB
tools_hf_bench_SOURCES += tools/bench/core_tbb.cpp
endif
if HAVE_GLIB
tools_hf_bench_SOURCES += tools/bench/core_glib.c
endif
if HAVE_LIBUV
tools_hf_bench_SOURCES += tools/bench/core_libuv.c
endif
