/* SPDX-License-Identifier: MIT */
/*
 * arm64 backend, instruction by instruction.
 *
 * The backend (arch/arm64/arm64.c) is compiled into this program with
 * TLBB_ARM64_RECORD, so every DSB/ISB/TLBI it would execute is appended to
 * a log instead. The tests drive the real core (tlbb_add_*(), tlbb_flush(),
 * tlbb_flush_pending()) and assert the exact instruction sequence and every
 * operand. Expected operands are written out by hand from the Arm ARM field
 * layouts (comments show the fields), never computed with the encoder under
 * test.
 *
 * This program is built twice: plain, and with TLBB_DEBUG (the issuing-CPU
 * checks, which call the port hooks defined below).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <tlbbatch/arm64.h>
#include <tlbbatch/port.h>

#include "tlbi.h"

/* ---- the recorder ----------------------------------------------------------- */

struct insn {
	enum tlbb_a64_insn op;
	uint64_t arg;
};

#define LOG_MAX 8192
static struct insn log_[LOG_MAX];
static size_t nlog;
static size_t log_overflow;

void tlbb_a64_record(enum tlbb_a64_insn insn, uint64_t operand)
{
	if (nlog < LOG_MAX)
		log_[nlog++] = (struct insn){insn, operand};
	else
		log_overflow++;
}

static size_t count_op(enum tlbb_a64_insn op)
{
	size_t n = 0;

	for (size_t i = 0; i < nlog; i++)
		n += log_[i].op == op;
	return n;
}

static void expect_at(size_t i, enum tlbb_a64_insn op, uint64_t arg)
{
	assert_true(i < nlog);
	assert_int_equal(log_[i].op, op);
	assert_int_equal(log_[i].arg, arg);
}

static void expect_len(size_t n)
{
	assert_int_equal(log_overflow, 0);
	assert_int_equal(nlog, n);
}

/* The exported statistics are a promise about what was executed: every
 * counter equals the number of its instructions in the log (valid while the
 * test neither truncates the log nor calls tlbb_arm64_context_switch(), which
 * has no config and counts nothing). tlbi_asid is a subset of tlbi. */
static void expect_stats_match_log(const struct tlbb_arm64_stats *st)
{
	size_t tlbi = 0, whole = 0;

	assert_int_equal(log_overflow, 0);
	for (size_t i = 0; i < nlog; i++) {
		if (log_[i].op >= TLBB_A64_TLBI_VAE1IS)
			tlbi++;
		if (log_[i].op == TLBB_A64_TLBI_ASIDE1IS || log_[i].op == TLBB_A64_TLBI_VMALLE1IS)
			whole++;
	}
	assert_int_equal(st->tlbi, tlbi);
	assert_int_equal(st->tlbi_asid, whole);
	assert_int_equal(st->dsb_ishst, count_op(TLBB_A64_DSB_ISHST));
	assert_int_equal(st->dsb_ish, count_op(TLBB_A64_DSB_ISH));
	assert_int_equal(st->isb, count_op(TLBB_A64_ISB));
}

/* ---- the port hooks (used only by TLBB_DEBUG builds of the backend) ------- */

static unsigned cur_cpu;
static unsigned cpu_id_calls;
static unsigned debug_fails;
static const char *last_fail;

unsigned tlbb_port_cpu_id(void)
{
	cpu_id_calls++;
	return cur_cpu;
}

void tlbb_port_debug_fail(const char *what)
{
	/* A kernel would panic; the test records it and lets the backend go on. */
	debug_fails++;
	last_fail = what;
}

/* ---- fixtures ------------------------------------------------------------------- */

static struct tlbb_arm64_stats stats;
static struct tlbb_arm64_config cfg;
static struct tlbb_backend be;
static struct tlbb_space sp, sp2, kspace;
static struct tlbb_batch batch;

#define ASID 0x2a
#define ASID2 0x1234
#define PAGE 0x1000u

static int setup_with(const struct tlbb_arm64_config *c)
{
	memset(&stats, 0, sizeof(stats));
	cfg = *c;
	cfg.stats = &stats;
	assert_int_equal(tlbb_arm64_backend_init(&be, &cfg), TLBB_OK);
	assert_int_equal(tlbb_space_init(&sp, &be, ASID, NULL), TLBB_OK);
	assert_int_equal(tlbb_space_init(&sp2, &be, ASID2, NULL), TLBB_OK);
	assert_int_equal(tlbb_space_init(&kspace, &be, 0, NULL), TLBB_OK);
	tlbb_space_set_global(&kspace, true);
	tlbb_batch_init(&batch);
	nlog = 0;
	log_overflow = 0;
	cur_cpu = 0;
	cpu_id_calls = 0;
	debug_fails = 0;
	last_fail = NULL;
	return 0;
}

static int setup_default(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_config){0});
}

static int setup_range(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_config){.range_ops = true});
}

static int setup_erratum(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_config){.repeat_tlbi_erratum = true});
}

static int setup_limit8(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_config){.max_tlbi_ops = 8});
}

static int setup_range_limit3(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_config){.range_ops = true, .max_tlbi_ops = 3});
}

static int setup_range_erratum(void **state)
{
	(void)state;
	return setup_with(
		&(struct tlbb_arm64_config){.range_ops = true, .repeat_tlbi_erratum = true});
}

static int setup_lpa2(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_config){.range_ops = true, .lpa2 = true});
}

static int setup_lpa2_no_range(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_config){.lpa2 = true});
}

static int setup_lpa2_limit2(void **state)
{
	(void)state;
	return setup_with(
		&(struct tlbb_arm64_config){.range_ops = true, .lpa2 = true, .max_tlbi_ops = 2});
}

static int setup_paired(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_config){.kpti_paired_asids = true});
}

static int setup_paired_limit8(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_config){.kpti_paired_asids = true, .max_tlbi_ops = 8});
}

static int setup_paired_range_lpa2(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_config){
		.kpti_paired_asids = true, .range_ops = true, .lpa2 = true});
}

static int setup_paired_erratum(void **state)
{
	(void)state;
	return setup_with(
		&(struct tlbb_arm64_config){.kpti_paired_asids = true, .repeat_tlbi_erratum = true});
}

/* ---- operand encodings, by hand ------------------------------------------- */

/* TLBI by VA: ASID in 63:48, VA[55:12] in 43:0. */
static void encoding_va_operand_is_asid_and_va_55_12(void **state)
{
	(void)state;
	/* ASID 0x2a, VA 0x7f12_3456_7abc: VA>>12 = 0x7_f123_4567 */
	assert_int_equal(tlbb_arm64_va_operand(0x2a, 0x7f1234567abcull), 0x002a0007f1234567ull);
	/* TTBR1 address: VA[55:48] = 0xff are kept, VA[63:56] dropped. */
	assert_int_equal(tlbb_arm64_va_operand(0, 0xffff000008000000ull), 0x00000ff000008000ull);
	/* 16-bit ASID uses all of 63:48. */
	assert_int_equal(tlbb_arm64_va_operand(0xffff, 0x1000), 0xffff000000000001ull);
	assert_int_equal(tlbb_arm64_asid_operand(0x1234), 0x1234000000000000ull);
}

/*
 * TLBI RVA* operand: ASID 63:48 | TG 47:46 | SCALE 45:44 | NUM 43:39 |
 * TTL 38:37 | BaseADDR 36:0, range = (NUM+1) * 2^(5*SCALE+1) granules.
 */
static void encoding_range_operand_fields(void **state)
{
	(void)state;
	/* ASID 5, 4K (TG=01), SCALE 0, NUM 0, base 0x4000_0000>>12 = 0x40000:
	 * 0x0005 | 01 00 00000 00 | 0x40000 */
	assert_int_equal(tlbb_arm64_range_operand(5, 12, 0, 0, 0x40000000), 0x0005400000040000ull);
	/* SCALE 1 (bit 44), NUM 7 (bits 41:39 = 111 -> 0x38 << 36) */
	assert_int_equal(tlbb_arm64_range_operand(5, 12, 1, 7, 0x40000000), 0x0005538000040000ull);
	/* 16K: TG=10, base = VA>>14: 0x8000_0000>>14 = 0x20000, NUM 1 */
	assert_int_equal(tlbb_arm64_range_operand(5, 14, 0, 1, 0x80000000), 0x0005808000020000ull);
	/* 64K: TG=11, base = VA>>16 = 0x8000 */
	assert_int_equal(tlbb_arm64_range_operand(5, 16, 0, 0, 0x80000000), 0x0005c00000008000ull);
	/* the largest: SCALE 3, NUM 31 */
	assert_int_equal(tlbb_arm64_range_operand(5, 12, 3, 31, 0x40000000), 0x00057f8000040000ull);
	/* pages per op: (NUM+1) << (5*SCALE+1) */
	assert_int_equal(tlbb_arm64_range_pages(0, 0), 2);
	assert_int_equal(tlbb_arm64_range_pages(1, 0), 64);
	assert_int_equal(tlbb_arm64_range_pages(3, 31), 1u << 21);
	assert_int_equal(tlbb_arm64_range_tg(13), 0); /* no such granule */
}

/*
 * FEAT_LPA2 (TCR_EL1.DS = 1) range operand: the same fields, but BaseADDR
 * (36:0) = VA[52:16] for every granule (Arm ARM, TLBI RVAE1IS, BaseADDR;
 * Linux's __TLBI_VADDR_RANGE with lpa2: addr >> 16).
 */
static void encoding_range_operand_lpa2_base_is_va_52_16(void **state)
{
	(void)state;
	/* ASID 0x2a, 4K (TG=01 -> bit 46 = 0x4000_0000_0000), SCALE 0, NUM 0,
	 * VA 0x4001_0000 -> VA[52:16] = 0x4001 (not 0x40010 as VA>>12):
	 * 0x002a | 01 00 00000 00 | 0x4001 */
	assert_int_equal(tlbb_arm64_range_operand_lpa2(0x2a, 12, 0, 0, 0x40010000),
			 0x002a400000004001ull);
	/* 16K: TG=10 (0x8000_0000_0000), NUM 1 (1 << 39 = 0x80_0000_0000),
	 * VA 0x8000_0000 -> 0x8000 (not VA>>14 = 0x20000) */
	assert_int_equal(tlbb_arm64_range_operand_lpa2(0x2a, 14, 0, 1, 0x80000000),
			 0x002a808000008000ull);
	/* 64K: identical to the non-LPA2 operand (BaseADDR is VA[52:16] anyway) */
	assert_int_equal(tlbb_arm64_range_operand_lpa2(5, 16, 0, 0, 0x80000000),
			 tlbb_arm64_range_operand(5, 16, 0, 0, 0x80000000));
	/* a 52-bit VA: bit 51 -> BaseADDR bit 35 = 0x8_0000_0000 */
	assert_int_equal(tlbb_arm64_range_operand_lpa2(0, 12, 0, 0, 1ull << 51),
			 0x0000400800000000ull);
}

/* ---- add: DSB ISHST once, a TLBI per page, no completing DSB --------------- */

static void add_range_n_pages_is_one_dsb_ishst_then_n_tlbi_vae1is(void **state)
{
	(void)state;
	const uint64_t va = 0x7f1234567000ull;

	assert_int_equal(tlbb_add_range(&batch, &sp, va, va + 16 * PAGE, 0), TLBB_OK);
	expect_len(1 + 16);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	for (unsigned i = 0; i < 16; i++)
		expect_at(1 + i, TLBB_A64_TLBI_VAE1IS, 0x002a0007f1234567ull + i);
	assert_int_equal(count_op(TLBB_A64_DSB_ISH), 0);
	assert_true(tlbb_batch_pending(&batch));
}

static void flush_is_exactly_one_dsb_ish_for_the_whole_batch(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 10; i++)
		tlbb_add_page(&batch, &sp, 0x400000 + i * PAGE, TLBB_ADD_WRITABLE);
	/* each add: its own DSB ISHST (a new PTE was cleared), its TLBI */
	expect_len(20);
	for (unsigned i = 0; i < 10; i++) {
		expect_at(2 * i, TLBB_A64_DSB_ISHST, 0);
		expect_at(2 * i + 1, TLBB_A64_TLBI_VAE1IS, 0x002a000000000400ull + i);
	}
	assert_int_equal(count_op(TLBB_A64_DSB_ISH), 0);
	tlbb_flush(&batch);
	expect_len(21);
	expect_at(20, TLBB_A64_DSB_ISH, 0);
	assert_false(tlbb_batch_pending(&batch));
	/* the core's contract: an empty batch has all-zero arch state */
	for (unsigned i = 0; i < TLBB_ARCH_BATCH_WORDS; i++)
		assert_int_equal(batch.arch[i], 0);
	/* a second flush of the empty batch issues nothing */
	tlbb_flush(&batch);
	expect_len(21);
	assert_int_equal(stats.tlbi, 10);
	assert_int_equal(stats.dsb_ishst, 10);
	assert_int_equal(stats.dsb_ish, 1);
}

static void leaf_only_add_uses_tlbi_vale1is(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x10000, 0x12000, TLBB_ADD_LEAF_ONLY);
	expect_len(3);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_VALE1IS, 0x002a000000000010ull);
	expect_at(2, TLBB_A64_TLBI_VALE1IS, 0x002a000000000011ull);
}

static void one_batch_two_asids_one_dsb(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &sp, 0x5000, 0);
	tlbb_add_page(&batch, &sp2, 0x5000, 0);
	tlbb_flush(&batch);
	expect_len(5);
	expect_at(1, TLBB_A64_TLBI_VAE1IS, 0x002a000000000005ull);
	expect_at(3, TLBB_A64_TLBI_VAE1IS, 0x1234000000000005ull);
	expect_at(4, TLBB_A64_DSB_ISH, 0);
}

static void granule_64k_steps_by_64k(void **state)
{
	(void)state;
	assert_int_equal(tlbb_space_set_granule(&sp, 16), TLBB_OK);
	tlbb_add_range(&batch, &sp, 0x100000, 0x120000, 0); /* two 64K pages */
	expect_len(3);
	expect_at(1, TLBB_A64_TLBI_VAE1IS, 0x002a000000000100ull);
	expect_at(2, TLBB_A64_TLBI_VAE1IS, 0x002a000000000110ull);
}

/* The unbatched path (tlbb_flush_range_sync, Linux's flush_tlb_range): the
 * same add sequence, completed at once, nothing left pending. */
static void sync_range_flush_is_dsb_ishst_tlbis_dsb_ish(void **state)
{
	(void)state;
	assert_int_equal(tlbb_flush_range_sync(&sp, 0x20000, 0x22000, 0), TLBB_OK);
	expect_len(4);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_VAE1IS, 0x002a000000000020ull);
	expect_at(2, TLBB_A64_TLBI_VAE1IS, 0x002a000000000021ull);
	expect_at(3, TLBB_A64_DSB_ISH, 0);
	assert_false(tlbb_space_has_pending(&sp));
}

/* ---- kernel/global mappings ------------------------------------------------- */

static void global_space_uses_all_asid_forms_and_isb_after_dsb(void **state)
{
	(void)state;
	const uint64_t kva = 0xffff000008000000ull;

	tlbb_add_page(&batch, &kspace, kva, 0);
	tlbb_add_page(&batch, &kspace, kva + PAGE, TLBB_ADD_LEAF_ONLY);
	tlbb_flush(&batch);
	expect_len(6);
	expect_at(1, TLBB_A64_TLBI_VAAE1IS, 0x00000ff000008000ull);
	expect_at(3, TLBB_A64_TLBI_VAALE1IS, 0x00000ff000008001ull);
	expect_at(4, TLBB_A64_DSB_ISH, 0);
	expect_at(5, TLBB_A64_ISB, 0);
}

static void user_space_flush_has_no_isb(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &sp, 0x1000, 0);
	tlbb_flush(&batch);
	assert_int_equal(count_op(TLBB_A64_ISB), 0);
}

/* The ISB belongs to the flush, not to the add: a batch that touched a
 * global space gets exactly one ISB after its DSB ISH however many global
 * adds it holds, and a later user-only batch gets none (need_isb is per
 * batch and cleared by the flush). The statistics must say the same. */
static void isb_once_per_flush_of_a_batch_that_touched_a_global_space(void **state)
{
	(void)state;
	const uint64_t kva = 0xffff000008000000ull;

	tlbb_add_page(&batch, &kspace, kva, 0);
	tlbb_add_page(&batch, &kspace, kva + PAGE, 0);
	tlbb_add_page(&batch, &sp, 0x1000, 0);
	tlbb_flush(&batch);
	assert_int_equal(stats.dsb_ish, 1);
	assert_int_equal(stats.isb, 1);

	tlbb_add_page(&batch, &sp, 0x2000, 0);
	tlbb_flush(&batch);
	assert_int_equal(stats.dsb_ish, 2);
	assert_int_equal(stats.isb, 1);

	tlbb_add_page(&batch, &kspace, kva, 0);
	tlbb_flush(&batch);
	assert_int_equal(stats.dsb_ish, 3);
	assert_int_equal(stats.isb, 2);
	assert_int_equal(stats.tlbi, 5);
	assert_int_equal(stats.dsb_ishst, 5);
	expect_len(5 + 5 + 3 + 2); /* ISHST + TLBI per add, DSB ISH per flush, 2 ISB */
	expect_stats_match_log(&stats);
}

/* ---- the op limit ----------------------------------------------------------- */

static void default_limit_512_pages_stay_per_page(void **state)
{
	(void)state;
	tlbb_space_set_threshold(&sp, 4096); /* let the backend, not the core, decide */
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40000000 + 512 * PAGE, 0);
	expect_len(1 + 512);
	assert_int_equal(count_op(TLBB_A64_TLBI_VAE1IS), 512);
}

static void over_default_limit_513_pages_is_one_aside1is(void **state)
{
	(void)state;
	tlbb_space_set_threshold(&sp, 4096);
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40000000 + 513 * PAGE, 0);
	expect_len(2);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	assert_int_equal(stats.tlbi_asid, 1);
}

static void configured_limit_8(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x1000, 0x1000 + 8 * PAGE, 0);
	assert_int_equal(count_op(TLBB_A64_TLBI_VAE1IS), 8);
	nlog = 0;
	tlbb_add_range(&batch, &sp, 0x1000, 0x1000 + 9 * PAGE, 0);
	expect_len(2);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
}

static void whole_space_add_is_aside1is_and_global_is_vmalle1is(void **state)
{
	(void)state;
	tlbb_add_space(&batch, &sp, 0);
	tlbb_add_space(&batch, &kspace, 0);
	tlbb_flush(&batch);
	expect_len(6);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	expect_at(2, TLBB_A64_DSB_ISHST, 0);
	expect_at(3, TLBB_A64_TLBI_VMALLE1IS, 0);
	expect_at(4, TLBB_A64_DSB_ISH, 0);
	expect_at(5, TLBB_A64_ISB, 0);
}

/* ---- the race check ---------------------------------------------------------- */

/* Never a bare DSB: it runs on the PTL holder's CPU, which did not issue the
 * batch's TLBIs, so it must invalidate the ASID itself and complete that. */
static void race_check_is_asid_invalidate_plus_dsb_never_bare_dsb(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &sp, 0x7000, 0); /* another context's batch */
	nlog = 0;
	assert_true(tlbb_flush_pending(&sp));
	expect_len(3);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	/* nothing outstanding any more: the next check issues nothing */
	nlog = 0;
	assert_false(tlbb_flush_pending(&sp));
	expect_len(0);
}

static void race_check_on_global_space_is_vmalle1is_dsb_isb(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &kspace, 0xffff000000001000ull, 0);
	nlog = 0;
	assert_true(tlbb_flush_pending(&kspace));
	expect_len(4);
	expect_at(1, TLBB_A64_TLBI_VMALLE1IS, 0);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_at(3, TLBB_A64_ISB, 0);
}

/* ---- should_defer and the repeat-TLBI erratum -------------------------------- */

static void should_defer_true_by_default(void **state)
{
	(void)state;
	assert_true(tlbb_should_defer(&sp));
	/* the const default instance too */
	struct tlbb_space s;
	assert_int_equal(tlbb_space_init(&s, &tlbb_arm64_backend, 1, NULL), TLBB_OK);
	assert_true(tlbb_should_defer(&s));
}

static void erratum_mode_should_defer_false_and_tlbi_dsb_tlbi(void **state)
{
	(void)state;
	assert_false(tlbb_should_defer(&sp));
	tlbb_add_page(&batch, &sp, 0x3000, 0);
	tlbb_flush(&batch);
	expect_len(5);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_VAE1IS, 0x002a000000000003ull);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_at(3, TLBB_A64_TLBI_VAE1IS, 0x002a000000000003ull);
	expect_at(4, TLBB_A64_DSB_ISH, 0); /* the repeated TLBI still needs completing */
}

/* Under the erratum each TLBI is TLBI; DSB ISH; TLBI: both TLBIs are
 * instructions the CPU executes and broadcasts, so stats->tlbi counts two per
 * invalidation and stats->dsb_ish counts the DSB between them. */
static void erratum_stats_count_both_tlbis_of_each_pair(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x3000, 0x5000, 0);
	tlbb_flush(&batch);
	expect_len(8);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_VAE1IS, 0x002a000000000003ull);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_at(3, TLBB_A64_TLBI_VAE1IS, 0x002a000000000003ull);
	expect_at(4, TLBB_A64_TLBI_VAE1IS, 0x002a000000000004ull);
	expect_at(5, TLBB_A64_DSB_ISH, 0);
	expect_at(6, TLBB_A64_TLBI_VAE1IS, 0x002a000000000004ull);
	expect_at(7, TLBB_A64_DSB_ISH, 0);
	assert_int_equal(stats.tlbi, 4);
	assert_int_equal(stats.tlbi_asid, 0);
	assert_int_equal(stats.dsb_ishst, 1);
	assert_int_equal(stats.dsb_ish, 3);
	assert_int_equal(stats.isb, 0);
	expect_stats_match_log(&stats);
}

/* tlbi_asid is "of which whole-space": a repeated ASIDE1IS / VMALLE1IS is a
 * second whole-space instruction, so it counts in both counters (otherwise
 * tlbi - tlbi_asid would report by-VA TLBIs that were never issued). The
 * global space's pair is followed by the flush's DSB ISH and one ISB. */
static void erratum_whole_space_pairs_count_as_whole_space_tlbis(void **state)
{
	(void)state;
	tlbb_add_space(&batch, &sp, 0);
	tlbb_add_space(&batch, &kspace, 0);
	tlbb_flush(&batch);
	expect_len(10);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_at(3, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	expect_at(4, TLBB_A64_DSB_ISHST, 0);
	expect_at(5, TLBB_A64_TLBI_VMALLE1IS, 0);
	expect_at(6, TLBB_A64_DSB_ISH, 0);
	expect_at(7, TLBB_A64_TLBI_VMALLE1IS, 0);
	expect_at(8, TLBB_A64_DSB_ISH, 0);
	expect_at(9, TLBB_A64_ISB, 0);
	assert_int_equal(stats.tlbi, 4);
	assert_int_equal(stats.tlbi_asid, 4);
	assert_int_equal(stats.isb, 1);
	expect_stats_match_log(&stats);
}

/* ---- FEAT_TLBIRANGE ------------------------------------------------------------ */

static void range_two_pages_one_rvae1is_scale0_num0(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40002000, 0);
	expect_len(2);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	/* ASID 0x2a | TG 01 | SCALE 0 | NUM 0 | base 0x40000 */
	expect_at(1, TLBB_A64_TLBI_RVAE1IS, 0x002a400000040000ull);
}

static void range_odd_count_one_single_then_range(void **state)
{
	(void)state;
	/* 7 pages = 1 single (VAE1IS) + 6 as SCALE 0 NUM 2 from the next page */
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40007000, 0);
	expect_len(3);
	expect_at(1, TLBB_A64_TLBI_VAE1IS, 0x002a000000040000ull);
	expect_at(2, TLBB_A64_TLBI_RVAE1IS, 0x002a410000040001ull);
}

static void range_512_pages_is_one_scale1_num7(void **state)
{
	(void)state;
	/* 512 = 8 * 2^(5*1+1): SCALE 1, NUM 7 */
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40000000 + 512 * PAGE, 0);
	expect_len(2);
	expect_at(1, TLBB_A64_TLBI_RVAE1IS, 0x002a538000040000ull);
}

static void range_mixed_digits_low_scale_first(void **state)
{
	(void)state;
	/* 66 pages = 2 (SCALE 0, NUM 0) + 64 (SCALE 1, NUM 0) */
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40000000 + 66 * PAGE, 0);
	expect_len(3);
	expect_at(1, TLBB_A64_TLBI_RVAE1IS, 0x002a400000040000ull);
	/* base moved up by 2 pages */
	expect_at(2, TLBB_A64_TLBI_RVAE1IS, 0x002a500000040002ull);
}

static void range_beyond_scale3_uses_whole_max_ops(void **state)
{
	(void)state;
	tlbb_space_set_threshold(&sp, 1u << 23);
	/* 2^22 pages = two ops of SCALE 3 NUM 31 (2^21 each) */
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40000000 + (1ull << 22) * PAGE, 0);
	expect_len(3);
	expect_at(1, TLBB_A64_TLBI_RVAE1IS, 0x002a7f8000040000ull);
	/* second base: 0x4000_0000 + 2^33 -> >>12 = 0x240000 */
	expect_at(2, TLBB_A64_TLBI_RVAE1IS, 0x002a7f8000240000ull);
}

static void range_leaf_and_global_forms(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40002000, TLBB_ADD_LEAF_ONLY);
	tlbb_space_set_granule(&kspace, 12);
	tlbb_add_range(&batch, &kspace, 0x40000000, 0x40002000, 0);
	expect_len(4);
	expect_at(1, TLBB_A64_TLBI_RVALE1IS, 0x002a400000040000ull);
	/* all-ASID form: the ASID field is zero */
	expect_at(3, TLBB_A64_TLBI_RVAAE1IS, 0x0000400000040000ull);
}

static void range_16k_granule(void **state)
{
	(void)state;
	tlbb_space_set_granule(&sp, 14);
	/* 4 granules of 16K: SCALE 0 NUM 1, TG 10, base 0x8000_0000>>14 */
	tlbb_add_range(&batch, &sp, 0x80000000, 0x80000000 + 4 * 0x4000, 0);
	expect_len(2);
	expect_at(1, TLBB_A64_TLBI_RVAE1IS, 0x002a808000020000ull);
}

static void range_not_used_where_base_field_cannot_name_the_va(void **state)
{
	(void)state;
	/* TTBR1 (kernel) addresses: upper bits do not fit BaseADDR -> per page */
	tlbb_add_range(&batch, &kspace, 0xffff000008000000ull, 0xffff000008002000ull, 0);
	expect_len(3);
	expect_at(1, TLBB_A64_TLBI_VAAE1IS, 0x00000ff000008000ull);
	expect_at(2, TLBB_A64_TLBI_VAAE1IS, 0x00000ff000008001ull);
}

/* A global space's last-level range: the all-ASID leaf forms, VAALE1IS for
 * the odd page and RVAALE1IS for the rest, and the ASID field zero even
 * though the space's id is not (global entries match every ASID). */
static void range_global_leaf_only_is_vaale1is_then_rvaale1is(void **state)
{
	(void)state;
	struct tlbb_space g;

	assert_int_equal(tlbb_space_init(&g, &be, 7, NULL), TLBB_OK);
	tlbb_space_set_global(&g, true);
	tlbb_space_set_granule(&g, 12);
	/* 3 pages = 1 single + SCALE 0 NUM 0 from the next page */
	tlbb_add_range(&batch, &g, 0x40000000, 0x40003000, TLBB_ADD_LEAF_ONLY);
	tlbb_flush(&batch);
	expect_len(5);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_VAALE1IS, 0x0000000000040000ull);
	/* ASID 0 | TG 01 | SCALE 0 | NUM 0 | base 0x40001 */
	expect_at(2, TLBB_A64_TLBI_RVAALE1IS, 0x0000400000040001ull);
	expect_at(3, TLBB_A64_DSB_ISH, 0);
	expect_at(4, TLBB_A64_ISB, 0);
	expect_stats_match_log(&stats);
}

/* The op limit (max_tlbi_ops, here 3) applies to the range plan's ops,
 * counted before anything is issued. A plan of exactly 3 ops is issued as
 * planned: 2114 pages = 2 + 64 + 2048 -> SCALE 0/1/2, NUM 0 each. */
static void range_plan_of_exactly_max_ops_is_issued(void **state)
{
	(void)state;
	tlbb_space_set_threshold(&sp, 1u << 23);
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40000000 + 2114 * PAGE, 0);
	expect_len(4);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	/* ASID 0x2a | TG 01 | SCALE 0 | NUM 0 | base 0x40000 */
	expect_at(1, TLBB_A64_TLBI_RVAE1IS, 0x002a400000040000ull);
	/* SCALE 1 (bits 45:44 = 01), base + 2 pages */
	expect_at(2, TLBB_A64_TLBI_RVAE1IS, 0x002a500000040002ull);
	/* SCALE 2 (bits 45:44 = 10), base + 66 pages = 0x40042 */
	expect_at(3, TLBB_A64_TLBI_RVAE1IS, 0x002a600000040042ull);
}

/* One page more: the odd page takes a single TLBI first, 4 ops > 3, so the
 * whole add becomes one ASIDE1IS (the single-page op counts). */
static void range_plan_one_single_over_max_ops_is_one_aside1is(void **state)
{
	(void)state;
	tlbb_space_set_threshold(&sp, 1u << 23);
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40000000 + 2115 * PAGE, 0);
	expect_len(2);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	assert_int_equal(stats.tlbi, 1);
	assert_int_equal(stats.tlbi_asid, 1);
}

/* Four range ops and no single (2 + 64 + 2048 + 65536 pages, SCALE 0..3
 * NUM 0): over the limit by a range op, so again one ASIDE1IS (range ops
 * count as well as single pages). */
static void range_plan_one_range_op_over_max_ops_is_one_aside1is(void **state)
{
	(void)state;
	tlbb_space_set_threshold(&sp, 1u << 23);
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40000000 + 67650ull * PAGE, 0);
	expect_len(2);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	assert_int_equal(stats.tlbi_asid, 1);
}

/* Range ops under the erratum: each op, single or range, is repeated after
 * a DSB ISH, and the batch still ends with its own DSB ISH. */
static void range_erratum_repeats_each_op_after_a_dsb(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40007000, 0);
	tlbb_flush(&batch);
	expect_len(8);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_VAE1IS, 0x002a000000040000ull);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_at(3, TLBB_A64_TLBI_VAE1IS, 0x002a000000040000ull);
	expect_at(4, TLBB_A64_TLBI_RVAE1IS, 0x002a410000040001ull);
	expect_at(5, TLBB_A64_DSB_ISH, 0);
	expect_at(6, TLBB_A64_TLBI_RVAE1IS, 0x002a410000040001ull);
	expect_at(7, TLBB_A64_DSB_ISH, 0);
	assert_int_equal(stats.tlbi, 4);
	expect_stats_match_log(&stats);
}

/* ---- FEAT_LPA2 ------------------------------------------------------------------- */

/*
 * A range that is not 64 KiB aligned, 4K granule: [0x4000_3000, 0x4000_7000),
 * 4 pages. Without LPA2 this is one RVAE1IS with BaseADDR 0x40003 (VA>>12);
 * under DS = 1 that field would be read as VA 0x40003 << 16 = 0x4_0003_0000,
 * nowhere near the range. With lpa2: start aligned down to 0x4000_0000,
 * pages recounted from there: (0x4000_7000 - 0x4000_0000) >> 12 = 7.
 * High scales first: digits of 7 at SCALE 3..1 are 0; SCALE 0 digit
 * (7 >> 1) & 31 = 3 -> NUM 2, 6 pages [0x4000_0000, 0x4000_6000), then one
 * page left: VAE1IS at 0x4000_6000. Covered [0x4000_0000, 0x4000_7000), a
 * superset of the request.
 *   RVAE1IS: ASID 0x2a | TG 01 (bit 46) | SCALE 00 | NUM 00010 (2 << 39 =
 *            0x100_0000_0000) | TTL 00 | BaseADDR 0x4000_0000 >> 16 = 0x4000
 *            = 0x002a_4100_0000_4000
 *   VAE1IS:  ASID 0x2a | VA[55:12] = 0x40006 = 0x002a_0000_0004_0006
 */
static void lpa2_unaligned_range_is_aligned_down_and_recounted(void **state)
{
	(void)state;
	assert_int_equal(tlbb_add_range(&batch, &sp, 0x40003000, 0x40007000, 0), TLBB_OK);
	tlbb_flush(&batch);
	expect_len(4);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_RVAE1IS, 0x002a410000004000ull);
	expect_at(2, TLBB_A64_TLBI_VAE1IS, 0x002a000000040006ull);
	expect_at(3, TLBB_A64_DSB_ISH, 0);
	expect_stats_match_log(&stats);
}

/* An aligned even range: one op, BaseADDR = VA >> 16.
 * [0x4000_0000, 0x4000_2000): 2 pages, SCALE 0 NUM 0, base 0x4000. */
static void lpa2_aligned_two_pages_one_op_base_in_64k_units(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40002000, 0);
	expect_len(2);
	expect_at(1, TLBB_A64_TLBI_RVAE1IS, 0x002a400000004000ull);
}

/*
 * Largest scale first keeps every range op's base 64 KiB aligned.
 * [0x4000_1000, +130 pages) = [0x4000_1000, 0x4008_3000); aligned down:
 * 0x4000_0000, 0x83000 >> 12 = 131 pages.
 *   SCALE 1: (131 >> 6) & 31 = 2 -> NUM 1, 128 pages from 0x4000_0000:
 *            ASID | TG 01 | SCALE 01 (bit 44) | NUM 1 (bit 39) | 0x4000
 *            = 0x002a_5080_0000_4000
 *   SCALE 0: 3 left, (3 >> 1) & 31 = 1 -> NUM 0, 2 pages from 0x4008_0000
 *            (= 0x4000_0000 + 128 * 4K, 64 KiB aligned): base 0x4008
 *            = 0x002a_4000_0000_4008
 *   single:  0x4008_2000 -> VA[55:12] 0x40082 = 0x002a_0000_0004_0082
 * (The non-LPA2 plan goes low scale first, base + 2 pages after the first
 * op: that base, 0x4000_3000, could not be expressed at all under DS = 1.)
 */
static void lpa2_high_scale_first_keeps_every_base_aligned(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x40001000, 0x40001000 + 130 * PAGE, 0);
	expect_len(4);
	expect_at(1, TLBB_A64_TLBI_RVAE1IS, 0x002a508000004000ull);
	expect_at(2, TLBB_A64_TLBI_RVAE1IS, 0x002a400000004008ull);
	expect_at(3, TLBB_A64_TLBI_VAE1IS, 0x002a000000040082ull);
}

/*
 * 16K granule, unaligned: [0x8000_4000, 0x8001_4000), 4 granules. Aligned
 * down to 0x8000_0000: 0x14000 >> 14 = 5 granules. SCALE 0 digit
 * (5 >> 1) = 2 -> NUM 1, 4 granules [0x8000_0000, 0x8001_0000); one left,
 * VAE1IS at 0x8001_0000.
 *   RVAE1IS: ASID 0x2a | TG 10 (bit 47) | NUM 1 (bit 39) | 0x8000_0000 >> 16
 *            = 0x002a_8080_0000_8000 (TG still names the 16K granule)
 *   VAE1IS:  VA[55:12] = 0x80010 -> 0x002a_0000_0008_0010
 */
static void lpa2_16k_granule_unaligned(void **state)
{
	(void)state;
	tlbb_space_set_granule(&sp, 14);
	tlbb_add_range(&batch, &sp, 0x80004000, 0x80014000, 0);
	expect_len(3);
	expect_at(1, TLBB_A64_TLBI_RVAE1IS, 0x002a808000008000ull);
	expect_at(2, TLBB_A64_TLBI_VAE1IS, 0x002a000000080010ull);
}

/* The single-page operand does not change under LPA2 (VA[55:12] in 43:0,
 * TTL 0): without range ops an lpa2 configuration issues exactly what the
 * default one does. */
static void lpa2_single_page_operands_unchanged(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x40003000, 0x40005000, 0);
	expect_len(3);
	expect_at(1, TLBB_A64_TLBI_VAE1IS, 0x002a000000040003ull);
	expect_at(2, TLBB_A64_TLBI_VAE1IS, 0x002a000000040004ull);
}

/* BaseADDR reaches VA[52:16] under LPA2, so a range at 2^50 (beyond the
 * 4K non-LPA2 reach of VA[48:12]) is a range op: base 2^50 >> 16 = 2^34 =
 * 0x4_0000_0000 -> 0x002a_4004_0000_0000. */
static void lpa2_range_reaches_52_bit_vas(void **state)
{
	(void)state;
	const uint64_t va = 1ull << 50;

	tlbb_add_range(&batch, &sp, va, va + 2 * PAGE, 0);
	expect_len(2);
	expect_at(1, TLBB_A64_TLBI_RVAE1IS, 0x002a400400000000ull);
}

/* The limit counts the LPA2 plan, recount included: the 131-page plan
 * above is 3 ops > 2 -> one ASIDE1IS; the 7-page plan is 2 ops, issued. */
static void lpa2_plan_counts_against_max_ops(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x40001000, 0x40001000 + 130 * PAGE, 0);
	expect_len(2);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	nlog = 0;
	tlbb_add_range(&batch, &sp, 0x40003000, 0x40007000, 0);
	expect_len(3);
	expect_at(1, TLBB_A64_TLBI_RVAE1IS, 0x002a410000004000ull);
	expect_at(2, TLBB_A64_TLBI_VAE1IS, 0x002a000000040006ull);
}

/* ---- KPTI-style paired ASIDs ------------------------------------------------------- */

/* Every by-VA TLBI of a non-global space goes out for id & ~1 and id | 1,
 * even first, per page: ASID 0x2a -> 0x002a... then 0x002b... */
static void paired_each_page_for_even_then_odd_asid(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x40000000, 0x40002000, 0);
	tlbb_flush(&batch);
	expect_len(6);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_VAE1IS, 0x002a000000040000ull);
	expect_at(2, TLBB_A64_TLBI_VAE1IS, 0x002b000000040000ull);
	expect_at(3, TLBB_A64_TLBI_VAE1IS, 0x002a000000040001ull);
	expect_at(4, TLBB_A64_TLBI_VAE1IS, 0x002b000000040001ull);
	expect_at(5, TLBB_A64_DSB_ISH, 0);
	expect_stats_match_log(&stats);
}

/* An odd s->id names the same pair: 0x1235 -> 0x1234, 0x1235 (leaf form). */
static void paired_odd_id_gives_the_same_pair(void **state)
{
	(void)state;
	struct tlbb_space u;

	assert_int_equal(tlbb_space_init(&u, &be, 0x1235, NULL), TLBB_OK);
	tlbb_add_page(&batch, &u, 0x5000, TLBB_ADD_LEAF_ONLY);
	expect_len(3);
	expect_at(1, TLBB_A64_TLBI_VALE1IS, 0x1234000000000005ull);
	expect_at(2, TLBB_A64_TLBI_VALE1IS, 0x1235000000000005ull);
}

/* Global spaces are not paired: the all-ASID forms match both halves. */
static void paired_global_space_is_not_paired(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &kspace, 0xffff000008000000ull, 0);
	tlbb_add_space(&batch, &kspace, 0);
	tlbb_flush(&batch);
	expect_len(6);
	expect_at(1, TLBB_A64_TLBI_VAAE1IS, 0x00000ff000008000ull);
	expect_at(3, TLBB_A64_TLBI_VMALLE1IS, 0);
	expect_at(4, TLBB_A64_DSB_ISH, 0);
	expect_at(5, TLBB_A64_ISB, 0);
}

/* The race check invalidates both ASIDs before its one DSB ISH. */
static void paired_race_check_is_aside1is_for_both(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &sp, 0x7000, 0);
	nlog = 0;
	assert_true(tlbb_flush_pending(&sp));
	expect_len(4);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	expect_at(2, TLBB_A64_TLBI_ASIDE1IS, 0x002b000000000000ull);
	expect_at(3, TLBB_A64_DSB_ISH, 0);
}

/* fini and set_id release both halves of the old pair:
 * 0x1234 -> 0x1234, 0x1235, never the new id's 0x0076/0x0077. */
static void paired_fini_and_set_id_release_the_old_pair(void **state)
{
	(void)state;
	assert_int_equal(tlbb_space_set_id(&sp2, 0x77), TLBB_OK);
	expect_len(4);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x1234000000000000ull);
	expect_at(2, TLBB_A64_TLBI_ASIDE1IS, 0x1235000000000000ull);
	expect_at(3, TLBB_A64_DSB_ISH, 0);
	expect_stats_match_log(&stats);
	nlog = 0;
	memset(&stats, 0, sizeof(stats));
	assert_int_equal(tlbb_space_fini(&sp2), TLBB_OK);
	expect_len(4);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x0076000000000000ull);
	expect_at(2, TLBB_A64_TLBI_ASIDE1IS, 0x0077000000000000ull);
	expect_stats_match_log(&stats);
}

/* max_tlbi_ops counts TLBI instructions, a pair as two: limit 8 lets
 * 4 pages through (8 TLBIs); 5 pages would be 10 -> the ASIDE1IS pair. */
static void paired_limit_counts_both_tlbis_of_a_pair(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x1000, 0x1000 + 4 * PAGE, 0);
	expect_len(1 + 8);
	assert_int_equal(count_op(TLBB_A64_TLBI_VAE1IS), 8);
	nlog = 0;
	memset(&stats, 0, sizeof(stats));
	tlbb_add_range(&batch, &sp, 0x1000, 0x1000 + 5 * PAGE, 0);
	expect_len(3);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	expect_at(2, TLBB_A64_TLBI_ASIDE1IS, 0x002b000000000000ull);
	assert_int_equal(stats.tlbi, 2);
	assert_int_equal(stats.tlbi_asid, 2);
}

/* Range ops are paired too, and compose with LPA2: the 7-page plan of
 * lpa2_unaligned_range_is_aligned_down_and_recounted, each op for 0x2a then
 * 0x2b (ASID field 63:48 the only difference). */
static void paired_lpa2_range_ops_each_for_both_asids(void **state)
{
	(void)state;
	tlbb_add_range(&batch, &sp, 0x40003000, 0x40007000, TLBB_ADD_LEAF_ONLY);
	expect_len(5);
	expect_at(1, TLBB_A64_TLBI_RVALE1IS, 0x002a410000004000ull);
	expect_at(2, TLBB_A64_TLBI_RVALE1IS, 0x002b410000004000ull);
	expect_at(3, TLBB_A64_TLBI_VALE1IS, 0x002a000000040006ull);
	expect_at(4, TLBB_A64_TLBI_VALE1IS, 0x002b000000040006ull);
}

/* With the erratum each TLBI of the pair is repeated on its own. */
static void paired_erratum_repeats_each_half(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &sp, 0x3000, 0);
	expect_len(7);
	expect_at(1, TLBB_A64_TLBI_VAE1IS, 0x002a000000000003ull);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_at(3, TLBB_A64_TLBI_VAE1IS, 0x002a000000000003ull);
	expect_at(4, TLBB_A64_TLBI_VAE1IS, 0x002b000000000003ull);
	expect_at(5, TLBB_A64_DSB_ISH, 0);
	expect_at(6, TLBB_A64_TLBI_VAE1IS, 0x002b000000000003ull);
}

/* ---- the life of a space: releasing the ASID ---------------------------------------- */

/* fini with nothing outstanding: the backend's space_fini alone,
 * DSB ISHST; TLBI ASIDE1IS(0x2a); DSB ISH, no ISB; afterwards the space is
 * dead (EINVAL, nothing issued) and the same ASID may start a new space. */
static void fini_is_dsb_ishst_aside1is_dsb_ish(void **state)
{
	(void)state;
	assert_int_equal(tlbb_space_fini(&sp), TLBB_OK);
	expect_len(3);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_stats_match_log(&stats);
	nlog = 0;
	assert_int_equal(tlbb_add_page(&batch, &sp, 0x1000, 0), TLBB_EINVAL);
	assert_int_equal(tlbb_space_fini(&sp), TLBB_EINVAL);
	expect_len(0);
	assert_int_equal(tlbb_space_init(&sp, &be, ASID, NULL), TLBB_OK);
	tlbb_add_page(&batch, &sp, 0x1000, 0);
	expect_at(1, TLBB_A64_TLBI_VAE1IS, 0x002a000000000001ull);
}

/* A batch flushed without a race check since leaves pending != flushed:
 * fini first completes that (the core's race check), then releases the
 * ASID (the hook): two whole-ASID sequences, in that order. */
static void fini_after_batched_work_race_check_then_release(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &sp, 0x7000, 0);
	tlbb_flush(&batch);
	assert_true(tlbb_space_has_pending(&sp));
	nlog = 0;
	assert_int_equal(tlbb_space_fini(&sp), TLBB_OK);
	expect_len(6);
	for (unsigned i = 0; i < 2; i++) {
		expect_at(3 * i, TLBB_A64_DSB_ISHST, 0);
		expect_at(3 * i + 1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
		expect_at(3 * i + 2, TLBB_A64_DSB_ISH, 0);
	}
}

/* A global space is released with VMALLE1IS (nG=0 entries match every
 * ASID; ASIDE1IS would leave them), then DSB ISH and the global ISB. */
static void fini_global_space_is_vmalle1is_dsb_ish_isb(void **state)
{
	(void)state;
	assert_int_equal(tlbb_space_fini(&kspace), TLBB_OK);
	expect_len(4);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_VMALLE1IS, 0);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_at(3, TLBB_A64_ISB, 0);
	assert_int_equal(count_op(TLBB_A64_TLBI_ASIDE1IS), 0);
}

/* set_id invalidates the OLD ASID (0x2a), never the new one (0x77), and
 * the space's later operations carry the new one. */
static void set_id_releases_the_old_asid_not_the_new(void **state)
{
	(void)state;
	assert_int_equal(tlbb_space_set_id(&sp, 0x77), TLBB_OK);
	expect_len(3);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	nlog = 0;
	tlbb_add_page(&batch, &sp, 0x1000, 0);
	expect_at(1, TLBB_A64_TLBI_VAE1IS, 0x0077000000000001ull);
}

/* Under the erratum the release is repeated like every TLBI. */
static void fini_erratum_repeats_the_aside1is(void **state)
{
	(void)state;
	tlbb_space_fini(&sp);
	expect_len(5);
	expect_at(1, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_at(3, TLBB_A64_TLBI_ASIDE1IS, 0x002a000000000000ull);
	expect_at(4, TLBB_A64_DSB_ISH, 0);
}

/* Runnable from any CPU: it completes its own TLBI with its own DSB and
 * touches no batch, so even the debug build asks the port nothing; and
 * both the const backend and backend_init() carry the hook (without it the
 * core would fall back to flush_space). */
static void fini_runs_on_any_cpu_and_is_a_real_hook(void **state)
{
	(void)state;
	cur_cpu = 0;
	tlbb_add_page(&batch, &sp2, 0x1000, 0);
	tlbb_flush(&batch);
	cur_cpu = 3;
	cpu_id_calls = 0;
	nlog = 0;
	tlbb_space_fini(&sp);
	assert_int_equal(cpu_id_calls, 0);
	assert_int_equal(debug_fails, 0);
	expect_len(3);
	assert_non_null(tlbb_arm64_backend.space_fini);
	assert_ptr_equal(be.space_fini, tlbb_arm64_backend.space_fini);
}

/* ---- the issuing-CPU rule -------------------------------------------------------- */

static void context_switch_with_queued_tlbis_executes_dsb_ish(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &sp, 0x9000, 0);
	nlog = 0;
	tlbb_arm64_context_switch(&batch);
	expect_len(1);
	expect_at(0, TLBB_A64_DSB_ISH, 0);
	/* still pending for the core: the flush still runs (one more DSB) */
	assert_true(tlbb_batch_pending(&batch));
	tlbb_flush(&batch);
	expect_len(2);
}

static void context_switch_with_empty_batch_is_free_null_is_unconditional(void **state)
{
	(void)state;
	tlbb_arm64_context_switch(&batch);
	expect_len(0);
	tlbb_add_page(&batch, &sp, 0x9000, 0);
	tlbb_flush(&batch);
	nlog = 0;
	tlbb_arm64_context_switch(&batch); /* flushed: nothing queued */
	expect_len(0);
	tlbb_arm64_context_switch(NULL);   /* the port does not track batches */
	expect_len(1);
	expect_at(0, TLBB_A64_DSB_ISH, 0);
}

#ifdef TLBB_DEBUG
static void debug_flush_on_other_cpu_without_switch_barrier_fails(void **state)
{
	(void)state;
	cur_cpu = 0;
	tlbb_add_page(&batch, &sp, 0x9000, 0);
	cur_cpu = 1; /* the task migrated; the port forgot tlbb_arm64_context_switch() */
	tlbb_flush(&batch);
	assert_int_equal(debug_fails, 1);
	assert_non_null(strstr(last_fail, "context_switch"));
}

static void debug_flush_on_other_cpu_after_switch_barrier_passes(void **state)
{
	(void)state;
	cur_cpu = 0;
	tlbb_add_page(&batch, &sp, 0x9000, 0);
	tlbb_arm64_context_switch(&batch);
	cur_cpu = 1;
	tlbb_flush(&batch);
	assert_int_equal(debug_fails, 0);
	assert_true(cpu_id_calls >= 2); /* the check really asked the port */
}

static void debug_adds_from_two_cpus_without_barrier_fail(void **state)
{
	(void)state;
	cur_cpu = 2;
	tlbb_add_page(&batch, &sp, 0x9000, 0);
	cur_cpu = 3;
	tlbb_add_page(&batch, &sp, 0xa000, 0);
	assert_int_equal(debug_fails, 1);
}

static void debug_same_cpu_batch_passes(void **state)
{
	(void)state;
	cur_cpu = 5;
	for (unsigned i = 0; i < 4; i++)
		tlbb_add_page(&batch, &sp, 0x9000 + i * PAGE, 0);
	tlbb_flush(&batch);
	/* a fresh batch may start on another CPU */
	cur_cpu = 6;
	tlbb_add_page(&batch, &sp, 0x9000, 0);
	tlbb_flush(&batch);
	assert_int_equal(debug_fails, 0);
}
#else
static void release_build_never_calls_port_hooks(void **state)
{
	(void)state;
	cur_cpu = 0;
	tlbb_add_page(&batch, &sp, 0x9000, 0);
	cur_cpu = 1;
	tlbb_flush(&batch);
	tlbb_flush_pending(&sp);
	assert_int_equal(cpu_id_calls, 0);
	assert_int_equal(debug_fails, 0);
}
#endif

static void backend_init_rejects_null(void **state)
{
	(void)state;
	assert_int_equal(tlbb_arm64_backend_init(NULL, NULL), TLBB_EINVAL);
	struct tlbb_backend b2;
	assert_int_equal(tlbb_arm64_backend_init(&b2, NULL), TLBB_OK);
	assert_string_equal(b2.name, "arm64");
	assert_null(b2.ctx);
}

#define T(fn, setup) cmocka_unit_test_setup(fn, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(encoding_va_operand_is_asid_and_va_55_12, setup_default),
		T(encoding_range_operand_fields, setup_default),
		T(add_range_n_pages_is_one_dsb_ishst_then_n_tlbi_vae1is, setup_default),
		T(flush_is_exactly_one_dsb_ish_for_the_whole_batch, setup_default),
		T(leaf_only_add_uses_tlbi_vale1is, setup_default),
		T(one_batch_two_asids_one_dsb, setup_default),
		T(granule_64k_steps_by_64k, setup_default),
		T(sync_range_flush_is_dsb_ishst_tlbis_dsb_ish, setup_default),
		T(global_space_uses_all_asid_forms_and_isb_after_dsb, setup_default),
		T(user_space_flush_has_no_isb, setup_default),
		T(isb_once_per_flush_of_a_batch_that_touched_a_global_space, setup_default),
		T(default_limit_512_pages_stay_per_page, setup_default),
		T(over_default_limit_513_pages_is_one_aside1is, setup_default),
		T(configured_limit_8, setup_limit8),
		T(whole_space_add_is_aside1is_and_global_is_vmalle1is, setup_default),
		T(race_check_is_asid_invalidate_plus_dsb_never_bare_dsb, setup_default),
		T(race_check_on_global_space_is_vmalle1is_dsb_isb, setup_default),
		T(should_defer_true_by_default, setup_default),
		T(erratum_mode_should_defer_false_and_tlbi_dsb_tlbi, setup_erratum),
		T(erratum_stats_count_both_tlbis_of_each_pair, setup_erratum),
		T(erratum_whole_space_pairs_count_as_whole_space_tlbis, setup_erratum),
		T(range_two_pages_one_rvae1is_scale0_num0, setup_range),
		T(range_odd_count_one_single_then_range, setup_range),
		T(range_512_pages_is_one_scale1_num7, setup_range),
		T(range_mixed_digits_low_scale_first, setup_range),
		T(range_beyond_scale3_uses_whole_max_ops, setup_range),
		T(range_leaf_and_global_forms, setup_range),
		T(range_16k_granule, setup_range),
		T(range_not_used_where_base_field_cannot_name_the_va, setup_range),
		T(range_global_leaf_only_is_vaale1is_then_rvaale1is, setup_range),
		T(range_plan_of_exactly_max_ops_is_issued, setup_range_limit3),
		T(range_plan_one_single_over_max_ops_is_one_aside1is, setup_range_limit3),
		T(range_plan_one_range_op_over_max_ops_is_one_aside1is, setup_range_limit3),
		T(range_erratum_repeats_each_op_after_a_dsb, setup_range_erratum),
		T(encoding_range_operand_lpa2_base_is_va_52_16, setup_default),
		T(lpa2_unaligned_range_is_aligned_down_and_recounted, setup_lpa2),
		T(lpa2_aligned_two_pages_one_op_base_in_64k_units, setup_lpa2),
		T(lpa2_high_scale_first_keeps_every_base_aligned, setup_lpa2),
		T(lpa2_16k_granule_unaligned, setup_lpa2),
		T(lpa2_single_page_operands_unchanged, setup_lpa2_no_range),
		T(lpa2_range_reaches_52_bit_vas, setup_lpa2),
		T(lpa2_plan_counts_against_max_ops, setup_lpa2_limit2),
		T(paired_each_page_for_even_then_odd_asid, setup_paired),
		T(paired_odd_id_gives_the_same_pair, setup_paired),
		T(paired_global_space_is_not_paired, setup_paired),
		T(paired_race_check_is_aside1is_for_both, setup_paired),
		T(paired_fini_and_set_id_release_the_old_pair, setup_paired),
		T(paired_limit_counts_both_tlbis_of_a_pair, setup_paired_limit8),
		T(paired_lpa2_range_ops_each_for_both_asids, setup_paired_range_lpa2),
		T(paired_erratum_repeats_each_half, setup_paired_erratum),
		T(fini_is_dsb_ishst_aside1is_dsb_ish, setup_default),
		T(fini_after_batched_work_race_check_then_release, setup_default),
		T(fini_global_space_is_vmalle1is_dsb_ish_isb, setup_default),
		T(set_id_releases_the_old_asid_not_the_new, setup_default),
		T(fini_erratum_repeats_the_aside1is, setup_erratum),
		T(fini_runs_on_any_cpu_and_is_a_real_hook, setup_default),
		T(context_switch_with_queued_tlbis_executes_dsb_ish, setup_default),
		T(context_switch_with_empty_batch_is_free_null_is_unconditional, setup_default),
#ifdef TLBB_DEBUG
		T(debug_flush_on_other_cpu_without_switch_barrier_fails, setup_default),
		T(debug_flush_on_other_cpu_after_switch_barrier_passes, setup_default),
		T(debug_adds_from_two_cpus_without_barrier_fail, setup_default),
		T(debug_same_cpu_batch_passes, setup_default),
#else
		T(release_build_never_calls_port_hooks, setup_default),
#endif
		T(backend_init_rejects_null, setup_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
