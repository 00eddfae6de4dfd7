# src/models: the five model modules (recipes of files) and the shared load machinery.
hfinclude_HEADERS += include/hf/model.h
libhfasync_impl_la_SOURCES += \
	src/models/gte.c \
	src/models/kimi.c \
	src/models/load.c \
	src/models/model.c src/models/model_impl.h \
	src/models/phi4.c \
	src/models/sd35.c \
	src/models/stella.c \
	src/models/steps.c
