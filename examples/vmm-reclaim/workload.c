/* SPDX-License-Identifier: MIT */
#include "workload.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_SHIFT 12
#define GUEST_ASID 1
#define TAG_LIVE (UINT64_C(1) << 63)
#define POISON UINT64_C(0xdeaddeaddeaddead)

/* A host frame. `tag` is the checker's truth; `data` is guest memory. */
struct frame {
	uint64_t tag;     /* atomic: TAG_LIVE | vpn while it backs a page, 0 when free */
	uint64_t data[8]; /* plain: vCPU n reads/writes data[n % 8] only */
	struct tlbb_vcpu_deferred dnode;
	unsigned idx;
} __attribute__((aligned(64)));

struct vmm {
	const struct vmm_cfg *cfg;
	struct tlbb_vcpu_host *host;
	struct tlbb_space space;
	tlbb_cpumask_t space_cpus; /* the vCPUs that entered the space */
	uint64_t *pte;           /* atomic: frame + 1, 0 = not present */
	struct frame *frames;
	pthread_mutex_t pool_lock;
	unsigned *pool;          /* free frame stack */
	unsigned pool_n;
	pthread_mutex_t ptl;     /* the page-table lock: reclaim and changer */
	int stop;                /* atomic */
	unsigned ready;          /* atomic: vCPUs past their warm-up */
	uint64_t stale, first_stale; /* atomic */
	uint64_t race_checks;
};

struct vcpu_thread {
	struct vmm *m;
	pthread_t th;
	unsigned n;
	uint64_t accesses, refaults, nomem, rereg, idles;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * UINT64_C(2685821657736338717)) >> 32);
}

static bool stopping(struct vmm *m)
{
	return __atomic_load_n(&m->stop, __ATOMIC_ACQUIRE);
}

void vmm_default_cfg(struct vmm_cfg *cfg)
{
	*cfg = (struct vmm_cfg){
		.vcpus = 3,
		.pages = 1024,
		.frames = 1024 + 1024,
		.batch = 32,
		.block = 32,
		.write_pct = 25,
		.duration_ms = 300,
		.seed = 1,
	};
}

/* ---- frame pool ---------------------------------------------------------- */

static int pool_pop(struct vmm *m)
{
	int f = -1;

	pthread_mutex_lock(&m->pool_lock);
	if (m->pool_n)
		f = (int)m->pool[--m->pool_n];
	pthread_mutex_unlock(&m->pool_lock);
	return f;
}

static void pool_push(struct vmm *m, unsigned f)
{
	pthread_mutex_lock(&m->pool_lock);
	m->pool[m->pool_n++] = f;
	pthread_mutex_unlock(&m->pool_lock);
}

static struct vmm *the_vmm; /* for the deferred callback */

/*
 * The frame is free: poison it and give it back. Runs inside tlbb_flush()
 * after the grace period (or, in the skip-flush negative control, at once).
 */
static void frame_release(struct frame *fr)
{
	__atomic_store_n(&fr->tag, 0, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < 8; i++)
		fr->data[i] = POISON; /* plain writes: TSan checks the hand-off */
	pool_push(the_vmm, fr->idx);
}

static void frame_deferred(struct tlbb_vcpu_deferred *d)
{
	frame_release((struct frame *)((char *)d - offsetof(struct frame, dnode)));
}

/* ---- the guest ------------------------------------------------------------- */

/* Fault vpn in: a fresh frame, installed only if the PTE is still empty. */
static bool fault_in(struct vmm *m, struct vcpu_thread *t, unsigned vpn)
{
	int f = pool_pop(m);
	uint64_t expect = 0;

	if (f < 0) {
		t->nomem++;
		return false;
	}
	memset(m->frames[f].data, 0, sizeof(m->frames[f].data));
	__atomic_store_n(&m->frames[f].tag, TAG_LIVE | vpn, __ATOMIC_RELEASE);
	if (!__atomic_compare_exchange_n(&m->pte[vpn], &expect, (uint64_t)f + 1, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		/* Another vCPU installed one first; ours was never visible. */
		__atomic_store_n(&m->frames[f].tag, 0, __ATOMIC_RELAXED);
		pool_push(m, (unsigned)f);
	} else {
		t->refaults++;
	}
	return true;
}

static void note_stale(struct vmm *m, unsigned vcpu, unsigned vpn)
{
	if (__atomic_fetch_add(&m->stale, 1, __ATOMIC_RELAXED) == 0)
		__atomic_store_n(&m->first_stale, ((uint64_t)vcpu << 32) | vpn, __ATOMIC_RELAXED);
	if (m->cfg->stop_on_stale)
		__atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
}

/* One guest access of page vpn through the software TLB. */
static void guest_access(struct vmm *m, struct vcpu_thread *t, struct tlbb_vcpu *v, unsigned vpn,
			 bool write)
{
	uintptr_t va = (uintptr_t)vpn << PAGE_SHIFT;
	uint64_t payload, tag;
	struct frame *fr;

	if (!tlbb_vcpu_tlb_lookup(v, GUEST_ASID, va, write, &payload)) {
		/* The walk: acquire, as a hardware walker's PTE load is ordered. */
		uint64_t pte = __atomic_load_n(&m->pte[vpn], __ATOMIC_ACQUIRE);

		if (!pte) {
			if (!fault_in(m, t, vpn))
				return;
			pte = __atomic_load_n(&m->pte[vpn], __ATOMIC_ACQUIRE);
			if (!pte)
				return; /* reclaimed again already; next time */
		}
		payload = pte - 1;
		tlbb_vcpu_tlb_fill(v, GUEST_ASID, va, payload, true);
	}
	t->accesses++;
	fr = &m->frames[payload];
	tag = __atomic_load_n(&fr->tag, __ATOMIC_ACQUIRE);
	if (tag != (TAG_LIVE | vpn)) {
		note_stale(m, tlbb_vcpu_id(v), vpn);
		return;
	}
	/* Guest memory: plain access to this vCPU's word of the frame. */
	if (write)
		fr->data[t->n % 8] += 1;
	else if (fr->data[t->n % 8] == POISON)
		note_stale(m, tlbb_vcpu_id(v), vpn);
}

static struct tlbb_vcpu *join(struct vmm *m)
{
	struct tlbb_vcpu *v;

	while (!(v = tlbb_vcpu_register(m->host)))
		sched_yield(); /* every slot taken for a moment (churn) */
	tlbb_vcpu_enter_space(v, &m->space);
	return v;
}

static void *vcpu_main(void *arg)
{
	struct vcpu_thread *t = arg;
	struct vmm *m = t->m;
	const struct vmm_cfg *cfg = m->cfg;
	uint64_t seed = (cfg->seed + 1) * 0x9e3779b97f4a7c15u + t->n * 7919u + 1;
	struct tlbb_vcpu *v = join(m);
	/* Warm-up: enough blocks to have faulted in the working set. */
	uint64_t warm = (uint64_t)cfg->pages * 4 / cfg->block + 1, blocks = 0;

	while (!stopping(m)) {
		if (++blocks == warm)
			__atomic_fetch_add(&m->ready, 1, __ATOMIC_RELEASE);
		for (unsigned i = 0; i < cfg->block; i++)
			guest_access(m, t, v, rnd(&seed) % cfg->pages, rnd(&seed) % 100 < cfg->write_pct);
		/* Between translated blocks: the safe point. */
		tlbb_vcpu_quiescent(v);
		if (cfg->idle_pct && rnd(&seed) % 100 < cfg->idle_pct) {
			struct timespec ts = { 0, 20000 + (long)(rnd(&seed) % 80000) };

			tlbb_vcpu_offline(v); /* halted: flushers stop waiting for us */
			nanosleep(&ts, NULL);
			tlbb_vcpu_online(v);
			t->idles++;
		}
		if (cfg->churn_blocks && rnd(&seed) % cfg->churn_blocks == 0) {
			tlbb_vcpu_unregister(v); /* hot-unplug ... */
			sched_yield();
			v = join(m);             /* ... and plug back, maybe another id */
			t->rereg++;
		}
	}
	tlbb_vcpu_unregister(v);
	return NULL;
}

/* ---- the host side ------------------------------------------------------- */

/* The race check's user: mprotect/zap-like changers take the PTL and check. */
static void *changer_main(void *arg)
{
	struct vmm *m = arg;

	while (!stopping(m)) {
		struct timespec ts = { 0, 200000 };

		pthread_mutex_lock(&m->ptl);
		if (tlbb_flush_pending(&m->space))
			m->race_checks++;
		pthread_mutex_unlock(&m->ptl);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void balloon(struct vmm *m, struct vmm_result *r)
{
	const struct vmm_cfg *cfg = m->cfg;
	uint64_t seed = cfg->seed * 31 + 17, t0, end;
	struct tlbb_batch b;
	unsigned queued = 0;

	/* Measure the steady state: every vCPU running, working set faulted in. */
	while (__atomic_load_n(&m->ready, __ATOMIC_ACQUIRE) < cfg->vcpus && !stopping(m)) {
		struct timespec ts = { 0, 100000 };

		nanosleep(&ts, NULL);
	}
	t0 = now_ns();
	end = t0 + (uint64_t)cfg->duration_ms * 1000000u;
	tlbb_batch_init(&b);
	while (!stopping(m) && now_ns() < end) {
		unsigned vpn = rnd(&seed) % cfg->pages;
		uint64_t old;

		pthread_mutex_lock(&m->ptl);
		old = __atomic_exchange_n(&m->pte[vpn], 0, __ATOMIC_SEQ_CST);
		if (old)
			tlbb_add_page(&b, &m->space, (uintptr_t)vpn << PAGE_SHIFT, TLBB_ADD_WRITABLE);
		pthread_mutex_unlock(&m->ptl);
		if (!old)
			continue; /* not present (reclaimed, not yet faulted back): another */
		if (cfg->skip_flush)
			frame_release(&m->frames[old - 1]); /* NEGATIVE CONTROL: too early */
		else
			tlbb_vcpu_defer(&b, &m->frames[old - 1].dnode, frame_deferred);
		r->pages_reclaimed++;
		if (++queued >= cfg->batch) {
			tlbb_flush(&b); /* one grace period; frees the batch's frames */
			r->flush_calls++;
			queued = 0;
		}
	}
	if (queued) {
		tlbb_flush(&b);
		r->flush_calls++;
	}
	r->elapsed_ns = now_ns() - t0;
}

int vmm_run(const struct vmm_cfg *cfg, struct vmm_result *out)
{
	struct tlbb_vcpu_config hc = { .max_vcpus = cfg->vcpus + (cfg->churn_blocks ? 1 : 0),
				       .tlb_sets = 64, .tlb_ways = 4, .faults = cfg->faults };
	struct vmm m = { .cfg = cfg };
	struct vcpu_thread *t;
	pthread_t changer;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!cfg->vcpus || !cfg->pages || cfg->frames < cfg->pages + 1 || !cfg->batch || !cfg->block ||
	    hc.max_vcpus > TLBB_MAX_CPUS)
		return -1;
	m.host = tlbb_vcpu_host_create(&hc);
	m.pte = calloc(cfg->pages, sizeof(*m.pte));
	m.frames = aligned_alloc(64, (size_t)cfg->frames * sizeof(*m.frames));
	m.pool = calloc(cfg->frames, sizeof(*m.pool));
	t = calloc(cfg->vcpus, sizeof(*t));
	if (!m.host || !m.pte || !m.frames || !m.pool || !t)
		goto out;
	memset(m.frames, 0, (size_t)cfg->frames * sizeof(*m.frames));
	pthread_mutex_init(&m.pool_lock, NULL);
	pthread_mutex_init(&m.ptl, NULL);
	for (unsigned f = 0; f < cfg->frames; f++) {
		m.frames[f].idx = f;
		m.pool[m.pool_n++] = cfg->frames - 1 - f;
	}
	the_vmm = &m;
	tlbb_vcpu_space_init(m.host, &m.space, GUEST_ASID, &m);
	tlbb_space_set_cpumask(&m.space, &m.space_cpus);
	for (unsigned n = 0; n < cfg->vcpus; n++) {
		t[n] = (struct vcpu_thread){ .m = &m, .n = n };
		pthread_create(&t[n].th, NULL, vcpu_main, &t[n]);
	}
	if (cfg->race_check)
		pthread_create(&changer, NULL, changer_main, &m);
	balloon(&m, out);
	__atomic_store_n(&m.stop, 1, __ATOMIC_RELEASE);
	if (cfg->race_check)
		pthread_join(changer, NULL);
	for (unsigned n = 0; n < cfg->vcpus; n++) {
		pthread_join(t[n].th, NULL);
		out->accesses += t[n].accesses;
		out->refaults += t[n].refaults;
		out->nomem += t[n].nomem;
		out->reregistrations += t[n].rereg;
		out->idles += t[n].idles;
	}
	out->stale = __atomic_load_n(&m.stale, __ATOMIC_RELAXED);
	out->first_stale_vcpu = (unsigned)(m.first_stale >> 32);
	out->first_stale_vpn = (unsigned)m.first_stale;
	out->race_checks = m.race_checks;
	out->pages_per_s = out->elapsed_ns ? (double)out->pages_reclaimed * 1e9 / (double)out->elapsed_ns : 0;
	tlbb_vcpu_get_stats(m.host, &out->st);
	pthread_mutex_destroy(&m.pool_lock);
	pthread_mutex_destroy(&m.ptl);
	the_vmm = NULL;
	rc = 0;
out:
	free(t);
	free(m.pool);
	free(m.frames);
	free(m.pte);
	tlbb_vcpu_host_destroy(m.host);
	return rc;
}
