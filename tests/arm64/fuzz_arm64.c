/* SPDX-License-Identifier: MIT */
/*
 * Sequence fuzzer for the real arm64 backend (arch/arm64/arm64.c, built with
 * -DTLBB_ARM64_RECORD) over the arm64 TLB model (tests/oracle/a64_model.c),
 * checked after every step against the reference rule
 * (tests/oracle/refrule.c). docs/arm64fuzz.md explains it all.
 *
 * The input is a program. Byte 0 configures the backend and the machine:
 *   bit 0 range ops (FEAT_TLBIRANGE)    bit 1 KPTI-paired ASIDs
 *   bit 2 a global (kernel) space K     bit 3 a third user space
 *   bit 4 the repeat-TLBI erratum       bit 5 max_tlbi_ops = 8
 *   bit 6 core threshold 16 pages       bit 7 FEAT_LPA2 (TCR_EL1.DS = 1)
 * Byte 1: the user space each of CPUs 0..3 starts on (2 bits each; beyond
 * the user spaces: idle). Byte 2: bit 0 puts K in the TTBR0 half (where
 * range ops can name its addresses: RVAAE1IS/RVAALE1IS). Then up to MAXOPS
 * operations (do_op()).
 *
 * Tasks: batch b belongs to task b, which runs on one CPU (task_cpu[b]); its
 * adds and flushes run there, and only a migration moves it (with the
 * context-switch barrier, tlbb_arm64_context_switch(), tracked or not).
 * Synchronous calls and race checks run on the CPU the input names.
 *
 * Page tables: each space has NPAGES leaf PTEs in NREG tables of REGION
 * pages. A walk caches the table entry (walk cache) and the leaf, each
 * with the version the walker sees (a64_model.h: stores are visible to the
 * walkers only after the storing CPU's DSB). Keys for refrule.h: leaf p of
 * space s is s * KEYS + p, table r is s * KEYS + NPAGES + r.
 *
 * Usable (the check): a global entry always; a non-global entry tagged with
 * an ASID its space runs under (the ASID, or either of the KPTI pair):
 * arm64 keeps entries of every ASID, and the space can be switched back to
 * at any time, so "loaded now" is no excuse.
 *
 * Built with -DA64FUZZ_LIBFUZZER (and -fsanitize=fuzzer) a violation
 * aborts; otherwise main() replays files/directories (the shared driver,
 * tests/oracle/fuzzdrv.h):
 *   fuzz_arm64 [--expect-violation] [--trace] PATH...
 *
 * Checker controls (compile time; each its own replay binary in meson):
 *   -DA64FUZZ_DROP_TLBI            the model's TLBIs remove nothing
 *   -DA64FUZZ_DSB_COMPLETES_NOTHING the model's DSB ISH completes nothing
 *   -DA64FUZZ_NO_SWITCH_BARRIER    the port migrates without the barrier
 * The libFuzzer build takes them at run time: A64FUZZ_DROP=tlbi|dsb|switch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tlbbatch/arm64.h>

#include "../oracle/a64_model.h"
#include "../oracle/refrule.h"
#include "../oracle/fuzzdrv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FCPU A64M_NCPU
#define NUSER 3
#define NSP (NUSER + 1)
#define KSP NUSER       /* index of the global space */
#define NPAGES 72       /* ranges of 64+ pages reach range SCALE 1 */
#define REGION 8        /* pages one table maps */
#define NREG (NPAGES / REGION)
#define KEYS (NPAGES + NREG)
#define NBATCH 3
#define MAXOPS 300

/*
 * U0 ends at the top of the 48-bit TTBR0 half; U1 starts 12 KiB past a
 * 64 KiB boundary (LPA2 range ops must align down); U2 is plain; K is in
 * the TTBR1 half, where range ops cannot name the address (per page).
 */
static const uint64_t base_4k[NSP] = {
	0x1000000000000ull - NPAGES * 4096ull,
	0x40003000ull,
	0x7e0000000000ull,
	0xffffffff80000000ull,
};
static const uint16_t asid_of[NSP] = { 2, 4, 6, 0 };
#define K_LOW 0x8000000000ull /* K's base with byte 2 bit 0 */

static struct {
	struct tlbb_arm64_config cfg;
	struct tlbb_backend be;
	struct tlbb_space sp[NSP];
	bool have[NSP];
	unsigned nuser, cfgb;
	bool k_low;               /* K in the TTBR0 half */
	uint64_t page;            /* granule bytes */
	struct tlbb_batch b[NBATCH];
	bool b_writable[NBATCH];
	unsigned task_cpu[NBATCH];
	int loaded[FCPU];         /* user space a CPU runs, -1 idle */
	/* the armed interrupt */
	bool armed;
	unsigned arm_cpu, arm_count;
	uint8_t arm_op[8];
	/* what is running, for the interrupt's legality */
	bool in_op;
	unsigned op_cpu;
	int op_batch;             /* the batch the running op adds to or flushes */
	int op_space;             /* the space whose PTEs the running op changes (its PTL) */
	unsigned depth;
	unsigned step;
	int drop;                 /* run-time control (libFuzzer): 1 tlbi, 2 dsb, 3 switch */
	bool no_sync;             /* libFuzzer, A64FUZZ_NO_SYNC: no synchronous calls
				   * (a bare-DSB flush_space is then reachable only
				   * through the race check and space_fini) */
} F;


/* ---- reporting ----------------------------------------------------------------- */

#define violation(...) fuzz_violation("a64fuzz", __VA_ARGS__)

void a64m_fail(const char *what)
{
	violation("harness: %s", what);
}

#define tr(...) fuzz_tr(F.depth, __VA_ARGS__)

static const char *sp_name(unsigned s)
{
	static const char *n[NSP] = { "U0", "U1", "U2", "K" };

	return n[s];
}

/* ---- spaces, keys, the check -------------------------------------------------------- */

static uint64_t va_of(unsigned s, unsigned p)
{
	uint64_t base = s == KSP && F.k_low ? K_LOW : base_4k[s];

	/* Bases scale with the granule so that alignments keep their meaning. */
	return base / 4096 * F.page + p * F.page;
}

static unsigned leaf_key(unsigned s, unsigned p)
{
	return s * KEYS + p;
}

static unsigned table_key(unsigned s, unsigned r)
{
	return s * KEYS + NPAGES + r;
}

static struct tlbb_space *space(unsigned s)
{
	return &F.sp[s];
}

/* Does space @s run under @asid (its ASID, or either half of a KPTI pair)? */
static bool asid_of_space(unsigned s, uint16_t asid)
{
	if (s == KSP)
		return false;
	if (F.cfg.kpti_paired_asids)
		return (asid & ~1u) == (asid_of[s] & ~1u);
	return asid == asid_of[s];
}

ORACLE_NOCOV static void check(const char *after)
{
	for (unsigned c = 0; c < FCPU; c++)
		for (unsigned i = 0; i < A64M_TLB; i++) {
			const struct a64m_entry *e = &a64m.tlb[c][i];
			unsigned s, idx;

			if (!e->valid || !rr_stale(e->key, e->version))
				continue;
			s = e->key / KEYS;
			idx = e->key % KEYS;
			if (!e->global && !asid_of_space(s, e->asid))
				continue; /* no space runs under that ASID */
			violation("step %u (after %s): CPU %u holds a stale %s%s entry: %s %s %u "
				  "version %u (now %u%s), ASID %u; its invalidation has completed",
				  F.step, after, c, e->global ? "global " : "",
				  e->table ? "walk-cache" : "leaf", sp_name(s),
				  e->table ? "table" : "page", e->table ? idx - NPAGES : idx,
				  e->version, rr_cur(e->key), rr_present(e->key) ? "" : ", cleared",
				  e->asid);
		}
}

/* ---- operations ---------------------------------------------------------------------- */

/* CPU @cpu reads page @p of @s under @asid: the table walk, then the leaf. */
static void read_page(unsigned cpu, unsigned s, unsigned p, uint16_t asid)
{
	const bool g = s == KSP;
	const unsigned r = p / REGION;
	/* stage-1 entries of VMID 0 (the EL1 kernel runs with no stage 2) */
	struct a64m_walk tw = { va_of(s, r * REGION), REGION * F.page, true, g, asid,
				table_key(s, r), 0, 1 };
	struct a64m_walk lw = { va_of(s, p), F.page, false, g, asid, leaf_key(s, p), 0, 1 };
	uint32_t v;

	if (!a64m_walk(cpu, &tw, &v))
		return; /* no table: a fault */
	a64m_walk(cpu, &lw, &v);
}

/* The ASID CPU @cpu reads its space @s under (@kernel_half: KPTI's even one). */
static uint16_t run_asid(unsigned s, bool kernel_half)
{
	if (!F.cfg.kpti_paired_asids)
		return asid_of[s];
	return kernel_half ? (uint16_t)(asid_of[s] & ~1u) : (uint16_t)(asid_of[s] | 1u);
}

/* CPU @cpu changes leaf PTE @p of @s (retired into @owner) and stores it. */
static void change_leaf(unsigned cpu, unsigned s, unsigned p, bool remap, int owner)
{
	unsigned k = leaf_key(s, p);

	if (p >= NPAGES || !rr_retire(k, remap, owner))
		return;
	a64m_store(cpu, k, rr_cur(k), remap);
}

/* A table freed (and, with @remap, replaced): its entry and all its PTEs. */
static void change_table(unsigned cpu, unsigned s, unsigned r, bool remap, int owner)
{
	unsigned k = table_key(s, r);

	if (!rr_can_retire(k))
		return;
	for (unsigned p = r * REGION; p < (r + 1) * REGION; p++)
		if (!rr_can_retire(leaf_key(s, p)))
			return;
	rr_retire(k, remap, owner);
	a64m_store(cpu, k, rr_cur(k), remap);
	for (unsigned p = r * REGION; p < (r + 1) * REGION; p++)
		change_leaf(cpu, s, p, remap, owner);
}

/* The owner of a synchronous call's versions: one per nesting depth. */
static int sync_id(void)
{
	return -1 - (int)F.depth;
}

static unsigned pick_space(unsigned v)
{
	unsigned n = F.nuser + (F.have[KSP] ? 1 : 0);
	unsigned i = v % n;

	return i < F.nuser ? i : KSP;
}

static bool cpu_busy(unsigned cpu)
{
	return (F.in_op && cpu == F.op_cpu) || (F.depth && cpu == F.arm_cpu);
}

static void do_op(struct fuzz_input *in, bool nested);

/*
 * An operation changing PTEs of @s takes @s's page-table lock (PTL): an
 * interrupting one cannot while the operation it interrupts holds it
 * (two CPUs storing the same PTE unordered is not a program the contract
 * allows). The race check takes it too (its case below).
 */
static bool ptl_taken(unsigned s, bool nested)
{
	if (!nested) {
		F.op_space = (int)s;
		return false;
	}
	return F.op_space == (int)s;
}

static void at_insn(enum tlbb_a64_insn insn, bool after)
{
	struct fuzz_input sub;

	if (!F.armed || F.depth || a64m.cur != F.arm_cpu)
		return;
	if (--F.arm_count)
		return;
	F.armed = false;
	F.depth++;
	tr("-- interrupt %s CPU %u's instruction %d\n", after ? "after" : "before", a64m.cur,
	   (int)insn);
	sub = (struct fuzz_input){ F.arm_op, sizeof(F.arm_op) };
	do_op(&sub, true);
	if (sub.n)
		do_op(&sub, true);
	F.depth--;
}

/* The port's migration of task @b from its CPU to @to. */
static void migrate(unsigned b, unsigned to, bool tracked)
{
	unsigned from = F.task_cpu[b];

	a64m.cur = from;
	if (F.drop != 3) {
		/* The outgoing CPU's context switch: nobody else can complete its TLBIs. */
		tlbb_arm64_context_switch(tracked ? &F.b[b] : NULL);
	}
	F.task_cpu[b] = to;
	a64m.cur = to;
}

/* A batched operation of batch @bi runs on its task's CPU: is that legal now? */
static bool batch_usable(int bi, bool nested)
{
	return !nested || (bi != F.op_batch && !cpu_busy(F.task_cpu[bi]));
}

static void do_op(struct fuzz_input *in, bool nested)
{
	unsigned op = fuzz_byte(in) % 12, a = fuzz_byte(in);
	unsigned cpu = a & 3;
	int bi = (int)((a >> 2) & 3); /* 3: the synchronous path */
	bool remap = (a >> 4) & 1;
	unsigned wflag = ((a >> 5) & 1) ? TLBB_ADD_WRITABLE : 0;
	bool leaf = (a >> 6) & 1;
	/* adds, flushes and table changes into a batch: on its task's CPU */
	bool batched;
	char what[96];

	if (F.no_sync && bi == 3)
		bi = 0;
	batched = bi != 3 && ((op >= 1 && op <= 4) || op == 10);

	/* Anything but a walk runs on a CPU that is free; the walker may fill any
	 * CPU at any time, the interrupted one too. */
	while (nested && cpu_busy(cpu) && op != 0 && op != 9)
		cpu = (cpu + 1) % FCPU;
	if (batched) {
		if (!batch_usable(bi, nested))
			goto out;
		cpu = F.task_cpu[bi];
	}
	if (!nested) {
		F.in_op = true;
		F.op_cpu = cpu;
		if (batched)
			F.op_batch = bi;
	}
	a64m.cur = cpu;
	switch (op) {
	case 0: /* a CPU reads a page ... */
	case 9: { /* ... or eight */
		bool kernel = ((a >> 2) & 1) && F.have[KSP];
		int ls = F.loaded[cpu];
		unsigned s = kernel ? KSP : ls >= 0 ? (unsigned)ls : NSP;
		unsigned p = fuzz_byte(in) % NPAGES, n = op == 9 ? 8 : 1;
		uint16_t asid;

		if (s == NSP)
			goto out;
		asid = s == KSP ? 0 : run_asid(s, (a >> 3) & 1);
		tr("CPU %u reads %s pages %u..%u (ASID %u)\n", cpu, sp_name(s), p, p + n - 1, asid);
		for (unsigned i = 0; i < n && p + i < NPAGES; i++)
			read_page(cpu, s, p + i, asid);
		snprintf(what, sizeof(what), "read");
		break;
	}
	case 1: { /* a PTE change + add_page */
		unsigned s = pick_space(fuzz_byte(in)), p = fuzz_byte(in) % NPAGES;
		unsigned flags = wflag | (leaf ? TLBB_ADD_LEAF_ONLY : 0);
		if (ptl_taken(s, nested))
			goto out;

		tr("CPU %u: %s %s page %u, add_page -> %s%d%s%s\n", cpu, remap ? "remap" : "clear",
		   sp_name(s), p, bi == 3 ? "NULL batch" : "batch ", bi == 3 ? -1 : bi,
		   wflag ? " writable" : "", leaf ? " leaf-only" : "");
		change_leaf(cpu, s, p, remap, bi == 3 ? sync_id() : bi);
		if (bi == 3) {
			tlbb_add_page(NULL, space(s), va_of(s, p), flags);
			rr_discharge_owner(sync_id());
		} else {
			tlbb_add_page(&F.b[bi], space(s), va_of(s, p), flags);
			F.b_writable[bi] |= wflag != 0;
		}
		snprintf(what, sizeof(what), "add_page");
		break;
	}
	case 2: { /* PTE changes + add_range (or flush_range_sync) */
		unsigned s = pick_space(fuzz_byte(in)), p = fuzz_byte(in) % NPAGES, n = fuzz_byte(in) % 80 + 1;
		unsigned flags = wflag | (leaf ? TLBB_ADD_LEAF_ONLY : 0);
		uint64_t start = va_of(s, p), end = start + n * F.page;
		if (ptl_taken(s, nested))
			goto out;

		tr("CPU %u: %s %s pages %u..%u, add_range -> %s%d%s\n", cpu,
		   remap ? "remap" : "clear", sp_name(s), p, p + n - 1,
		   bi == 3 ? "flush_range_sync " : "batch ", bi == 3 ? -1 : bi,
		   leaf ? " leaf-only" : "");
		for (unsigned q = p; q < p + n; q++)
			change_leaf(cpu, s, q, remap, bi == 3 ? sync_id() : bi);
		if (bi == 3) {
			tlbb_flush_range_sync(space(s), start, end, flags);
			rr_discharge_owner(sync_id());
		} else {
			tlbb_add_range(&F.b[bi], space(s), start, end, flags);
			F.b_writable[bi] |= wflag != 0;
		}
		snprintf(what, sizeof(what), "add_range");
		break;
	}
	case 3: { /* PTE changes + add_space */
		unsigned s = pick_space(fuzz_byte(in)), m = fuzz_byte(in);
		if (ptl_taken(s, nested))
			goto out;

		tr("CPU %u: %s %s pages mask %#x, add_space -> %s%d\n", cpu,
		   remap ? "remap" : "clear", sp_name(s), m, bi == 3 ? "NULL batch " : "batch ",
		   bi == 3 ? -1 : bi);
		for (unsigned p = 0; p < NPAGES; p++)
			if ((m >> (p & 7)) & 1)
				change_leaf(cpu, s, p, remap, bi == 3 ? sync_id() : bi);
		if (bi == 3) {
			tlbb_add_space(NULL, space(s), wflag);
			rr_discharge_owner(sync_id());
		} else {
			tlbb_add_space(&F.b[bi], space(s), wflag);
			F.b_writable[bi] |= wflag != 0;
		}
		snprintf(what, sizeof(what), "add_space");
		break;
	}
	case 4: { /* flush (or flush_dirty) a batch, on its task's CPU */
		bool dirty = remap;

		if (bi == 3)
			goto out;
		tr("CPU %u: flush%s batch %d\n", cpu, dirty ? "_dirty" : "", bi);
		if (dirty) {
			bool w = F.b_writable[bi];

			tlbb_flush_dirty(&F.b[bi]);
			if (w) {
				rr_discharge_owner(bi);
				F.b_writable[bi] = false;
			}
		} else {
			tlbb_flush(&F.b[bi]);
			rr_discharge_owner(bi);
			F.b_writable[bi] = false;
		}
		snprintf(what, sizeof(what), "flush of batch %d", bi);
		break;
	}
	case 5: { /* the race check, from any CPU */
		unsigned s = pick_space(fuzz_byte(in));
		uint32_t start = rr_now();
		bool flushed;

		/* The race check runs under the PTL; an add of the same space is
		 * under it too (tlbbatch.h): it cannot run in the middle of one. */
		if (nested && F.op_space == (int)s)
			goto out;
		flushed = tlbb_flush_pending(space(s));

		tr("CPU %u: flush_pending(%s) -> %s\n", cpu, sp_name(s), flushed ? "flushed" : "nothing");
		rr_discharge_space(s, start);
		snprintf(what, sizeof(what), "flush_pending(%s)", sp_name(s));
		break;
	}
	case 6: { /* a CPU switches to another user space (its ASID) */
		unsigned v = fuzz_byte(in);
		int s = (int)(v % (F.nuser + 1));

		if (s == (int)F.nuser)
			s = -1;
		F.loaded[cpu] = s;
		tr("CPU %u: runs %s\n", cpu, s < 0 ? "idle" : sp_name((unsigned)s));
		snprintf(what, sizeof(what), "switch");
		break;
	}
	case 7: { /* a task migrates, through the outgoing CPU's context switch */
		unsigned v = fuzz_byte(in), b = (v & 3) % NBATCH, to = (v >> 2) & 3;
		bool tracked = !((v >> 4) & 1);

		if (to == F.task_cpu[b] || (nested && (cpu_busy(F.task_cpu[b]) || cpu_busy(to) ||
						      (int)b == F.op_batch)))
			goto out;
		tr("task %u: CPU %u -> CPU %u (%s barrier)\n", b, F.task_cpu[b], to,
		   tracked ? "tracked" : "unconditional");
		migrate(b, to, tracked);
		snprintf(what, sizeof(what), "migration of task %u", b);
		break;
	}
	case 8: { /* arm an interrupt at CPU @cpu's n-th next interleaving point */
		unsigned n = fuzz_byte(in) % 8 + 1;

		for (unsigned i = 0; i < sizeof(F.arm_op); i++)
			F.arm_op[i] = (uint8_t)fuzz_byte(in);
		if (nested)
			goto out;
		F.armed = true;
		F.arm_cpu = cpu;
		F.arm_count = n;
		tr("arm: interrupt CPU %u at its interleaving point #%u\n", cpu, n);
		goto out;
	}
	case 10: { /* a page table freed (or replaced): table + leaf changes, not leaf-only */
		unsigned s = pick_space(fuzz_byte(in)), r = fuzz_byte(in) % NREG;
		uint64_t start = va_of(s, r * REGION), end = start + REGION * F.page;
		if (ptl_taken(s, nested))
			goto out;

		tr("CPU %u: %s %s table %u, add_range -> %s%d\n", cpu, remap ? "replace" : "free",
		   sp_name(s), r, bi == 3 ? "flush_range_sync " : "batch ", bi == 3 ? -1 : bi);
		change_table(cpu, s, r, remap, bi == 3 ? sync_id() : bi);
		if (bi == 3) {
			tlbb_flush_range_sync(space(s), start, end, wflag);
			rr_discharge_owner(sync_id());
		} else {
			tlbb_add_range(&F.b[bi], space(s), start, end, wflag);
			F.b_writable[bi] |= wflag != 0;
		}
		snprintf(what, sizeof(what), "table change");
		break;
	}
	case 11: { /* a space dies and is born again in place with its ASID */
		unsigned s = fuzz_byte(in) % F.nuser;
		uint32_t start;

		bool armed = F.armed;

		if (nested)
			goto out;
		F.armed = false; /* the port runs this part without interruptions */
		/* The port's duties first: every batch flushed on its task's CPU. */
		for (int b = 0; b < NBATCH; b++) {
			a64m.cur = F.task_cpu[b];
			tlbb_flush(&F.b[b]);
			rr_discharge_owner(b);
			F.b_writable[b] = false;
		}
		a64m.cur = cpu;
		/* Its frames and tables go with it; the new space maps fresh ones. */
		for (unsigned r = 0; r < NREG; r++)
			change_table(cpu, s, r, true, sync_id());
		start = rr_now();
		tr("CPU %u: fini(%s), init in place with ASID %u\n", cpu, sp_name(s), asid_of[s]);
		if (tlbb_space_fini(space(s)) != TLBB_OK)
			a64m_fail("tlbb_space_fini");
		rr_discharge_space(s, start);
		rr_discharge_owner(sync_id());
		if (tlbb_space_init(space(s), &F.be, asid_of[s], NULL) != TLBB_OK)
			a64m_fail("tlbb_space_init");
		tlbb_space_set_granule(space(s), a64m.page_shift);
		if (F.cfgb & 0x40)
			tlbb_space_set_threshold(space(s), 16);
		F.armed = armed;
		snprintf(what, sizeof(what), "death and rebirth of %s", sp_name(s));
		break;
	}
	default:
		goto out;
	}
	a64m.cur = cpu;
	if (!nested) {
		F.in_op = false;
		F.op_batch = -1;
		F.op_space = -1;
	}
	check(what);
	return;
out:
	if (!nested) {
		F.in_op = false;
		F.op_batch = -1;
		F.op_space = -1;
	}
}

static void setup(struct fuzz_input *in)
{
	unsigned cfgb, loads;

	memset(&F, 0, sizeof(F));
#ifdef A64FUZZ_LIBFUZZER
	{
		static int drop = -1;

		if (drop < 0) {
			const char *e = getenv("A64FUZZ_DROP");

			drop = !e ? 0 : !strcmp(e, "tlbi") ? 1 : !strcmp(e, "dsb") ? 2
			     : !strcmp(e, "switch") ? 3 : 0;
		}
		F.drop = drop;
		F.no_sync = getenv("A64FUZZ_NO_SYNC") != NULL;
	}
#endif
#ifdef A64FUZZ_DROP_TLBI
	F.drop = 1;
#endif
#ifdef A64FUZZ_DSB_COMPLETES_NOTHING
	F.drop = 2;
#endif
#ifdef A64FUZZ_NO_SWITCH_BARRIER
	F.drop = 3;
#endif
	cfgb = fuzz_byte(in);
	loads = fuzz_byte(in);
	F.k_low = fuzz_byte(in) & 1;
	F.cfgb = cfgb;
	F.page = 4096;
	a64m_reset(12, (cfgb & 0x80) != 0);
	a64m.drop_tlbi = F.drop == 1;
	a64m.dsb_completes_nothing = F.drop == 2;
	a64m.at_insn = at_insn;
	a64m.trace = fuzz_trace;
	F.cfg = (struct tlbb_arm64_config){
		.max_tlbi_ops = (cfgb & 0x20) ? 8 : 0,
		.repeat_tlbi_erratum = (cfgb & 0x10) != 0,
		.range_ops = (cfgb & 1) != 0,
		.lpa2 = (cfgb & 0x80) != 0,
		.kpti_paired_asids = (cfgb & 2) != 0,
	};
	if (tlbb_arm64_backend_init(&F.be, &F.cfg) != TLBB_OK)
		a64m_fail("tlbb_arm64_backend_init");
	F.nuser = (cfgb & 8) ? 3 : 2;
	F.have[KSP] = (cfgb & 4) != 0;
	rr_reset(NSP * KEYS, KEYS);
	for (unsigned s = 0; s < NSP; s++) {
		F.have[s] |= s < F.nuser;
		if (!F.have[s])
			continue;
		tlbb_space_init(&F.sp[s], &F.be, asid_of[s], NULL);
		tlbb_space_set_granule(&F.sp[s], a64m.page_shift);
		if (cfgb & 0x40)
			tlbb_space_set_threshold(&F.sp[s], 16);
		if (s == KSP)
			tlbb_space_set_global(&F.sp[s], true);
	}
	for (unsigned b = 0; b < NBATCH; b++) {
		tlbb_batch_init(&F.b[b]);
		F.task_cpu[b] = b;
	}
	F.op_batch = -1;
	F.op_space = -1;
	for (unsigned c = 0; c < FCPU; c++) {
		unsigned s = (loads >> (2 * c)) & 3;

		F.loaded[c] = s < F.nuser ? (int)s : -1;
	}
	tr("config: %s%s%s%s, max ops %u, %u user spaces%s%s%s\n", F.cfg.range_ops ? "range ops" : "no range ops",
	   F.cfg.lpa2 ? " LPA2" : "", F.cfg.kpti_paired_asids ? " KPTI pairs" : "",
	   F.cfg.repeat_tlbi_erratum ? " repeat-TLBI erratum" : "", F.cfg.max_tlbi_ops ? F.cfg.max_tlbi_ops : 512,
	   F.nuser, F.have[KSP] ? ", global space K" : "", F.have[KSP] && F.k_low ? " (TTBR0 half)" : "",
	   cfgb & 0x40 ? ", core threshold 16" : "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };

	setup(&in);
	for (F.step = 1; in.n && F.step <= MAXOPS; F.step++)
		do_op(&in, false);
	/* The end of the program: every task flushes its batch. */
	F.armed = false;
	for (int b = 0; b < NBATCH; b++) {
		a64m.cur = F.task_cpu[b];
		tlbb_flush(&F.b[b]);
		rr_discharge_owner(b);
	}
	check("the final flushes");
	return 0;
}

#ifndef A64FUZZ_LIBFUZZER
int main(int argc, char **argv)
{
	return fuzz_main(argc, argv, LLVMFuzzerTestOneInput);
}
#endif
