# tools/bench: hf-bench, side-by-side benchmarks of hfasync: `core` against oneTBB, GLib and
# libuv (each compiled in only when configure found it), `download` against the curl and
# aria2c command lines over hf-mock-hub and nginx (found at run time). hf-bench links the
# installed library (libhfasync.la) and so sees only the public API; the download suite
# uses libcurl itself for the naive side and to talk to the mock.
noinst_PROGRAMS += tools/hf-bench
tools_hf_bench_SOURCES = \
	tools/bench/bench.h \
	tools/bench/hf-bench.c \
	tools/bench/core_hfasync.c \
	tools/bench/malloc_count.c \
	tools/bench/dl.h \
	tools/bench/download.c \
	tools/bench/dl_data.c \
	tools/bench/dl_serve.c \
	tools/bench/nginx.c tools/bench/nginx.h \
	tools/bench/proc.c tools/bench/proc.h \
	tools/bench/dl_transfer.c \
	tools/bench/dl_isolation.c \
	tools/bench/models.c \
	tools/common/child.c tools/common/child.h \
	tools/demo/kernel.c tools/demo/kernel.h
tools_hf_bench_CPPFLAGS = $(AM_CPPFLAGS) -DHF_BENCH_SRCDIR='"$(abs_top_srcdir)"' \
	-I$(top_srcdir)/tools -DHF_SRCDIR='"$(abs_top_srcdir)"' -DHF_BUILDDIR='"$(abs_top_builddir)"'
tools_hf_bench_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(LIBUV_CFLAGS) $(CURL_CFLAGS)
tools_hf_bench_CXXFLAGS = $(AM_CXXFLAGS) $(TBB_CFLAGS)
tools_hf_bench_LDADD = libhfasync.la $(TBB_LIBS) $(GLIB_LIBS) $(LIBUV_LIBS) $(CURL_LIBS) $(PTHREAD_LIBS) -lm
if HAVE_TBB
tools_hf_bench_SOURCES += tools/bench/core_tbb.cpp
endif
if HAVE_GLIB
tools_hf_bench_SOURCES += tools/bench/core_glib.c
endif
if HAVE_LIBUV
tools_hf_bench_SOURCES += tools/bench/core_libuv.c
endif
