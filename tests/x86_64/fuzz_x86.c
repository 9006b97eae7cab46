/* SPDX-License-Identifier: MIT */
/*
 * Sequence fuzzer for the real x86-64 backend (arch/x86_64/x86_64.c, built
 * with -DTLBB_X86_RECORD) over the recorder's per-CPU TLB model
 * (recorder.c), checked after every step against a small reference model.
 *
 * The input is a program: a configuration byte (PCID, INVPCID, INVLPG
 * ceiling, a global space, a third space, two spaces sharing a PCID, a small
 * core threshold), the space each of 4 CPUs starts on, then operations:
 * TLB fills, PTE changes + tlbb_add_page/add_range/add_space into one of 3
 * batches (or the synchronous paths), tlbb_flush/flush_dirty of any batch
 * from any CPU, tlbb_flush_pending, tlbb_x86_switch_space, the port's lazy
 * mask clear, and "interrupts": an operation of another CPU run at a chosen
 * instruction of a flushing CPU (a flush round arriving during its local
 * INVLPGs, an add racing a switch-in's CR3 write).
 *
 * The life of a space (an extension old inputs never reach): an input that
 * starts with the two bytes LIFE_MAGIC decodes the rest as above, but with
 * two more operations: a space's death and re-initialisation in place with
 * its own PCID (tlbb_space_fini(), tlbb_space_init() on the same memory),
 * and PCID recycling by tlbb_space_set_id() (two spaces swap PCIDs, or a
 * space leaves its PCID and is given it back). Before either, the port's
 * duties are done: every CPU running the space switches to an idle space,
 * every batch holding work for it is flushed. No input of the corpus
 * before this extension starts with LIFE_MAGIC, so their decoding is
 * unchanged.
 *
 * THE REFERENCE RULE (written from tlbbatch.h's contract, not from the
 * backend's code). Every PTE has a version; a PTE change (clear or remap)
 * retires the version, and the caller queues its invalidation at once (the
 * add, under the PTL). A TLB entry carries the version it cached. A retired
 * version is DISCHARGED when, after its add, one of these has returned:
 *   - tlbb_flush() of the batch it was added to (tlbb_flush_dirty() when the
 *     batch had a TLBB_ADD_WRITABLE add);
 *   - tlbb_flush_pending() of its space that STARTED after the add, if the
 *     version was batched (whatever it returns: false means nothing was
 *     pending, i.e. an earlier race check covered it). A version retired
 *     by a synchronous call still running elsewhere is not batched, and one
 *     batched by an interrupt during the race check came after its read;
 *   - the synchronous call it was made with (NULL batch, flush_range_sync),
 *     and only that call (one owner per nesting depth).
 * Nothing else discharges: another batch's flush, even a whole-space one,
 * owes this version nothing. After every step, no CPU may hold a USABLE
 * entry of a discharged version:
 *   - a global entry: usable always (it matches every PCID);
 *   - an entry tagged with the PCID in that CPU's CR3 now (without PCID:
 *     every non-global entry, CR3 switches drop the others);
 *   - an entry tagged with another PCID P that a switch-in right now would
 *     keep: the CPU's slot for some space T with PCID P is current
 *     (slot.gen == T's generation), so tlbb_x86_switch_space(T) would write
 *     CR3 with the no-flush bit. (A non-loaded slot's generation never
 *     moves until it is loaded, and space generations only grow, so "now"
 *     is the only moment this can start to hold.)
 * Entries of retired but undischarged versions are allowed: that is what
 * batching means.
 *
 * The life of a space adds two rules. A space's death retires every page's
 * version (its frames are freed with it; the new space in the same memory
 * maps fresh ones), discharged when tlbb_space_fini() returns: from then
 * on the dead space's translations must never be usable by the new space.
 * And a (non-global) entry cached under a PCID its space no longer has
 * (tlbb_space_set_id() moved it) is FOREIGN: whoever holds that PCID now
 * must never be able to use it, whatever its version, under the same two
 * "usable" conditions as above.
 *
 * Checker controls (compile-time, each its own replay binary in meson):
 *   -DX86FUZZ_DROP_INVLPG   the model's INVLPG drops nothing;
 *   -DX86FUZZ_DROP_IPIS     the port delivers no round.
 * A crafted corpus input must be reported stale under each. The libFuzzer
 * build takes the same controls at run time: X86FUZZ_DROP=invlpg or ipis.
 *
 * Built with -DX86FUZZ_LIBFUZZER (and -fsanitize=fuzzer) a violation
 * aborts; otherwise main() replays files/directories (the shared driver,
 * tests/oracle/fuzzdrv.h):
 *   fuzz_x86 [--expect-violation] [--trace] PATH...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recorder.h"
#include "../oracle/fuzzdrv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FCPU 4        /* CPUs the program runs on */
#define NUSER 3       /* user spaces at most */
#define NSP (NUSER + 1)
#define NPAGES 40     /* pages per space: ranges can pass the ceiling of 33 */
#define NBATCH 3
#define MAXV 32       /* versions per page; more changes of a page are skipped */
#define MAXOPS 300
#define PAGE 4096ull
#define ROOT(i) (0x1000000ull * ((uint64_t)(i) + 1))

/* The life-of-a-space extension (see the top of this file). */
static const uint8_t LIFE_MAGIC[2] = { 0xa5, 0x1f };
#define IDLE_ID 0x7ff      /* PCID of the port's idle space */
#define PARK_ID 0x7fe      /* a PCID nobody holds, for swaps */
#define OWNER_DEATH (-100) /* "batch" of versions retired by a space's death */

/*
 * User space 0 ends right at the top of the lower canonical half: a range
 * running past its last page crosses the hole (the backend must widen it to
 * the whole space rather than INVLPG non-canonical addresses).
 */
static const uint64_t base_of[NSP] = {
	0x800000000000ull - NPAGES * PAGE,
	0x7e0000000000ull,
	0x7d0000000000ull,
	0xffffffff80000000ull, /* the global (kernel) space */
};
#define KSP NUSER /* index of the global space */

enum ob { OB_NONE, OB_PENDING, OB_DONE };

struct page_ref {
	uint32_t cur;     /* version a walk would cache now (if present) */
	bool present;
	uint8_t ob[MAXV]; /* per retired version: enum ob */
	int8_t batch[MAXV]; /* batch it was added to; < 0: a synchronous call */
	uint32_t seq[MAXV]; /* when it was retired (F.seq) */
};

static struct {
	struct tlbb_x86 x;
	struct tlbb_x86_cpu pc[NCPU];
	struct tlbb_space sp[NSP];
	struct tlbb_space idle;  /* where CPUs wait while a space dies or changes id */
	bool have[NSP];
	bool life;               /* the input has LIFE_MAGIC: ops 10 and 11 exist */
	unsigned cfgb;
	unsigned nuser;
	struct tlbb_batch b[NBATCH];
	tlbb_cpumask_t mask[NSP];    /* the port's masks (mm_cpumask) */
	tlbb_cpumask_t bmask[NBATCH]; /* the port's batch masks; the last batch has none */
	bool b_writable[NBATCH];
	struct bnum {            /* what a batch holds, for libFuzzer's features */
		int space;           /* -1 none yet, -2 several */
		unsigned nadds;
	} bn[NBATCH];
	int loaded[FCPU];        /* user space index, -1 idle */
	struct page_ref pg[NSP][NPAGES];
	/* the armed interrupt: before or after an instruction, counted per CPU */
	bool armed;
	unsigned arm_cpu, arm_count;
	uint8_t arm_op[8];
	/* what is running, for the interrupt's legality */
	bool in_op;
	unsigned op_cpu;
	int op_batch;            /* batch being flushed by the running op, -1 */
	bool op_irqoff;          /* the running op keeps interrupts off (switch) */
	unsigned depth;
	unsigned step;
	uint32_t seq;            /* retirements so far */
	uint64_t n_interrupts;
} F;


/* ---- reporting ---------------------------------------------------------------- */

#define violation(...) fuzz_violation("x86fuzz", __VA_ARGS__)

void rec_fail(const char *what)
{
	violation("harness: %s", what);
}

#define tr(...) fuzz_tr(F.depth, __VA_ARGS__)

/* ---- the reference ----------------------------------------------------------------- */

static uint64_t va_of(unsigned s, unsigned p)
{
	return base_of[s] + p * PAGE;
}

/* Which tracked (space, page) @va is; false if none. */
static bool page_of(uint64_t va, unsigned *s, unsigned *p)
{
	for (unsigned i = 0; i < NSP; i++)
		if (F.have[i] && va >= base_of[i] && va < base_of[i] + NPAGES * PAGE) {
			*s = i;
			*p = (unsigned)((va - base_of[i]) / PAGE);
			return true;
		}
	return false;
}

static const char *sp_name(unsigned s)
{
	static const char *n[NSP] = { "U0", "U1", "U2", "K" };

	return n[s];
}

/* PTE change of page @p of @s: retire the current version into @batch (< 0: sync). */
static bool pte_change(unsigned s, unsigned p, bool remap, int batch)
{
	struct page_ref *r = &F.pg[s][p];

	if (r->cur + 1 >= MAXV)
		return false; /* out of versions: leave this page alone */
	r->ob[r->cur] = OB_PENDING;
	r->batch[r->cur] = (int8_t)batch;
	r->seq[r->cur] = F.seq++;
	r->cur++;
	r->present = remap;
	return true;
}

/* Everything retired into @batch (< 0: the synchronous call just made) is now complete. */
static void discharge_batch(int batch)
{
	for (unsigned s = 0; s < NSP; s++)
		for (unsigned p = 0; p < NPAGES; p++)
			for (unsigned v = 0; v < MAXV; v++)
				if (F.pg[s][p].ob[v] == OB_PENDING && F.pg[s][p].batch[v] == batch)
					F.pg[s][p].ob[v] = OB_DONE;
}

/*
 * A race check of @s that started when F.seq was @start has returned: every
 * version of @s that was BATCHED before it started is complete. Not the
 * versions an interrupt batched while it ran (it read the word before
 * them), and not those of a synchronous call still running on another CPU
 * (no batch holds them: that call completes them itself).
 */
static void discharge_space(unsigned s, uint32_t start)
{
	for (unsigned p = 0; p < NPAGES; p++)
		for (unsigned v = 0; v < MAXV; v++)
			if (F.pg[s][p].ob[v] == OB_PENDING && F.pg[s][p].batch[v] >= 0 &&
			    F.pg[s][p].seq[v] < start)
				F.pg[s][p].ob[v] = OB_DONE;
}

static unsigned pcid_of_space(unsigned s)
{
	return R.pcide ? (F.sp[s].id & 0xfff) : 0;
}

/* Would a switch-in on @cpu, right now, keep the entries tagged @pcid? */
static bool pcid_kept_by_switch(unsigned cpu, uint32_t pcid, unsigned *via)
{
	const struct tlbb_x86_cpu *c = &F.pc[cpu];

	if (!R.pcide)
		return false; /* every CR3 write flushes */
	for (unsigned t = 0; t < F.nuser; t++) {
		if (pcid_of_space(t) != pcid)
			continue;
		for (int i = 0; i < TLBB_X86_SLOTS; i++)
			if (c->slot[i].ctx == tlbb_x86_space_ctx(&F.sp[t]) &&
			    c->slot[i].ctx != 0 && c->slot[i].tag == pcid &&
			    c->slot[i].gen == tlbb_x86_space_gen(&F.sp[t])) {
				*via = t;
				return true;
			}
	}
	return false;
}

static void check(const char *after)
{
	for (unsigned c = 0; c < FCPU; c++)
		for (unsigned i = 0; i < TLB_SIZE; i++) {
			const struct tlbe *e = &R.tlb[c][i];
			const struct page_ref *r;
			unsigned s, p, via = 0;
			const char *how;
			bool kept = false, foreign;

			if (!e->valid || !page_of(e->va, &s, &p))
				continue;
			/* Mid-switch (an interrupt at its CR3 write): slot and CR3 disagree
			 * until the write lands; the check after the switch covers it. */
			if (F.depth && F.op_irqoff && c == F.op_cpu)
				continue;
			r = &F.pg[s][p];
			/* Cached under a PCID its space has since given up. */
			foreign = !e->global && R.pcide && e->pcid != pcid_of_space(s);
			if (!foreign && (e->tag >= r->cur || r->ob[e->tag] != OB_DONE))
				continue; /* current, or its invalidation is still owed */
			if (e->global)
				how = "global entry";
			else if (e->pcid == cur_pcid(c))
				how = "entry of the loaded PCID";
			else if ((kept = pcid_kept_by_switch(c, e->pcid, &via)))
				how = "entry a switch-in would keep";
			else
				continue;
			violation("step %u (after %s): CPU %u holds a stale %s: %s page %u "
				  "version %u (now %u%s), pcid %u, %s%s%s%s",
				  F.step, after, c, how, sp_name(s), p, e->tag, r->cur,
				  r->present ? "" : ", cleared", e->pcid,
				  foreign ? "a PCID the space gave up" : "its flush has completed",
				  kept ? " (a switch to " : "", kept ? sp_name(via) : "",
				  kept ? ")" : "");
		}
}

/* ---- operations ----------------------------------------------------------------- */

/* A CPU's walk of @va: a TLB hit uses what is there; a miss caches the PTE's version. */
static void fill(unsigned cpu, unsigned s, unsigned p)
{
	uint64_t va = va_of(s, p);
	bool global = s == KSP;
	struct page_ref *r = &F.pg[s][p];

	for (unsigned i = 0; i < TLB_SIZE; i++) {
		const struct tlbe *e = &R.tlb[cpu][i];

		if (e->valid && e->va == va && (e->global || e->pcid == cur_pcid(cpu)))
			return; /* hit */
	}
	if (!r->present)
		return; /* page fault: nothing cached */
	if (!rec_fill(cpu, va, global, r->cur)) {
		/* Full: the hardware may evict anything; evict by address. */
		R.tlb[cpu][(va / PAGE) % TLB_SIZE].valid = false;
		if (!rec_fill(cpu, va, global, r->cur))
			rec_fail("model TLB refill");
	}
}

static struct tlbb_space *space(unsigned s)
{
	return &F.sp[s];
}

/* The space index named by @v among those this input has. */
static unsigned pick_space(unsigned v)
{
	unsigned n = F.nuser + (F.have[KSP] ? 1 : 0);
	unsigned i = v % n;

	return i < F.nuser ? i : KSP;
}

static void do_op(struct fuzz_input *in, bool nested);

/* CPUs that cannot start an operation now: the one running the outer
 * operation, the interrupted one, any in a flush handler. */
static bool cpu_busy(unsigned cpu)
{
	return (F.in_op && cpu == F.op_cpu) || (F.depth && cpu == F.arm_cpu) ||
	       R.in_handler[cpu];
}

/*
 * Can @mask's CPUs take a flush IPI now (the interrupted CPU may have them
 * off)? NULL is every CPU (a space without a mask, a batch of several
 * spaces without one).
 */
static bool mask_takes_ipis(const tlbb_cpumask_t *mask)
{
	for (unsigned c = 0; c < NCPU; c++)
		if ((!mask || tlbb_cpumask_test(mask, c)) && (R.in_handler[c] || R.irq_off[c]))
			return false;
	if (F.op_irqoff && (!mask || tlbb_cpumask_test(mask, F.op_cpu)))
		return false;
	return true;
}

/* The recorder's instruction hook: fire the armed interrupt. */
static void at_insn(enum ev_kind k, bool after)
{
	static const char *const name[] = { "INVLPG", "INVPCID", "CR3 write", "CR4 write" };
	struct fuzz_input sub;

	if (!F.armed || F.depth || R.cur != F.arm_cpu)
		return;
	if (--F.arm_count)
		return;
	F.armed = false;
	F.n_interrupts++;
	F.depth++;
	tr("-- interrupt %s CPU %u's %s\n", after ? "after" : "before", R.cur, name[k]);
	/* Up to two operations from the armed bytes (e.g. a fill, then an add). */
	sub = (struct fuzz_input){ F.arm_op, sizeof(F.arm_op) };
	do_op(&sub, true);
	if (sub.n)
		do_op(&sub, true);
	F.depth--;
}

/*
 * The owner of versions retired by a synchronous call: one per nesting
 * depth, so that a synchronous call made by an interrupt completes only its
 * own versions, not those of the synchronous call it interrupted.
 */
static int sync_id(void)
{
	return -1 - (int)F.depth;
}

/*
 * Guidance for libFuzzer (not a check): which protocol situation a batch
 * flush meets, as extra coverage features. The catch-up logic is only wrong
 * in combinations (a CPU running the space with numbers it has not executed,
 * given by another flush or by a batch of several spaces leaving it, when a
 * range flush reaches it), which plain edge coverage of the backend does
 * not tell apart; these features do, so inputs reaching new combinations
 * are kept. Built only into the libFuzzer binary.
 */
#ifdef X86FUZZ_LIBFUZZER
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t x86fuzz_features[1024];
#endif

/*
 * Can the flush of batch @bi run its round now? A batch of one space
 * targets that space's mask; one of several spaces its gathered mask, or
 * every CPU: both taken as every CPU here.
 */
static bool batch_takes_ipis(int bi)
{
	const struct bnum *n = &F.bn[bi];

	if (n->nadds == 0)
		return true;
	return mask_takes_ipis(n->space >= 0 ? space((unsigned)n->space)->cpus : NULL);
}

static void note_add(int bi, unsigned s)
{
	struct bnum *n = &F.bn[bi];

	if (n->nadds == 0)
		n->space = (int)s;
	else if (n->space != (int)s)
		n->space = -2;
	n->nadds++;
}

static void feature_flush(int bi)
{
#ifdef X86FUZZ_LIBFUZZER
	const struct bnum *n = &F.bn[bi];
	unsigned f, rels = 0, others = 0, multi = 0;
	uint64_t g;

	if (n->nadds == 0)
		return;
	if (n->space < 0) {
		x86fuzz_features[1023]++;
		return;
	}
	g = tlbb_x86_space_gen(&F.sp[n->space]); /* the flush takes g + 1 */
	f = n->nadds > 3 ? 3u : n->nadds - 1;
	/* Does another batch hold adds of the same space, unflushed? One of
	 * several spaces (it may have given this space a number already)? */
	for (int o = 0; o < NBATCH; o++) {
		if (o == bi || !F.bn[o].nadds)
			continue;
		others |= F.bn[o].space == n->space;
		multi |= F.bn[o].space == -2;
	}
	f |= others << 2 | multi << 3;
	/*
	 * Where each CPU running the space stands against the flush's number:
	 * more than one behind (a number it has not executed: it must not
	 * claim), exactly one behind (it catches up), or at it already.
	 */
	for (unsigned c = 0; c < FCPU; c++) {
		const struct tlbb_x86_cpu *pc = &F.pc[c];
		uint64_t l;

		if (pc->loaded < 0 || pc->slot[pc->loaded].space != &F.sp[n->space])
			continue;
		l = pc->slot[pc->loaded].gen;
		rels |= 1u << (l < g ? (l + 1 < g ? 0 : 1) : 2);
	}
	f |= rels << 4;
	x86fuzz_features[f & 1023]++;
#else
	(void)bi;
#endif
}

static void change_pages(unsigned s, unsigned first, unsigned n, bool remap, int batch)
{
	for (unsigned p = first; p < first + n && p < NPAGES; p++)
		pte_change(s, p, remap, batch);
}

/*
 * The port's duties before a space's life changes: no CPU runs @s or @t
 * (each switches to the idle space), no batch holds work for them (each
 * such batch is flushed, from @cpu).
 */
static void life_prepare(unsigned cpu, unsigned s, unsigned t)
{
	for (unsigned c = 0; c < FCPU; c++) {
		if (F.loaded[c] != (int)s && F.loaded[c] != (int)t)
			continue;
		R.cur = c;
		tlbb_x86_switch_space(&F.x, &F.idle, ROOT(NSP));
		F.loaded[c] = -1;
		tr("CPU %u parks on the idle space\n", c);
	}
	R.cur = cpu;
	for (int b = 0; b < NBATCH; b++) {
		const struct bnum *n = &F.bn[b];

		if (!n->nadds || (n->space != (int)s && n->space != (int)t && n->space != -2))
			continue;
		tr("CPU %u: flush batch %d first\n", cpu, b);
		feature_flush(b);
		F.bn[b] = (struct bnum){ .space = -1 };
		tlbb_flush(&F.b[b]);
		discharge_batch(b);
		F.b_writable[b] = false;
	}
}

/* tlbb_space_set_id() with what the reference must know: its race check. */
static void set_id(unsigned s, uint32_t id)
{
	uint32_t start = F.seq;

	tr("set_id(%s, %#x)\n", sp_name(s), id);
	if (tlbb_space_set_id(space(s), id) != TLBB_OK)
		rec_fail("tlbb_space_set_id");
	discharge_space(s, start);
}

/*
 * One operation. Nested operations (an armed interrupt) run on a CPU other
 * than the interrupted one, never touch the batch it is flushing, and skip
 * a flush whose round would need a CPU with interrupts off.
 */
static void do_op(struct fuzz_input *in, bool nested)
{
	unsigned op = fuzz_byte(in) % (F.life ? 12 : 10), a = fuzz_byte(in);
	unsigned cpu = a & 3;
	int bi = (int)((a >> 2) & 3); /* 3: the synchronous path */
	bool remap = (a >> 4) & 1;
	unsigned flags = ((a >> 5) & 1) ? TLBB_ADD_WRITABLE : 0;
	char what[96];
	static const char *const bdig[NBATCH] = { "0", "1", "2" };

	/*
	 * An interrupting operation runs on a CPU that is free, except a TLB
	 * fill: the hardware walker may fill any CPU's TLB at any time (the
	 * interrupted CPU too), though not the one in the middle of a switch,
	 * whose CR3 and slot disagree until its CR3 write.
	 */
	while (nested && cpu_busy(cpu) &&
	       !((op == 0 || op == 9) && !(F.op_irqoff && cpu == F.op_cpu)))
		cpu = (cpu + 1) % FCPU;
	if (nested && bi == F.op_batch)
		bi = 3;
	if (!nested) {
		F.in_op = true;
		F.op_cpu = cpu;
	}
	R.cur = cpu;
	switch (op) {
	case 0: /* a CPU reads a page */
	case 9: { /* ... or eight in a row */
		bool kernel = ((a >> 2) & 1) && F.have[KSP];
		unsigned s = kernel ? KSP : (F.loaded[cpu] >= 0 ? (unsigned)F.loaded[cpu] : NSP);
		unsigned p = fuzz_byte(in) % NPAGES, n = op == 9 ? 8 : 1;

		if (s == NSP)
			goto out; /* idle CPU: no user space to read */
		tr("CPU %u reads %s pages %u..%u\n", cpu, sp_name(s), p, p + n - 1);
		for (unsigned i = 0; i < n && p + i < NPAGES; i++)
			fill(cpu, s, p + i);
		snprintf(what, sizeof(what), "read");
		break;
	}
	case 1: { /* PTE change + add_page */
		unsigned s = pick_space(fuzz_byte(in)), p = fuzz_byte(in) % NPAGES;

		tr("CPU %u: %s %s page %u, add_page -> %s%s%s\n", cpu, remap ? "remap" : "clear",
		   sp_name(s), p, bi == 3 ? "NULL batch" : "batch ", bi == 3 ? "" : bdig[bi],
		   flags ? " writable" : "");
		if (bi == 3 && nested && !mask_takes_ipis(space(s)->cpus))
			goto out;
		if (bi == 3) {
			change_pages(s, p, 1, remap, sync_id());
			tlbb_add_page(NULL, space(s), va_of(s, p), flags);
			discharge_batch(sync_id());
		} else {
			change_pages(s, p, 1, remap, bi);
			tlbb_add_page(&F.b[bi], space(s), va_of(s, p), flags);
			note_add(bi, s);
			F.b_writable[bi] |= flags != 0;
		}
		snprintf(what, sizeof(what), "add_page");
		break;
	}
	case 2: { /* PTE changes + add_range (or flush_range_sync) */
		unsigned s = pick_space(fuzz_byte(in)), p = fuzz_byte(in) % NPAGES, n = fuzz_byte(in) % 48 + 1;
		uint64_t start = va_of(s, p), end = start + n * PAGE;

		tr("CPU %u: %s %s pages %u..%u, add_range -> %s%s\n", cpu, remap ? "remap" : "clear",
		   sp_name(s), p, p + n - 1, bi == 3 ? "flush_range_sync" : "batch ", bi == 3 ? "" : bdig[bi]);
		if (bi == 3 && nested && !mask_takes_ipis(space(s)->cpus))
			goto out;
		if (bi == 3) {
			change_pages(s, p, n, remap, sync_id());
			tlbb_flush_range_sync(space(s), start, end, flags);
			discharge_batch(sync_id());
		} else {
			change_pages(s, p, n, remap, bi);
			tlbb_add_range(&F.b[bi], space(s), start, end, flags);
			note_add(bi, s);
			F.b_writable[bi] |= flags != 0;
		}
		snprintf(what, sizeof(what), "add_range");
		break;
	}
	case 3: { /* PTE changes + add_space */
		unsigned s = pick_space(fuzz_byte(in)), m = fuzz_byte(in);

		tr("CPU %u: %s %s pages mask %#x, add_space -> %s%s\n", cpu, remap ? "remap" : "clear",
		   sp_name(s), m, bi == 3 ? "NULL batch" : "batch ", bi == 3 ? "" : bdig[bi]);
		if (bi == 3 && nested && !mask_takes_ipis(space(s)->cpus))
			goto out;
		for (unsigned p = 0; p < NPAGES; p++)
			if ((m >> (p & 7)) & 1)
				pte_change(s, p, remap, bi == 3 ? sync_id() : bi);
		if (bi == 3) {
			tlbb_add_space(NULL, space(s), flags);
			discharge_batch(sync_id());
		} else {
			tlbb_add_space(&F.b[bi], space(s), flags);
			note_add(bi, s);
			F.b_writable[bi] |= flags != 0;
		}
		snprintf(what, sizeof(what), "add_space");
		break;
	}
	case 4: { /* flush a batch */
		bool dirty = remap;

		if (bi == 3)
			bi = 0;
		if (nested && (bi == F.op_batch || !batch_takes_ipis(bi)))
			goto out;
		tr("CPU %u: flush%s batch %d\n", cpu, dirty ? "_dirty" : "", bi);
		if (!dirty || F.b_writable[bi]) {
			feature_flush(bi);
			F.bn[bi] = (struct bnum){ .space = -1 };
		}
		if (!nested)
			F.op_batch = bi;
		if (dirty) {
			bool w = F.b_writable[bi];

			tlbb_flush_dirty(&F.b[bi]);
			if (w) {
				discharge_batch(bi);
				F.b_writable[bi] = false;
			}
		} else {
			tlbb_flush(&F.b[bi]);
			discharge_batch(bi);
			F.b_writable[bi] = false;
		}
		snprintf(what, sizeof(what), "flush of batch %d", bi);
		break;
	}
	case 5: { /* the race check */
		unsigned s = pick_space(fuzz_byte(in));
		uint32_t start = F.seq;
		bool flushed;

		if (nested && !mask_takes_ipis(space(s)->cpus))
			goto out;
		flushed = tlbb_flush_pending(space(s));
		tr("CPU %u: flush_pending(%s) -> %s\n", cpu, sp_name(s), flushed ? "flushed" : "nothing");
		discharge_space(s, start);
		snprintf(what, sizeof(what), "flush_pending(%s)", sp_name(s));
		break;
	}
	case 6: { /* context switch */
		unsigned s = fuzz_byte(in) % F.nuser;
		bool fl;

		if (!nested)
			F.op_irqoff = true;
		fl = tlbb_x86_switch_space(&F.x, space(s), ROOT(s));
		F.loaded[cpu] = (int)s;
		tr("CPU %u: switch to %s (%s)\n", cpu, sp_name(s), fl ? "flushing" : "no flush");
		snprintf(what, sizeof(what), "switch to %s", sp_name(s));
		break;
	}
	case 7: { /* the port clears a CPU's mask bit, where its contract allows */
		unsigned s = fuzz_byte(in) % F.nuser;
		uint64_t lo = base_of[s], hi = lo + NPAGES * PAGE;

		if (F.loaded[cpu] == (int)s)
			goto out;
		for (unsigned i = 0; i < TLB_SIZE; i++)
			if (R.tlb[cpu][i].valid && R.tlb[cpu][i].va >= lo && R.tlb[cpu][i].va < hi)
				goto out; /* it may still hold entries of s: the bit must stay */
		tr("port: CPU %u leaves %s's mask\n", cpu, sp_name(s));
		tlbb_cpumask_unset(space(s)->cpus, cpu);
		snprintf(what, sizeof(what), "mask clear");
		break;
	}
	case 8: { /* arm an interrupt: at CPU @cpu's n-th next interleaving point
		   (two per instruction: before it, after it), run up to two ops */
		unsigned n = fuzz_byte(in) % 8 + 1;

		for (unsigned i = 0; i < sizeof(F.arm_op); i++)
			F.arm_op[i] = (uint8_t)fuzz_byte(in);
		if (nested)
			goto out;
		F.armed = true;
		F.arm_cpu = cpu;
		F.arm_count = n;
		tr("arm: interrupt CPU %u at its instruction #%u\n", cpu, n);
		goto out;
	}
	case 10: { /* a space dies; a new one is born in its memory with its PCID */
		unsigned s = fuzz_byte(in) % F.nuser;
		uint32_t id = F.sp[s].id, start;
		bool armed = F.armed;

		if (nested)
			goto out;
		F.armed = false; /* the port runs this part without interruptions */
		life_prepare(cpu, s, s);
		R.cur = cpu;
		/* Its frames go with it; the new space maps fresh ones. */
		for (unsigned p = 0; p < NPAGES; p++)
			pte_change(s, p, true, OWNER_DEATH);
		start = F.seq;
		tr("CPU %u: fini(%s), init in place with id %#x\n", cpu, sp_name(s), id);
		if (tlbb_space_fini(space(s)) != TLBB_OK)
			rec_fail("tlbb_space_fini");
		discharge_space(s, start);
		discharge_batch(OWNER_DEATH);
		if (tlbb_space_init(space(s), tlbb_x86_backend(&F.x), id, NULL) != TLBB_OK)
			rec_fail("tlbb_space_init");
		/* A new mm, a new mask: the dead one's bits go with it. */
		tlbb_cpumask_clear(&F.mask[s]);
		tlbb_space_set_cpumask(space(s), &F.mask[s]);
		if (F.cfgb & 0x80)
			tlbb_space_set_threshold(space(s), 16);
		F.armed = armed;
		snprintf(what, sizeof(what), "death and rebirth of %s", sp_name(s));
		break;
	}
	case 11: { /* PCID recycling by tlbb_space_set_id() */
		unsigned v = fuzz_byte(in), s = v % F.nuser, t = (s + 1) % F.nuser;
		bool swap = !((v >> 2) & 1);
		uint32_t ps = F.sp[s].id, pt = F.sp[t].id;
		bool armed = F.armed;

		if (nested)
			goto out;
		F.armed = false;
		life_prepare(cpu, s, swap ? t : s);
		R.cur = cpu;
		set_id(s, PARK_ID);
		if (swap) {
			/* s's PCID goes to the live t, t's to s. */
			set_id(t, ps);
			set_id(s, pt);
		} else {
			/* s is given its own PCID back, its generation restarting. */
			set_id(s, ps);
		}
		F.armed = armed;
		snprintf(what, sizeof(what), "%s set_id", swap ? "swap" : "recycle");
		break;
	}
	default:
		goto out;
	}
	R.cur = cpu;
	if (!nested) {
		F.in_op = false;
		F.op_batch = -1;
		F.op_irqoff = false;
	}
	check(what);
	return;
out:
	if (!nested) {
		F.in_op = false;
		F.op_batch = -1;
		F.op_irqoff = false;
	}
}

static void setup(struct fuzz_input *in)
{
	unsigned cfgb, loads;
	static const unsigned ceilings[4] = { 2, 4, 33, 8 };
	struct tlbb_x86_config cfg;

	/* Reset the recorder but its (large, unread) record arrays. */
	R.cur = 0;
	R.nev = R.nrounds = 0;
	memset(R.tlb, 0, sizeof(R.tlb));
	memset(R.cr3, 0, sizeof(R.cr3));
	memset(R.ipis_taken, 0, sizeof(R.ipis_taken));
	memset(R.in_handler, 0, sizeof(R.in_handler));
	memset(R.irq_off, 0, sizeof(R.irq_off));
	R.drop_ipis = R.cr3_never_flushes = R.drop_invlpg = false;
	R.interrupt_cpu0 = NULL;
	R.expect_debug_fail = false;
	R.debug_fails = 0;
	memset(&F, 0, sizeof(F));
	if (in->n >= sizeof(LIFE_MAGIC) && memcmp(in->p, LIFE_MAGIC, sizeof(LIFE_MAGIC)) == 0) {
		F.life = true;
		in->p += sizeof(LIFE_MAGIC);
		in->n -= sizeof(LIFE_MAGIC);
	}
	R.ring = true;
	R.at_insn = at_insn;
#ifdef X86FUZZ_DROP_INVLPG
	R.drop_invlpg = true;
#endif
#ifdef X86FUZZ_DROP_IPIS
	R.drop_ipis = true;
#endif
#ifdef X86FUZZ_LIBFUZZER
	/* The same controls at run time, for a libFuzzer negative control. */
	{
		static int drop = -1;

		if (drop < 0) {
			const char *e = getenv("X86FUZZ_DROP");

			drop = !e ? 0 : strcmp(e, "invlpg") == 0 ? 1 : strcmp(e, "ipis") == 0 ? 2 : 0;
		}
		R.drop_invlpg |= drop == 1;
		R.drop_ipis |= drop == 2;
	}
#endif
	cfgb = fuzz_byte(in);
	loads = fuzz_byte(in);
	cfg.features = (cfgb & 1 ? TLBB_X86_PCID : 0) | (cfgb & 2 ? TLBB_X86_INVPCID : 0);
	cfg.ceiling = ceilings[(cfgb >> 2) & 3];
	F.cfgb = cfgb;
	R.pcide = (cfg.features & TLBB_X86_PCID) != 0;
	for (unsigned c = 0; c < NCPU; c++)
		R.cr4[c] = CR4_PGE;
	if (tlbb_x86_init(&F.x, &cfg, F.pc, NCPU) != TLBB_OK)
		rec_fail("tlbb_x86_init");
	F.nuser = (cfgb & 0x20) ? 3 : 2;
	F.have[KSP] = (cfgb & 0x10) != 0;
	for (unsigned s = 0; s < NSP; s++) {
		if (s < F.nuser)
			F.have[s] = true;
		if (!F.have[s])
			continue;
		/* PCIDs 1, 2, 3; with bit 6 user spaces 0 and 1 share PCID 1. */
		tlbb_space_init(&F.sp[s], tlbb_x86_backend(&F.x),
				s == KSP ? 0 : (s == 1 && (cfgb & 0x40)) ? 1 : s + 1, NULL);
		tlbb_cpumask_clear(&F.mask[s]);
		tlbb_space_set_cpumask(&F.sp[s], &F.mask[s]);
		if (cfgb & 0x80)
			tlbb_space_set_threshold(&F.sp[s], 16);
		for (unsigned p = 0; p < NPAGES; p++) {
			F.pg[s][p].cur = 0;
			F.pg[s][p].present = true;
		}
	}
	/* The port's idle space: no pages, never flushed, only waited in. */
	tlbb_space_init(&F.idle, tlbb_x86_backend(&F.x), IDLE_ID, NULL);
	if (F.have[KSP]) {
		tlbb_space_set_global(&F.sp[KSP], true);
		for (unsigned c = 0; c < FCPU; c++)
			tlbb_space_cpu_enter(&F.sp[KSP], c); /* the port's duty for a global space */
	}
	for (unsigned b = 0; b < NBATCH; b++) {
		tlbb_batch_init(&F.b[b]);
		if (b + 1 < NBATCH)
			tlbb_batch_set_cpumask(&F.b[b], &F.bmask[b]);
		F.bn[b].space = -1;
	}
	F.op_batch = -1;
	tr("config: %s%s ceiling %u, %u user spaces%s%s%s\n", R.pcide ? "PCID" : "no PCID",
	   cfg.features & TLBB_X86_INVPCID ? " INVPCID" : "", cfg.ceiling, F.nuser,
	   F.have[KSP] ? ", global space K" : "", cfgb & 0x40 ? ", U0/U1 share a PCID" : "",
	   cfgb & 0x80 ? ", core threshold 16" : "");
	for (unsigned c = 0; c < FCPU; c++) {
		unsigned s = (loads >> (2 * c)) & 3;

		F.loaded[c] = -1;
		if (s >= F.nuser)
			continue; /* starts idle */
		R.cur = c;
		tlbb_x86_switch_space(&F.x, space(s), ROOT(s));
		F.loaded[c] = (int)s;
		tr("CPU %u starts on %s\n", c, sp_name(s));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };

	setup(&in);
	for (F.step = 1; in.n && F.step <= MAXOPS; F.step++)
		do_op(&in, false);
	/* The end of the program: every batch flushed, from CPU 0. */
	R.cur = 0;
	F.armed = false;
	for (int b = 0; b < NBATCH; b++) {
		feature_flush(b);
		tlbb_flush(&F.b[b]);
		discharge_batch(b);
	}
	check("the final flushes");
	return 0;
}

#ifndef X86FUZZ_LIBFUZZER
int main(int argc, char **argv)
{
	return fuzz_main(argc, argv, LLVMFuzzerTestOneInput);
}
#endif
