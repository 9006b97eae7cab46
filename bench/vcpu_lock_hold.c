/* SPDX-License-Identifier: MIT */
/*
 * vcpu-lock-hold [--rounds N] [--vcpus N] [--block-spins N] — how long a race check that
 * flushes holds the page-table lock, in an emulator whose vCPU threads take
 * that lock themselves (each of their blocks walks under it).
 *
 *   plain   tlbb_flush_pending() under the lock: the lock is held across one
 *           grace period. The vCPUs must not block on it while online
 *           (rule 1), so they take it by trylock, else offline, lock, online.
 *   relock  tlbb_vcpu_flush_pending_relock(): the lock is dropped for the
 *           grace period; the vCPUs take it with a plain blocking lock.
 *
 * Each round: a reclaimer clears one page under the lock and adds it to a
 * batch (left unflushed), then a changer takes the lock, runs the race check
 * (it flushes) and remaps the page. The figure is the longest continuous
 * hold of the lock per round; median and maximum over the rounds, one JSON
 * line per mode. Wall time on a shared machine: compare the two modes
 * within one run, not across runs.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tlbbatch/vcpu.h>

#define NPAGES 16u
#define MAX_ROUNDS 1000

static pthread_mutex_t ptl = PTHREAD_MUTEX_INITIALIZER;
static uint64_t pte[NPAGES]; /* atomic: frame + 1, 0 = not present */
static struct tlbb_space space;
static int stop, ready, relock_mode; /* atomic / atomic / set before the threads start */
static unsigned block_spins = 100000; /* the rest of a vCPU's block, outside the lock */
static uint64_t held_since, longest; /* the changer's current hold */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void vcpu_lock(struct tlbb_vcpu *v)
{
	if (relock_mode) {
		pthread_mutex_lock(&ptl);
		return;
	}
	if (pthread_mutex_trylock(&ptl) == 0)
		return;
	tlbb_vcpu_offline(v); /* rule 1: never block online */
	pthread_mutex_lock(&ptl);
	tlbb_vcpu_online(v);
}

static void *vcpu_main(void *arg)
{
	struct tlbb_vcpu_host *h = arg;
	struct tlbb_vcpu *v = tlbb_vcpu_register(h);
	unsigned i = 0;

	if (!v)
		abort();
	tlbb_vcpu_enter_space(v, &space);
	__atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST)) {
		uint64_t payload;
		uint64_t va = (uint64_t)(i++ % NPAGES) << 12;

		tlbb_vcpu_quiescent(v);
		vcpu_lock(v); /* the block walks under the lock */
		if (!tlbb_vcpu_tlb_lookup(v, 1, va, false, &payload)) {
			uint64_t p = __atomic_load_n(&pte[va >> 12], __ATOMIC_ACQUIRE);

			if (p)
				tlbb_vcpu_tlb_fill(v, 1, va, p - 1, true);
		}
		pthread_mutex_unlock(&ptl);
		for (volatile unsigned spin = 0; spin < block_spins; spin++)
			; /* the rest of the block: online, no safe point */
	}
	tlbb_vcpu_unregister(v);
	return NULL;
}

static void hold_begin(void)
{
	held_since = now_ns();
}

static void hold_end(void)
{
	uint64_t d = now_ns() - held_since;

	if (d > longest)
		longest = d;
}

static void changer_unlock(void *m)
{
	hold_end();
	pthread_mutex_unlock(m);
}

static void changer_lock(void *m)
{
	pthread_mutex_lock(m);
	hold_begin();
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void run(struct tlbb_vcpu_host *h, bool relock, unsigned rounds, unsigned nvcpus)
{
	pthread_t t[8];
	uint64_t hold[MAX_ROUNDS];
	struct tlbb_batch b;
	struct tlbb_vcpu_stats st;
	unsigned flushed = 0;

	relock_mode = relock;
	__atomic_store_n(&stop, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ready, 0, __ATOMIC_SEQ_CST);
	for (unsigned p = 0; p < NPAGES; p++)
		__atomic_store_n(&pte[p], p + 1, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < nvcpus; i++)
		pthread_create(&t[i], NULL, vcpu_main, h);
	while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < (int)nvcpus)
		sched_yield();
	tlbb_vcpu_reset_stats(h);
	tlbb_batch_init(&b);
	for (unsigned r = 0; r < rounds; r++) {
		unsigned p = r % NPAGES;

		pthread_mutex_lock(&ptl); /* reclaim: clear and batch */
		__atomic_store_n(&pte[p], 0, __ATOMIC_SEQ_CST);
		tlbb_add_page(&b, &space, (uint64_t)p << 12, 0);
		pthread_mutex_unlock(&ptl);

		longest = 0;
		changer_lock(&ptl); /* the changer: race check, then its change */
		if (relock)
			flushed += tlbb_vcpu_flush_pending_relock(&space, changer_unlock, changer_lock, &ptl);
		else
			flushed += tlbb_flush_pending(&space);
		__atomic_store_n(&pte[p], p + 1, __ATOMIC_SEQ_CST);
		changer_unlock(&ptl);
		hold[r] = longest;
		tlbb_flush(&b); /* the reclaimer's own flush, outside the lock */
	}
	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < nvcpus; i++)
		pthread_join(t[i], NULL);
	tlbb_vcpu_get_stats(h, &st);
	qsort(hold, rounds, sizeof(hold[0]), cmp_u64);
	printf("{\"benchmark\": \"vcpu_race_check_lock_hold\", \"mode\": \"%s\", \"vcpus\": %u, "
	       "\"rounds\": %u, \"race_checks_that_flushed\": %u, \"grace_periods\": %llu, "
	       "\"block_spins\": %u, \"median_hold_us\": %.1f, \"max_hold_us\": %.1f}\n",
	       relock ? "relock" : "plain", nvcpus, rounds, flushed,
	       (unsigned long long)st.grace_periods, block_spins, hold[rounds / 2] / 1e3,
	       hold[rounds - 1] / 1e3);
}

int main(int argc, char **argv)
{
	unsigned rounds = 50, nvcpus = 2;
	struct tlbb_vcpu_host *h;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rounds"))
			rounds = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--vcpus"))
			nvcpus = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--block-spins"))
			block_spins = (unsigned)strtoul(argv[i + 1], NULL, 0);
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || nvcpus < 1 || nvcpus > 8)
		return 2;
	h = tlbb_vcpu_host_create(NULL);
	if (!h || tlbb_vcpu_space_init(h, &space, 1, NULL) != TLBB_OK)
		return 1;
	run(h, false, rounds, nvcpus);
	run(h, true, rounds, nvcpus);
	tlbb_space_fini(&space);
	tlbb_vcpu_host_destroy(h);
	return 0;
}
