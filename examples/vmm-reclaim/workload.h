/* SPDX-License-Identifier: MIT */
/*
 * A synthetic VMM on the vcpu backend, shared by the demo, the benchmark
 * and the stress test.
 *
 *   - K vCPU threads run a "guest": translated blocks of random reads and
 *     writes over a working set of guest pages, through their software TLBs,
 *     with a safe point (tlbb_vcpu_quiescent) after every block. A miss walks
 *     the guest page table; a non-present page is faulted in from a frame
 *     pool (lock-free PTE install, as a hardware walker + fault handler).
 *   - A balloon/reclaim thread unmaps random pages: clear the PTE under the
 *     page-table lock, tlbb_add_page(), hand the frame to tlbb_vcpu_defer(),
 *     and tlbb_flush() every `batch` pages. batch = 1 is the per-page
 *     synchronous shape (QEMU's tlb_flush_page_all_cpus_synced: one round
 *     trip to every vCPU per page).
 *   - The checker: every frame carries a tag word (which guest page it
 *     backs, or FREE). Every guest access reads the tag of the frame it
 *     translated to; a mismatch is a STALE access (the guest touched a frame
 *     after it was freed or recycled). Guest data words are plain memory,
 *     so a ThreadSanitizer build also sees any missing hand-off as a race.
 */
#ifndef VMM_WORKLOAD_H
#define VMM_WORKLOAD_H

#include <tlbbatch/vcpu.h>

struct vmm_cfg {
	unsigned vcpus;        /* guest vCPU threads (3) */
	unsigned pages;        /* guest working set, pages (1024) */
	unsigned frames;       /* host frames (pages + 1024) */
	unsigned batch;        /* pages per tlbb_flush(); 1 = per-page synchronous */
	unsigned block;        /* guest accesses per translated block (32) */
	unsigned write_pct;    /* % of accesses that write (25) */
	unsigned duration_ms;  /* how long the balloon runs (300) */
	unsigned idle_pct;     /* % of blocks after which a vCPU idles offline (0) */
	unsigned churn_blocks; /* a vCPU leaves and re-registers about every N blocks (0 = never) */
	bool race_check;       /* a changer thread runs tlbb_flush_pending() under the PTL */
	bool skip_flush;       /* NEGATIVE CONTROL: free frames before the batch's flush */
	unsigned faults;       /* TLBB_VCPU_FAULT_* (negative controls) */
	bool stop_on_stale;    /* end the run at the first stale access */
	unsigned seed;
};

struct vmm_result {
	uint64_t pages_reclaimed;
	uint64_t flush_calls;    /* tlbb_flush() calls by the balloon */
	uint64_t race_checks;    /* tlbb_flush_pending() calls that flushed */
	uint64_t accesses, refaults, nomem, stale;
	uint64_t reregistrations, idles;
	uint64_t elapsed_ns;
	double pages_per_s;
	unsigned first_stale_vcpu, first_stale_vpn;
	struct tlbb_vcpu_stats st;
};

void vmm_default_cfg(struct vmm_cfg *cfg);
/* 0 on a completed run (whatever it observed), -1 on setup failure. */
int vmm_run(const struct vmm_cfg *cfg, struct vmm_result *out);

#endif
