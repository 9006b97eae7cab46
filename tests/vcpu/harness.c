/* SPDX-License-Identifier: MIT */
#include "harness.h"

#include <sched.h>
#include <string.h>
#include <time.h>

static struct t_frame frames[T_NFRAMES];
static unsigned next_frame = 1;

uint64_t t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void t_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void t_frames_reset(void)
{
	for (unsigned f = 0; f < T_NFRAMES; f++)
		__atomic_store_n(&frames[f].state, FRAME_FREE, __ATOMIC_SEQ_CST);
	next_frame = 1;
}

struct t_frame *t_frame(unsigned f)
{
	return &frames[f % T_NFRAMES];
}

void t_space_init(struct tlbb_vcpu_host *h, struct t_space *sp, uint32_t asid)
{
	memset(sp, 0, sizeof(*sp));
	tlbb_vcpu_space_init(h, &sp->s, asid, sp);
	tlbb_space_set_cpumask(&sp->s, &sp->cpus);
}

void t_batch_init(struct tlbb_batch *b)
{
	static tlbb_cpumask_t pool[8];
	static unsigned next;

	tlbb_batch_init(b);
	tlbb_batch_set_cpumask(b, &pool[next++ % 8]);
}

unsigned t_map(struct t_space *sp, unsigned vpn)
{
	unsigned f = next_frame++ % T_NFRAMES;

	__atomic_store_n(&frames[f].state, FRAME_LIVE, __ATOMIC_SEQ_CST);
	__atomic_store_n(&sp->pte[vpn], (uint64_t)f + 1, __ATOMIC_SEQ_CST);
	return f;
}

uint64_t t_unmap(struct t_space *sp, unsigned vpn)
{
	return __atomic_exchange_n(&sp->pte[vpn], 0, __ATOMIC_SEQ_CST);
}

/* Translate through the software TLB, walk on a miss, check the frame. */
enum t_access t_access(struct tlbb_vcpu *v, struct t_space *sp, uintptr_t va)
{
	uint64_t payload;
	enum t_access r = T_HIT;
	unsigned vpn = (unsigned)(va / T_PAGE);

	if (!tlbb_vcpu_tlb_lookup(v, sp->s.id, va, false, &payload)) {
		uint64_t pte = vpn < T_NPAGES ? __atomic_load_n(&sp->pte[vpn], __ATOMIC_ACQUIRE) : 0;

		if (!pte)
			return T_FAULT;
		payload = pte - 1;
		tlbb_vcpu_tlb_fill(v, sp->s.id, va, payload, true);
		r = T_WALK;
	}
	if (__atomic_load_n(&frames[payload % T_NFRAMES].state, __ATOMIC_SEQ_CST) != FRAME_LIVE)
		return T_STALE;
	return r;
}

static long run(struct t_vcpu *tv)
{
	switch (tv->cmd) {
	case C_ENTER:
		tlbb_vcpu_enter_space(tv->v, &tv->sp->s);
		return 0;
	case C_ACCESS:
		return t_access(tv->v, tv->sp, tv->va);
	case C_HAS:
		return tlbb_vcpu_tlb_lookup(tv->v, tv->asid, tv->va, false, NULL);
	case C_COUNT:
		return tlbb_vcpu_tlb_count(tv->v, tv->asid);
	case C_OFFLINE:
		if (!tv->offline)
			tlbb_vcpu_offline(tv->v);
		tv->offline = true;
		return 0;
	case C_ONLINE:
		if (tv->offline)
			tlbb_vcpu_online(tv->v);
		tv->offline = false;
		return 0;
	case C_ONLINE_ACCESS:
		if (tv->offline)
			tlbb_vcpu_online(tv->v);
		tv->offline = false;
		return t_access(tv->v, tv->sp, tv->va);
	case C_HOLD:
		/* Translate, then stay inside this "translated block" (online, no
		 * quiescent state) until the test releases us. */
		t_access(tv->v, tv->sp, tv->va);
		__atomic_store_n(&tv->holding, 1, __ATOMIC_SEQ_CST);
		while (!__atomic_load_n(&tv->release, __ATOMIC_SEQ_CST))
			;
		/* The end of the block uses the same translation again. */
		tv->hold_result = t_access(tv->v, tv->sp, tv->va);
		__atomic_store_n(&tv->holding, 0, __ATOMIC_SEQ_CST);
		return tv->hold_result;
	case C_FLUSH_HAS:
		tlbb_flush(tv->batch);
		return tlbb_vcpu_tlb_lookup(tv->v, tv->asid, tv->va, false, NULL);
	case C_RACE_CHECK_HAS:
		/* A changer running on the vCPU (a guest mprotect emulated inline). */
		tlbb_flush_pending(&tv->sp->s);
		return tlbb_vcpu_tlb_lookup(tv->v, tv->asid, tv->va, false, NULL);
	case C_HOLD_FRAME: {
		struct t_frame *f = t_frame((unsigned)tv->va);

		if (__atomic_load_n(&f->state, __ATOMIC_SEQ_CST) != FRAME_LIVE)
			tv->hold_result = T_STALE;
		__atomic_store_n(&tv->holding, 1, __ATOMIC_SEQ_CST);
		while (!__atomic_load_n(&tv->release, __ATOMIC_SEQ_CST))
			;
		/* The walk reads the table page again at the end of the block. */
		if (__atomic_load_n(&f->state, __ATOMIC_SEQ_CST) != FRAME_LIVE)
			tv->hold_result = T_STALE;
		__atomic_store_n(&tv->holding, 0, __ATOMIC_SEQ_CST);
		return tv->hold_result;
	}
	default:
		return -1;
	}
}

static void *vcpu_main(void *arg)
{
	struct t_vcpu *tv = arg;
	bool quit = false;

	tv->v = tlbb_vcpu_register(tv->h);
	pthread_mutex_lock(&tv->lock);
	tv->id = tv->v ? tlbb_vcpu_id(tv->v) : ~0u;
	tv->done = tv->seq;
	pthread_cond_broadcast(&tv->cond);
	pthread_mutex_unlock(&tv->lock);
	if (!tv->v)
		return NULL;
	while (!quit) {
		unsigned seq;

		if (tv->offline) {
			/* Idle: offline, so blocking is allowed. */
			pthread_mutex_lock(&tv->lock);
			while (tv->seq == tv->done)
				pthread_cond_wait(&tv->cond, &tv->lock);
			pthread_mutex_unlock(&tv->lock);
		} else {
			/* Online and idle: sit at the safe point, reporting. */
			while (__atomic_load_n(&tv->seq, __ATOMIC_ACQUIRE) == tv->done) {
				tlbb_vcpu_quiescent(tv->v);
				sched_yield();
			}
		}
		pthread_mutex_lock(&tv->lock);
		seq = tv->seq;
		pthread_mutex_unlock(&tv->lock);
		if (tv->cmd == C_UNREGISTER) {
			if (tv->offline)
				tlbb_vcpu_online(tv->v);
			tlbb_vcpu_unregister(tv->v);
			quit = true;
			tv->result = 0;
		} else {
			tv->result = run(tv);
			/* The end of a block: a safe point (unless we are idle). */
			if (!tv->offline)
				tlbb_vcpu_quiescent(tv->v);
		}
		pthread_mutex_lock(&tv->lock);
		tv->done = seq;
		pthread_cond_broadcast(&tv->cond);
		pthread_mutex_unlock(&tv->lock);
	}
	return NULL;
}

bool t_vcpu_start(struct t_vcpu *tv, struct tlbb_vcpu_host *h)
{
	memset(tv, 0, sizeof(*tv));
	tv->h = h;
	pthread_mutex_init(&tv->lock, NULL);
	pthread_cond_init(&tv->cond, NULL);
	tv->seq = 1;
	pthread_create(&tv->th, NULL, vcpu_main, tv);
	pthread_mutex_lock(&tv->lock);
	while (tv->done != tv->seq)
		pthread_cond_wait(&tv->cond, &tv->lock);
	pthread_mutex_unlock(&tv->lock);
	if (!tv->v) {
		pthread_join(tv->th, NULL);
		return false;
	}
	return true;
}

static void post_cmd(struct t_vcpu *tv, enum t_cmd cmd, struct t_space *sp, uintptr_t va,
		     struct tlbb_batch *b)
{
	pthread_mutex_lock(&tv->lock);
	tv->cmd = cmd;
	tv->sp = sp;
	tv->va = va;
	tv->asid = sp ? sp->s.id : 0;
	tv->batch = b;
	__atomic_store_n(&tv->seq, tv->seq + 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&tv->cond);
	pthread_mutex_unlock(&tv->lock);
}

static long wait_cmd(struct t_vcpu *tv)
{
	long r;

	pthread_mutex_lock(&tv->lock);
	while (tv->done != tv->seq)
		pthread_cond_wait(&tv->cond, &tv->lock);
	r = tv->result;
	pthread_mutex_unlock(&tv->lock);
	return r;
}

long t_vcpu_cmd(struct t_vcpu *tv, enum t_cmd cmd, struct t_space *sp, uintptr_t va)
{
	post_cmd(tv, cmd, sp, va, NULL);
	return wait_cmd(tv);
}

long t_vcpu_flush_has(struct t_vcpu *tv, struct tlbb_batch *b, struct t_space *sp, uintptr_t va)
{
	post_cmd(tv, C_FLUSH_HAS, sp, va, b);
	return wait_cmd(tv);
}

void t_vcpu_hold(struct t_vcpu *tv, struct t_space *sp, uintptr_t va)
{
	__atomic_store_n(&tv->release, 0, __ATOMIC_SEQ_CST);
	post_cmd(tv, C_HOLD, sp, va, NULL);
	while (!__atomic_load_n(&tv->holding, __ATOMIC_SEQ_CST))
		sched_yield();
}

void t_vcpu_hold_frame(struct t_vcpu *tv, unsigned f)
{
	__atomic_store_n(&tv->release, 0, __ATOMIC_SEQ_CST);
	tv->hold_result = T_HIT; /* set before the command is posted (release store) */
	post_cmd(tv, C_HOLD_FRAME, NULL, f, NULL);
	while (!__atomic_load_n(&tv->holding, __ATOMIC_SEQ_CST))
		sched_yield();
}

int t_vcpu_release(struct t_vcpu *tv)
{
	__atomic_store_n(&tv->release, 1, __ATOMIC_SEQ_CST);
	return (int)wait_cmd(tv);
}

void t_vcpu_stop(struct t_vcpu *tv)
{
	t_vcpu_cmd(tv, C_UNREGISTER, NULL, 0);
	pthread_join(tv->th, NULL);
	pthread_mutex_destroy(&tv->lock);
	pthread_cond_destroy(&tv->cond);
}
