/* SPDX-License-Identifier: MIT */
/*
 * The arm64 TLB model: the ISA rules of the arm64 oracle (docs/arm64fuzz.md).
 *
 * arch/arm64/arm64.c compiled with -DTLBB_ARM64_RECORD reports every
 * instruction to tlbb_a64_record(), defined here: the model applies it on the
 * CPU a64m.cur with its architectural meaning, decoded from the operand word
 * the backend produced (never from the backend's C arguments):
 *
 *   TLBI *IS     broadcast, but PENDING on the issuing CPU: it removes
 *                nothing until that CPU executes DSB ISH. Then it removes
 *                the matching entries of every CPU that were cached BEFORE
 *                the TLBI was issued (a TLBI may be performed at any moment
 *                between issue and completion; an entry walked after that
 *                moment is not covered, so the model takes the issue).
 *   VAE1IS / VALE1IS / VAAE1IS / VAALE1IS: operand ASID[63:48], TTL[47:44],
 *                VA[55:12] in [43:0]. *A* forms ignore the ASID; the others
 *                match non-global entries of that ASID only (whether they
 *                also drop global entries of the VA is not relied on: the
 *                model says no). *L* forms drop leaf entries only, the
 *                others also the table (walk-cache) entries covering the VA.
 *                A nonzero TTL names the granule and level of the leaf:
 *                only leaf entries at that level match (a wrong granule
 *                matches nothing).
 *   RVAE1IS / RVALE1IS / RVAAE1IS / RVAALE1IS: ASID[63:48] TG[47:46]
 *                SCALE[45:44] NUM[43:39] TTL[38:37] BaseADDR[36:0]; covers
 *                (NUM+1) * 2^(5*SCALE+1) granules from BaseADDR << granule
 *                (BaseADDR << 16 with FEAT_LPA2, TCR_EL1.DS = 1). TG must
 *                name the granule in use, else nothing matches (reserved
 *                or wrong TG is CONSTRAINED UNPREDICTABLE: the model takes
 *                the least invalidation).
 *   ASIDE1IS     non-global entries of ASID[63:48].
 *   VMALLE1IS    every entry.
 *   DSB ISHST    this CPU's page-table stores become visible to every walker.
 *   DSB ISH      the same, then every TLBI this CPU issued completes. A DSB
 *                on another CPU completes none of them.
 *   ISB          no TLB effect (the model has no instruction fetch).
 *
 * Page-table stores (a64m_store()) are buffered per CPU until that CPU's
 * next DSB: until then a walker on ANY CPU (the storing one too) reads the
 * old entry. The walker (a64m_walk()) may fill any CPU at any time, from the
 * page tables as they are visible.
 *
 * Entries carry the driver's KEY (which page-table entry they were walked
 * from, see refrule.h) and the version read: the driver's reference rule
 * decides which versions may no longer be usable.
 *
 * Interleaving: a64m.at_insn, if set, runs before and after every
 * instruction (the fuzzer's interrupt points); a64m.cur is restored after.
 * Port hooks tlbb_port_cpu_id() (a64m.cur) and tlbb_port_debug_fail() are
 * defined here too. The user defines a64m_fail(): a harness invariant or an
 * unexpected debug check; it must not return.
 */
#ifndef TLBB_TESTS_ORACLE_A64_MODEL_H
#define TLBB_TESTS_ORACLE_A64_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "tlbi.h" /* enum tlbb_a64_insn, tlbb_a64_record() */

#define A64M_NCPU 4
#define A64M_TLB 128
#define A64M_PEND 4096  /* uncompleted TLBIs per CPU */
#define A64M_STORES 512 /* buffered page-table stores per CPU */
#define A64M_KEYS 512

struct a64m_entry {
	bool valid;
	bool global;   /* nG = 0: matches every ASID */
	bool table;    /* a walk-cache (non-leaf) entry covering [va, va + span) */
	uint16_t asid; /* non-global entries */
	uint64_t va, span;
	unsigned key;     /* the driver's page-table entry */
	uint32_t version; /* the version the walk read */
	uint64_t seq;     /* when it was filled */
};

struct a64m_tlbi {
	enum tlbb_a64_insn insn;
	uint64_t op;
	uint64_t seq; /* when it was issued */
};

struct a64m_store {
	unsigned key;
	uint32_t version;
	bool present;
};

/* What a walk looks up and, on a miss, caches. */
struct a64m_walk {
	uint64_t va, span; /* a page (leaf) or the region a table entry maps */
	bool table, global;
	uint16_t asid;     /* the ASID the CPU runs under (ignored if global) */
	unsigned key;
};

struct a64m {
	unsigned cur;       /* the CPU executing now */
	unsigned page_shift; /* TCR_EL1.TG0: the granule (12, 14, 16) */
	bool lpa2;          /* TCR_EL1.DS: range BaseADDR in 64 KiB units */
	uint64_t seq;
	struct a64m_entry tlb[A64M_NCPU][A64M_TLB];
	struct a64m_tlbi pend[A64M_NCPU][A64M_PEND];
	unsigned npend[A64M_NCPU];
	struct a64m_store sb[A64M_NCPU][A64M_STORES];
	unsigned nsb[A64M_NCPU];
	uint32_t vis_version[A64M_KEYS]; /* what a walker reads */
	bool vis_present[A64M_KEYS];
	/* checker controls: the model itself broken, its crafted input must report */
	bool drop_tlbi; /* TLBIs remove nothing */
	bool dsb_completes_nothing; /* DSB ISH leaves the issued TLBIs pending */
	void (*at_insn)(enum tlbb_a64_insn insn, bool after);
	bool trace;         /* print every instruction to stderr */
	bool expect_debug_fail;
	unsigned debug_fails;
	/* counts, for the driver's figures */
	uint64_t n_insn, n_tlbi, n_dsb_ish, n_early;
};

extern struct a64m a64m;

/* Defined by the user of the model: report and do not return. */
void a64m_fail(const char *what);

/* Empty TLBs, nothing pending, every key visible at version 0, present. */
void a64m_reset(unsigned page_shift, bool lpa2);
/* CPU @cpu stores version @version (@present or cleared) into @key; the
 * walkers see it after @cpu's next DSB. */
void a64m_store(unsigned cpu, unsigned key, uint32_t version, bool present);
/* A walk on @cpu: true if it hit or filled; false if the entry it would
 * read is not present (a fault: nothing cached). *@version gets what the
 * CPU translates with. */
bool a64m_walk(unsigned cpu, const struct a64m_walk *w, uint32_t *version);
/* Does the (decoded) TLBI match the entry? Exposed for the rule tests. */
bool a64m_tlbi_matches(enum tlbb_a64_insn insn, uint64_t op, const struct a64m_entry *e);
/* Uncompleted TLBIs issued by @cpu. */
unsigned a64m_pending(unsigned cpu);

#endif
