/* SPDX-License-Identifier: MIT */
/*
 * Sequence fuzzer for the real riscv64 backend (arch/riscv64/riscv64.c on the
 * shared mask/IPI/generation engine, built with -DTLBB_RISCV_RECORD) over the
 * RISC-V TLB model (tests/oracle/rv_model.c: per-hart TLBs tagged by ASID,
 * G-bit entries, SINVAL.VMA pending until SFENCE.INVAL.IR, SBI RFENCE
 * completing on the named harts before the call returns, page-table stores
 * invisible to every walker until the storing hart orders them), checked
 * after every step against the ISA-free reference rule
 * (tests/oracle/refrule.c). docs/riscv64.md, "The proof", explains it.
 *
 * The input is a program. Byte 0 configures the backend and the machine:
 *   bit 0 SBI path (TLBB_RISCV_SBI_RFENCE)  bit 1 Svinval
 *   bits 2-3 ceiling 2, 4, 33, 8            bit 4 a global (G-bit) space K
 *   bit 5 a third user space                bit 6 U0 and U1 share an ASID
 *   bit 7 core threshold 16 pages
 * Byte 1: the space each of harts 0..3 starts on (2 bits each; beyond the
 * user spaces: the idle space). Byte 2: bit 0 Sv48 (else Sv39), bit 1 every
 * third RFENCE call fails (the backend redoes it over IPIs), bit 2 hart IDs
 * 0, 65, 3, 130 (three 64-hart windows) instead of 0..3, bit 3 the life of
 * a space: operation 10 exists (a space dies and a new one is born in its
 * memory with its ASID, the port's duties done first). Then up to MAXOPS
 * operations (do_op()): walks, PTE changes + add_page/add_range/add_space
 * into one of 3 batches or the synchronous paths, flush/flush_dirty,
 * tlbb_flush_pending from any hart, switches (satp) through
 * tlbb_riscv_switch_space, the port's lazy mask clear, and "interrupts": up
 * to two operations of other harts run at a chosen fence, satp write or
 * ecall of a hart (a flush round arriving between SINVAL.VMA and
 * SFENCE.INVAL.IR, an add racing a switch-in).
 *
 * Keys (refrule.h): page p of space s is s * NPAGES + p. A PTE change
 * retires the version, and the changing hart stores the new one: visible to
 * the other harts' walkers at the hart's next library call (the engine's
 * seq_cst atomics, library_entry()), fence or IPI send, to its own walker
 * at its next SFENCE.VMA / SFENCE.W.INVAL or when it releases the space's
 * page-table lock at the end of the operation (rv_model.h).
 *
 * A space's death retires every page's version into its own owner
 * (OWNER_DEATH: its frames go with it, the new space maps fresh ones),
 * discharged when tlbb_space_fini() returns.
 *
 * Usable (the check, after every step): on hart c, an entry of a retired,
 * discharged version is a violation if it is global, or tagged with the
 * ASID in c's satp now, or tagged with an ASID a switch-in right now would
 * keep (c's engine slot for a space with that ASID is current, so
 * tlbb_riscv_switch_space() would not fence it). An entry under an ASID no
 * switch would keep cannot translate before a fence.
 *
 * Controls (compile time, each its own replay binary in meson; at run time
 * in the libFuzzer build: RVFUZZ_DROP=fence|rounds|racecheck):
 *   -DRVFUZZ_DROP_FENCE     checker control: the model's fences remove nothing
 *   -DRVFUZZ_DROP_ROUNDS    no remote round: IPI rounds are not delivered,
 *                           RFENCE calls fence nobody
 *   -DRVFUZZ_NO_RACE_CHECK  the caller's race check removed: the op calls
 *                           nothing, the reference still discharges
 * and the backend mutants of tests/riscv64/mutate-riscv64.sh (local
 * SFENCE.VMA only, wrong ASID operand, Svinval without SFENCE.INVAL.IR or
 * without SFENCE.W.INVAL) and the
 * engine's space-reuse bug (tests/x86_64/mutate-x86.py reuse).
 *
 * Replay: fuzz_riscv64 [--expect-violation] [--trace] PATH... (fuzzdrv.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tlbbatch/riscv64.h>

#include "../oracle/fuzzdrv.h"
#include "../oracle/refrule.h"
#include "../oracle/rv_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FCPU RVM_NCPU
#define NUSER 3
#define NSP (NUSER + 1)
#define KSP NUSER /* index of the global space */
#define NPAGES 40 /* ranges can pass the ceiling of 33 */
#define NBATCH 3
#define MAXOPS 300
#define PAGE 4096ull
#define ROOT(i) (0x80000000ull + 0x100000ull * ((uint64_t)(i) + 1))
#define IDLE_ASID 0x7ff
#define OWNER_DEATH (-100) /* the owner of versions retired by a space's death */

#define violation(...) fuzz_violation("rvfuzz", __VA_ARGS__)

/*
 * U0 ends at the top of the lower half of the paging mode: a range running
 * past its last page leaves the valid addresses (the backend must fence the
 * whole ASID rather than SFENCE.VMA addresses that do nothing). K, the
 * global space, is in the upper half.
 */
static uint64_t base_of(unsigned s)
{
	switch (s) {
	case 0:
		return (1ull << (rvm.va_bits - 1)) - NPAGES * PAGE;
	case 1:
		return 0x40003000ull;
	case 2:
		return 0x2000000000ull;
	default:
		return 0xffffffff80000000ull;
	}
}

static const uint32_t sparse_harts[FCPU] = { 0, 65, 3, 130 };

static struct {
	struct tlbb_riscv rv;
	struct tlbb_riscv_config cfg;
	struct tlbb_mg_cpu pc[FCPU];
	struct tlbb_space sp[NSP];
	struct tlbb_space idle;
	bool have[NSP];
	unsigned nuser, cfgb;
	bool life; /* byte 2 bit 3: operation 10 exists */
	struct tlbb_batch b[NBATCH];
	tlbb_cpumask_t mask[NSP];      /* the port's masks (mm_cpumask) */
	tlbb_cpumask_t idle_mask;
	tlbb_cpumask_t bmask[NBATCH];  /* the port's batch masks; the last batch has none */
	bool b_writable[NBATCH];
	int b_space[NBATCH];           /* -1 empty, -2 several, else the one space */
	int loaded[FCPU];              /* user space index, -1 idle */
	/* the armed interrupt */
	bool armed;
	unsigned arm_cpu, arm_count;
	uint8_t arm_op[8];
	/* what is running, for the interrupt's legality */
	bool in_op;
	unsigned op_cpu;
	int op_batch;   /* the batch the running op flushes */
	int op_space;   /* the space whose PTEs it changes (its PTL) */
	bool op_irqoff; /* the running op keeps interrupts off (a switch) */
	unsigned depth;
	unsigned step;
	int drop;       /* 1 fence, 2 rounds, 3 race check */
	uint64_t n_interrupts;
} F;

#define tr(...) fuzz_tr(F.depth, __VA_ARGS__)

void rvm_fail(const char *what)
{
	violation("step %u: harness: %s", F.step, what);
}

static const char *sp_name(unsigned s)
{
	static const char *n[NSP] = { "U0", "U1", "U2", "K" };

	return n[s];
}

/* ---- spaces, keys, the check --------------------------------------------------------- */

static uint64_t va_of(unsigned s, unsigned p)
{
	return base_of(s) + p * PAGE;
}

static unsigned key_of(unsigned s, unsigned p)
{
	return s * NPAGES + p;
}

static struct tlbb_space *space(unsigned s)
{
	return &F.sp[s];
}

static uint32_t asid_of_space(unsigned s)
{
	return (uint32_t)(F.sp[s].id & RV_SATP_ASID_MASK);
}

/* Would a switch-in on @cpu, right now, keep the entries tagged @asid? */
ORACLE_NOCOV static bool asid_kept_by_switch(unsigned cpu, uint32_t asid, unsigned *via)
{
	const struct tlbb_mg_cpu *c = &F.pc[cpu];

	for (unsigned t = 0; t < F.nuser; t++) {
		if (asid_of_space(t) != asid)
			continue;
		for (int i = 0; i < TLBB_MG_SLOTS; i++)
			if (c->slot[i].ctx != 0 && c->slot[i].ctx == tlbb_mg_space_ctx(&F.sp[t]) &&
			    c->slot[i].tag == asid &&
			    c->slot[i].gen == tlbb_mg_space_gen(&F.sp[t])) {
				*via = t;
				return true;
			}
	}
	return false;
}

ORACLE_NOCOV static void check(const char *after)
{
	for (unsigned c = 0; c < FCPU; c++)
		for (unsigned i = 0; i < RVM_TLB; i++) {
			const struct rvm_entry *e = &rvm.tlb[c][i];
			unsigned s, p, via = 0;
			const char *how;
			bool kept = false;

			if (!e->valid || !rr_stale(e->key, e->version))
				continue;
			/* Mid-switch (an interrupt at its satp write): slot and satp
			 * disagree until its fence; the check after the switch covers it. */
			if (F.depth && F.op_irqoff && c == F.op_cpu)
				continue;
			s = e->key / NPAGES;
			p = e->key % NPAGES;
			if (e->global)
				how = "global entry";
			else if (e->asid == rvm.asid[c])
				how = "entry of the ASID in satp";
			else if ((kept = asid_kept_by_switch(c, e->asid, &via)))
				how = "entry a switch-in would keep";
			else
				continue;
			violation("step %u (after %s): hart %u holds a stale %s: %s page %u version %u "
				  "(now %u%s), ASID %u; its invalidation has completed%s%s%s",
				  F.step, after, c, how, sp_name(s), p, e->version, rr_cur(e->key),
				  rr_present(e->key) ? "" : ", cleared", e->asid,
				  kept ? " (a switch to " : "", kept ? sp_name(via) : "", kept ? ")" : "");
		}
}

/* ---- operations ------------------------------------------------------------------------ */

static void fill(unsigned cpu, unsigned s, unsigned p)
{
	uint32_t v;

	rvm_walk(cpu, va_of(s, p), s == KSP, key_of(s, p), &v);
}

/* Hart @cpu changes PTE @p of @s (retired into @owner) and stores it. */
static void change_pte(unsigned cpu, unsigned s, unsigned p, bool remap, int owner)
{
	unsigned k = key_of(s, p);

	if (p >= NPAGES || !rr_retire(k, remap, owner))
		return;
	rvm_store(cpu, k, rr_cur(k), remap);
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

static void do_op(struct fuzz_input *in, bool nested);

/* Harts that cannot start an operation now: the one running the outer
 * operation, the interrupted one, any in a flush handler. */
static bool cpu_busy(unsigned cpu)
{
	return (F.in_op && cpu == F.op_cpu) || (F.depth && cpu == F.arm_cpu) ||
	       rvm.in_handler[cpu];
}

/* Can @mask's harts take a flush IPI now? NULL is every hart. */
static bool mask_takes_ipis(const tlbb_cpumask_t *mask)
{
	for (unsigned c = 0; c < FCPU; c++)
		if ((!mask || tlbb_cpumask_test(mask, c)) && (rvm.in_handler[c] || rvm.irq_off[c]))
			return false;
	if (F.op_irqoff && (!mask || tlbb_cpumask_test(mask, F.op_cpu)))
		return false;
	return true;
}

/* A batch of one space targets its mask; one of several, every hart here. */
static bool batch_takes_ipis(int bi)
{
	if (F.b_space[bi] == -1)
		return true;
	return mask_takes_ipis(F.b_space[bi] >= 0 ? space((unsigned)F.b_space[bi])->cpus : NULL);
}

static void note_add(int bi, unsigned s)
{
	if (F.b_space[bi] == -1)
		F.b_space[bi] = (int)s;
	else if (F.b_space[bi] != (int)s)
		F.b_space[bi] = -2;
}

/* A PTE-changing op takes its space's PTL: an interrupting one cannot take
 * the one the interrupted op holds. */
static bool ptl_taken(unsigned s, bool nested)
{
	if (!nested) {
		F.op_space = (int)s;
		return false;
	}
	return F.op_space == (int)s;
}

/* The model's instruction hook: fire the armed interrupt. */
static void at_insn(enum rvm_kind k, bool after)
{
	static const char *const name[] = { "fence", "satp write", "ecall" };
	struct fuzz_input sub;

	if (!F.armed || F.depth || rvm.cur != F.arm_cpu)
		return;
	if (--F.arm_count)
		return;
	F.armed = false;
	F.n_interrupts++;
	F.depth++;
	tr("-- interrupt %s hart %u's %s\n", after ? "after" : "before", rvm.cur, name[k]);
	sub = (struct fuzz_input){ F.arm_op, sizeof(F.arm_op) };
	do_op(&sub, true);
	if (sub.n)
		do_op(&sub, true);
	F.depth--;
}

/*
 * Before a library call: the engine's first steps are seq_cst atomics (the
 * core's pending bump, the generation), AMO.aqrl and FENCE rw,rw on RVWMO,
 * which order the calling hart's earlier stores before anything the call
 * does that another hart can see. The model does not see compiler atomics,
 * and no interleaving point lies between the entry and them.
 */
static void library_entry(void)
{
	rvm_publish_global(rvm.cur);
}

static void flush_batch(int bi, bool dirty)
{
	if (dirty) {
		bool w = F.b_writable[bi];

		library_entry();
		tlbb_flush_dirty(&F.b[bi]);
		if (w) {
			rr_discharge_owner(bi);
			F.b_writable[bi] = false;
			F.b_space[bi] = -1;
		}
	} else {
		library_entry();
		tlbb_flush(&F.b[bi]);
		rr_discharge_owner(bi);
		F.b_writable[bi] = false;
		F.b_space[bi] = -1;
	}
}

static void switch_to(unsigned cpu, int s)
{
	struct tlbb_space *next = s < 0 ? &F.idle : space((unsigned)s);
	bool fl;

	rvm.cur = cpu;
	rvm.irq_off[cpu] = true; /* the port's duty: interrupts off around satp */
	library_entry();
	fl = tlbb_riscv_switch_space(&F.rv, next, ROOT(s < 0 ? NSP : s));
	rvm.irq_off[cpu] = false;
	F.loaded[cpu] = s;
	tr("hart %u: switch to %s (%s)\n", cpu, s < 0 ? "idle" : sp_name((unsigned)s),
	   fl ? "fenced" : "no fence");
}

/*
 * The port's duties before a space dies: no hart runs it (each switches to
 * the idle space), no batch holds work for it (each such batch, or one of
 * several spaces, is flushed from @cpu).
 */
static void life_prepare(unsigned cpu, unsigned s)
{
	for (unsigned c = 0; c < FCPU; c++)
		if (F.loaded[c] == (int)s)
			switch_to(c, -1);
	rvm.cur = cpu;
	for (int b = 0; b < NBATCH; b++) {
		if (F.b_space[b] != (int)s && F.b_space[b] != -2)
			continue;
		tr("hart %u: flush batch %d first\n", cpu, b);
		flush_batch(b, false);
	}
	rvm.cur = cpu;
}

/*
 * One operation. Nested operations (an armed interrupt) run on a hart other
 * than the interrupted one, never touch the batch it is flushing or the
 * space whose PTL it holds, and skip a flush whose round would need a hart
 * with interrupts off.
 */
static void do_op(struct fuzz_input *in, bool nested)
{
	unsigned op = fuzz_byte(in) % (F.life ? 11 : 10), a = fuzz_byte(in);
	unsigned cpu = a & 3;
	int bi = (int)((a >> 2) & 3); /* 3: the synchronous path */
	bool remap = (a >> 4) & 1;
	unsigned flags = ((a >> 5) & 1) ? TLBB_ADD_WRITABLE : 0;
	char what[96];

	/* The walker may fill any hart at any time, the interrupted one too,
	 * but not one in the middle of a switch. */
	while (nested && cpu_busy(cpu) &&
	       !((op == 0 || op == 9) && !(F.op_irqoff && cpu == F.op_cpu)))
		cpu = (cpu + 1) % FCPU;
	if (nested && bi == F.op_batch)
		bi = 3;
	if (!nested) {
		F.in_op = true;
		F.op_cpu = cpu;
	}
	rvm.cur = cpu;
	switch (op) {
	case 0: /* a hart reads a page ... */
	case 9: { /* ... or eight */
		bool kernel = ((a >> 2) & 1) && F.have[KSP];
		unsigned s = kernel ? KSP : (F.loaded[cpu] >= 0 ? (unsigned)F.loaded[cpu] : NSP);
		unsigned p = fuzz_byte(in) % NPAGES, n = op == 9 ? 8 : 1;

		if (s == NSP)
			goto out; /* idle hart: no user space to read */
		tr("hart %u reads %s pages %u..%u\n", cpu, sp_name(s), p, p + n - 1);
		for (unsigned i = 0; i < n && p + i < NPAGES; i++)
			fill(cpu, s, p + i);
		snprintf(what, sizeof(what), "read");
		break;
	}
	case 1: { /* PTE change + add_page */
		unsigned s = pick_space(fuzz_byte(in)), p = fuzz_byte(in) % NPAGES;

		if (bi == 3 && nested && !mask_takes_ipis(space(s)->cpus))
			goto out;
		if (ptl_taken(s, nested))
			goto out;
		tr("hart %u: %s %s page %u, add_page -> %s%d%s\n", cpu, remap ? "remap" : "clear",
		   sp_name(s), p, bi == 3 ? "NULL batch " : "batch ", bi == 3 ? -1 : bi,
		   flags ? " writable" : "");
		change_pte(cpu, s, p, remap, bi == 3 ? sync_id() : bi);
		if (bi == 3) {
			library_entry();
			tlbb_add_page(NULL, space(s), va_of(s, p), flags);
			rr_discharge_owner(sync_id());
		} else {
			library_entry();
			tlbb_add_page(&F.b[bi], space(s), va_of(s, p), flags);
			note_add(bi, s);
			F.b_writable[bi] |= flags != 0;
		}
		rvm_publish(cpu); /* the PTL released */
		snprintf(what, sizeof(what), "add_page");
		break;
	}
	case 2: { /* PTE changes + add_range (or flush_range_sync) */
		unsigned s = pick_space(fuzz_byte(in)), p = fuzz_byte(in) % NPAGES, n = fuzz_byte(in) % 48 + 1;
		uint64_t start = va_of(s, p), end = start + n * PAGE;

		if (bi == 3 && nested && !mask_takes_ipis(space(s)->cpus))
			goto out;
		if (ptl_taken(s, nested))
			goto out;
		tr("hart %u: %s %s pages %u..%u, add_range -> %s%d\n", cpu,
		   remap ? "remap" : "clear", sp_name(s), p, p + n - 1,
		   bi == 3 ? "flush_range_sync " : "batch ", bi == 3 ? -1 : bi);
		for (unsigned q = p; q < p + n; q++)
			change_pte(cpu, s, q, remap, bi == 3 ? sync_id() : bi);
		if (bi == 3) {
			library_entry();
			tlbb_flush_range_sync(space(s), start, end, flags);
			rr_discharge_owner(sync_id());
		} else {
			library_entry();
			tlbb_add_range(&F.b[bi], space(s), start, end, flags);
			note_add(bi, s);
			F.b_writable[bi] |= flags != 0;
		}
		rvm_publish(cpu); /* the PTL released */
		snprintf(what, sizeof(what), "add_range");
		break;
	}
	case 3: { /* PTE changes + add_space */
		unsigned s = pick_space(fuzz_byte(in)), m = fuzz_byte(in);

		if (bi == 3 && nested && !mask_takes_ipis(space(s)->cpus))
			goto out;
		if (ptl_taken(s, nested))
			goto out;
		tr("hart %u: %s %s pages mask %#x, add_space -> %s%d\n", cpu,
		   remap ? "remap" : "clear", sp_name(s), m, bi == 3 ? "NULL batch " : "batch ",
		   bi == 3 ? -1 : bi);
		for (unsigned p = 0; p < NPAGES; p++)
			if ((m >> (p & 7)) & 1)
				change_pte(cpu, s, p, remap, bi == 3 ? sync_id() : bi);
		if (bi == 3) {
			library_entry();
			tlbb_add_space(NULL, space(s), flags);
			rr_discharge_owner(sync_id());
		} else {
			library_entry();
			tlbb_add_space(&F.b[bi], space(s), flags);
			note_add(bi, s);
			F.b_writable[bi] |= flags != 0;
		}
		rvm_publish(cpu); /* the PTL released */
		snprintf(what, sizeof(what), "add_space");
		break;
	}
	case 4: { /* flush (or flush_dirty) a batch */
		if (bi == 3)
			bi = 0;
		if (nested && (bi == F.op_batch || !batch_takes_ipis(bi)))
			goto out;
		tr("hart %u: flush%s batch %d\n", cpu, remap ? "_dirty" : "", bi);
		if (!nested)
			F.op_batch = bi;
		flush_batch(bi, remap);
		snprintf(what, sizeof(what), "flush of batch %d", bi);
		break;
	}
	case 5: { /* the race check, from any hart, under the space's PTL */
		unsigned s = pick_space(fuzz_byte(in));
		uint32_t start = rr_now();
		bool flushed = false;

		if (nested && (F.op_space == (int)s || !mask_takes_ipis(space(s)->cpus)))
			goto out;
		if (F.drop != 3) {
			library_entry();
			flushed = tlbb_flush_pending(space(s));
		}
		tr("hart %u: flush_pending(%s) -> %s\n", cpu, sp_name(s),
		   F.drop == 3 ? "not called (control)" : flushed ? "flushed" : "nothing");
		rr_discharge_space(s, start);
		snprintf(what, sizeof(what), "flush_pending(%s)", sp_name(s));
		break;
	}
	case 6: { /* a switch: satp through the backend's hook */
		unsigned v = fuzz_byte(in);
		int s = (int)(v % (F.nuser + 1));

		if (s == (int)F.nuser)
			s = -1;
		if (!nested)
			F.op_irqoff = true;
		switch_to(cpu, s);
		snprintf(what, sizeof(what), "switch");
		break;
	}
	case 7: { /* the port clears a hart's mask bit, where its contract allows */
		unsigned s = fuzz_byte(in) % F.nuser;
		uint64_t lo = base_of(s), hi = lo + NPAGES * PAGE;

		if (F.loaded[cpu] == (int)s)
			goto out;
		for (unsigned i = 0; i < RVM_TLB; i++)
			if (rvm.tlb[cpu][i].valid && rvm.tlb[cpu][i].va >= lo && rvm.tlb[cpu][i].va < hi)
				goto out; /* it may still hold entries of s: the bit must stay */
		tr("port: hart %u leaves %s's mask\n", cpu, sp_name(s));
		tlbb_cpumask_unset(space(s)->cpus, cpu);
		snprintf(what, sizeof(what), "mask clear");
		break;
	}
	case 8: { /* arm an interrupt at hart @cpu's n-th next interleaving point */
		unsigned n = fuzz_byte(in) % 8 + 1;

		for (unsigned i = 0; i < sizeof(F.arm_op); i++)
			F.arm_op[i] = (uint8_t)fuzz_byte(in);
		if (nested)
			goto out;
		F.armed = true;
		F.arm_cpu = cpu;
		F.arm_count = n;
		tr("arm: interrupt hart %u at its interleaving point #%u\n", cpu, n);
		goto out;
	}
	case 10: { /* a space dies; a new one is born in its memory with its ASID */
		unsigned s = fuzz_byte(in) % F.nuser;
		uint32_t id = F.sp[s].id, start;
		bool armed = F.armed;

		if (nested)
			goto out;
		F.armed = false; /* the port runs this part without interruptions */
		life_prepare(cpu, s);
		for (unsigned p = 0; p < NPAGES; p++)
			change_pte(cpu, s, p, true, OWNER_DEATH);
		start = rr_now();
		tr("hart %u: fini(%s), init in place with ASID %u\n", cpu, sp_name(s), id);
		library_entry();
		if (tlbb_space_fini(space(s)) != TLBB_OK)
			rvm_fail("tlbb_space_fini");
		rr_discharge_space(s, start);
		rr_discharge_owner(OWNER_DEATH);
		if (tlbb_space_init(space(s), tlbb_riscv_backend(&F.rv), id, NULL) != TLBB_OK)
			rvm_fail("tlbb_space_init");
		/* A new mm, a new mask: the dead one's bits go with it. */
		tlbb_cpumask_clear(&F.mask[s]);
		tlbb_space_set_cpumask(space(s), &F.mask[s]);
		if (F.cfgb & 0x80)
			tlbb_space_set_threshold(space(s), 16);
		rvm_publish(cpu); /* the new space's tables, before anyone runs it */
		F.armed = armed;
		snprintf(what, sizeof(what), "death and rebirth of %s", sp_name(s));
		break;
	}
	default:
		goto out;
	}
	rvm.cur = cpu;
	if (!nested) {
		F.in_op = false;
		F.op_batch = -1;
		F.op_space = -1;
		F.op_irqoff = false;
	}
	check(what);
	return;
out:
	if (!nested) {
		F.in_op = false;
		F.op_batch = -1;
		F.op_space = -1;
		F.op_irqoff = false;
	}
}

static void setup(struct fuzz_input *in)
{
	static const unsigned ceilings[4] = { 2, 4, 33, 8 };
	unsigned cfgb, loads, ext;

	memset(&F, 0, sizeof(F));
#ifdef RVFUZZ_LIBFUZZER
	{
		static int drop = -1;

		if (drop < 0) {
			const char *e = getenv("RVFUZZ_DROP");

			drop = !e ? 0 : !strcmp(e, "fence") ? 1 : !strcmp(e, "rounds") ? 2
			     : !strcmp(e, "racecheck") ? 3 : 0;
		}
		F.drop = drop;
	}
#endif
#ifdef RVFUZZ_DROP_FENCE
	F.drop = 1;
#endif
#ifdef RVFUZZ_DROP_ROUNDS
	F.drop = 2;
#endif
#ifdef RVFUZZ_NO_RACE_CHECK
	F.drop = 3;
#endif
	cfgb = fuzz_byte(in);
	loads = fuzz_byte(in);
	ext = fuzz_byte(in);
	F.cfgb = cfgb;
	F.life = (ext & 8) != 0;
	rvm_reset((ext & 1) ? 48 : 39, (cfgb & 2) != 0);
	rvm.drop_fence = F.drop == 1;
	rvm.drop_rounds = F.drop == 2;
	rvm.sbi_fail_every = (ext & 2) ? 3 : 0;
	rvm.at_insn = at_insn;
	rvm.trace = fuzz_trace;
	F.cfg = (struct tlbb_riscv_config){
		.features = ((cfgb & 1) ? TLBB_RISCV_SBI_RFENCE : 0) |
			    ((cfgb & 2) ? TLBB_RISCV_SVINVAL : 0) | ((ext & 1) ? TLBB_RISCV_SV48 : 0),
		.ceiling = ceilings[(cfgb >> 2) & 3],
		.hartid = (ext & 4) ? sparse_harts : NULL,
	};
	for (unsigned c = 0; c < FCPU; c++)
		rvm.hart[c] = (ext & 4) ? sparse_harts[c] : c;
	if (tlbb_riscv_init(&F.rv, &F.cfg, F.pc, FCPU) != TLBB_OK)
		rvm_fail("tlbb_riscv_init");
	F.nuser = (cfgb & 0x20) ? 3 : 2;
	F.have[KSP] = (cfgb & 0x10) != 0;
	rr_reset(NSP * NPAGES, NPAGES);
	for (unsigned s = 0; s < NSP; s++) {
		uint32_t id;

		F.have[s] |= s < F.nuser;
		if (!F.have[s])
			continue;
		/* ASIDs 1, 2, 3; with bit 6 U0 and U1 share ASID 1; K has none. */
		id = s == KSP ? 0 : (s == 1 && (cfgb & 0x40)) ? 1 : s + 1;
		if (tlbb_space_init(&F.sp[s], tlbb_riscv_backend(&F.rv), id, NULL) != TLBB_OK)
			rvm_fail("tlbb_space_init");
		tlbb_cpumask_clear(&F.mask[s]);
		tlbb_space_set_cpumask(&F.sp[s], &F.mask[s]);
		if (cfgb & 0x80)
			tlbb_space_set_threshold(&F.sp[s], 16);
	}
	/* The port's idle space: no pages, never flushed, only waited in. */
	tlbb_space_init(&F.idle, tlbb_riscv_backend(&F.rv), IDLE_ASID, NULL);
	tlbb_space_set_cpumask(&F.idle, &F.idle_mask);
	if (F.have[KSP]) {
		tlbb_space_set_global(&F.sp[KSP], true);
		for (unsigned c = 0; c < FCPU; c++)
			tlbb_space_cpu_enter(&F.sp[KSP], c); /* the port's duty for a global space */
	}
	for (unsigned b = 0; b < NBATCH; b++) {
		tlbb_batch_init(&F.b[b]);
		if (b + 1 < NBATCH)
			tlbb_batch_set_cpumask(&F.b[b], &F.bmask[b]);
		F.b_space[b] = -1;
	}
	F.op_batch = -1;
	F.op_space = -1;
	tr("config: %s path%s, ceiling %u, Sv%u, %u user spaces%s%s%s%s%s%s\n",
	   (cfgb & 1) ? "SBI" : "IPI", (cfgb & 2) ? ", Svinval" : "", F.cfg.ceiling, rvm.va_bits,
	   F.nuser, F.have[KSP] ? ", global space K" : "", (cfgb & 0x40) ? ", U0/U1 share an ASID" : "",
	   (cfgb & 0x80) ? ", core threshold 16" : "", (ext & 2) ? ", every 3rd RFENCE fails" : "",
	   (ext & 4) ? ", hart IDs 0 65 3 130" : "", F.life ? ", deaths" : "");
	for (unsigned c = 0; c < FCPU; c++) {
		unsigned s = (loads >> (2 * c)) & 3;

		switch_to(c, s < F.nuser ? (int)s : -1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };

	setup(&in);
	for (F.step = 1; in.n && F.step <= MAXOPS; F.step++)
		do_op(&in, false);
	/* The end of the program: every batch flushed, from hart 0. */
	rvm.cur = 0;
	F.armed = false;
	for (int b = 0; b < NBATCH; b++)
		flush_batch(b, false);
	check("the final flushes");
	return 0;
}

#ifndef RVFUZZ_LIBFUZZER
int main(int argc, char **argv)
{
	return fuzz_main(argc, argv, LLVMFuzzerTestOneInput);
}
#endif
