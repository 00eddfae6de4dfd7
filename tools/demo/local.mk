# tools/demo: hf-demo, the main job (the README's first command). Links the installed
# library (public API only) and runs hf-fixtures and hf-mock-hub as child processes.
noinst_PROGRAMS += tools/hf-demo
tools_hf_demo_SOURCES = \
	tools/common/child.c tools/common/child.h \
	tools/demo/kernel.c tools/demo/kernel.h \
	tools/demo/main.c \
	tools/demo/ui.c tools/demo/ui.h
tools_hf_demo_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools \
	-DHF_SRCDIR='"$(abs_top_srcdir)"' -DHF_BUILDDIR='"$(abs_top_builddir)"'
tools_hf_demo_LDADD = libhfasync.la $(PTHREAD_LIBS) -lm
