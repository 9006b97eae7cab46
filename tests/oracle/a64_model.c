/* SPDX-License-Identifier: MIT */
/* The arm64 TLB model (a64_model.h). */
#include <stdio.h>
#include <string.h>

#include <tlbbatch/port.h>

#include "a64_model.h"
#include "refrule.h" /* ORACLE_NOCOV */

struct a64m a64m;

void a64m_reset(unsigned page_shift, bool lpa2)
{
	memset(&a64m, 0, sizeof(a64m));
	a64m.page_shift = page_shift;
	a64m.lpa2 = lpa2;
	for (unsigned k = 0; k < A64M_KEYS; k++)
		a64m.vis_present[k] = true;
}

/* ---- page-table stores and the walker ------------------------------------------- */

/*
 * Stores to one PTE are ordered by the PTL (coherence order = version
 * order): a store published late never hides a newer one already visible.
 */
static void make_visible(const struct a64m_store *s)
{
	if (s->version < a64m.vis_version[s->key])
		return;
	a64m.vis_version[s->key] = s->version;
	a64m.vis_present[s->key] = s->present;
}

ORACLE_NOCOV static void publish(unsigned cpu)
{
	for (unsigned i = 0; i < a64m.nsb[cpu]; i++)
		make_visible(&a64m.sb[cpu][i]);
	a64m.nsb[cpu] = 0;
}

void a64m_store(unsigned cpu, unsigned key, uint32_t version, bool present)
{
	if (cpu >= A64M_NCPU || key >= A64M_KEYS)
		a64m_fail("model: store out of range");
	if (a64m.nsb[cpu] == A64M_STORES) {
		/* A store may become visible at any time; the oldest goes first. */
		make_visible(&a64m.sb[cpu][0]);
		memmove(&a64m.sb[cpu][0], &a64m.sb[cpu][1],
			(A64M_STORES - 1) * sizeof(a64m.sb[cpu][0]));
		a64m.nsb[cpu]--;
	}
	a64m.sb[cpu][a64m.nsb[cpu]++] = (struct a64m_store){ key, version, present };
}

static bool asid_match(const struct a64m_entry *e, bool global, uint16_t asid)
{
	return e->global || (!global && e->asid == asid);
}

/*
 * A TLBI may be performed on a TLB at any moment between its issue and its
 * completion. The walk takes the worst moment: an entry some uncompleted
 * TLBI (of any CPU) would remove is already gone, and the walk refills it
 * from the page tables as they are visible now; the refill is newer than the
 * TLBI, so the TLBI's completion will not remove it. With the PTE store made
 * visible before the TLBI (DSB ISHST) the refill reads the new entry; without
 * it, the old one, which then outlives the invalidation.
 */
ORACLE_NOCOV static bool performed_early(const struct a64m_entry *e)
{
	if (a64m.drop_tlbi)
		return false;
	for (unsigned c = 0; c < A64M_NCPU; c++)
		for (unsigned t = 0; t < a64m.npend[c]; t++) {
			const struct a64m_tlbi *x = &a64m.pend[c][t];

			if (x->seq > e->seq && a64m_tlbi_matches(x->insn, x->op, e))
				return true;
		}
	return false;
}

bool a64m_walk(unsigned cpu, const struct a64m_walk *w, uint32_t *version)
{
	struct a64m_entry *free_e = NULL;

	for (unsigned i = 0; i < A64M_TLB; i++) {
		struct a64m_entry *e = &a64m.tlb[cpu][i];

		if (!e->valid) {
			if (!free_e)
				free_e = e;
			continue;
		}
		if (e->table == w->table && e->va == w->va && asid_match(e, w->global, w->asid)) {
			if (performed_early(e)) {
				e->valid = false; /* ... and walked again below */
				if (!free_e)
					free_e = e;
				continue;
			}
			*version = e->version; /* hit: the cached translation is used */
			return true;
		}
	}
	if (!a64m.vis_present[w->key])
		return false;
	if (!free_e) {
		/* Full: the hardware may evict anything; evict by address. */
		free_e = &a64m.tlb[cpu][(w->va >> a64m.page_shift) % A64M_TLB];
	}
	*free_e = (struct a64m_entry){
		.valid = true, .global = w->global, .table = w->table,
		.asid = w->global ? 0 : w->asid, .va = w->va, .span = w->span,
		.key = w->key, .version = a64m.vis_version[w->key], .seq = ++a64m.seq,
	};
	*version = free_e->version;
	return true;
}

/* ---- TLBI decoding --------------------------------------------------------------- */

static unsigned tg_shift(unsigned tg)
{
	return tg == 1 ? 12 : tg == 2 ? 14 : tg == 3 ? 16 : 0;
}

/* Leaf level for the granule: 3 for every granule this model runs. */
#define LEAF_LEVEL 3u

/* The 4-bit TTL of the VA forms: 0 = any level; else [3:2] granule, [1:0] level. */
static bool ttl_allows(unsigned ttl, const struct a64m_entry *e)
{
	if (!ttl)
		return true;
	if (tg_shift(ttl >> 2) != a64m.page_shift)
		return false;
	return !e->table && (ttl & 3) == LEAF_LEVEL;
}

static bool overlaps(const struct a64m_entry *e, uint64_t lo, uint64_t len)
{
	return e->va < lo + len && lo < e->va + e->span;
}

bool a64m_tlbi_matches(enum tlbb_a64_insn insn, uint64_t op, const struct a64m_entry *e)
{
	const uint16_t asid = (uint16_t)(op >> 48);
	bool all_asids = false, leaf_only = false;

	switch (insn) {
	case TLBB_A64_TLBI_VMALLE1IS:
		return true;
	case TLBB_A64_TLBI_ASIDE1IS:
		return !e->global && e->asid == asid;
	case TLBB_A64_TLBI_VAAE1IS:
	case TLBB_A64_TLBI_VAALE1IS:
	case TLBB_A64_TLBI_RVAAE1IS:
	case TLBB_A64_TLBI_RVAALE1IS:
		all_asids = true;
		break;
	default:
		break;
	}
	if (insn == TLBB_A64_TLBI_VALE1IS || insn == TLBB_A64_TLBI_VAALE1IS ||
	    insn == TLBB_A64_TLBI_RVALE1IS || insn == TLBB_A64_TLBI_RVAALE1IS)
		leaf_only = true;
	if (leaf_only && e->table)
		return false;
	if (!all_asids && (e->global || e->asid != asid))
		return false;

	switch (insn) {
	case TLBB_A64_TLBI_VAE1IS:
	case TLBB_A64_TLBI_VALE1IS:
	case TLBB_A64_TLBI_VAAE1IS:
	case TLBB_A64_TLBI_VAALE1IS: {
		/* VA[55:12]: the entry's address bits 63:56 are not compared. */
		const uint64_t m56 = (UINT64_C(1) << 56) - 1;
		uint64_t va = (op & ((UINT64_C(1) << 44) - 1)) << 12;
		uint64_t lo = e->va & m56;

		if (!ttl_allows((unsigned)(op >> 44) & 15, e))
			return false;
		return va >= lo && va < lo + e->span;
	}
	case TLBB_A64_TLBI_RVAE1IS:
	case TLBB_A64_TLBI_RVALE1IS:
	case TLBB_A64_TLBI_RVAAE1IS:
	case TLBB_A64_TLBI_RVAALE1IS: {
		unsigned tg = (unsigned)(op >> 46) & 3, scale = (unsigned)(op >> 44) & 3;
		unsigned num = (unsigned)(op >> 39) & 31, ttl = (unsigned)(op >> 37) & 3;
		uint64_t base_field = op & ((UINT64_C(1) << 37) - 1);
		unsigned g = tg_shift(tg);
		uint64_t base, len;

		if (!g || g != a64m.page_shift)
			return false;
		if (ttl && (e->table || ttl != LEAF_LEVEL))
			return false;
		base = base_field << (a64m.lpa2 ? 16 : g);
		len = ((uint64_t)(num + 1) << (5 * scale + 1)) << g;
		return overlaps(e, base, len);
	}
	default:
		a64m_fail("model: not a TLBI");
		return false;
	}
}

/* ---- instructions ---------------------------------------------------------------- */

ORACLE_NOCOV static void complete(unsigned cpu)
{
	for (unsigned t = 0; t < a64m.npend[cpu]; t++) {
		const struct a64m_tlbi *x = &a64m.pend[cpu][t];

		if (a64m.drop_tlbi)
			continue;
		for (unsigned c = 0; c < A64M_NCPU; c++)
			for (unsigned i = 0; i < A64M_TLB; i++) {
				struct a64m_entry *e = &a64m.tlb[c][i];

				if (e->valid && e->seq < x->seq && a64m_tlbi_matches(x->insn, x->op, e))
					e->valid = false;
			}
	}
	a64m.npend[cpu] = 0;
}

static void issue(unsigned cpu, enum tlbb_a64_insn insn, uint64_t op)
{
	if (a64m.npend[cpu] == A64M_PEND) {
		/* A TLBI may complete early; never seen with the driver's sizes. */
		unsigned keep = a64m.npend[cpu];

		a64m.npend[cpu] = 1;
		complete(cpu);
		memmove(&a64m.pend[cpu][0], &a64m.pend[cpu][1],
			(keep - 1) * sizeof(a64m.pend[cpu][0]));
		a64m.npend[cpu] = keep - 1;
		a64m.n_early++;
	}
	a64m.pend[cpu][a64m.npend[cpu]++] = (struct a64m_tlbi){ insn, op, ++a64m.seq };
	a64m.n_tlbi++;
}

static void hook(enum tlbb_a64_insn insn, bool after)
{
	if (a64m.at_insn) {
		unsigned self = a64m.cur;

		a64m.at_insn(insn, after);
		a64m.cur = self;
	}
}

void tlbb_a64_record(enum tlbb_a64_insn insn, uint64_t op)
{
	const unsigned cpu = a64m.cur;

	if (cpu >= A64M_NCPU)
		a64m_fail("model: instruction on a CPU the model does not run");
	static const char *const name[] = {
		"?", "DSB ISHST", "DSB ISH", "ISB", "TLBI VAE1IS", "TLBI VALE1IS", "TLBI VAAE1IS",
		"TLBI VAALE1IS", "TLBI ASIDE1IS", "TLBI VMALLE1IS", "TLBI RVAE1IS",
		"TLBI RVALE1IS", "TLBI RVAAE1IS", "TLBI RVAALE1IS",
	};

	hook(insn, false);
	if (a64m.trace)
		fprintf(stderr, "    [CPU %u] %s %#llx\n", cpu,
			(unsigned)insn < sizeof(name) / sizeof(name[0]) ? name[insn] : "?",
			(unsigned long long)op);
	a64m.n_insn++;
	switch (insn) {
	case TLBB_A64_DSB_ISHST:
		publish(cpu);
		break;
	case TLBB_A64_DSB_ISH:
		publish(cpu);
		a64m.n_dsb_ish++;
		if (!a64m.dsb_completes_nothing)
			complete(cpu);
		break;
	case TLBB_A64_ISB:
		break;
	default:
		issue(cpu, insn, op);
		break;
	}
	hook(insn, true);
}

unsigned a64m_pending(unsigned cpu)
{
	return a64m.npend[cpu];
}

/* ---- port hooks ------------------------------------------------------------------ */

unsigned tlbb_port_cpu_id(void)
{
	return a64m.cur;
}

void tlbb_port_debug_fail(const char *what)
{
	if (a64m.expect_debug_fail) {
		a64m.debug_fails++;
		return;
	}
	a64m_fail(what);
}
