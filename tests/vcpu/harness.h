/* SPDX-License-Identifier: MIT */
/*
 * Test harness for the vcpu backend: real vCPU threads driven step by step
 * by the test's main thread, a flat test page table and frames with an
 * atomic state word (the stale checker).
 *
 * A harness vCPU thread never blocks while online: between commands it sits
 * at its safe point, reporting quiescent states (as an emulator's vCPU loop
 * would between translated blocks). Offline, it blocks on a condition
 * variable until the next command.
 */
#ifndef TLBB_TESTS_VCPU_HARNESS_H
#define TLBB_TESTS_VCPU_HARNESS_H

#include <tlbbatch/vcpu.h>

#include <pthread.h>

#define T_NPAGES 64
#define T_NFRAMES 128
#define T_PAGE 4096u

enum frame_state { FRAME_FREE = 0, FRAME_LIVE = 1, FRAME_FREED = 2 };

struct t_frame {
	int state; /* enum frame_state, atomic */
	struct tlbb_vcpu_deferred dnode;
	struct tlbb_release rnode; /* the core's hand-off (tlbb_batch_release()) */
};

struct t_space {
	struct tlbb_space s;
	tlbb_cpumask_t cpus;    /* the emulator's mask for s */
	uint64_t pte[T_NPAGES]; /* atomic: frame + 1, 0 = not present */
};

/* tlbb_batch_init() with one of the harness's batch masks (a pool of 8). */
void t_batch_init(struct tlbb_batch *b);

enum t_access { T_HIT, T_WALK, T_FAULT, T_STALE };

enum t_cmd {
	C_NONE,
	C_ENTER,      /* enter space */
	C_ACCESS,     /* translate (fill on miss) and check the frame */
	C_HAS,        /* is va of asid in the TLB? (no fill) */
	C_COUNT,      /* entries of asid */
	C_OFFLINE,
	C_ONLINE,
	C_ONLINE_ACCESS, /* come back from idle and access va in the same block */
	C_HOLD,       /* translate va, then stay inside the block until released */
	C_FLUSH_HAS,  /* tlbb_flush(batch), then C_HAS in the same block */
	C_RACE_CHECK_HAS, /* tlbb_flush_pending(space), then C_HAS in the same block */
	C_HOLD_FRAME, /* read frame `va` (a page-table walk), stay in the block until released */
	C_UNREGISTER, /* leave (thread ends) */
};

struct t_vcpu {
	pthread_t th;
	struct tlbb_vcpu_host *h;
	struct tlbb_vcpu *v;
	unsigned id;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* command slot, under lock; `seq` is also read atomically while spinning */
	unsigned seq, done;
	enum t_cmd cmd;
	struct t_space *sp;
	uintptr_t va;
	uint32_t asid;
	struct tlbb_batch *batch;
	long result;
	bool offline;
	/* C_HOLD */
	int holding;  /* atomic: inside the block */
	int release;  /* atomic: main lets the block finish */
	int hold_result; /* enum t_access of the access at the END of the block */
};

void t_space_init(struct tlbb_vcpu_host *h, struct t_space *sp, uint32_t asid);
/* Map vpn -> a fresh LIVE frame; returns the frame number. */
unsigned t_map(struct t_space *sp, unsigned vpn);
uint64_t t_unmap(struct t_space *sp, unsigned vpn); /* old PTE */
struct t_frame *t_frame(unsigned f);
void t_frames_reset(void);

/* Start a vCPU thread (registered, online); false if registration failed. */
bool t_vcpu_start(struct t_vcpu *tv, struct tlbb_vcpu_host *h);
/* Run a command on the vCPU thread and wait for its result. */
long t_vcpu_cmd(struct t_vcpu *tv, enum t_cmd cmd, struct t_space *sp, uintptr_t va);
/* Flush from the vCPU, then look va of sp up before any safe point. */
long t_vcpu_flush_has(struct t_vcpu *tv, struct tlbb_batch *b, struct t_space *sp, uintptr_t va);
void t_vcpu_stop(struct t_vcpu *tv); /* unregister + join */
/* C_HOLD without waiting for completion; returns when the vCPU is inside. */
void t_vcpu_hold(struct t_vcpu *tv, struct t_space *sp, uintptr_t va);
/*
 * C_HOLD_FRAME: the vCPU reads frame @f directly (as its page-table walker
 * reads a table page: no TLB entry involved) and stays inside the block;
 * returns when it is inside. t_vcpu_release() then gives T_HIT if the frame
 * was still live at the end of the block, T_STALE if it had been freed.
 */
void t_vcpu_hold_frame(struct t_vcpu *tv, unsigned f);
int t_vcpu_release(struct t_vcpu *tv); /* finishes the hold, returns hold_result */

/* Access @va of @sp on the calling vCPU: the shared translate-and-check. */
enum t_access t_access(struct tlbb_vcpu *v, struct t_space *sp, uintptr_t va);

uint64_t t_now_ns(void);
void t_sleep_ms(unsigned ms);

#endif
