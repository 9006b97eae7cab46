/* SPDX-License-Identifier: MIT */
/*
 * The riscv64 backend. See include/tlbbatch/riscv64.h for the model and the
 * port's duties. Freestanding: no libc, compiler atomics only; the only
 * instructions are in riscv_insn.h.
 *
 * Everything but the instructions is the shared mask + IPI round +
 * generation engine (tlbbatch/maskgen.h, lib/maskgen_run.h): this file says
 * what the tag of a space is (its ASID), how one ASID, everything, or a
 * range of pages are fenced on this hart, and, on the SBI path, how the
 * remote part of a request travels through the firmware instead of the
 * port's round (MG_ARCH_REMOTE).
 */
#include <tlbbatch/port.h>
#include <tlbbatch/riscv64.h>

#include "riscv_insn.h"

static struct tlbb_riscv *rv_of(const struct tlbb_backend *be)
{
	return be->ctx;
}

/* The ASID field of satp is 16 bits on RV64; the port hands out ids that fit. */
static uint64_t asid_of(const struct tlbb_space *s)
{
	return s->id & RV_SATP_ASID_MASK;
}

/*
 * The ASID operand of every fence and RFENCE call, in one place: the
 * wrong-ASID control (tests/riscv64/mutate-riscv64.sh) changes it here and
 * nowhere else, leaving satp's ASID right.
 */
static uint64_t fence_asid(uint64_t asid)
{
	return asid; /* the operand */
}

static unsigned va_bits(const struct tlbb_riscv *rv)
{
	if (rv->cfg.features & TLBB_RISCV_SV57)
		return 57;
	return (rv->cfg.features & TLBB_RISCV_SV48) ? 48 : 39;
}

/*
 * SFENCE.VMA (and SINVAL.VMA) of an address that is not a valid virtual
 * address of the paging mode has no effect, like INVLPG of a non-canonical
 * one: such a range must become a whole-ASID fence. [start, end) is valid
 * iff both ends are (bits above the top one copy it) and they lie in the
 * same half.
 */
static bool va_valid(const struct tlbb_riscv *rv, uint64_t va)
{
	unsigned shift = 64 - va_bits(rv);

	return (uint64_t)((int64_t)(va << shift) >> shift) == va;
}

static bool range_valid(const struct tlbb_riscv *rv, uint64_t start, uint64_t end)
{
	uint64_t last = end - 1;

	return va_valid(rv, start) && va_valid(rv, last) && ((start ^ last) >> 63) == 0;
}

static uint64_t req_pages(const struct tlbb_mg_req *r)
{
	return (r->end - r->start) >> r->space->page_shift;
}

/* ---- the engine's callbacks (lib/maskgen_run.h) --------------------------- */

static struct tlbb_mg *mg_engine(const struct tlbb_backend *be)
{
	return &rv_of(be)->mg;
}

static uint64_t mg_arch_tag(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	(void)be;
	return asid_of(s);
}

/* Every non-global entry of the ASID (rs1 = x0, rs2 = ASID). */
static void mg_arch_flush_tag(const struct tlbb_backend *be, uint64_t tag)
{
	(void)be;
	rv_sfence_vma_asid(fence_asid(tag));
}

/* Everything, global entries and every ASID included (x0, x0). */
static void mg_arch_flush_all(const struct tlbb_backend *be)
{
	(void)be;
	rv_sfence_vma_all();
}

/*
 * Up to `ceiling` pages one by one, more as one whole fence. A global
 * space's pages are fenced with rs2 = x0 (every ASID, G entries included:
 * an ASID operand would leave them). With Svinval the loop is SINVAL.VMAs,
 * which order nothing, between SFENCE.W.INVAL (the PTE stores before them)
 * and SFENCE.INVAL.IR (them before any later walk): one pair of fences per
 * request instead of one full fence per page.
 */
static bool mg_arch_flush_range(const struct tlbb_mg_req *r, struct tlbb_mg_cpu_stats *st)
{
	const struct tlbb_riscv *rv = rv_of(r->be);
	uint64_t step = (uint64_t)1 << r->space->page_shift;
	uint64_t asid = fence_asid(asid_of(r->space)), n = 0;
	bool inval = (rv->cfg.features & TLBB_RISCV_SVINVAL) != 0;

	if (req_pages(r) > rv->cfg.ceiling)
		return false;
	if (inval)
		rv_sfence_w_inval();
	for (uint64_t va = r->start; va < r->end; va += step, n++) {
		if (inval && r->global)
			rv_sinval_vma_page_all_asids(va);
		else if (inval)
			rv_sinval_vma_page(va, asid);
		else if (r->global)
			rv_sfence_vma_page_all_asids(va);
		else
			rv_sfence_vma_page(va, asid);
	}
	if (inval)
		rv_sfence_inval_ir();
	__atomic_fetch_add(&st->invlpg, n, __ATOMIC_RELAXED);
	return true;
}

static bool mg_arch_range_ok(const struct tlbb_backend *be, uint64_t start, uint64_t end)
{
	return range_valid(rv_of(be), start, end);
}

/* ---- the SBI path: the remote part through the firmware ------------------- */

static unsigned long hart_of(const struct tlbb_riscv *rv, unsigned cpu)
{
	return rv->cfg.hartid ? rv->cfg.hartid[cpu] : cpu;
}

static bool targeted(const tlbb_cpumask_t *mask, unsigned cpu, unsigned self)
{
	return cpu != self && (!mask || tlbb_cpumask_test(mask, cpu));
}

/* One RFENCE ecall; its SBI error code (RV_SBI_SUCCESS = 0). */
static long sbi_rfence(unsigned long fid, unsigned long mask, unsigned long base,
		       unsigned long start, unsigned long size, unsigned long asid)
{
	return rv_sbi_call5(RV_SBI_EXT_RFENCE, fid, mask, base, start, size, asid).error;
}

/*
 * One RFENCE call per 64-hart window holding a target (one call in all on
 * machines of up to 64 harts). Window bases are visited in increasing
 * order; hart IDs need not be dense nor follow CPU numbers.
 */
static bool sbi_rounds(struct tlbb_riscv *rv, const tlbb_cpumask_t *mask, unsigned self,
		       unsigned long fid, unsigned long start, unsigned long size,
		       unsigned long asid)
{
	unsigned long floor = 0;

	for (;;) {
		unsigned long base = ~0ul, bits = 0;
		long err;

		for (unsigned c = 0; c < rv->mg.ncpus; c++) {
			unsigned long h = hart_of(rv, c) & ~63ul;

			if (targeted(mask, c, self) && h >= floor && h < base)
				base = h;
		}
		if (base == ~0ul)
			return true;
		for (unsigned c = 0; c < rv->mg.ncpus; c++) {
			unsigned long h = hart_of(rv, c);

			if (targeted(mask, c, self) && (h & ~63ul) == base)
				bits |= 1ul << (h - base);
		}
		err = sbi_rfence(fid, bits, base, start, size, asid);
		__atomic_fetch_add(&rv->st.sbi_calls, 1, __ATOMIC_RELAXED);
		if (err != RV_SBI_SUCCESS) {
			__atomic_fetch_add(&rv->st.sbi_errors, 1, __ATOMIC_RELAXED);
			return false;
		}
		floor = base + 64;
	}
}

/*
 * MG_ARCH_REMOTE on the SBI path. A space's request: its range with its
 * ASID (FID 2), or the whole ASID above the ceiling; a global space's
 * without an ASID (FID 1: every ASID, G entries included); several spaces
 * at once: everything (FID 1, whole). A CPU number beyond the per-CPU
 * array has no hart ID, and a firmware error leaves it unknown which harts
 * fenced: both answer false, and the port's IPI round does the whole
 * request again (never a silent under-flush).
 */
static bool rv_remote(const struct tlbb_mg_req *r, const tlbb_cpumask_t *mask)
{
	struct tlbb_riscv *rv = rv_of(r->be);
	unsigned self = tlbb_port_cpu_id();
	unsigned long fid = RV_SBI_RFENCE_SFENCE_VMA, start = 0, size = RV_SBI_SIZE_ALL, asid = 0;

	if (!(rv->cfg.features & TLBB_RISCV_SBI_RFENCE))
		return false;
	if (mask)
		for (unsigned c = tlbb_cpumask_next(mask, rv->mg.ncpus); c < TLBB_MAX_CPUS;
		     c = tlbb_cpumask_next(mask, c + 1))
			if (c != self)
				return false;
	if (r->space && !r->global) {
		fid = RV_SBI_RFENCE_SFENCE_VMA_ASID;
		asid = fence_asid(asid_of(r->space));
	}
	if (r->space && r->start != r->end && req_pages(r) <= rv->cfg.ceiling) {
		start = r->start;
		size = r->end - r->start;
		__atomic_fetch_add(&rv->st.sbi_pages, req_pages(r), __ATOMIC_RELAXED);
	} else {
		__atomic_fetch_add(&rv->st.sbi_whole, 1, __ATOMIC_RELAXED);
	}
	/* The caller's PTE stores before the firmware's requests to the harts. */
	rv_fence_rw_rw();
	if (sbi_rounds(rv, mask, self, fid, start, size, asid))
		return true;
	/*
	 * The port's round redoes it for the harts still in the live mask. One
	 * that left it while the call ran trimmed itself (its next switch-in
	 * flushes); if none is left there is nobody to interrupt, and the port
	 * is never handed a round for no CPU but the caller.
	 */
	return mask && !tlbb_cpumask_any_but(mask, self);
}

#define MG_ARCH_REMOTE(r, mask) rv_remote((r), (mask))

#include "../../lib/maskgen_run.h"

void tlbb_riscv_ipi_handler(void *request)
{
	mg_ipi_entry(request);
}

int tlbb_riscv_init(struct tlbb_riscv *rv, const struct tlbb_riscv_config *cfg,
		    struct tlbb_mg_cpu *percpu, unsigned ncpus)
{
	unsigned features = cfg ? cfg->features : 0;

	if (!rv || (features & TLBB_RISCV_SV48 && features & TLBB_RISCV_SV57))
		return TLBB_EINVAL;
	if (cfg && cfg->hartid && percpu)
		for (unsigned c = 0; c < ncpus && c < TLBB_MAX_CPUS; c++)
			if (cfg->hartid[c] >= TLBB_RISCV_MAX_HARTID)
				return TLBB_EINVAL;
	/* A CPU numbered beyond TLBB_MAX_CPUS has no bit in any mask: refuse. */
	if (tlbb_mg_init(&rv->mg, percpu, ncpus) != TLBB_OK)
		return TLBB_EINVAL;
	rv->cfg.features = features;
	rv->cfg.ceiling = (cfg && cfg->ceiling) ? cfg->ceiling : TLBB_RISCV_DEFAULT_CEILING;
	rv->cfg.hartid = cfg ? cfg->hartid : NULL;
	rv->st = (struct tlbb_riscv_stats){ 0 };
	rv->be = MG_BACKEND("riscv64", rv);
	return TLBB_OK;
}

/* ---- context switch -------------------------------------------------------- */

bool tlbb_riscv_switch_space(struct tlbb_riscv *rv, struct tlbb_space *next, uint64_t root)
{
	unsigned cpu = tlbb_port_cpu_id();
	uint64_t asid = asid_of(next);
	uint64_t mode = (rv->cfg.features & TLBB_RISCV_SV57)   ? RV_SATP_MODE_SV57
			: (rv->cfg.features & TLBB_RISCV_SV48) ? RV_SATP_MODE_SV48
							       : RV_SATP_MODE_SV39;
	int how = mg_switch_in(&rv->be, next, cpu, 0);

	/*
	 * satp first, then the fence: SFENCE.VMA x0, ASID drops the ASID's
	 * entries whatever root they came from, and orders our earlier PTE
	 * stores before this hart's next walks under the new satp.
	 */
	rv_write_satp(mode | (asid << RV_SATP_ASID_SHIFT) | (root >> 12));
	if (how == TLBB_MG_UNTRACKED) {
		mg_debug_fail(cpu >= TLBB_MAX_CPUS
				      ? "riscv64: CPU number >= TLBB_MAX_CPUS: no flush can reach it "
					"(rebuild with a larger TLBB_MAX_CPUS)"
				      : "riscv64: CPU number beyond the per-CPU array");
		rv_sfence_vma_all();
		return true;
	}
	if (how == TLBB_MG_FLUSH)
		rv_sfence_vma_asid(fence_asid(asid));
	return how == TLBB_MG_FLUSH;
}

/*
 * The static binding (lib/tlbbatch.c, TLBB_STATIC_RISCV64): the core includes
 * this file and calls these directly instead of through tlbb_riscv::be.
 */
#define TLBB_BOUND_should_defer mg_should_defer
#define TLBB_BOUND_add mg_add
#define TLBB_BOUND_flush mg_flush
#define TLBB_BOUND_flush_space mg_flush_space
#define TLBB_BOUND_space_init mg_space_init
#define TLBB_BOUND_space_fini mg_space_fini
