/* SPDX-License-Identifier: MIT */
/*
 * vmm-reclaim: K vCPU threads run a guest through software TLBs while a
 * balloon thread unmaps pages, on the tlbbatch vcpu backend (liburcu-qsbr).
 * Per-page synchronous invalidation (one grace period per page, the shape of
 * QEMU's tlb_flush_page_all_cpus_synced) against batches of 4..512 pages
 * (one grace period per batch), all measured in this one run.
 *
 *   vmm-reclaim                     the demo table (a few seconds)
 *   vmm-reclaim --json              batch sizes 1..512 (powers of two), JSON
 *   vmm-reclaim --skip-flush        NEGATIVE CONTROL: frames freed before the
 *                                   flush; must report stale > 0
 *   vmm-reclaim --no-grace-period   NEGATIVE CONTROL: flushes do not wait
 *   options: --vcpus N --pages N --ms N (per run) --batch N (one batched run)
 *            --expect-stale (exit 0 only if stale accesses were seen)
 *
 * Exit status: 0 if no stale access was seen (or, with --expect-stale, if
 * one was), 1 otherwise.
 */
#include "workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts {
	struct vmm_cfg cfg;
	bool json, expect_stale, negative;
	unsigned one_batch;
};

static void usage(void)
{
	fprintf(stderr, "usage: vmm-reclaim [--json] [--vcpus N] [--pages N] [--ms N] [--batch N]\n"
			"                   [--skip-flush|--no-grace-period] [--expect-stale]\n");
	exit(2);
}

static unsigned num(const char *s)
{
	char *end;
	unsigned long v = strtoul(s ? s : "", &end, 0);

	if (!s || *end || v == 0 || v > 1u << 20)
		usage();
	return (unsigned)v;
}

static void parse(int argc, char **argv, struct opts *o)
{
	vmm_default_cfg(&o->cfg);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--json"))
			o->json = true;
		else if (!strcmp(a, "--vcpus"))
			o->cfg.vcpus = num(argv[++i < argc ? i : 0]);
		else if (!strcmp(a, "--pages"))
			o->cfg.pages = num(argv[++i < argc ? i : 0]);
		else if (!strcmp(a, "--ms"))
			o->cfg.duration_ms = num(argv[++i < argc ? i : 0]);
		else if (!strcmp(a, "--batch"))
			o->one_batch = num(argv[++i < argc ? i : 0]);
		else if (!strcmp(a, "--skip-flush"))
			o->cfg.skip_flush = o->negative = true;
		else if (!strcmp(a, "--no-grace-period"))
			o->cfg.faults |= TLBB_VCPU_FAULT_NO_GRACE_PERIOD, o->negative = true;
		else if (!strcmp(a, "--expect-stale"))
			o->expect_stale = true;
		else
			usage();
	}
	if (argc > 0 && o->cfg.frames < o->cfg.pages + 1024)
		o->cfg.frames = o->cfg.pages + 1024;
}

static int run(const struct opts *o, unsigned batch, struct vmm_result *r)
{
	struct vmm_cfg cfg = o->cfg;

	cfg.batch = batch;
	if (vmm_run(&cfg, r)) {
		fprintf(stderr, "vmm-reclaim: setup failed\n");
		exit(1);
	}
	return 0;
}

static double per_gp(const struct vmm_result *r)
{
	uint64_t rounds = r->st.grace_periods + r->st.gp_skipped;

	return rounds ? (double)r->pages_reclaimed / (double)rounds : 0;
}

static int finish(const struct opts *o, uint64_t stale)
{
	if (o->expect_stale)
		return stale > 0 ? 0 : 1;
	return stale == 0 ? 0 : 1;
}

/* One pair of runs per batch size: per-page, then batched, interleaved. */
static int json_sweep(const struct opts *o)
{
	uint64_t stale = 0;

	printf("{\n  \"benchmark\": \"vcpu-reclaim-batch-sweep\",\n"
	       "  \"backend\": \"vcpu (liburcu-qsbr)\",\n"
	       "  \"vcpus\": %u, \"pages\": %u, \"block\": %u, \"tlb\": \"64 sets x 4 ways\",\n"
	       "  \"ms_per_run\": %u,\n  \"baseline\": \"per-page synchronous: one grace period per page\",\n"
	       "  \"rows\": [\n",
	       o->cfg.vcpus, o->cfg.pages, o->cfg.block, o->cfg.duration_ms);
	for (unsigned batch = 1, first = 1; batch <= 512; batch *= 2, first = 0) {
		struct vmm_result pp, bt;

		run(o, 1, &pp);
		run(o, batch, &bt);
		stale += pp.stale + bt.stale;
		printf("%s    {\"batch\": %u, \"per_page_pages_per_s\": %.0f, \"batched_pages_per_s\": %.0f, "
		       "\"ratio\": %.2f, \"per_page_grace_periods\": %llu, \"batched_grace_periods\": %llu, "
		       "\"batched_pages_per_grace_period\": %.1f, \"guest_accesses_per_s\": %.0f, \"stale\": %llu}",
		       first ? "" : ",\n", batch, pp.pages_per_s, bt.pages_per_s,
		       pp.pages_per_s > 0 ? bt.pages_per_s / pp.pages_per_s : 0,
		       (unsigned long long)pp.st.grace_periods, (unsigned long long)bt.st.grace_periods,
		       per_gp(&bt), bt.elapsed_ns ? (double)bt.accesses * 1e9 / (double)bt.elapsed_ns : 0,
		       (unsigned long long)(pp.stale + bt.stale));
		fflush(stdout);
	}
	printf("\n  ],\n  \"stale_total\": %llu\n}\n", (unsigned long long)stale);
	return finish(o, stale);
}

static void row(const char *mode, unsigned batch, const struct vmm_result *r, double base)
{
	printf("%-9s %6u %11.0f %9llu %9.1f %11.0f %6llu", mode, batch, r->pages_per_s,
	       (unsigned long long)r->st.grace_periods, per_gp(r),
	       r->elapsed_ns ? (double)r->accesses * 1e9 / (double)r->elapsed_ns : 0,
	       (unsigned long long)r->stale);
	if (base > 0)
		printf(" %7.2fx", r->pages_per_s / base);
	printf("\n");
}

int main(int argc, char **argv)
{
	static const unsigned demo_batches[] = { 4, 16, 64, 256, 512 };
	struct opts o = { 0 };
	struct vmm_result pp, r;
	uint64_t stale = 0;

	parse(argc, argv, &o);
	if (o.json)
		return json_sweep(&o);
	printf("vmm-reclaim: %u vCPU threads (urcu-qsbr readers), %u-page guest working set,\n"
	       "             64x4 ASID-tagged software TLB per vCPU, %u ms of reclaim per run\n",
	       o.cfg.vcpus, o.cfg.pages, o.cfg.duration_ms);
	if (o.negative) {
		unsigned batch = o.one_batch ? o.one_batch : 64;

		printf("NEGATIVE CONTROL: %s\n", o.cfg.skip_flush ? "frames freed before the batch's flush"
							       : "flushes do not wait for a grace period");
		o.cfg.stop_on_stale = o.expect_stale; /* --ms is then the limit */
		run(&o, batch, &r);
		printf("%-9s %6s %11s %9s %9s %11s %6s\n", "mode", "batch", "pages/s", "rounds",
		       "pages/rnd", "accesses/s", "stale");
		row("batched", batch, &r, 0);
		printf("stale accesses: %llu (first: vCPU %u, page %u) -- %s\n", (unsigned long long)r.stale,
		       r.first_stale_vcpu, r.first_stale_vpn,
		       r.stale ? "the checker caught the broken protocol" : "NOT caught");
		return finish(&o, r.stale);
	}
	run(&o, 1, &pp);
	printf("\n%-9s %6s %11s %9s %9s %11s %6s %8s\n", "mode", "batch", "pages/s", "rounds",
	       "pages/rnd", "accesses/s", "stale", "ratio");
	row("per-page", 1, &pp, pp.pages_per_s);
	stale += pp.stale;
	if (o.one_batch) {
		run(&o, o.one_batch, &r);
		row("batched", o.one_batch, &r, pp.pages_per_s);
		stale += r.stale;
	} else {
		for (size_t i = 0; i < sizeof(demo_batches) / sizeof(demo_batches[0]); i++) {
			run(&o, demo_batches[i], &r);
			row("batched", demo_batches[i], &r, pp.pages_per_s);
			stale += r.stale;
		}
	}
	printf("\nrounds = grace periods (synchronize_rcu) = flush round trips to the vCPUs;\n"
	       "ratio = batched pages/s over per-page pages/s. stale accesses: %llu (must be 0)\n",
	       (unsigned long long)stale);
	return finish(&o, stale);
}
