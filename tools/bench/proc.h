/*
 * proc.h - child processes for hf-bench's download and models suites: start one with its
 * output redirected, wait for it with a limit, stop it, find a program, read what a
 * command prints, and pick a free loopback port.
 */
#ifndef HF_BENCH_PROC_H
#define HF_BENCH_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* fork + exec argv (PATH searched) with stdin from /dev/null, stdout to out_fd and stderr
 * to err_fd; on Linux the child gets SIGTERM if hf-bench dies. The pid, or -1. */
pid_t proc_spawn(char *const argv[], int out_fd, int err_fd);
/* Wait for `pid` at most timeout_ms; its wait status, or -1 if it is still running. */
int proc_wait(pid_t pid, unsigned timeout_ms);
/* SIGTERM, then SIGKILL after 10 s; reaps it and sets *pid to -1 (nothing if <= 0). */
void proc_stop(pid_t *pid);
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
