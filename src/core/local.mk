# src/core: futures, executors, compute pool, I/O pool, timers, blocking-safe wait.
hfinclude_HEADERS += include/hf/error.h include/hf/future.h include/hf/runtime.h
libhfasync_impl_la_SOURCES += \
	src/core/alloc.c src/core/alloc.h \
	src/core/atomics.h \
	src/core/combine.c \
	src/core/compute.c src/core/compute.h \
	src/core/deque.c src/core/deque.h \
	src/core/error.c src/core/errfmt.h \
	src/core/executor.c src/core/executor.h \
	src/core/fork.c \
	src/core/future.c src/core/future_impl.h \
	src/core/injectq.c src/core/injectq.h \
	src/core/io.c src/core/io.h \
	src/core/parklot.c src/core/parklot.h \
	src/core/promise.c \
	src/core/runtime.c src/core/runtime_impl.h \
	src/core/task.h \
	src/core/then.c \
	src/core/thread.c src/core/thread.h \
	src/core/timer.c src/core/timer.h \
	src/core/tls.c src/core/tls.h \
	src/core/wait.c
