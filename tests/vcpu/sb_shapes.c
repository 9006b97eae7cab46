/* SPDX-License-Identifier: MIT */
/*
 * The store-buffering shapes behind the vcpu backend's fences, without the
 * backend (no liburcu needed): a hand-run experiment for targets where the
 * backend cannot be built, e.g. aarch64 under qemu-user here (there is no
 * liburcu-dev:arm64 installed). Not built by meson; see docs/vcpulitmus.md
 * for the commands and the figures.
 *
 *   T0 ("flusher"):  X = 1 (relaxed);  [fence seq_cst];  r0 = Y (relaxed)
 *   T1 ("vCPU"):     Y = 1 as a relaxed store or a seq_cst fetch_or
 *                    (tlbb_cpumask_set());  [fence seq_cst];  r1 = X (relaxed)
 *
 * Forbidden outcome r0 == 0 && r1 == 0 (both read the old value).
 *
 *   shape 0  plain store, no fences on either side: the classic SB test,
 *            shows that the machine (or emulator) reorders at all
 *   shape 1  T0 fence; T1 fetch_or, no fence: tlbb_vcpu_enter_space()
 *            with its fence deleted (the surviving mutant)
 *   shape 2  T0 fence; T1 plain store, no fence: control for shape 1, the
 *            same code with the RMW replaced by a plain store
 *   shape 3  T0 fence; T1 fetch_or + fence: the backend as shipped
 *
 * Rounds are timed by the cycle counter (cntvct_el0 / rdtsc) with T1's
 * start swept by a small offset, each round on its own pair of cache lines,
 * as in litmus_sb.c.
 *
 *   usage: sb-shapes SHAPE [BATCHES [PERIOD [SPREAD]]]   (counter ticks)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cycles.h"

#define N 4096

struct line {
	uint64_t v;
} __attribute__((aligned(64)));

static struct line X[N], Y[N];
static uint8_t r0[N], r1[N];
static int off[N];
static uint64_t t0;             /* atomic */
static unsigned go, done;       /* atomic */
static unsigned shape, period = 32;
static int spread = 8;

static void spin_until(uint64_t t)
{
	while (now() < t)
		;
}

static void *t1_main(void *arg)
{
	(void)arg;
	for (unsigned b = 1;; b++) {
		unsigned g;

		while ((g = __atomic_load_n(&go, __ATOMIC_ACQUIRE)) < b)
			;
		if (g == ~0u)
			return NULL;
		uint64_t base = __atomic_load_n(&t0, __ATOMIC_RELAXED);

		for (unsigned i = 0; i < N; i++) {
			spin_until(base + (uint64_t)i * period + (uint64_t)(spread + off[i]));
			if (shape == 1 || shape == 3)
				__atomic_fetch_or(&Y[i].v, 1, __ATOMIC_SEQ_CST);
			else
				__atomic_store_n(&Y[i].v, 1, __ATOMIC_RELAXED);
			if (shape == 3)
				__atomic_thread_fence(__ATOMIC_SEQ_CST);
			r1[i] = (uint8_t)__atomic_load_n(&X[i].v, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&done, b, __ATOMIC_RELEASE);
	}
}

int main(int argc, char **argv)
{
	unsigned long long o[2][2] = { { 0 } };
	unsigned batches = 100;
	pthread_t th;

	if (argc < 2 || (shape = (unsigned)atoi(argv[1])) > 3) {
		fprintf(stderr, "usage: %s SHAPE(0-3) [BATCHES [PERIOD [SPREAD]]]\n", argv[0]);
		return 2;
	}
	if (argc > 2)
		batches = (unsigned)atoi(argv[2]);
	if (argc > 3)
		period = (unsigned)atoi(argv[3]);
	if (argc > 4)
		spread = atoi(argv[4]);
	if (pthread_create(&th, NULL, t1_main, NULL))
		return 2;
	for (unsigned b = 1; b <= batches; b++) {
		uint64_t base;

		memset(X, 0, sizeof(X));
		memset(Y, 0, sizeof(Y));
		for (unsigned i = 0; i < N; i++)
			off[i] = (int)((i * 2654435761u >> 7) % (unsigned)(2 * spread + 1)) - spread;
		base = now() + 4 * (uint64_t)period;
		__atomic_store_n(&t0, base, __ATOMIC_RELAXED);
		__atomic_store_n(&go, b, __ATOMIC_RELEASE);
		for (unsigned i = 0; i < N; i++) {
			spin_until(base + (uint64_t)i * period + (uint64_t)spread);
			__atomic_store_n(&X[i].v, 1, __ATOMIC_RELAXED);
			if (shape != 0)
				__atomic_thread_fence(__ATOMIC_SEQ_CST);
			r0[i] = (uint8_t)__atomic_load_n(&Y[i].v, __ATOMIC_RELAXED);
		}
		while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) != b)
			;
		for (unsigned i = 0; i < N; i++)
			o[r0[i]][r1[i]]++;
	}
	__atomic_store_n(&go, ~0u, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	printf("{\"shape\": %u, \"rounds\": %llu, \"forbidden_00\": %llu, \"r0_0_r1_1\": %llu, "
	       "\"r0_1_r1_0\": %llu, \"both_1\": %llu}\n",
	       shape, (unsigned long long)batches * N, o[0][0], o[0][1], o[1][0], o[1][1]);
	return 0;
}
