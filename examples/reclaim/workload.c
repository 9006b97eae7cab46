/* SPDX-License-Identifier: MIT */
#include "workload.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_SHIFT 12

struct run {
	const struct workload_config *cfg;
	struct tlbb_sim *sim;
	struct tlbb_sim_space ss;
	pthread_mutex_t ptl;   /* the page-table lock of the one space */
	int stop;              /* atomic */
	unsigned ready;        /* atomic: user threads running */
	uint64_t reclaimed, batches, changes;
};

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: cheap and good enough to pick pages */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static bool stopped(struct run *r)
{
	return __atomic_load_n(&r->stop, __ATOMIC_ACQUIRE);
}

static void stop(struct run *r)
{
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Map a fresh frame at @vpn if nothing is there (caller holds the PTL). */
static bool map_fresh(struct run *r, unsigned vpn)
{
	int f;

	if (tlbb_sim_pte_get(&r->ss, vpn) & TLBB_SIM_PTE_VALID)
		return true;
	f = tlbb_sim_frame_alloc(r->sim);
	if (f < 0)
		return false; /* frames exhausted: the run ends */
	tlbb_sim_pte_set(&r->ss, vpn, (unsigned)f, true);
	return true;
}

struct user_arg {
	struct run *r;
	unsigned cpu;
};

static void *user_thread(void *p)
{
	struct user_arg *a = p;
	struct run *r = a->r;
	uint64_t seed = r->cfg->seed * 977 + a->cpu;

	tlbb_sim_cpu_enter(r->sim, a->cpu);
	/* Fill a TLB entry before the reclaimer may start: no idle warm-up runs. */
	tlbb_sim_access(r->sim, a->cpu, 0, false);
	__atomic_fetch_add(&r->ready, 1, __ATOMIC_RELEASE);
	while (!stopped(r)) {
		uint64_t x = rnd(&seed);
		unsigned vpn = (unsigned)(x % r->cfg->npages);

		if (tlbb_sim_access(r->sim, a->cpu, (uintptr_t)vpn << PAGE_SHIFT, (x >> 40) % 4 == 0) ==
			    TLBB_SIM_STALE &&
		    r->cfg->stop_on_stale)
			stop(r);
	}
	return NULL;
}

/* The changer: mprotect(PROT_READ)/mprotect(RW)/zap+refault of one page. */
static void *changer_thread(void *p)
{
	struct user_arg *a = p;
	struct run *r = a->r;
	uint64_t seed = r->cfg->seed * 31 + 7;
	struct tlbb_batch own;

	tlbb_sim_cpu_enter(r->sim, a->cpu);
	tlbb_batch_init(&own);
	while (!stopped(r)) {
		uint64_t x = rnd(&seed);
		unsigned vpn = (unsigned)(x % r->cfg->npages), op = (unsigned)((x >> 32) % 3);
		uint64_t old;

		pthread_mutex_lock(&r->ptl);
		if (r->cfg->race_check)
			tlbb_flush_pending(&r->ss.space);
		old = tlbb_sim_pte_get(&r->ss, vpn);
		if (op == 2) {
			tlbb_sim_pte_protect(&r->ss, vpn, true); /* upgrade: no flush needed */
		} else {
			if (op == 0)
				tlbb_sim_pte_protect(&r->ss, vpn, false);
			else
				old = tlbb_sim_pte_clear(&r->ss, vpn);
			/* The changer's own maintenance covers only what it changed. */
			if (old & TLBB_SIM_PTE_VALID) {
				tlbb_add_page(&own, &r->ss.space, (uintptr_t)vpn << PAGE_SHIFT, 0);
				tlbb_flush(&own);
				if (op == 1)
					tlbb_sim_frame_set_state(r->sim, tlbb_sim_pte_frame(old),
								 TLBB_SIM_FRAME_RETIRED);
			}
			tlbb_sim_claim_clean(&r->ss, vpn);
			if (op == 1 && !map_fresh(r, vpn))
				stop(r);
		}
		r->changes++;
		pthread_mutex_unlock(&r->ptl);
		/* An application's mprotect/madvise rate, not a PTL hog. */
		nanosleep(&(struct timespec){ 0, 20000 }, NULL);
	}
	return NULL;
}

/* The reclaimer: one batch of up to cfg->batch pages per round. */
static void reclaim_round(struct run *r, struct tlbb_batch *b, uint64_t *seed, unsigned *vpns,
			  unsigned *frames)
{
	unsigned n = 0, start = (unsigned)(rnd(seed) % r->cfg->npages);

	pthread_mutex_lock(&r->ptl);
	for (unsigned i = 0; i < r->cfg->npages && n < r->cfg->batch; i++) {
		unsigned vpn = (start + i) % r->cfg->npages;
		uint64_t old = tlbb_sim_pte_clear(&r->ss, vpn);

		if (!(old & TLBB_SIM_PTE_VALID))
			continue;
		tlbb_add_page(b, &r->ss.space, (uintptr_t)vpn << PAGE_SHIFT,
			      (old & (TLBB_SIM_PTE_WRITE | TLBB_SIM_PTE_DIRTY)) ? TLBB_ADD_WRITABLE : 0);
		vpns[n] = vpn;
		frames[n++] = tlbb_sim_pte_frame(old);
	}
	pthread_mutex_unlock(&r->ptl);

	if (r->cfg->flush_delay_us) {
		struct timespec d = { 0, (long)r->cfg->flush_delay_us * 1000 };

		nanosleep(&d, NULL);
	}
	tlbb_flush_dirty(b); /* before "writeback" of dirty pages */
	tlbb_flush(b);       /* before the frames are freed */
	for (unsigned i = 0; i < n; i++)
		tlbb_sim_frame_set_state(r->sim, frames[i], TLBB_SIM_FRAME_RETIRED);
	r->reclaimed += n;
	r->batches++;

	/* The pages are needed again: fault them back in. */
	pthread_mutex_lock(&r->ptl);
	for (unsigned i = 0; i < n; i++)
		if (!map_fresh(r, vpns[i]))
			stop(r);
	pthread_mutex_unlock(&r->ptl);
}

int workload_run(const struct workload_config *cfg, struct workload_result *out)
{
	struct tlbb_sim_config sc = {
		.ncpus = cfg->ncpus,
		.model = cfg->model,
		.faults = cfg->faults,
		.nframes = 1u << 22,
	};
	unsigned nusers = cfg->ncpus - 1 - (cfg->changer ? 1 : 0);
	struct run r = { .cfg = cfg };
	pthread_t th[TLBB_SIM_MAX_CPUS];
	struct user_arg args[TLBB_SIM_MAX_CPUS];
	struct tlbb_batch batch;
	unsigned *vpns, *frames;
	uint64_t seed = cfg->seed | 1;
	double t0;

	if (cfg->ncpus < 2 || nusers < 1 || cfg->npages == 0 || cfg->batch == 0)
		return -1;
	r.sim = tlbb_sim_create(&sc);
	if (!r.sim)
		return -1;
	if (tlbb_sim_space_init(r.sim, &r.ss, 1, cfg->npages) != TLBB_OK) {
		tlbb_sim_destroy(r.sim);
		return -1;
	}
	pthread_mutex_init(&r.ptl, NULL);
	vpns = calloc(cfg->batch, sizeof(*vpns));
	frames = calloc(cfg->batch, sizeof(*frames));
	for (unsigned v = 0; v < cfg->npages; v++)
		map_fresh(&r, v);
	tlbb_batch_init(&batch);
	tlbb_sim_cpu_enter(r.sim, 0);

	for (unsigned i = 0; i < nusers + (cfg->changer ? 1 : 0); i++) {
		args[i] = (struct user_arg){ &r, 1 + i };
		if (i < nusers)
			tlbb_sim_switch_to(r.sim, 1 + i, &r.ss);
		pthread_create(&th[i], NULL, i < nusers ? user_thread : changer_thread, &args[i]);
	}
	while (__atomic_load_n(&r.ready, __ATOMIC_ACQUIRE) < nusers)
		sched_yield();
	t0 = now();
	while (!stopped(&r) && r.reclaimed < cfg->pages) {
		reclaim_round(&r, &batch, &seed, vpns, frames);
		if (cfg->max_ms && (now() - t0) * 1000 > cfg->max_ms)
			break;
	}
	stop(&r);
	for (unsigned i = 0; i < nusers + (cfg->changer ? 1 : 0); i++)
		pthread_join(th[i], NULL);

	memset(out, 0, sizeof(*out));
	out->seconds = now() - t0;
	out->pages_reclaimed = r.reclaimed;
	out->batches = r.batches;
	out->changes = r.changes;
	tlbb_sim_get_stats(r.sim, &out->stats);

	free(vpns);
	free(frames);
	pthread_mutex_destroy(&r.ptl);
	tlbb_sim_space_fini(&r.ss);
	tlbb_sim_destroy(r.sim);
	return 0;
}
