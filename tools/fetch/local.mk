# tools/fetch: hf-fetch, the command-line tool (installed).
bin_PROGRAMS += tools/hf-fetch
tools_hf_fetch_SOURCES = \
	tools/fetch/fetch.h \
	tools/fetch/main.c \
	tools/fetch/progress.c \
	tools/fetch/cmd_download.c \
	tools/fetch/local_offline.c \
	tools/fetch/cmd_repo.c \
	tools/fetch/cmd_cache.c \
	tools/fetch/cmd_model.c
tools_hf_fetch_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
tools_hf_fetch_LDADD = libhfasync.la $(CJSON_LIBS) $(PTHREAD_LIBS)
