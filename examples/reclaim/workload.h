/* SPDX-License-Identifier: MIT */
/*
 * A reclaim workload on the sim backend, shared by examples/reclaim (the
 * demo and benchmark) and tests/model/stress.c (the threaded stress test).
 *
 *   CPU0            reclaimer: under the PTL clears up to `batch` PTEs and
 *                   queues them; flushes once; frees (retires) the frames;
 *                   maps fresh frames back. batch == 1 is the per-page
 *                   synchronous baseline (clear, flush, free, per page).
 *   CPU1..CPUn-2    users: touch random pages of the working set (1 in 4 a
 *                   write), through their TLBs.
 *   CPUn-1          changer (optional): under the PTL, race check, then
 *                   mprotect or zap a random page, with its own flush for
 *                   what it changed, then claims the page clean.
 */
#ifndef TLBB_EXAMPLE_WORKLOAD_H
#define TLBB_EXAMPLE_WORKLOAD_H

#include <tlbbatch/sim.h>

struct workload_config {
	enum tlbb_sim_model model;
	unsigned ncpus;        /* >= 2 (>= 3 with the changer) */
	unsigned npages;       /* working set */
	unsigned batch;        /* pages per flush; 1 = per-page synchronous */
	uint64_t pages;        /* stop after reclaiming this many pages ... */
	unsigned max_ms;       /* ... or after this long (0 = no limit) */
	bool changer;          /* run the mprotect/zap changer */
	bool race_check;       /* changer calls tlbb_flush_pending() */
	bool stop_on_stale;    /* end the run at the first stale access */
	unsigned flush_delay_us; /* reclaimer's other work between queueing and
				    flushing (it widens every race window) */
	unsigned faults;       /* TLBB_SIM_FAULT_* */
	uint64_t seed;
};

struct workload_result {
	uint64_t pages_reclaimed;
	uint64_t batches;
	uint64_t changes;      /* changer operations */
	double seconds;
	struct tlbb_sim_stats stats;
};

/* Runs the workload; returns 0, or -1 if the config was refused. */
int workload_run(const struct workload_config *cfg, struct workload_result *out);

#endif
