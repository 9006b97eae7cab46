/* SPDX-License-Identifier: MIT */
/*
 * The mask + IPI round + generation engine ("maskgen") shared by the
 * backends of ISAs without broadcast invalidation, where a CPU's TLB
 * changes only when that CPU executes an instruction and a remote CPU is
 * reached by interrupting it (x86-64 stage 1: PCIDs and CR3; x86-64 EPT:
 * EPTPs and VM entry; riscv64 without broadcast fences). A backend built on
 * it supplies only its instructions; everything below is the engine's.
 *
 *   generation  per space, 64 bits, in s->arch (struct tlbb_mg_space): every
 *               flush takes a new number AFTER the changes it answers for
 *               (a batch: one per space it holds, when it is flushed or
 *               leaves that space; adds take none). Never reset, never wraps.
 *   slot        per CPU and hardware context tag (PCID, EPTP, ASID): the
 *               space it tracks, by a context number handed out once per
 *               space life (never by address: a space reborn in place must
 *               match none of the dead one's slots), and L, the generation
 *               this CPU has flushed the tag up to. L >= g means change g is
 *               out of this CPU's TLB.
 *   request     what one flush asks of every target: a space (or several:
 *               flush the loaded context), a range, and gen_last, the
 *               flush's number.
 *   flush       ONE tlbb_port_ipi_send_and_wait round to the space's live
 *               mask (s->cpus, read after a seq_cst fence that follows the
 *               flush's number), or the batch's gathered b->cpus for several
 *               spaces, or every CPU when there is no mask; the local part
 *               inline. A target already at gen_last does nothing; one whose
 *               L is gen_last - 1 and that flushes the range catches up to
 *               gen_last; one not running the space trims itself out of the
 *               mask and leaves the work to its next switch-in.
 *   switch-in   (the backend's context switch / VM entry) sets this CPU's
 *               bit in s->cpus, THEN reads the generation: the other half of
 *               the store-buffering pair with the flusher. The context must
 *               be flushed unless the slot is found and L == G.
 *
 * HOW A BACKEND USES IT
 *
 * The hot paths are instantiated per backend at compile time, so that the
 * instructions are direct, inlinable calls (no ops table, no indirect call
 * under the static binding): the backend's source defines these static
 * functions, then includes lib/maskgen_run.h, which defines the hooks
 * mg_should_defer, mg_add, mg_flush, mg_flush_space, mg_space_init,
 * mg_space_fini (its struct tlbb_backend is MG_BACKEND(name, ctx), those
 * hooks filled in), the IPI entry mg_ipi_entry and the switch-in
 * mg_switch_in(be, space, cpu, flags) (the backend's context switch or VM
 * entry calls it and executes the flush it answers):
 *
 *   struct tlbb_mg *mg_engine(const struct tlbb_backend *be)
 *   uint64_t mg_arch_tag(const struct tlbb_backend *be, const struct tlbb_space *s)
 *       the hardware context tag of @s (PCID, EP4TA, ASID)
 *   void mg_arch_flush_tag(const struct tlbb_backend *be, uint64_t tag)
 *       every non-global entry of the LOADED context @tag, on this CPU
 *   void mg_arch_flush_all(const struct tlbb_backend *be)
 *       everything on this CPU, global entries and every tag included
 *   bool mg_arch_flush_range(const struct tlbb_mg_req *r, struct tlbb_mg_cpu_stats *st)
 *       invalidate r->start .. r->end of the loaded r->space here and return
 *       true, or return false to have the whole context flushed instead
 *   bool mg_arch_range_ok(const struct tlbb_backend *be, uint64_t start, uint64_t end)
 *       may the merged range be invalidated page by page (else: whole space)
 *
 * The backend's instance holds a struct tlbb_mg, set up by tlbb_mg_init()
 * (lib/maskgen.c, the compiled part: no instruction, no port hook), and
 * hands the hooks to the core in its struct tlbb_backend (or binds them
 * with TLBB_BOUND_* under the static binding, lib/tlbbatch.c). Port duties
 * common to every backend on the engine: tlbb_port_cpu_id(),
 * tlbb_port_ipi_send_and_wait() whose vector runs the `fn` it was given,
 * one struct tlbb_mg_cpu per CPU number, a CPU mask per space
 * (tlbb_space_set_cpumask()), every use of a context preceded by
 * mg_switch_in() with interrupts off, and tlbb_space_fini()/set_id() only
 * once no CPU has the space loaded.
 */
#ifndef TLBBATCH_MASKGEN_H
#define TLBBATCH_MASKGEN_H

#include <tlbbatch/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Contexts a CPU tracks at once (Linux: TLB_NR_DYN_ASIDS = 6). */
#define TLBB_MG_SLOTS 6

/*
 * One hardware context a CPU may hold entries for; switch-in flushes it
 * unless gen is current. Known by the space's context number, never by its
 * address; a tag lives in at most one slot.
 */
struct tlbb_mg_slot {
	uint64_t ctx;                   /* context number of its space; 0 = free */
	const struct tlbb_space *space; /* that space; followed only while loaded */
	uint64_t gen;                   /* space generation this CPU flushed up to */
	uint64_t tag;                   /* hardware tag: PCID, EP4TA, ASID */
	uint32_t last_used;             /* LRU stamp */
};

struct tlbb_mg_cpu_stats {
	uint64_t ipis;           /* requests handled in the IPI handler */
	uint64_t local;          /* requests handled inline by the flushing CPU */
	uint64_t skipped;        /* requests already done: generation current */
	uint64_t invlpg;         /* single-page invalidations (INVLPG, SFENCE.VMA va) */
	uint64_t full;           /* whole-context (or everything) flushes */
	uint64_t deferred;       /* non-loaded contexts left stale for switch-in */
	uint64_t trimmed;        /* requests for a space not loaded here: left its mask */
	uint64_t switches;       /* switch-ins */
	uint64_t switch_flushes; /* ... that had to flush the context */
};

/* One per CPU number, caller-owned; touched only by its own CPU. */
struct tlbb_mg_cpu {
	struct tlbb_mg_slot slot[TLBB_MG_SLOTS];
	int loaded;    /* slot index of the context in use now, -1 before the first switch */
	uint32_t tick; /* LRU clock */
	struct tlbb_mg_cpu_stats st;
};

/* One engine instance, inside the backend's instance. */
struct tlbb_mg {
	struct tlbb_mg_cpu *cpu;
	unsigned ncpus;
	uint64_t next_ctx; /* atomic: the next space context number (from 1) */
};

/* The engine's per-space state, in s->arch. */
TLBB_ARCH_STRUCT(tlbb_mg_space) {
	uint64_t gen; /* atomic */
	uint64_t ctx; /* atomic: context number, never reused; 0 = none yet */
};
TLBB_ARCH_FITS(struct tlbb_mg_space, struct tlbb_space);

/* What one flush asks of every target CPU. Lives on the flusher's stack. */
struct tlbb_mg_req {
	const struct tlbb_backend *be;
	struct tlbb_mg *mg;
	struct tlbb_space *space;       /* NULL: several spaces, flush the loaded one.
					 * Not const: a CPU not running it trims
					 * itself out of space->cpus. */
	uint64_t start, end;            /* start == end: the whole space */
	uint64_t gen_last;              /* the flush's number (one space) */
	bool global;                    /* entries live under every tag */
};

/*
 * Set up @mg over @ncpus per-CPU structures in @percpu (indexed by the
 * port's CPU number). TLBB_EINVAL for NULL arguments, @ncpus == 0 or
 * @ncpus > TLBB_MAX_CPUS (a CPU above the mask size has no bit, so no flush
 * round could reach it). Restarts the context numbers: call once, before
 * any space is initialised on the backend.
 */
enum tlbb_status tlbb_mg_init(struct tlbb_mg *mg, struct tlbb_mg_cpu *percpu, unsigned ncpus);

/* Give @s a context number no space ever had (space init, id change). */
void tlbb_mg_space_number(struct tlbb_mg *mg, struct tlbb_space *s);

static inline struct tlbb_mg_space *tlbb_mg_space_of(const struct tlbb_space *s)
{
	return TLBB_ARCH(s, struct tlbb_mg_space);
}

/* The generation of @s (adds and whole-space flushes so far), seq_cst. */
static inline uint64_t tlbb_mg_space_gen(const struct tlbb_space *s)
{
	return __atomic_load_n(&tlbb_mg_space_of(s)->gen, __ATOMIC_SEQ_CST);
}

/* The context number of @s (0: not yet given). */
static inline uint64_t tlbb_mg_space_ctx(const struct tlbb_space *s)
{
	return __atomic_load_n(&tlbb_mg_space_of(s)->ctx, __ATOMIC_RELAXED);
}

/* mg_switch_in()'s answers (lib/maskgen_run.h). */
#define TLBB_MG_CURRENT 0   /* the context holds nothing stale: use it as it is */
#define TLBB_MG_FLUSH 1     /* flush the context (tag) before using it */
#define TLBB_MG_UNTRACKED 2 /* CPU beyond the per-CPU array: flush, and report it */

/* mg_switch_in() flags. */
#define TLBB_MG_UNTAGGED 0x1u /* the hardware keeps one context: loading any flushes */

#ifdef __cplusplus
}
#endif

#endif /* TLBBATCH_MASKGEN_H */
