/* SPDX-License-Identifier: MIT */
/*
 * The port hooks the x86-64 backend links against, for a user-space
 * benchmark. Every thread claims to be CPU 0 and the spaces' masks name
 * CPUs 1-3 only, so adds and flushes never run the backend's local flush
 * (its privileged instructions). The remote CPUs do not exist: the IPI
 * round returns at once, as the Linux baseline's stub does.
 */
#include <stdio.h>
#include <stdlib.h>

#include <tlbbatch/port.h>

unsigned tlbb_port_cpu_id(void)
{
	return 0;
}

__attribute__((noinline)) void tlbb_port_ipi_send_and_wait(const tlbb_cpumask_t *targets,
							   void (*fn)(void *arg), void *arg)
{
	__asm__ volatile("" : : "r"(targets), "r"(fn), "r"(arg) : "memory");
}

void tlbb_port_debug_fail(const char *what)
{
	fprintf(stderr, "tlbb_port_debug_fail: %s\n", what);
	abort();
}
