/* SPDX-License-Identifier: MIT */
/*
 * The arm64 stage-2 backend (include/tlbbatch/arm64_s2.h has the sequence
 * each hook issues, why, and the port's duties). Freestanding. Instructions
 * come from tlbi.h, the range plan and counted barriers from a64_shared.h,
 * both shared with the stage-1 backend (arm64.c); with TLBB_ARM64_RECORD
 * this file is compiled unchanged for the host recorder tests.
 */
#include <tlbbatch/arm64_s2.h>
#include <tlbbatch/port.h>

#include "a64_shared.h"

/* Per-space state in s->arch: the stage-2 root, 0 = not told. */
TLBB_ARCH_STRUCT(s2_space) {
	uint64_t table;
};
TLBB_ARCH_FITS(struct s2_space, struct tlbb_space);

/* Per-batch state in b->arch. All-zero means empty (the core's contract). */
TLBB_ARCH_STRUCT(s2_batch) {
	uint8_t nvmids;    /* VTTBR values in vttbr[] */
	uint8_t all;       /* flush with ALLE1IS: too many VMIDs, or a root unknown */
	uint8_t queued;    /* TLBIs issued and not yet completed by a DSB ISH */
	uint8_t unused;
	uint32_t cpu_plus1; /* TLBB_DEBUG: CPU that issued `queued` + 1; 0 = none */
	uint64_t vttbr[TLBB_ARM64_S2_BATCH_VMIDS];
};
TLBB_ARCH_FITS(struct s2_batch, struct tlbb_batch);

static const struct tlbb_arm64_s2_config s2_default_config = {
	.max_tlbi_ops = TLBB_ARM64_DEFAULT_MAX_TLBI_OPS,
};

static const struct tlbb_arm64_s2_config *s2_cfg(const struct tlbb_backend *be)
{
	return be && be->ctx ? (const struct tlbb_arm64_s2_config *)be->ctx : &s2_default_config;
}

static struct tlbb_arm64_stats *s2_insn_stats(const struct tlbb_arm64_s2_config *cfg)
{
	return cfg->stats ? &cfg->stats->insn : NULL;
}

static uint64_t s2_vmid_bits(uint64_t vttbr)
{
	return vttbr >> TLBB_ARM64_VMID_SHIFT;
}

/* The space's VTTBR_EL2 value, 0 when its root is unknown. */
static uint64_t s2_space_vttbr(const struct tlbb_space *s)
{
	const struct s2_space *ss = TLBB_ARCH(s, const struct s2_space);

	return ss->table ? tlbb_arm64_vttbr((uint16_t)s->id, ss->table) : 0;
}

/* ---- the current VMID ---------------------------------------------------------- */

static void s2_write_vttbr(const struct tlbb_arm64_s2_config *cfg, uint64_t v)
{
	tlbb_a64_write_vttbr(v);
	if (cfg->stats)
		tlbb_a64_count(&cfg->stats->vttbr_writes);
}

/*
 * Make @want's VMID the current one for the TLBIs that follow; @cur is what
 * VTTBR_EL2 holds now. The ISB is what makes the write visible to the TLBI
 * (a system register write is only guaranteed to affect later instructions
 * after a context synchronization event). Returns the new current value.
 */
static uint64_t s2_enter_vmid(const struct tlbb_arm64_s2_config *cfg, uint64_t cur, uint64_t want)
{
	if (s2_vmid_bits(cur) == s2_vmid_bits(want))
		return cur;
	s2_write_vttbr(cfg, want);
	tlbb_a64_isb_counted(s2_insn_stats(cfg));
	return want;
}

/* Put back the VTTBR_EL2 the caller had, if we changed it. The caller ends
 * with an ISB, which makes the restored VMID the current one again before
 * anything of the port's can depend on it. */
static void s2_leave_vmid(const struct tlbb_arm64_s2_config *cfg, uint64_t now, uint64_t saved)
{
	if (now != saved)
		s2_write_vttbr(cfg, saved);
}

/* ---- TLBIs ------------------------------------------------------------------------ */

enum s2_tlbi_kind {
	S2_IPA,          /* IPAS2E1IS: stage-2-only entries for one IPA */
	S2_IPA_LEAF,     /* IPAS2LE1IS: last level only */
	S2_RANGE,        /* RIPAS2E1IS */
	S2_RANGE_LEAF,   /* RIPAS2LE1IS */
	S2_VMID_ALL,     /* VMALLS12E1IS: stage 1, stage 2 and combined, current VMID */
	S2_VMID_STAGE1,  /* VMALLE1IS: stage 1 and combined, current VMID */
	S2_EVERY_VMID,   /* ALLE1IS: all EL1&0 entries of every VMID */
};

static void s2_tlbi(const struct tlbb_arm64_s2_config *cfg, enum s2_tlbi_kind kind, uint64_t op)
{
	switch (kind) {
	case S2_IPA:
		tlbb_a64_tlbi_ipas2e1is(op);
		break;
	case S2_IPA_LEAF:
		tlbb_a64_tlbi_ipas2le1is(op);
		break;
	case S2_RANGE:
		tlbb_a64_tlbi_ripas2e1is(op);
		break;
	case S2_RANGE_LEAF:
		tlbb_a64_tlbi_ripas2le1is(op);
		break;
	case S2_VMID_ALL:
		tlbb_a64_tlbi_vmalls12e1is();
		break;
	case S2_VMID_STAGE1:
		tlbb_a64_tlbi_vmalle1is();
		break;
	case S2_EVERY_VMID:
		tlbb_a64_tlbi_alle1is();
		if (cfg->stats)
			tlbb_a64_count(&cfg->stats->alle1is);
		break;
	}
	tlbb_a64_count_tlbi(s2_insn_stats(cfg), kind >= S2_VMID_ALL);
}

static bool s2_range_usable(const struct tlbb_arm64_s2_config *cfg, const struct tlbb_space *s,
			    uint64_t last)
{
	unsigned base_shift = cfg->lpa2 ? 16 : s->page_shift;

	return cfg->range_ops && tlbb_arm64_range_tg(s->page_shift) &&
	       (last >> (base_shift + 37)) == 0;
}

/* The IPA invalidations of [start, end) under the current VMID; with @issue
 * false only counted. Returns the TLBIs the plan takes. */
static uint64_t s2_ipa_tlbis(const struct tlbb_arm64_s2_config *cfg, const struct tlbb_space *s,
			     uint64_t start, uint64_t end, bool leaf, bool issue)
{
	const uint64_t step = (uint64_t)1 << s->page_shift;
	uint64_t ops = 0;

	if (s2_range_usable(cfg, s, end - 1)) {
		struct tlbb_a64_rplan plan;
		struct tlbb_a64_rop op;

		tlbb_a64_rplan_init(&plan, start, end, s->page_shift, cfg->lpa2);
		while (tlbb_a64_rplan_next(&plan, &op)) {
			if (issue && op.range)
				s2_tlbi(cfg, leaf ? S2_RANGE_LEAF : S2_RANGE,
					tlbb_arm64_ipa_range_operand(s->page_shift, op.scale, op.num,
								     op.va, cfg->lpa2));
			else if (issue)
				s2_tlbi(cfg, leaf ? S2_IPA_LEAF : S2_IPA, tlbb_arm64_ipa_operand(op.va));
			ops++;
		}
		return ops;
	}
	for (uint64_t ipa = start; ipa != end; ipa += step, ops++)
		if (issue)
			s2_tlbi(cfg, leaf ? S2_IPA_LEAF : S2_IPA, tlbb_arm64_ipa_operand(ipa));
	return ops;
}

/* ---- debug: the issuing-CPU rule ---------------------------------------------------- */

#ifdef TLBB_DEBUG
static void s2_debug_issuer(struct s2_batch *sb, const char *when)
{
	uint32_t me = tlbb_port_cpu_id() + 1;

	if (sb->queued && sb->cpu_plus1 && sb->cpu_plus1 != me)
		tlbb_port_debug_fail(when);
	sb->cpu_plus1 = me;
}
#endif

/* ---- the batch's VMIDs -------------------------------------------------------------- */

/* Remember @vttbr's VMID for the flush; past the slots, the flush takes
 * every VMID. */
static void s2_batch_note(struct s2_batch *sb, uint64_t vttbr)
{
	for (unsigned i = 0; i < sb->nvmids; i++)
		if (s2_vmid_bits(sb->vttbr[i]) == s2_vmid_bits(vttbr))
			return;
	if (sb->nvmids < TLBB_ARM64_S2_BATCH_VMIDS)
		sb->vttbr[sb->nvmids++] = vttbr;
	else
		sb->all = 1;
}

/* ---- hooks ---------------------------------------------------------------------------- */

static bool s2_should_defer(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	(void)be;
	(void)s;
	return true;
}

static void s2_add(const struct tlbb_backend *be, struct tlbb_batch *b, struct tlbb_space *s,
		   uint64_t start, uint64_t end, unsigned flags)
{
	const struct tlbb_arm64_s2_config *cfg = s2_cfg(be);
	struct s2_batch *sb = TLBB_ARCH(b, struct s2_batch);
	const uint64_t vttbr = s2_space_vttbr(s);
	const bool leaf = flags & TLBB_ADD_LEAF_ONLY;
	const uint32_t max_ops = cfg->max_tlbi_ops ? cfg->max_tlbi_ops
						   : TLBB_ARM64_DEFAULT_MAX_TLBI_OPS;
	uint64_t saved, now;

#ifdef TLBB_DEBUG
	s2_debug_issuer(sb, "arm64-s2: batch got TLBIs on a second CPU without "
			    "tlbb_arm64_s2_context_switch(): the first CPU's TLBIs would "
			    "never be completed by the flush");
#endif
	/* The stage-2 stores of this call before any TLBI of it (see the
	 * header: per add, since later adds store after earlier barriers). */
	tlbb_a64_dsb_ishst_counted(s2_insn_stats(cfg));
	sb->queued = 1;
	if (!vttbr) {
		/* The VMID cannot be loaded without its root (a speculative walk
		 * would use whatever tables VTTBR names): the flush takes every
		 * VMID instead. Nothing to issue now. */
		sb->all = 1;
		return;
	}
	s2_batch_note(sb, vttbr);
	saved = tlbb_a64_read_vttbr();
	now = s2_enter_vmid(cfg, saved, vttbr);
	if ((flags & TLBB_RANGE_ALL) || s2_ipa_tlbis(cfg, s, start, end, leaf, false) > max_ops)
		s2_tlbi(cfg, S2_VMID_ALL, 0);
	else
		s2_ipa_tlbis(cfg, s, start, end, leaf, true);
	/* No DSB ISH: completing is the flush's job, once per batch. */
	s2_leave_vmid(cfg, now, saved);
	if (now != saved)
		tlbb_a64_isb_counted(s2_insn_stats(cfg));
}

static void s2_flush(const struct tlbb_backend *be, struct tlbb_batch *b)
{
	const struct tlbb_arm64_s2_config *cfg = s2_cfg(be);
	struct s2_batch *sb = TLBB_ARCH(b, struct s2_batch);
	struct tlbb_arm64_stats *st = s2_insn_stats(cfg);
	uint64_t saved = 0, now = 0;

#ifdef TLBB_DEBUG
	s2_debug_issuer(sb, "arm64-s2: batch flushed on a CPU other than the one that issued "
			    "its TLBIs, without tlbb_arm64_s2_context_switch() in between");
#endif
	/*
	 * Completes this CPU's IPA invalidations everywhere. Must come before
	 * the stage-1 invalidations below: a walk between them could otherwise
	 * build a fresh combined entry from a stage-2-only entry not yet gone.
	 */
	tlbb_a64_dsb_ish_counted(st);
	if (sb->all) {
		s2_tlbi(cfg, S2_EVERY_VMID, 0);
	} else {
		saved = now = tlbb_a64_read_vttbr();
		/* Combined stage 1+2 entries survive IPAS2E1IS: drop each touched
		 * VMID's. Switching on before the DSB is fine: a system register
		 * write does not affect the TLBIs before it in program order. */
		for (unsigned i = 0; i < sb->nvmids; i++) {
			now = s2_enter_vmid(cfg, now, sb->vttbr[i]);
			s2_tlbi(cfg, S2_VMID_STAGE1, 0);
		}
	}
	tlbb_a64_dsb_ish_counted(st);
	s2_leave_vmid(cfg, now, saved);
	/* Restored VMID in effect again; and the KVM sequence's final ISB. */
	tlbb_a64_isb_counted(st);
	sb->nvmids = 0;
	sb->all = 0;
	sb->queued = 0;
	sb->cpu_plus1 = 0;
}

/*
 * Everything of @s's VMID, invalidated and completed by this CPU alone (the
 * race check runs wherever the changer runs, and only the issuer's DSB
 * completes a TLBI). The DSB ISHST first: stage-2 stores the caller just
 * made reach the walkers before the invalidation.
 */
static void s2_invalidate_vmid_now(const struct tlbb_arm64_s2_config *cfg, struct tlbb_space *s)
{
	struct tlbb_arm64_stats *st = s2_insn_stats(cfg);
	const uint64_t vttbr = s2_space_vttbr(s);
	uint64_t saved, now;

	tlbb_a64_dsb_ishst_counted(st);
	if (!vttbr) {
		s2_tlbi(cfg, S2_EVERY_VMID, 0);
		tlbb_a64_dsb_ish_counted(st);
		tlbb_a64_isb_counted(st);
		return;
	}
	saved = tlbb_a64_read_vttbr();
	now = s2_enter_vmid(cfg, saved, vttbr);
	s2_tlbi(cfg, S2_VMID_ALL, 0);
	tlbb_a64_dsb_ish_counted(st);
	s2_leave_vmid(cfg, now, saved);
	tlbb_a64_isb_counted(st);
}

static void s2_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
	s2_invalidate_vmid_now(s2_cfg(be), s);
}

/* The VMID is released (fini, set_id): nothing cached under it may be used
 * by the guest that gets it next. Same sequence as the race check today; its
 * own hook because it is a different promise. */
static void s2_space_fini(const struct tlbb_backend *be, struct tlbb_space *s)
{
	s2_invalidate_vmid_now(s2_cfg(be), s);
}

void tlbb_arm64_s2_context_switch(struct tlbb_batch *b)
{
	struct s2_batch *sb;

	if (!b) {
		tlbb_a64_dsb_ish();
		return;
	}
	sb = TLBB_ARCH(b, struct s2_batch);
	if (!sb->queued)
		return;
	/* Nobody else can complete these TLBIs: do it before the task leaves.
	 * The flush's VMALLE1IS is issued and completed wherever it runs. */
	tlbb_a64_dsb_ish();
	sb->queued = 0;
	sb->cpu_plus1 = 0;
}

const struct tlbb_backend tlbb_arm64_s2_backend = {
	.name = "arm64-s2",
	.ctx = NULL,
	.should_defer = s2_should_defer,
	.add = s2_add,
	.flush = s2_flush,
	.flush_space = s2_flush_space,
	.space_init = NULL,
	.space_fini = s2_space_fini,
};

int tlbb_arm64_s2_backend_init(struct tlbb_backend *be, const struct tlbb_arm64_s2_config *cfg)
{
	if (!be)
		return TLBB_EINVAL;
	/* Field by field: a struct copy may become a memcpy call. */
	be->name = tlbb_arm64_s2_backend.name;
	be->ctx = (void *)(uintptr_t)cfg;
	be->should_defer = tlbb_arm64_s2_backend.should_defer;
	be->add = tlbb_arm64_s2_backend.add;
	be->flush = tlbb_arm64_s2_backend.flush;
	be->flush_space = tlbb_arm64_s2_backend.flush_space;
	be->space_init = tlbb_arm64_s2_backend.space_init;
	be->space_fini = tlbb_arm64_s2_backend.space_fini;
	return TLBB_OK;
}

int tlbb_arm64_s2_set_table(struct tlbb_space *s, uint64_t table)
{
	if (!s || !s->backend)
		return TLBB_EINVAL;
	TLBB_ARCH(s, struct s2_space)->table = table & TLBB_ARM64_S2_BADDR_MASK;
	return TLBB_OK;
}

int tlbb_arm64_s2_space_init(struct tlbb_space *s, const struct tlbb_backend *be, uint16_t vmid,
			     uint64_t table, void *owner)
{
	int rc = tlbb_space_init(s, be, vmid, owner);

	return rc == TLBB_OK ? tlbb_arm64_s2_set_table(s, table) : rc;
}

int tlbb_arm64_s2_set_vmid(struct tlbb_space *s, uint16_t vmid)
{
	uint64_t table;
	int rc;

	if (!s || !s->backend)
		return TLBB_EINVAL;
	table = TLBB_ARCH(s, struct s2_space)->table;
	rc = tlbb_space_set_id(s, vmid);
	return rc == TLBB_OK ? tlbb_arm64_s2_set_table(s, table) : rc;
}

uint64_t tlbb_arm64_s2_vttbr(const struct tlbb_space *s)
{
	return s ? s2_space_vttbr(s) : 0;
}
