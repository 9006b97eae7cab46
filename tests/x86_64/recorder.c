/* SPDX-License-Identifier: MIT */
/*
 * The recorder and TLB model (see recorder.h): the backend's instructions
 * and port hooks, applied to per-CPU model TLBs.
 */
#include <stddef.h>
#include <string.h>

#include "recorder.h"

struct rec R;

bool canonical48(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

bool canonical_on(unsigned cpu, uint64_t va)
{
	unsigned shift = (R.cr4[cpu] & CR4_LA57) ? 7 : 16;

	return (uint64_t)((int64_t)(va << shift) >> shift) == va;
}

uint32_t cur_pcid(unsigned cpu)
{
	return R.pcide ? (uint32_t)(R.cr3[cpu] & 0xfff) : 0;
}

/* The instruction hook, before or after the model applies the instruction. */
static void hook(enum ev_kind k, bool after)
{
	if (R.at_insn) {
		unsigned self = R.cur;

		R.at_insn(k, after);
		R.cur = self;
	}
}

static void record_only(enum ev_kind k, uint64_t a, uint64_t b)
{
	if (R.nev >= MAX_EV) {
		if (!R.ring)
			rec_fail("recorder: event record full");
		R.nev = 0;
	}
	R.ev[R.nev++] = (struct ev){ R.cur, k, a, b };
}

static void record(enum ev_kind k, uint64_t a, uint64_t b)
{
	record_only(k, a, b);
	hook(k, false);
}

/* Drop model entries of CPU R.cur matching the predicate. */
#define TLB_DROP(cond)                                                   \
	do {                                                             \
		for (unsigned i_ = 0; i_ < TLB_SIZE; i_++) {             \
			struct tlbe *e = &R.tlb[R.cur][i_];              \
			if (e->valid && (cond))                          \
				e->valid = false;                        \
		}                                                        \
	} while (0)

void tlbb_x86_rec_invlpg(uintptr_t va)
{
	uint64_t page = va & ~0xfffull;
	uint32_t pcid = cur_pcid(R.cur);

	record(EV_INVLPG, va, 0);
	if (R.cur == 0 && R.interrupt_cpu0) {
		void (*fn)(void) = R.interrupt_cpu0;

		R.interrupt_cpu0 = NULL;
		fn();
		R.cur = 0;
	}
	/* SDM: INVLPG of a non-canonical address is a NOP. Otherwise it drops
	 * the page's entries of the current PCID and its global ones. */
	if (canonical_on(R.cur, va) && !R.drop_invlpg)
		TLB_DROP(e->va == page && (e->global || e->pcid == pcid));
	hook(EV_INVLPG, true);
}

void tlbb_x86_rec_invpcid(unsigned type, uint64_t pcid, uint64_t va)
{
	(void)va;
	record(EV_INVPCID, type, pcid);
	switch (type) {
	case 1:
		TLB_DROP(!e->global && e->pcid == pcid);
		break;
	case 2:
		TLB_DROP(true);
		break;
	case 3:
		TLB_DROP(!e->global);
		break;
	default:
		rec_fail("recorder: unexpected INVPCID type");
	}
	hook(EV_INVPCID, true);
}

#define EPT_DROP(cond)                                                   \
	do {                                                             \
		for (unsigned i_ = 0; i_ < TLB_SIZE; i_++) {             \
			struct ept_e *e = &R.ept[R.cur][i_];             \
			if (e->valid && (cond))                          \
				e->valid = false;                        \
		}                                                        \
	} while (0)

bool tlbb_x86_rec_invept(unsigned type, uint64_t eptp)
{
	uint64_t ep4ta = EPT_EP4TA(eptp);
	bool all = R.invept_keeps_combined;

	record(EV_INVEPT, type, eptp);
	/* VMfail: a type the CPU lacks, or an EPTP a VM entry would refuse. */
	if (type == 1 && (R.invept_single_fails || ep4ta == 0)) {
		hook(EV_INVEPT, true);
		return false;
	}
	if (R.drop_invept) {
		/* negative control: recorded, drops nothing */
	} else if (type == 1) {
		EPT_DROP(e->ep4ta == ep4ta && (!all || !e->combined));
	} else if (type == 2) {
		EPT_DROP(!all || !e->combined);
	} else {
		rec_fail("recorder: unexpected INVEPT type");
	}
	hook(EV_INVEPT, true);
	return true;
}

uint64_t tlbb_x86_rec_read_cr3(void)
{
	return R.cr3[R.cur];
}

void tlbb_x86_rec_write_cr3(uint64_t v)
{
	record(EV_CR3, v, 0);
	R.cr3[R.cur] = v & ~CR3_NOFLUSH;
	if (R.cr3_never_flushes) {
		/* negative control: the CPU keeps every entry */
	} else if (!R.pcide) {
		TLB_DROP(!e->global);
	} else if (!(v & CR3_NOFLUSH)) {
		uint32_t pcid = (uint32_t)(v & 0xfff);

		TLB_DROP(!e->global && e->pcid == pcid);
	}
	hook(EV_CR3, true);
}

uint64_t tlbb_x86_rec_read_cr4(void)
{
	return R.cr4[R.cur];
}

void tlbb_x86_rec_write_cr4(uint64_t v)
{
	record(EV_CR4, v, R.irq_off[R.cur]);
	if ((v ^ R.cr4[R.cur]) & CR4_PGE)
		TLB_DROP(true);
	R.cr4[R.cur] = v;
	hook(EV_CR4, true);
}

uint64_t tlbb_x86_rec_irq_save(void)
{
	uint64_t fl = R.irq_off[R.cur] ? 0 : RFLAGS_IF;

	record_only(EV_IRQ_SAVE, fl, 0);
	R.irq_off[R.cur] = true;
	return fl;
}

void tlbb_x86_rec_irq_restore(uint64_t rflags)
{
	record_only(EV_IRQ_RESTORE, rflags, 0);
	R.irq_off[R.cur] = !(rflags & RFLAGS_IF);
}

/* ---- port hooks ------------------------------------------------------------ */

unsigned tlbb_port_cpu_id(void)
{
	return R.cur;
}

void tlbb_port_ipi_send_and_wait(const tlbb_cpumask_t *targets, void (*fn)(void *), void *arg)
{
	unsigned self = R.cur;
	tlbb_cpumask_t to;

	/*
	 * The backend hands over a live mask (a space's, which handlers trim
	 * while the round runs) or NULL for every CPU; like Linux's
	 * smp_call_function_many() the port takes its own copy and leaves
	 * the caller out.
	 */
	tlbb_cpumask_clear(&to);
	if (targets) {
		tlbb_cpumask_or(&to, targets);
	} else {
		for (unsigned c = 0; c < NCPU; c++)
			tlbb_cpumask_set(&to, c);
	}
	tlbb_cpumask_unset(&to, self);
	/* Port-level invariant, checked on every round: no round for nobody. */
	if (tlbb_cpumask_empty(&to))
		rec_fail("port: an empty round");
	if (R.nrounds >= MAX_ROUNDS) {
		if (!R.ring)
			rec_fail("recorder: round record full");
		R.nrounds = 0;
	}
	R.rounds[R.nrounds++] = (struct round){ self, to };
	if (R.drop_ipis)
		return;
	for (unsigned c = tlbb_cpumask_next(&to, 0); c < TLBB_MAX_CPUS;
	     c = tlbb_cpumask_next(&to, c + 1)) {
		if (c >= NCPU)
			rec_fail("port: a round to a CPU the recorder does not run");
		bool off;

		if (R.irq_off[c])
			rec_fail("port: a round delivered to a CPU with interrupts off");
		R.cur = c; /* "interrupt" CPU c */
		R.ipis_taken[c]++;
		R.in_handler[c]++;
		off = R.irq_off[c];
		R.irq_off[c] = true; /* a handler runs with interrupts off */
		fn(arg);
		if (!R.irq_off[c])
			rec_fail("port: the handler turned interrupts on");
		R.irq_off[c] = off;
		R.in_handler[c]--;
	}
	R.cur = self;
}

/*
 * Only called in TLBB_DEBUG builds. A kernel panics here; a test that feeds
 * the bad input on purpose counts the report and returns, so that it can
 * also check the fallback the backend runs in builds without the check.
 */
void tlbb_port_debug_fail(const char *what)
{
	if (R.expect_debug_fail) {
		R.debug_fails++;
		return;
	}
	rec_fail(what);
}

/* ---- the model's queries ------------------------------------------------------ */

bool rec_fill(unsigned cpu, uint64_t va, bool global, uint32_t tag)
{
	for (unsigned i = 0; i < TLB_SIZE; i++) {
		struct tlbe *e = &R.tlb[cpu][i];

		if (!e->valid) {
			*e = (struct tlbe){ true, global, cur_pcid(cpu), va & ~0xfffull, tag };
			return true;
		}
	}
	return false;
}

void touch(unsigned cpu, uint64_t va, bool global)
{
	if (!rec_fill(cpu, va, global, 0))
		rec_fail("model TLB full");
}

unsigned holders(const struct tlbb_space *s, uint64_t va)
{
	uint32_t pcid = R.pcide ? (s->id & 0xfff) : 0;
	unsigned n = 0;

	for (unsigned c = 0; c < NCPU; c++)
		for (unsigned i = 0; i < TLB_SIZE; i++) {
			const struct tlbe *e = &R.tlb[c][i];

			if (e->valid && !e->global && e->va == (va & ~0xfffull) &&
			    e->pcid == pcid) {
				n++;
				break;
			}
		}
	return n;
}

/*
 * An entry tagged with a PCID that is not in CR3 cannot translate; it is
 * only dangerous if that PCID is loaded again. usable_holders() counts CPUs
 * that could use a stale entry right now.
 */
unsigned usable_holders(const struct tlbb_space *s, uint64_t va)
{
	uint32_t pcid = R.pcide ? (s->id & 0xfff) : 0;
	unsigned n = 0;

	for (unsigned c = 0; c < NCPU; c++) {
		if (R.pcide && cur_pcid(c) != pcid)
			continue;
		for (unsigned i = 0; i < TLB_SIZE; i++) {
			const struct tlbe *e = &R.tlb[c][i];

			if (e->valid && e->va == (va & ~0xfffull) && e->pcid == pcid) {
				n++;
				break;
			}
		}
	}
	return n;
}

void ept_fill(unsigned cpu, bool combined, uint16_t vpid, uint32_t pcid, uint64_t addr,
	      uint32_t tag)
{
	if (!R.cur_eptp[cpu])
		rec_fail("model: EPT mappings cached by a CPU in no guest");
	for (unsigned i = 0; i < TLB_SIZE; i++) {
		struct ept_e *e = &R.ept[cpu][i];

		if (!e->valid) {
			*e = (struct ept_e){ true, combined, EPT_EP4TA(R.cur_eptp[cpu]),
					     combined ? vpid : 0, combined ? pcid : 0,
					     addr & ~0xfffull, tag };
			return;
		}
	}
	rec_fail("model EPT TLB full");
}

unsigned ept_entries(unsigned cpu, uint64_t eptp, uint64_t addr)
{
	unsigned n = 0;

	for (unsigned i = 0; i < TLB_SIZE; i++) {
		const struct ept_e *e = &R.ept[cpu][i];

		if (e->valid && e->ep4ta == EPT_EP4TA(eptp) && e->addr == (addr & ~0xfffull))
			n++;
	}
	return n;
}

unsigned ept_usable_holders(uint64_t eptp, uint64_t addr)
{
	unsigned n = 0;

	for (unsigned c = 0; c < NCPU; c++)
		if (EPT_EP4TA(R.cur_eptp[c]) == EPT_EP4TA(eptp) && ept_entries(c, eptp, addr))
			n++;
	return n;
}

unsigned count_ev(unsigned cpu, enum ev_kind k, unsigned from)
{
	unsigned n = 0;

	for (unsigned i = from; i < R.nev; i++)
		if (R.ev[i].kind == k && (cpu == NCPU || R.ev[i].cpu == cpu))
			n++;
	return n;
}
