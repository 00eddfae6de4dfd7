# src/hub: the Hub client: names, headers, hashes, cache, transfer engine, downloads.
hfinclude_HEADERS += include/hf/hub.h
libhfasync_impl_la_SOURCES += \
	src/hub/api.c \
	src/hub/blob.c src/hub/blob.h src/hub/blob_impl.h src/hub/blob_fetch.c \
	src/hub/blob_single.c src/hub/blob_ranges.c \
	src/hub/cache.c src/hub/cache.h src/hub/cache_remove.c \
	src/hub/cachewalk.c src/hub/cachewalk.h \
	src/hub/callgate.c src/hub/callgate.h \
	src/hub/config.c \
	src/hub/copy.c src/hub/copy.h \
	src/hub/download.c \
	src/hub/engine.c src/hub/engine.h \
	src/hub/glob.c src/hub/glob.h \
	src/hub/hash.c src/hub/hash.h \
	src/hub/headers.c src/hub/headers.h \
	src/hub/hub.c src/hub/hub_impl.h \
	src/hub/names.c src/hub/names.h \
	src/hub/poller.c src/hub/poller.h \
	src/hub/writeback.c src/hub/writeback.h \
	src/hub/scan.c \
	src/hub/snapshot.c
