/*
 * Integration test kit, internals shared by harness.c, harness_proc.c and
 * harness_http.c.  Suites include harness.h only: what is here may change
 * with the kit and is no part of its interface.
 */
#ifndef TESTS_SUPPORT_HARNESS_INT_H
#define TESTS_SUPPORT_HARNESS_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "tests/support/harness.h"

/* Milliseconds left until deadline (harness_now_ms() time), never < 0. */
static inline int
harness_left_ms(int64_t deadline)
{
	int64_t d = deadline - harness_now_ms();

	return d < 0 ? 0 : (int)d;
}

/* Non-blocking connect to 127.0.0.1:port bounded by timeout_ms; the fd
 * comes back blocking, with send timeouts.  The fd, or -1. */
int harness_connect_port(int port, int timeout_ms);

/* fork + exec argv with the given stdio; the child dies with the test.
 * The pid, or -1. */
pid_t harness_spawn(const char *const *argv, int in, int out, int err);
/* waitpid bounded by timeout_ms: the status, or -1 if still running. */
int harness_wait_bounded(pid_t pid, int timeout_ms);
/* SIGKILL and reap: for children that must not outlive a test. */
void harness_kill_reap(pid_t pid);

#endif
