/* SPDX-License-Identifier: MIT */
/*
 * Threaded stress on the sim: a reclaimer, user CPUs and a racing
 * mprotect/zap changer, all at once, for a bounded time. The protocol must
 * give zero stale accesses; each negative control removes one step and must
 * be caught (it runs until the first stale access, bounded by a timeout).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../../examples/reclaim/workload.h"

/*
 * One stress for the protocol and its negative controls: the same CPUs,
 * pages, batch size, seed and flush delay (300 us: the window in which a
 * batched entry stays stale), so that a pass means the protocol held under
 * the very stress that makes each control fail. Only the length differs: a
 * control stops at its first stale access (0.3 s at most here, 2026-12),
 * within a 20 s bound; the protocol runs its full POSITIVE_MS, many times
 * the longest any control needed.
 */
#define FLUSH_DELAY_US 300
#define POSITIVE_MS 5000
#define CONTROL_MAX_MS 20000

static struct workload_result run(enum tlbb_sim_model model, bool race_check, unsigned faults,
				  bool expect_stale)
{
	struct workload_config cfg = {
		.model = model,
		.ncpus = 4,
		.npages = 64,
		.batch = 16,
		.pages = UINT64_MAX,
		.max_ms = expect_stale ? CONTROL_MAX_MS : POSITIVE_MS,
		.changer = true,
		.race_check = race_check,
		.stop_on_stale = expect_stale,
		.flush_delay_us = FLUSH_DELAY_US,
		.faults = faults,
		.seed = 42,
	};
	struct workload_result res;

	assert_int_equal(workload_run(&cfg, &res), 0);
	printf("# %s race_check=%d faults=%#x: %llu pages in %llu batches, %llu changes, "
	       "%llu accesses, %llu stale, %.2fs\n",
	       model == TLBB_SIM_ARM64 ? "arm64" : "x86", race_check, faults,
	       (unsigned long long)res.pages_reclaimed, (unsigned long long)res.batches,
	       (unsigned long long)res.changes, (unsigned long long)res.stats.accesses,
	       (unsigned long long)res.stats.stale, res.seconds);
	return res;
}

static void stress_protocol_holds_arm64(void **state)
{
	struct workload_result r = run(TLBB_SIM_ARM64, true, 0, false);

	assert_true(r.pages_reclaimed > 1000);
	assert_true(r.changes > 100);
	assert_true(r.stats.space_flushes > 0); /* the race check did fire */
	assert_int_equal(r.stats.stale, 0);
}

static void stress_protocol_holds_x86(void **state)
{
	struct workload_result r = run(TLBB_SIM_X86, true, 0, false);

	assert_true(r.pages_reclaimed > 1000);
	assert_true(r.changes > 100);
	assert_true(r.stats.space_flushes > 0);
	assert_int_equal(r.stats.stale, 0);
}

static void stress_without_race_check_is_caught_arm64(void **state)
{
	assert_true(run(TLBB_SIM_ARM64, false, 0, true).stats.stale > 0);
}

static void stress_without_race_check_is_caught_x86(void **state)
{
	assert_true(run(TLBB_SIM_X86, false, 0, true).stats.stale > 0);
}

static void stress_with_bare_barrier_race_check_is_caught_arm64(void **state)
{
	assert_true(run(TLBB_SIM_ARM64, true, TLBB_SIM_FAULT_BARE_BARRIER, true).stats.stale > 0);
}

static void stress_without_batch_flush_is_caught_arm64(void **state)
{
	assert_true(run(TLBB_SIM_ARM64, true, TLBB_SIM_FAULT_NO_BATCH_FLUSH, true).stats.stale > 0);
}

static void stress_without_ipis_is_caught_x86(void **state)
{
	assert_true(run(TLBB_SIM_X86, true, TLBB_SIM_FAULT_NO_IPI, true).stats.stale > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stress_protocol_holds_arm64),
		cmocka_unit_test(stress_protocol_holds_x86),
		cmocka_unit_test(stress_without_race_check_is_caught_arm64),
		cmocka_unit_test(stress_without_race_check_is_caught_x86),
		cmocka_unit_test(stress_with_bare_barrier_race_check_is_caught_arm64),
		cmocka_unit_test(stress_without_batch_flush_is_caught_arm64),
		cmocka_unit_test(stress_without_ipis_is_caught_x86),
	};
	return cmocka_run_group_tests_name("stress", tests, NULL, NULL);
}
