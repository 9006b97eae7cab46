/* SPDX-License-Identifier: MIT */
/*
 * Adds per second under contention: 1, 2 and 4 threads adding pages, (a)
 * all into one space (every add's atomics hit the same generation words)
 * and (b) each into its own space. Each thread owns its batch and flushes
 * it every 64 adds (IPI rounds are stubs, see port_stubs.c and
 * linux_batch.c). The variants alternate point by point and each point is
 * the median of the repetitions, so machine noise falls on all alike.
 *
 *   contention [--ms N] [--reps N]
 *
 * One JSON line per (variant, threads, spaces). Wall-clock figures: they
 * depend on the machine and its load, unlike the instruction counts.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tlbbatch/backend.h>

#include "linux_batch.h"
#ifdef BENCH_HAVE_X86
#include <tlbbatch/x86_64.h>
#endif

#define MAX_THREADS 4
#define ROUND_PAGES 64u

enum variant { V_LINUX, V_NOOP, V_X86 };
static const char *const variant_name[] = { "linux", "noop", "x86_64" };

#include "nop_backend.h"

#ifdef BENCH_HAVE_X86
static struct tlbb_x86 x86;
/* Ring 3: the port states the paging mode, so init reads no CR4. */
static const struct tlbb_x86_config bench_x86_cfg = { .features = TLBB_X86_PAGING_FROM_PORT };
static struct tlbb_x86_cpu x86_cpus[4];
#endif

/* Own cache lines each, so only the sharing asked for happens. */
struct space_slot {
	_Alignas(128) struct tlbb_space lib;
	_Alignas(128) tlbb_cpumask_t lib_cpus; /* the port's mask, on its own line as mm_cpumask is */
	_Alignas(128) struct linux_mm mm;
};

struct worker {
	_Alignas(128) pthread_t th;
	enum variant v;
	struct space_slot *space;
	struct tlbb_batch lib_batch;
	struct linux_batch linux_batch;
	unsigned long long adds;
};

static struct space_slot spaces[MAX_THREADS];
static struct worker workers[MAX_THREADS];
static pthread_barrier_t start_line;
static int stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned long long adds = 0;

	pthread_barrier_wait(&start_line);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		for (unsigned k = 0; k < ROUND_PAGES; k++) {
			uint64_t va = (uint64_t)k << 12;

			if (w->v == V_LINUX)
				linux_add_pending(&w->linux_batch, &w->space->mm, va, k & 1);
			else
				tlbb_add_page(&w->lib_batch, &w->space->lib, va,
					      (k & 1) ? TLBB_ADD_WRITABLE : 0);
		}
		if (w->v == V_LINUX)
			linux_batch_flush(&w->linux_batch);
		else
			tlbb_flush(&w->lib_batch);
		adds += ROUND_PAGES;
	}
	w->adds = adds;
	return NULL;
}

/* Fresh spaces for every run: CPUs 1-3 may cache each, the adders are CPU 0. */
static int init_space(struct space_slot *sp, enum variant v)
{
	const struct tlbb_backend *be = &nop_backend;

#ifdef BENCH_HAVE_X86
	if (v == V_X86)
		be = tlbb_x86_backend(&x86);
#endif
	linux_mm_init(&sp->mm);
	if (tlbb_space_init(&sp->lib, be, 1, NULL) != TLBB_OK)
		return -1;
	tlbb_cpumask_clear(&sp->lib_cpus);
	tlbb_space_set_cpumask(&sp->lib, &sp->lib_cpus);
	for (unsigned c = 1; c < 4; c++) {
		tlbb_space_cpu_enter(&sp->lib, c);
		linux_mm_cpu_enter(&sp->mm, c);
	}
	return 0;
}

static double run(enum variant v, unsigned nthreads, bool shared, unsigned ms)
{
	struct timespec nap = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	unsigned long long total = 0;
	double t0, t1;

#ifdef BENCH_HAVE_X86
	if (v == V_X86 && tlbb_x86_init(&x86, &bench_x86_cfg, x86_cpus, 4) != TLBB_OK)
		return -1;
#endif
	for (unsigned i = 0; i < nthreads; i++)
		if (init_space(&spaces[i], v))
			return -1;
	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	pthread_barrier_init(&start_line, NULL, nthreads + 1);
	for (unsigned i = 0; i < nthreads; i++) {
		struct worker *w = &workers[i];

		w->v = v;
		w->space = shared ? &spaces[0] : &spaces[i];
		w->adds = 0;
		tlbb_batch_init(&w->lib_batch);
		linux_batch_init(&w->linux_batch);
		if (pthread_create(&w->th, NULL, work, w) != 0)
			return -1;
	}
	pthread_barrier_wait(&start_line);
	t0 = now();
	nanosleep(&nap, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(workers[i].th, NULL);
		total += workers[i].adds;
	}
	t1 = now();
	pthread_barrier_destroy(&start_line);
	for (unsigned i = 0; i < nthreads; i++)
		tlbb_space_fini(&spaces[i].lib);
	return (double)total / (t1 - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define MAX_REPS 9

int main(int argc, char **argv)
{
	static const unsigned thread_counts[] = { 1, 2, 4 };
	enum variant variants[3];
	unsigned nvariants = 0, ms = 500, reps = 3;
	double rate[3][3][2][MAX_REPS]; /* [variant][threads][shared][rep] */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ms") && i + 1 < argc)
			ms = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = (unsigned)strtoul(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: contention [--ms N] [--reps N (1..%d)]\n", MAX_REPS);
			return 2;
		}
	}
	if (ms == 0 || reps == 0 || reps > MAX_REPS) {
		fprintf(stderr, "contention: --ms must be > 0, --reps 1..%d\n", MAX_REPS);
		return 2;
	}
	variants[nvariants++] = V_LINUX;
#ifdef BENCH_HAVE_X86
	variants[nvariants++] = V_X86;
#endif
	variants[nvariants++] = V_NOOP;

	/* Repetition outermost, variant innermost: neighbours share the noise. */
	for (unsigned r = 0; r < reps; r++)
		for (unsigned t = 0; t < 3; t++)
			for (unsigned sh = 0; sh < 2; sh++)
				for (unsigned v = 0; v < nvariants; v++) {
					double x = run(variants[v], thread_counts[t], sh == 0, ms);

					if (x < 0) {
						fprintf(stderr, "contention: setup failed\n");
						return 1;
					}
					rate[v][t][sh][r] = x;
				}

	for (unsigned t = 0; t < 3; t++)
		for (unsigned sh = 0; sh < 2; sh++)
			for (unsigned v = 0; v < nvariants; v++) {
				double sorted[MAX_REPS];

				memcpy(sorted, rate[v][t][sh], sizeof(double) * reps);
				qsort(sorted, reps, sizeof(double), cmp_double);
				printf("{\"benchmark\": \"contention\", \"variant\": \"%s\", \"threads\": %u, "
				       "\"spaces\": \"%s\", \"adds_per_s\": %.0f, \"reps\": %u, \"ms_per_run\": %u, "
				       "\"online_cpus\": %ld, \"runs_adds_per_s\": [",
				       variant_name[variants[v]], thread_counts[t],
				       sh == 0 ? "shared" : "per-thread", sorted[reps / 2], reps, ms, cpus);
				for (unsigned r = 0; r < reps; r++)
					printf("%s%.0f", r ? ", " : "", rate[v][t][sh][r]);
				printf("]}\n");
			}
	return 0;
}
