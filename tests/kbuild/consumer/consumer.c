/* SPDX-License-Identifier: MIT */
/*
 * The program the build-fragment tests (tests/kbuild) build with make and
 * with CMake from the fragments' source lists and flags: the core plus the
 * host's hardware backend, linked, and run against a counting backend (the
 * hardware one needs ring 0, so it is linked but not called).
 *
 * The fragments are configured with TLBB_MAX_CPUS=128 and a types header of
 * our own; both must reach this file, or it fails to build or to pass.
 */
#include <stdio.h>
#include <stdlib.h>

#include <tlbbatch/backend.h>
#include <tlbbatch/port.h>
#if defined(__x86_64__)
#include <tlbbatch/x86_64.h>
#define HW_SYMBOL ((void (*)(void))tlbb_x86_switch_space)
#elif defined(__aarch64__)
#include <tlbbatch/arm64.h>
#define HW_SYMBOL ((void (*)(void))tlbb_arm64_init)
#else
#define HW_SYMBOL ((void (*)(void))0)
#endif

#ifndef CONSUMER_TYPES_HEADER_USED
#error "the fragment did not pass TLBB_TYPES_HEADER"
#endif

/* The backends' port hooks (tlbbatch/port.h). Nothing here calls them. */
unsigned tlbb_port_cpu_id(void)
{
	return 0;
}

void tlbb_port_ipi_send_and_wait(const tlbb_cpumask_t *targets, void (*fn)(void *), void *arg)
{
	(void)targets;
	fn(arg);
}

void tlbb_port_debug_fail(const char *what)
{
	fprintf(stderr, "debug check failed: %s\n", what);
	abort();
}

static unsigned adds, flushes;

static bool c_defer(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	(void)be;
	(void)s;
	return true;
}

static void c_add(const struct tlbb_backend *be, struct tlbb_batch *b, struct tlbb_space *s,
		  uint64_t start, uint64_t end, unsigned flags)
{
	(void)be;
	(void)b;
	(void)s;
	(void)start;
	(void)end;
	(void)flags;
	adds++;
}

static void c_flush(const struct tlbb_backend *be, struct tlbb_batch *b)
{
	(void)be;
	(void)b;
	flushes++;
}

static void c_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
	(void)be;
	(void)s;
	flushes++;
}

int main(void)
{
	static const struct tlbb_backend be = {
		.name = "count",
		.should_defer = c_defer,
		.add = c_add,
		.flush = c_flush,
		.flush_space = c_flush_space,
	};
	struct tlbb_space s;
	struct tlbb_batch b;
	void (*volatile hw)(void) = HW_SYMBOL; /* keeps the backend in the link */

	if (sizeof(tlbb_cpumask_t) != 16) {
		printf("FAIL: TLBB_MAX_CPUS=128 did not reach the consumer\n");
		return 1;
	}
	if (tlbb_space_init(&s, &be, 1, NULL) != TLBB_OK)
		return 1;
	tlbb_batch_init(&b);
	for (uint64_t va = 0x10000; va < 0x13000; va += 0x1000)
		tlbb_add_page(&b, &s, va, TLBB_ADD_WRITABLE);
	tlbb_flush(&b);
	/* The batch is done; the space stays "pending" until a race check. */
	if (!tlbb_flush_pending(&s))
		return 1;
	printf("consumer: %u adds, %u flushes (batch + race check), pending %d, hw backend at %p\n",
	       adds, flushes, tlbb_space_has_pending(&s), (void *)(uintptr_t)hw);
	return adds == 3 && flushes == 2 && !tlbb_space_has_pending(&s) ? 0 : 1;
}
