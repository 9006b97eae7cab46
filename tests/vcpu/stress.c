/* SPDX-License-Identifier: MIT */
/*
 * Stress of the vcpu backend on the vmm-reclaim workload with everything
 * moving at once: 4 vCPU threads running guest blocks through their
 * software TLBs, idling offline at random, leaving and re-registering (ids
 * move between threads), a balloon reclaiming in batches of 1, 8 and 512
 * pages, and a changer running the race check under the page-table lock.
 * The checker counts guest accesses to freed or recycled frames: 0 here.
 *
 *   stress [--ms N]                       correct protocol: stale must be 0
 *   stress --expect-stale FAULT [--ms N]  negative control: runs until the
 *                                         checker sees a stale access (or
 *                                         fails after N ms per batch size)
 *   FAULT: --skip-flush | --no-grace-period | --no-post | --no-online-drain |
 *          --drain-before-qs
 *
 * The ThreadSanitizer build runs the same binary: in the correct protocol
 * every frame hand-off must be visible to TSan (the backend annotates what
 * liburcu orders), and --tsan-race runs the no-grace-period control with
 * data checks only, so that TSan must report the race (tests/vcpu/expect-tsan-race.sh).
 */
#include "../../examples/vmm-reclaim/workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	static const unsigned batches[] = { 1, 8, 512 };
	struct vmm_cfg cfg;
	bool expect_stale = false;
	unsigned ms = 600;
	uint64_t stale = 0;

	vmm_default_cfg(&cfg);
	cfg.vcpus = 4;
	cfg.pages = 128;
	cfg.frames = 128 + 1024;
	cfg.block = 16;
	cfg.idle_pct = 1;
	cfg.churn_blocks = 2000;
	cfg.race_check = true;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ms") && i + 1 < argc)
			ms = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--expect-stale"))
			expect_stale = true;
		else if (!strcmp(argv[i], "--skip-flush"))
			cfg.skip_flush = true;
		else if (!strcmp(argv[i], "--no-grace-period"))
			cfg.faults |= TLBB_VCPU_FAULT_NO_GRACE_PERIOD;
		else if (!strcmp(argv[i], "--no-post"))
			cfg.faults |= TLBB_VCPU_FAULT_NO_POST;
		else if (!strcmp(argv[i], "--drain-before-qs"))
			cfg.faults |= TLBB_VCPU_FAULT_DRAIN_BEFORE_QS;
		else if (!strcmp(argv[i], "--no-online-drain")) {
			cfg.faults |= TLBB_VCPU_FAULT_NO_ONLINE_DRAIN;
			cfg.idle_pct = 50; /* the bug lives in the idle path */
		} else {
			fprintf(stderr, "stress: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	cfg.duration_ms = ms;
	cfg.stop_on_stale = expect_stale;
	for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		struct vmm_result r;

		cfg.batch = batches[i];
		cfg.seed = (unsigned)i + 1;
		if (vmm_run(&cfg, &r)) {
			fprintf(stderr, "stress: setup failed\n");
			return 1;
		}
		printf("batch %3u: %6llu pages reclaimed, %5llu grace periods, %4llu skipped, "
		       "%4llu race checks, %9llu accesses, %5llu idles, %4llu re-registrations, "
		       "%llu mailbox overflows, stale %llu\n",
		       cfg.batch, (unsigned long long)r.pages_reclaimed,
		       (unsigned long long)r.st.grace_periods, (unsigned long long)r.st.gp_skipped,
		       (unsigned long long)r.race_checks, (unsigned long long)r.accesses,
		       (unsigned long long)r.idles, (unsigned long long)r.reregistrations,
		       (unsigned long long)r.st.mailbox_overflows, (unsigned long long)r.stale);
		/* Not vacuous: the run must have reclaimed, translated and flushed. */
		if (!expect_stale && (!r.pages_reclaimed || !r.accesses || !r.st.grace_periods)) {
			fprintf(stderr, "stress: the run did nothing\n");
			return 1;
		}
		stale += r.stale;
		if (expect_stale && stale)
			break;
	}
	if (expect_stale) {
		printf("negative control: stale %llu (%s)\n", (unsigned long long)stale,
		       stale ? "caught, as it must be" : "NOT CAUGHT");
		return stale ? 0 : 1;
	}
	printf("stale accesses: %llu (must be 0)\n", (unsigned long long)stale);
	return stale ? 1 : 0;
}
