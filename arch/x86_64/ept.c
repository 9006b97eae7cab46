/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 EPT backend. See include/tlbbatch/x86_ept.h for the model,
 * the VPID answer and the port's duties. Freestanding: no libc, compiler
 * atomics only; the only instruction is INVEPT (x86_insn.h).
 *
 * Everything but INVEPT is the shared engine (lib/maskgen_run.h): a space's
 * tag is its EPTP, the flush of the "loaded" context is INVEPT of the EPTP
 * this CPU entered last, and no range is ever invalidated page by page.
 */
#include <tlbbatch/port.h>
#include <tlbbatch/x86_ept.h>

#include "x86_insn.h"

/* The engine's two words, then the EPTP (zeroed by the core at set_id). */
TLBB_ARCH_STRUCT(ept_space) {
	struct tlbb_mg_space mg;
	uint64_t eptp;
};
TLBB_ARCH_FITS(struct ept_space, struct tlbb_space);

#define EPT_EP4TA_MASK 0x000ffffffffff000ull /* EPTP bits 51:12 */

static struct tlbb_ept *ept_of(const struct tlbb_backend *be)
{
	return be->ctx;
}

static struct ept_space *es(const struct tlbb_space *s)
{
	return TLBB_ARCH(s, struct ept_space);
}

/* ---- the instructions, by intent ----------------------------------------- */

/* Every mapping derived from any EPTP, on this CPU. */
static void invept_all(void)
{
	(void)x86_invept(X86_INVEPT_ALL, 0);
}

/*
 * Every guest-physical and combined mapping derived from @eptp's EP4TA, for
 * every VPID and PCID. All-context where single-context is not supported,
 * where the space has no EPTP yet, or where single-context VMfails: more,
 * never less.
 */
static void invept_eptp(const struct tlbb_ept *e, uint64_t eptp)
{
	if ((e->cfg.features & TLBB_EPT_INVEPT_SINGLE) && (eptp & EPT_EP4TA_MASK) &&
	    x86_invept(X86_INVEPT_SINGLE, eptp))
		return;
	invept_all();
}

/* ---- the engine's callbacks (lib/maskgen_run.h) --------------------------- */

static struct tlbb_mg *mg_engine(const struct tlbb_backend *be)
{
	return &ept_of(be)->mg;
}

static uint64_t mg_arch_tag(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	(void)be;
	return __atomic_load_n(&es(s)->eptp, __ATOMIC_RELAXED);
}

static void mg_arch_flush_tag(const struct tlbb_backend *be, uint64_t tag)
{
	invept_eptp(ept_of(be), tag);
}

static void mg_arch_flush_all(const struct tlbb_backend *be)
{
	(void)be;
	invept_all();
}

/* INVEPT has no individual-address type: every flush is the whole EPTP. */
static bool mg_arch_flush_range(const struct tlbb_mg_req *r, struct tlbb_mg_cpu_stats *st)
{
	(void)r;
	(void)st;
	return false;
}

static bool mg_arch_range_ok(const struct tlbb_backend *be, uint64_t start, uint64_t end)
{
	(void)be;
	(void)start;
	(void)end;
	return false;
}

#include "../../lib/maskgen_run.h"

void tlbb_ept_ipi_handler(void *request)
{
	mg_ipi_entry(request);
}

/* ---- setup ------------------------------------------------------------------ */

enum tlbb_status tlbb_ept_init(struct tlbb_ept *e, const struct tlbb_ept_config *cfg,
		  struct tlbb_ept_cpu *percpu, unsigned ncpus)
{
	if (!e || !cfg || !(cfg->features & TLBB_EPT_INVEPT_ALL) ||
	    tlbb_mg_init(&e->mg, percpu, ncpus) != TLBB_OK)
		return TLBB_EINVAL;
	e->cfg = *cfg;
	e->be = MG_BACKEND("x86_ept", e);
	return TLBB_OK;
}

static bool is_ept_space(const struct tlbb_space *s)
{
	const struct tlbb_backend *be = s ? __atomic_load_n(&s->backend, __ATOMIC_ACQUIRE) : NULL;

	return be && be->add == mg_add;
}

enum tlbb_status tlbb_ept_space_set_eptp(struct tlbb_space *s, uint64_t eptp)
{
	if (!is_ept_space(s) || !(eptp & EPT_EP4TA_MASK))
		return TLBB_EINVAL;
	__atomic_store_n(&es(s)->eptp, eptp, __ATOMIC_RELAXED);
	return TLBB_OK;
}

uint64_t tlbb_ept_space_eptp(const struct tlbb_space *s)
{
	return __atomic_load_n(&es(s)->eptp, __ATOMIC_RELAXED);
}

/* ---- VM entry --------------------------------------------------------------- */

/*
 * Re-entry of the VM this CPU entered last needs nothing: that slot stays
 * loaded, so no flush of the space trims this CPU, its bit stays set since
 * the switch-in, and every flush after that switch-in's generation read
 * interrupts this CPU (the store-buffering pair of the engine) and INVEPTs
 * in the handler before send_and_wait returns. A flush racing with this
 * entry leaves its IPI pending here (interrupts are off): it makes the
 * guest exit before its first instruction.
 */
static bool reentry(const struct tlbb_mg *mg, unsigned cpu, const struct tlbb_space *s,
		    uint64_t eptp)
{
	const struct tlbb_mg_cpu *c;
	const struct tlbb_mg_slot *sl;

	if (cpu >= mg->ncpus)
		return false;
	c = &mg->cpu[cpu];
	if (c->loaded < 0)
		return false;
	sl = &c->slot[c->loaded];
	return sl->ctx != 0 && sl->ctx == tlbb_mg_space_ctx(s) && sl->tag == eptp;
}

bool tlbb_ept_vm_enter(struct tlbb_ept *e, struct tlbb_space *s)
{
	unsigned cpu = tlbb_port_cpu_id();
	uint64_t eptp = tlbb_ept_space_eptp(s);
	int how;

	if (reentry(&e->mg, cpu, s, eptp))
		return false;
	how = mg_switch_in(&e->be, s, cpu, 0);
	if (how == TLBB_MG_CURRENT)
		return false;
	if (how == TLBB_MG_UNTRACKED) {
		mg_debug_fail(cpu >= TLBB_MAX_CPUS
				      ? "ept: CPU number >= TLBB_MAX_CPUS: no flush can reach it"
				      : "ept: CPU number beyond the per-CPU array");
		invept_all();
		return true;
	}
	if (!eptp)
		mg_debug_fail("ept: VM entry of a space without an EPTP (tlbb_ept_space_set_eptp)");
	invept_eptp(e, eptp);
	return true;
}
