/*
 * proc.h - child processes for hf-bench's download and models suites, beside what
 * common/child.h gives every tool (spawn, wait with a limit, stop): find a program, read
 * what a command prints, and pick a free loopback port.
 */
#ifndef HF_BENCH_PROC_H
#define HF_BENCH_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "common/child.h"

/* The absolute path of program `name` (PATH, then the sbin folders) into buf; 0 or -1. */
int proc_which(const char *name, char *buf, size_t size);
/* Everything argv prints (stdout and stderr) into buf, NUL-terminated ("" if it cannot
 * run). */
void proc_capture(char *const argv[], char *buf, size_t size);
/* The first line `argv` prints, trimmed; "" if it cannot run. */
void proc_first_line(char *const argv[], char *buf, size_t size);
/* A loopback TCP port that was free a moment ago, or -1. */
int proc_free_port(void);
/* 1 if something accepts connections on loopback `port`. */
int proc_port_open(int port);
void proc_sleep_ms(unsigned ms);

#endif /* HF_BENCH_PROC_H */
