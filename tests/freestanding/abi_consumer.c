/* SPDX-License-Identifier: MIT */
/*
 * An object of a program that uses the library: built with the library's
 * TLBB_MAX_CPUS it links, built with another it must not (tlbbatch.h's ABI
 * guard), since its struct tlbb_space and masks would have other sizes.
 */
#include <tlbbatch/port.h>
#include <tlbbatch/tlbbatch.h>

/* A statically bound archive holds the backend, which needs the port. */
unsigned tlbb_port_cpu_id(void)
{
	return 0;
}

void tlbb_port_ipi_send_and_wait(const tlbb_cpumask_t *targets, void (*fn)(void *), void *arg)
{
	(void)targets;
	(void)fn;
	(void)arg;
}

void tlbb_port_debug_fail(const char *what)
{
	(void)what;
}

int main(void)
{
	struct tlbb_batch b;

	tlbb_batch_init(&b);
	return tlbb_batch_pending(&b) ? 1 : 0;
}
