/* SPDX-License-Identifier: MIT */
/*
 * reclaim — the tlbbatch demo. Simulated CPUs keep touching a working set
 * while a reclaimer unmaps pages, first with a synchronous flush per page
 * (what ptep_clear_flush does), then batched (one completion per batch).
 * A racing mprotect/zap changer uses the race check throughout. Every access
 * is checked by the sim's oracle: stale must be 0.
 *
 *   reclaim                 table for both invalidation models
 *   reclaim --bench         JSON: batch sizes 1..512, both models, one run
 *   reclaim --micro         JSON: the library's own cost per add / race check
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload.h"

struct opts {
	unsigned cpus, npages, batch;
	uint64_t pages;
	int model; /* -1 both */
	bool changer;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: reclaim [options]\n"
		"  --model arm64|x86|both  invalidation model of the sim (default both)\n"
		"  --cpus N                simulated CPUs, 3..%d (default 4: reclaimer, 2 users, changer)\n"
		"  --pages N               pages to reclaim per run (default 200000)\n"
		"  --working-set N         pages the users touch (default 256)\n"
		"  --batch N               pages per batch in the batched run (default 64)\n"
		"  --no-changer            no racing mprotect/zap thread\n"
		"  --bench                 sweep batch sizes 1..512, print JSON\n"
		"  --micro                 library cost per call on a no-op backend, print JSON\n"
		"  --help\n",
		TLBB_SIM_MAX_CPUS);
}

static int run_one(const struct opts *o, enum tlbb_sim_model m, unsigned batch,
		   struct workload_result *res)
{
	struct workload_config cfg = {
		.model = m,
		.ncpus = o->cpus,
		.npages = o->npages,
		.batch = batch,
		.pages = o->pages,
		.changer = o->changer,
		.race_check = true,
		.seed = 1,
	};

	if (workload_run(&cfg, res) != 0) {
		fprintf(stderr, "reclaim: bad configuration\n");
		return -1;
	}
	return 0;
}

static const char *model_name(enum tlbb_sim_model m)
{
	return m == TLBB_SIM_ARM64 ? "arm64" : "x86";
}

/* Completions: what the batch pays for (DSB ISH on arm64, IPI rounds on x86). */
static uint64_t completions(enum tlbb_sim_model m, const struct workload_result *r)
{
	return m == TLBB_SIM_ARM64 ? r->stats.dsb : r->stats.ipi_rounds;
}

static int table(const struct opts *o)
{
	int rc = 0;

	printf("tlbbatch reclaim demo: %u simulated CPUs, working set %u pages, %llu pages "
	       "reclaimed per run%s\n\n",
	       o->cpus, o->npages, (unsigned long long)o->pages,
	       o->changer ? ", racing mprotect/zap changer" : "");
	printf("%-6s %-9s %7s %8s %8s %8s %8s %8s %8s %9s %6s\n", "model", "mode", "pages", "flushes",
	       "TLBIs", "DSBs", "IPIrnds", "IPIs", "time_s", "pages/s", "stale");
	for (int m = 0; m < 2; m++) {
		struct workload_result per, bat;

		if (o->model >= 0 && o->model != m)
			continue;
		if (run_one(o, m, 1, &per) || run_one(o, m, o->batch, &bat))
			return 1;
		for (int i = 0; i < 2; i++) {
			const struct workload_result *r = i ? &bat : &per;
			char mode[16];

			snprintf(mode, sizeof(mode), i ? "batch%u" : "per-page", o->batch);
			printf("%-6s %-9s %7llu %8llu %8llu %8llu %8llu %8llu %8.3f %9.0f %6llu\n",
			       model_name(m), mode, (unsigned long long)r->pages_reclaimed,
			       (unsigned long long)r->stats.batch_flushes,
			       (unsigned long long)r->stats.tlbi_ops, (unsigned long long)r->stats.dsb,
			       (unsigned long long)r->stats.ipi_rounds, (unsigned long long)r->stats.ipis,
			       r->seconds, r->pages_reclaimed / r->seconds,
			       (unsigned long long)r->stats.stale);
			if (r->stats.stale)
				rc = 1;
		}
		printf("%-6s ratio     completions per-page/batched = %.1fx, pages/s batched/per-page = "
		       "%.2fx\n\n",
		       model_name(m),
		       (double)completions(m, &per) / (double)(completions(m, &bat) ? completions(m, &bat) : 1),
		       (bat.pages_reclaimed / bat.seconds) / (per.pages_reclaimed / per.seconds));
	}
	printf("flushes = batch flush calls; DSBs include race-check flushes; stale must be 0.\n");
	printf("%s\n", rc ? "FAIL: stale accesses seen" : "ok: no stale access");
	return rc;
}

/* Median of three runs by wall time: these machines are noisy. */
static int run_median(const struct opts *o, enum tlbb_sim_model m, unsigned batch,
		      struct workload_result *out)
{
	struct workload_result r[3], tmp;

	for (int i = 0; i < 3; i++)
		if (run_one(o, m, batch, &r[i]))
			return -1;
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (r[j].seconds < r[i].seconds) {
				tmp = r[i];
				r[i] = r[j];
				r[j] = tmp;
			}
	*out = r[1];
	/* A stale access in any run is a failure, not an outlier. */
	out->stats.stale = r[0].stats.stale + r[1].stats.stale + r[2].stats.stale;
	return 0;
}

static int bench(const struct opts *o)
{
	static const unsigned sizes[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512 };
	int rc = 0;
	bool first = true;

	printf("{\n  \"benchmark\": \"reclaim-sim\",\n  \"statistic\": \"median of 3 runs\",\n  \"cpus\": %u,\n  \"working_set\": %u,\n"
	       "  \"pages_per_run\": %llu,\n  \"runs\": [\n",
	       o->cpus, o->npages, (unsigned long long)o->pages);
	for (int m = 0; m < 2; m++) {
		double base = 0;
		uint64_t base_c = 0;

		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			struct workload_result r;
			double pps;

			if (run_median(o, m, sizes[i], &r))
				return 1;
			pps = r.pages_reclaimed / r.seconds;
			if (i == 0) {
				base = pps;
				base_c = completions(m, &r);
			}
			printf("%s    {\"model\": \"%s\", \"batch\": %u, \"pages\": %llu, \"seconds\": %.4f, "
			       "\"pages_per_s\": %.0f, \"completions\": %llu, \"tlbi_ops\": %llu, "
			       "\"ipis\": %llu, \"speedup_vs_per_page\": %.2f, "
			       "\"completion_ratio_vs_per_page\": %.1f, \"stale\": %llu}",
			       first ? "" : ",\n", model_name(m), sizes[i],
			       (unsigned long long)r.pages_reclaimed, r.seconds, pps,
			       (unsigned long long)completions(m, &r), (unsigned long long)r.stats.tlbi_ops,
			       (unsigned long long)r.stats.ipis, pps / base,
			       (double)base_c / (double)(completions(m, &r) ? completions(m, &r) : 1),
			       (unsigned long long)r.stats.stale);
			first = false;
			if (r.stats.stale)
				rc = 1;
		}
	}
	printf("\n  ]\n}\n");
	return rc;
}

/* ---- the library's own cost, on a backend that does nothing ----------------- */

static void nop_add(const struct tlbb_backend *be, struct tlbb_batch *b, struct tlbb_space *s,
		    uintptr_t start, uintptr_t end, unsigned flags)
{
}

static void nop_flush(const struct tlbb_backend *be, struct tlbb_batch *b)
{
}

static void nop_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
}

static const struct tlbb_backend nop_backend = {
	.name = "nop", .add = nop_add, .flush = nop_flush, .flush_space = nop_flush_space,
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * tlbb_flush_pending() is inline (its fast path is a few instructions in the
 * caller), so it has no symbol for callgrind to toggle on: the loops call
 * it through this wrapper, whose count is the inline check plus the
 * wrapper's own call overhead (and, when something is pending, the
 * out-of-line tlbb_flush_pending_slow()).
 */
bool micro_race_check(struct tlbb_space *s); /* external: no clone renames it */
__attribute__((noinline)) bool micro_race_check(struct tlbb_space *s)
{
	return tlbb_flush_pending(s);
}

/*
 * Each loop is timed here; tools/dev bench also runs this mode under
 * callgrind with --toggle-collect on tlbb_add_page and micro_race_check for
 * instruction counts, the figure that does not move with machine noise.
 */
static int micro(uint64_t n)
{
	struct tlbb_space s;
	struct tlbb_batch b;
	double t0, t_add, t_check_idle, t_check_busy;

	tlbb_space_init(&s, &nop_backend, 1, NULL);
	tlbb_batch_init(&b);
	t0 = now();
	for (uint64_t i = 0; i < n; i++)
		tlbb_add_page(&b, &s, (uintptr_t)(i & 0xffff) << 12, 0);
	t_add = now() - t0;
	tlbb_flush(&b);
	micro_race_check(&s);

	t0 = now();
	for (uint64_t i = 0; i < n; i++)
		micro_race_check(&s); /* nothing pending: the common case */
	t_check_idle = now() - t0;

	t0 = now();
	for (uint64_t i = 0; i < n; i++) {
		tlbb_add_page(&b, &s, 0x1000, 0);
		micro_race_check(&s); /* pending: flush + cmpxchg */
	}
	t_check_busy = now() - t0 - t_add;
	printf("{\"benchmark\": \"library-cost\", \"iterations\": %llu, \"ns_per_add_page\": %.2f, "
	       "\"ns_per_race_check_idle\": %.2f, \"ns_per_race_check_flushing\": %.2f}\n",
	       (unsigned long long)n, t_add * 1e9 / n, t_check_idle * 1e9 / n,
	       (t_check_busy > 0 ? t_check_busy : 0) * 1e9 / n);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .cpus = 4, .npages = 256, .batch = 64, .pages = 200000, .model = -1,
			  .changer = true };
	enum { MODE_TABLE, MODE_BENCH, MODE_MICRO } mode = MODE_TABLE;
	uint64_t micro_n = 10000000;
	static const struct option lo[] = {
		{ "model", required_argument, 0, 'm' }, { "cpus", required_argument, 0, 'c' },
		{ "pages", required_argument, 0, 'p' }, { "working-set", required_argument, 0, 'w' },
		{ "batch", required_argument, 0, 'b' }, { "no-changer", no_argument, 0, 'n' },
		{ "bench", no_argument, 0, 'B' },       { "micro", optional_argument, 0, 'M' },
		{ "help", no_argument, 0, 'h' },        { 0, 0, 0, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "m:c:p:w:b:nBM::h", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.model = !strcmp(optarg, "arm64") ? 0 : !strcmp(optarg, "x86") ? 1 :
				  !strcmp(optarg, "both") ? -1 : -2;
			break;
		case 'c': o.cpus = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'p': o.pages = strtoull(optarg, NULL, 0); break;
		case 'w': o.npages = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'b': o.batch = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'n': o.changer = false; break;
		case 'B': mode = MODE_BENCH; break;
		case 'M':
			mode = MODE_MICRO;
			if (optarg)
				micro_n = strtoull(optarg, NULL, 0);
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.model == -2 || o.cpus < (o.changer ? 3u : 2u) || o.cpus > TLBB_SIM_MAX_CPUS ||
	    o.batch == 0 || o.batch > 4096 || o.npages == 0 || o.pages == 0 || micro_n == 0) {
		usage(stderr);
		return 2;
	}
	if (mode == MODE_MICRO)
		return micro(micro_n);
	if (mode == MODE_BENCH)
		return bench(&o);
	return table(&o);
}
