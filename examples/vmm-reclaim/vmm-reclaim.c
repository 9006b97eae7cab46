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
 *   options: --vcpus N --pages N --ms N (per run, 150) --batch N (one batch size)
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
	o->cfg.duration_ms = 150; /* 5 batch sizes x 3 pairs x 2 runs: about 5 s */
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

static int finish(const struct opts *o, uint64_t stale)
{
	if (o->expect_stale)
		return stale > 0 ? 0 : 1;
	return stale == 0 ? 0 : 1;
}

/*
 * Grace-period latency is the scheduling latency of the slowest online
 * vCPU, so it moves with the host's load. Each batch size is therefore
 * measured as REPS alternating pairs (per-page run, batched run, ...) and
 * the medians are reported: the ratio compares runs made under the same
 * conditions.
 */
#define REPS 3

struct point {
	double pp, bt, ratio;      /* medians: pages/s and per-pair ratio */
	uint64_t pp_gp, bt_gp;     /* grace periods, summed over the pairs */
	double per_round;          /* batched pages per grace period */
	double accesses_per_s;     /* guest accesses/s during the batched runs */
	uint64_t stale;
	double pairs[REPS][2];     /* every pair: per-page, batched pages/s */
};

static double median3(double a, double b, double c)
{
	if (a > b) { double t = a; a = b; b = t; }
	if (b > c) { double t = b; b = c; c = t; }
	if (a > b) { double t = a; a = b; b = t; }
	return b;
}

static void measure(const struct opts *o, unsigned batch, struct point *p)
{
	double pp[REPS], bt[REPS], ratio[REPS];
	uint64_t pages = 0, rounds = 0, acc = 0, ns = 0;

	memset(p, 0, sizeof(*p));
	for (int i = 0; i < REPS; i++) {
		struct vmm_result a, b;

		run(o, 1, &a);
		run(o, batch, &b);
		pp[i] = a.pages_per_s;
		bt[i] = b.pages_per_s;
		ratio[i] = a.pages_per_s > 0 ? b.pages_per_s / a.pages_per_s : 0;
		p->pairs[i][0] = a.pages_per_s;
		p->pairs[i][1] = b.pages_per_s;
		p->pp_gp += a.st.grace_periods;
		p->bt_gp += b.st.grace_periods;
		p->stale += a.stale + b.stale;
		pages += b.pages_reclaimed;
		rounds += b.st.grace_periods + b.st.gp_skipped;
		acc += b.accesses;
		ns += b.elapsed_ns;
	}
	p->pp = median3(pp[0], pp[1], pp[2]);
	p->bt = median3(bt[0], bt[1], bt[2]);
	p->ratio = median3(ratio[0], ratio[1], ratio[2]);
	p->per_round = rounds ? (double)pages / (double)rounds : 0;
	p->accesses_per_s = ns ? (double)acc * 1e9 / (double)ns : 0;
}

static int json_sweep(const struct opts *o)
{
	uint64_t stale = 0;

	printf("{\n  \"benchmark\": \"vcpu-reclaim-batch-sweep\",\n"
	       "  \"backend\": \"vcpu (liburcu-qsbr)\",\n"
	       "  \"vcpus\": %u, \"pages\": %u, \"block\": %u, \"tlb\": \"64 sets x 4 ways\",\n"
	       "  \"ms_per_run\": %u, \"pairs_per_point\": %d, \"statistic\": \"median\",\n"
	       "  \"baseline\": \"per-page synchronous: one grace period per page\",\n"
	       "  \"note\": \"medians taken separately; ratio = median of per-pair ratios; "
	       "pairs = [per-page, batched] pages/s of each pair\",\n"
	       "  \"rows\": [\n",
	       o->cfg.vcpus, o->cfg.pages, o->cfg.block, o->cfg.duration_ms, REPS);
	for (unsigned batch = 1, first = 1; batch <= 512; batch *= 2, first = 0) {
		struct point p;

		measure(o, batch, &p);
		stale += p.stale;
		printf("%s    {\"batch\": %u, \"per_page_pages_per_s\": %.0f, \"batched_pages_per_s\": %.0f, "
		       "\"ratio\": %.2f, \"per_page_grace_periods\": %llu, \"batched_grace_periods\": %llu, "
		       "\"batched_pages_per_grace_period\": %.1f, \"guest_accesses_per_s\": %.0f, \"stale\": %llu, "
		       "\"pairs\": [[%.0f, %.0f], [%.0f, %.0f], [%.0f, %.0f]]}",
		       first ? "" : ",\n", batch, p.pp, p.bt, p.ratio, (unsigned long long)p.pp_gp,
		       (unsigned long long)p.bt_gp, p.per_round, p.accesses_per_s,
		       (unsigned long long)p.stale, p.pairs[0][0], p.pairs[0][1], p.pairs[1][0],
		       p.pairs[1][1], p.pairs[2][0], p.pairs[2][1]);
		fflush(stdout);
	}
	printf("\n  ],\n  \"stale_total\": %llu\n}\n", (unsigned long long)stale);
	return finish(o, stale);
}

static uint64_t pair(const struct opts *o, unsigned batch)
{
	struct point p;

	measure(o, batch, &p);
	printf("%6u %12.0f %12.0f %8.2fx %10llu %10llu %10.1f %6llu\n", batch, p.pp, p.bt, p.ratio,
	       (unsigned long long)p.pp_gp, (unsigned long long)p.bt_gp, p.per_round,
	       (unsigned long long)p.stale);
	fflush(stdout);
	return p.stale;
}

int main(int argc, char **argv)
{
	static const unsigned demo_batches[] = { 4, 16, 64, 256, 512 };
	struct opts o = { 0 };
	struct vmm_result r;
	uint64_t stale = 0;

	parse(argc, argv, &o);
	if (o.json)
		return json_sweep(&o);
	printf("vmm-reclaim: %u vCPU threads (urcu-qsbr readers), %u-page guest working set,\n"
	       "             64x4 ASID-tagged software TLB per vCPU, %u ms of reclaim per run\n",
	       o.cfg.vcpus, o.cfg.pages, o.cfg.duration_ms);
	if (!o.negative)
		printf("             medians of %d alternating per-page/batched pairs per row\n", REPS);
	if (o.negative) {
		unsigned batch = o.one_batch ? o.one_batch : 64;

		printf("NEGATIVE CONTROL: %s\n", o.cfg.skip_flush ? "frames freed before the batch's flush"
							       : "flushes do not wait for a grace period");
		o.cfg.stop_on_stale = o.expect_stale; /* --ms is then the limit */
		run(&o, batch, &r);
		printf("batch %u: %.0f pages/s, %llu grace periods, %llu guest accesses\n", batch,
		       r.pages_per_s, (unsigned long long)r.st.grace_periods,
		       (unsigned long long)r.accesses);
		printf("stale accesses: %llu (first: vCPU %u, page %u) -- %s\n", (unsigned long long)r.stale,
		       r.first_stale_vcpu, r.first_stale_vpn,
		       r.stale ? "the checker caught the broken protocol" : "NOT caught");
		return finish(&o, r.stale);
	}
	printf("\n%6s %12s %12s %9s %10s %10s %10s %6s\n", "batch", "per-page", "batched", "ratio",
	       "rounds", "rounds", "pages per", "stale");
	printf("%6s %12s %12s %9s %10s %10s %10s %6s\n", "", "pages/s", "pages/s", "", "per-page",
	       "batched", "round", "");
	if (o.one_batch) {
		stale += pair(&o, o.one_batch);
	} else {
		for (size_t i = 0; i < sizeof(demo_batches) / sizeof(demo_batches[0]); i++)
			stale += pair(&o, demo_batches[i]);
	}
	printf("\nper-page = one grace period per page (QEMU's tlb_flush_page_all_cpus_synced shape);\n"
	       "rounds = grace periods (synchronize_rcu), i.e. round trips to every online vCPU,\n"
	       "summed over the pairs; ratio = median over the pairs of batched/per-page.\n"
	       "stale accesses: %llu (must be 0)\n",
	       (unsigned long long)stale);
	return finish(&o, stale);
}
