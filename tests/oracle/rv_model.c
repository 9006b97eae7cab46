/* SPDX-License-Identifier: MIT */
/* The RISC-V TLB model (rv_model.h). */
#include <stdio.h>
#include <string.h>

#include "rv_model.h"
#include "refrule.h" /* ORACLE_NOCOV */

struct rvm rvm;

void rvm_reset(unsigned va_bits, bool svinval)
{
	memset(&rvm, 0, sizeof(rvm));
	rvm.va_bits = va_bits;
	rvm.svinval = svinval;
	for (unsigned k = 0; k < RVM_KEYS; k++)
		rvm.vis_present[k] = true;
	for (unsigned c = 0; c < RVM_NCPU; c++) {
		rvm.asid[c] = RVM_NO_ASID;
		rvm.hart[c] = c;
	}
}

bool rvm_va_valid(uint64_t va)
{
	unsigned shift = 64 - rvm.va_bits;

	return (uint64_t)((int64_t)(va << shift) >> shift) == va;
}

/* ---- page-table stores and the walker ------------------------------------------- */

/*
 * Stores to one PTE are ordered by the PTL: a late one never hides a newer
 * one. Makes @cpu's stores visible to every other hart's walker.
 */
ORACLE_NOCOV void rvm_publish_global(unsigned cpu)
{
	for (unsigned i = 0; i < rvm.nsb[cpu]; i++) {
		unsigned k = rvm.sb[cpu][i].key;

		if (rvm.sb[cpu][i].version < rvm.vis_version[k])
			continue;
		rvm.vis_version[k] = rvm.sb[cpu][i].version;
		rvm.vis_present[k] = rvm.sb[cpu][i].present;
	}
	rvm.nsb[cpu] = 0;
}

/* ... and to its own walker too (an SFENCE.VMA, SFENCE.W.INVAL or a release). */
ORACLE_NOCOV void rvm_publish(unsigned cpu)
{
	rvm_publish_global(cpu);
	rvm.nown[cpu] = 0;
}

void rvm_store(unsigned cpu, unsigned key, uint32_t version, bool present)
{
	if (cpu >= RVM_NCPU || key >= RVM_KEYS)
		rvm_fail("model: store out of range");
	if (rvm.nsb[cpu] == RVM_STORES || rvm.nown[cpu] == RVM_STORES)
		rvm_publish(cpu); /* a store may become visible at any time */
	/* What the hart's own walker reads until it orders the store. */
	for (unsigned i = 0; i < rvm.nown[cpu]; i++)
		if (rvm.own[cpu][i].key == key)
			goto buffered;
	rvm.own[cpu][rvm.nown[cpu]].key = key;
	rvm.own[cpu][rvm.nown[cpu]].version = rvm.vis_version[key];
	rvm.own[cpu][rvm.nown[cpu]].present = rvm.vis_present[key];
	rvm.nown[cpu]++;
buffered:
	rvm.sb[cpu][rvm.nsb[cpu]].key = key;
	rvm.sb[cpu][rvm.nsb[cpu]].version = version;
	rvm.sb[cpu][rvm.nsb[cpu]].present = present;
	rvm.nsb[cpu]++;
}

/* What a walk of @key on @cpu reads: its own unordered store's old value, or the visible one. */
ORACLE_NOCOV static void walk_read(unsigned cpu, unsigned key, uint32_t *version, bool *present)
{
	for (unsigned i = 0; i < rvm.nown[cpu]; i++)
		if (rvm.own[cpu][i].key == key) {
			*version = rvm.own[cpu][i].version;
			*present = rvm.own[cpu][i].present;
			return;
		}
	*version = rvm.vis_version[key];
	*present = rvm.vis_present[key];
}

static bool inval_matches(const struct rvm_inval *iv, const struct rvm_entry *e)
{
	if (iv->has_va && (!rvm_va_valid(iv->va) || e->va != (iv->va & ~0xfffull)))
		return false;
	/* rs2 != x0: non-global entries of that ASID only. */
	if (iv->has_asid && (e->global || e->asid != (iv->asid & 0xffff)))
		return false;
	return true;
}

/* Would a SINVAL.VMA still pending on @cpu, issued after @e was walked, remove it? */
ORACLE_NOCOV static bool pending_covers(unsigned cpu, const struct rvm_entry *e)
{
	if (rvm.drop_fence)
		return false;
	for (unsigned i = 0; i < rvm.npend[cpu]; i++)
		if (rvm.pend[cpu][i].seq > e->seq && inval_matches(&rvm.pend[cpu][i], e))
			return true;
	return false;
}

ORACLE_NOCOV bool rvm_walk(unsigned cpu, uint64_t va, bool global, unsigned key, uint32_t *version)
{
	struct rvm_entry *free_e = NULL;
	uint64_t page = va & ~0xfffull;

	if (key >= RVM_KEYS)
		rvm_fail("model: walk of an unknown key");
	for (unsigned i = 0; i < RVM_TLB; i++) {
		struct rvm_entry *e = &rvm.tlb[cpu][i];

		if (!e->valid) {
			if (!free_e)
				free_e = e;
			continue;
		}
		if (e->va != page || !(e->global || e->asid == rvm.asid[cpu]))
			continue;
		if (pending_covers(cpu, e)) {
			/* The SINVAL.VMA performed now: walked again below, after it. */
			e->valid = false;
			if (!free_e)
				free_e = e;
			continue;
		}
		*version = e->version; /* hit */
		return true;
	}
	{
		uint32_t v;
		bool present;

		walk_read(cpu, key, &v, &present);
		if (!present)
			return false;
		if (!free_e)
			free_e = &rvm.tlb[cpu][(page >> 12) % RVM_TLB]; /* full: evict by address */
		*free_e = (struct rvm_entry){
			.valid = true, .global = global, .asid = global ? 0 : rvm.asid[cpu],
			.va = page, .key = key, .version = v, .seq = ++rvm.seq,
		};
	}
	*version = free_e->version;
	return true;
}

/* ---- the instructions ------------------------------------------------------------ */

static void hook(enum rvm_kind k, bool after)
{
	if (rvm.at_insn) {
		unsigned self = rvm.cur;

		rvm.at_insn(k, after);
		rvm.cur = self;
	}
}

/* An SFENCE.VMA's invalidation on @cpu (now: everything walked so far). */
ORACLE_NOCOV static void apply(unsigned cpu, const struct rvm_inval *iv, uint64_t before)
{
	if (rvm.drop_fence)
		return;
	for (unsigned i = 0; i < RVM_TLB; i++) {
		struct rvm_entry *e = &rvm.tlb[cpu][i];

		if (e->valid && e->seq < before && inval_matches(iv, e))
			e->valid = false;
	}
}

/* Every pending SINVAL.VMA of @cpu completes. */
ORACLE_NOCOV static void complete_pending(unsigned cpu)
{
	for (unsigned i = 0; i < rvm.npend[cpu]; i++)
		apply(cpu, &rvm.pend[cpu][i], rvm.pend[cpu][i].seq);
	rvm.npend[cpu] = 0;
}

/* SFENCE.VMA on @cpu: order, complete earlier SINVAL.VMAs, invalidate. */
static void sfence_vma(unsigned cpu, const struct rvm_inval *iv)
{
	complete_pending(cpu);
	apply(cpu, iv, ~0ull);
}

void tlbb_rv_rec_insn(uint32_t word, uint64_t rs1, uint64_t rs2)
{
	unsigned f7 = word >> 25, r2 = (word >> 20) & 31, r1 = (word >> 15) & 31;
	struct rvm_inval iv = { r1 != 0, r2 != 0, rs1, rs2, 0 };
	unsigned cpu = rvm.cur;

	hook(RVM_FENCE, false);
	if (word == RV_FENCE_RW_RW) {
		rvm_publish_global(cpu); /* orders no implicit read of its own */
		hook(RVM_FENCE, true);
		return;
	}
	if ((word & 0x7fffu) != 0x73u)
		rvm_fail("model: not an R-type SYSTEM fence word (rd or funct3 set)");
	/* The backend pins rs1 to a0 and rs2 to a1 (riscv_insn.h). */
	if (f7 != RV_F7_SVINVAL_ORDER && ((r1 != 0 && r1 != RV_A0) || (r2 != 0 && r2 != RV_A1)))
		rvm_fail("model: a fence operand in a register the backend does not load");
	if (rvm.trace)
		fprintf(stderr, "      [hart %u] %#010x rs1=%#llx rs2=%#llx\n", cpu, word,
			r1 ? (unsigned long long)rs1 : 0ull, r2 ? (unsigned long long)rs2 : 0ull);
	switch (f7) {
	case RV_F7_SFENCE_VMA:
		rvm.n_sfence++;
		rvm_publish(cpu);
		sfence_vma(cpu, &iv);
		break;
	case RV_F7_SINVAL_VMA:
		if (!rvm.svinval)
			rvm_fail("model: SINVAL.VMA on a hart without Svinval (illegal instruction)");
		if (rvm.npend[cpu] == RVM_PEND)
			rvm_fail("model: too many pending SINVAL.VMAs");
		rvm.n_sinval++;
		iv.seq = ++rvm.seq;
		rvm.pend[cpu][rvm.npend[cpu]++] = iv;
		break;
	case RV_F7_SVINVAL_ORDER:
		if (!rvm.svinval)
			rvm_fail("model: Svinval fence on a hart without Svinval (illegal instruction)");
		if (r1 != 0 || r2 > 1)
			rvm_fail("model: bad Svinval ordering fence");
		if (r2 == 0) {
			rvm_publish(cpu); /* SFENCE.W.INVAL */
		} else {
			rvm.n_ir++;
			complete_pending(cpu); /* SFENCE.INVAL.IR */
		}
		break;
	default:
		rvm_fail("model: unexpected SYSTEM instruction");
	}
	hook(RVM_FENCE, true);
}

void tlbb_rv_rec_satp(uint64_t satp)
{
	hook(RVM_SATP, false);
	rvm.n_satp++;
	rvm.satp[rvm.cur] = satp;
	rvm.asid[rvm.cur] = (uint32_t)((satp >> RV_SATP_ASID_SHIFT) & RV_SATP_ASID_MASK);
	if (rvm.trace)
		fprintf(stderr, "      [hart %u] satp <- ASID %u\n", rvm.cur, rvm.asid[rvm.cur]);
	hook(RVM_SATP, true);
}

static int cpu_of_hart(unsigned long h)
{
	for (unsigned c = 0; c < RVM_NCPU; c++)
		if (rvm.hart[c] == h)
			return (int)c;
	return -1;
}

/* The firmware's fence on hart @cpu for one RFENCE request. */
ORACLE_NOCOV static void remote_fence(unsigned cpu, unsigned long fid, unsigned long start,
				      unsigned long size, unsigned long asid)
{
	bool whole = (start == 0 && size == 0) || size == ~0ul;
	bool has_asid = fid == RV_SBI_RFENCE_SFENCE_VMA_ASID;

	if (whole) {
		sfence_vma(cpu, &(struct rvm_inval){ false, has_asid, 0, asid, 0 });
		return;
	}
	for (unsigned long va = start & ~0xffful; va < start + size; va += 0x1000)
		sfence_vma(cpu, &(struct rvm_inval){ true, has_asid, va, asid, 0 });
}

struct rv_sbiret tlbb_rv_rec_sbi(unsigned long eid, unsigned long fid, unsigned long a0,
				 unsigned long a1, unsigned long a2, unsigned long a3,
				 unsigned long a4)
{
	unsigned self = rvm.cur;
	struct rv_sbiret ret = { RV_SBI_SUCCESS, 0 };

	hook(RVM_SBI, false);
	rvm.n_sbi++;
	if (eid != RV_SBI_EXT_RFENCE ||
	    (fid != RV_SBI_RFENCE_SFENCE_VMA && fid != RV_SBI_RFENCE_SFENCE_VMA_ASID))
		rvm_fail("model: an SBI call other than RFENCE FID 1/2");
	if (!a0)
		rvm_fail("model: an RFENCE with an empty hart mask");
	if (rvm.trace)
		fprintf(stderr, "      [hart %u] ecall RFENCE fid %lu mask %#lx base %lu start %#lx "
			"size %#lx asid %lu\n", self, fid, a0, a1, a2, a3, a4);
	if (rvm.sbi_fail_every && rvm.n_sbi % rvm.sbi_fail_every == 0) {
		/* SBI_ERR_FAILED: which harts fenced is unknown; take "none". */
		rvm.n_sbi_failed++;
		ret.error = -1;
		if (rvm.trace)
			fprintf(stderr, "      [hart %u] ... RFENCE fails (SBI_ERR_FAILED)\n", self);
	} else {
		for (unsigned i = 0; i < 64; i++) {
			int c;

			if (!(a0 >> i & 1))
				continue;
			c = cpu_of_hart(a1 + i);
			if (c < 0)
				rvm_fail("model: an RFENCE naming a hart that does not exist");
			if ((unsigned)c == self)
				rvm_fail("model: an RFENCE naming the calling hart");
			if (!rvm.drop_rounds)
				remote_fence((unsigned)c, fid, a2, a3, a4);
		}
	}
	rvm.cur = self;
	hook(RVM_SBI, true);
	return ret;
}

/* ---- port hooks ------------------------------------------------------------ */

unsigned tlbb_port_cpu_id(void)
{
	return rvm.cur;
}

void tlbb_port_ipi_send_and_wait(const tlbb_cpumask_t *targets, void (*fn)(void *), void *arg)
{
	unsigned self = rvm.cur;
	tlbb_cpumask_t to;

	/* The port's own copy of the live mask, without the caller. */
	tlbb_cpumask_clear(&to);
	for (unsigned c = 0; c < RVM_NCPU; c++)
		if (c != self && (!targets || tlbb_cpumask_test(targets, c)))
			tlbb_cpumask_set(&to, c);
	if (rvm.trace)
		fprintf(stderr, "      [hart %u] IPI round to %#lx\n", self, (unsigned long)to.bits[0]);
	if (tlbb_cpumask_empty(&to))
		rvm_fail("port: an empty round");
	rvm.n_rounds++;
	rvm_publish_global(self); /* the send orders the caller's earlier stores before it */
	if (rvm.drop_rounds)
		return;
	for (unsigned c = 0; c < RVM_NCPU; c++) {
		bool off;

		if (!tlbb_cpumask_test(&to, c))
			continue;
		if (rvm.irq_off[c])
			rvm_fail("port: a round delivered to a hart with interrupts off");
		rvm.cur = c;
		rvm.in_handler[c]++;
		off = rvm.irq_off[c];
		rvm.irq_off[c] = true;
		fn(arg);
		rvm.irq_off[c] = off;
		rvm.in_handler[c]--;
	}
	rvm.cur = self;
}

void tlbb_port_debug_fail(const char *what)
{
	rvm_fail(what);
}
