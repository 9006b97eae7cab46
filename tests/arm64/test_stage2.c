/* SPDX-License-Identifier: MIT */
/*
 * The arm64 stage-2 backend, instruction by instruction.
 *
 * arch/arm64/stage2.c is compiled into this program with TLBB_ARM64_RECORD:
 * every DSB, ISB, TLBI and VTTBR_EL2 write it would execute is appended to a
 * log, and VTTBR_EL2 is modelled (MRS reads what the last MSR wrote). The
 * tests drive the real core and assert the exact sequence and operands.
 * Expected operands are written out by hand from the Arm ARM field layouts
 * (the comments show the fields), never computed with the encoder under
 * test:
 *   C5.5.14 TLBI IPAS2E1IS      NS 63, TTL 47:44, IPA[51:48] 39:36, IPA[47:12] 35:0
 *   C5.5.22 TLBI RIPAS2E1IS     NS 63, TG 47:46, SCALE 45:44, NUM 43:39,
 *                               TTL 38:37, BaseADDR 36:0
 *   VTTBR_EL2                   VMID 63:48, BADDR 47:1, CnP 0
 * Every by-IPA and by-VMID TLBI acts on the VMID in VTTBR_EL2 at execution,
 * made current by an ISB after the write ("Synchronization requirements for
 * AArch64 System registers"): the log checker below computes, for each TLBI,
 * the VMID in effect, and the tests assert it.
 *
 * Built twice: plain, and with TLBB_DEBUG (the issuing-CPU checks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <tlbbatch/arm64_s2.h>
#include <tlbbatch/port.h>

#include "tlbi.h"

/* ---- the recorder and the VTTBR_EL2 model ------------------------------------ */

struct insn {
	enum tlbb_a64_insn op;
	uint64_t arg;
};

#define LOG_MAX 8192
static struct insn log_[LOG_MAX];
static size_t nlog, log_overflow;
static uint64_t vttbr_reg; /* what MRS VTTBR_EL2 reads */
static uint64_t vttbr_at_start;

void tlbb_a64_record(enum tlbb_a64_insn insn, uint64_t operand)
{
	if (insn == TLBB_A64_MSR_VTTBR)
		vttbr_reg = operand;
	if (nlog < LOG_MAX)
		log_[nlog++] = (struct insn){insn, operand};
	else
		log_overflow++;
}

uint64_t tlbb_a64_record_read_vttbr(void)
{
	return vttbr_reg;
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

static size_t count_op(enum tlbb_a64_insn op)
{
	size_t n = 0;

	for (size_t i = 0; i < nlog; i++)
		n += log_[i].op == op;
	return n;
}

static bool is_tlbi(enum tlbb_a64_insn op)
{
	return op >= TLBB_A64_TLBI_VAE1IS && op != TLBB_A64_MSR_VTTBR;
}

/*
 * The VMID the instruction at @i acts on: VTTBR_EL2 as of the last ISB
 * before it (a write not yet followed by an ISB is not guaranteed to be
 * seen; the checker fails the test if a TLBI could see either value).
 */
static uint16_t vmid_seen_at(size_t i)
{
	uint64_t synced = vttbr_at_start, written = vttbr_at_start;

	for (size_t k = 0; k < i; k++) {
		if (log_[k].op == TLBB_A64_MSR_VTTBR)
			written = log_[k].arg;
		else if (log_[k].op == TLBB_A64_ISB)
			synced = written;
	}
	/* Ambiguous: a write without its ISB before this TLBI. */
	assert_int_equal(synced >> 48, written >> 48);
	return (uint16_t)(synced >> 48);
}

/* Every TLBI in the log acts on a VMID that has the given root loaded, and
 * the log leaves VTTBR_EL2 as it found it, synchronized. */
static void expect_vttbr_restored(void)
{
	assert_int_equal(vttbr_reg, vttbr_at_start);
	if (count_op(TLBB_A64_MSR_VTTBR))
		assert_int_equal(log_[nlog - 1].op, TLBB_A64_ISB);
}

static void expect_stats_match_log(const struct tlbb_arm64_s2_stats *st)
{
	size_t tlbi = 0, whole = 0;

	assert_int_equal(log_overflow, 0);
	for (size_t i = 0; i < nlog; i++) {
		if (is_tlbi(log_[i].op))
			tlbi++;
		if (log_[i].op == TLBB_A64_TLBI_VMALLS12E1IS || log_[i].op == TLBB_A64_TLBI_VMALLE1IS ||
		    log_[i].op == TLBB_A64_TLBI_ALLE1IS)
			whole++;
	}
	assert_int_equal(st->insn.tlbi, tlbi);
	assert_int_equal(st->insn.tlbi_asid, whole);
	assert_int_equal(st->insn.dsb_ishst, count_op(TLBB_A64_DSB_ISHST));
	assert_int_equal(st->insn.dsb_ish, count_op(TLBB_A64_DSB_ISH));
	assert_int_equal(st->insn.isb, count_op(TLBB_A64_ISB));
	assert_int_equal(st->vttbr_writes, count_op(TLBB_A64_MSR_VTTBR));
	assert_int_equal(st->alle1is, count_op(TLBB_A64_TLBI_ALLE1IS));
}

/* ---- port hooks (TLBB_DEBUG builds) ------------------------------------------ */

static unsigned cur_cpu, debug_fails;

unsigned tlbb_port_cpu_id(void)
{
	return cur_cpu;
}

void tlbb_port_debug_fail(const char *what)
{
	(void)what;
	debug_fails++;
}

/* ---- fixtures -------------------------------------------------------------------- */

#define PAGE 0x1000u
#define VM1 5u
#define VM2 6u
#define VM3 7u
#define VM4 8u
#define HOST_VMID 0u
#define ROOT1 UINT64_C(0x40100000)
#define ROOT2 UINT64_C(0x40200000)
#define ROOT3 UINT64_C(0x40300000)
#define ROOT4 UINT64_C(0x40400000)
/* VTTBR_EL2 = VMID << 48 | BADDR, written out. */
#define VTTBR1 UINT64_C(0x0005000040100000)
#define VTTBR2 UINT64_C(0x0006000040200000)
#define VTTBR3 UINT64_C(0x0007000040300000)
#define VTTBR_IDLE UINT64_C(0x0000000040f00000) /* VMID 0: the hypervisor's idle value */
#define IPA UINT64_C(0x80000000)

static struct tlbb_arm64_s2_stats stats;
static struct tlbb_arm64_s2_config cfg;
static struct tlbb_backend be;
static struct tlbb_space vm1, vm2, vm3, vm4;
static struct tlbb_batch batch;

static void log_reset(uint64_t loaded)
{
	nlog = 0;
	log_overflow = 0;
	vttbr_reg = vttbr_at_start = loaded;
	memset(&stats, 0, sizeof(stats));
}

static int setup_with(const struct tlbb_arm64_s2_config *c)
{
	cfg = *c;
	cfg.stats = &stats;
	assert_int_equal(tlbb_arm64_s2_backend_init(&be, &cfg), TLBB_OK);
	assert_int_equal(tlbb_arm64_s2_space_init(&vm1, &be, VM1, ROOT1, NULL), TLBB_OK);
	assert_int_equal(tlbb_arm64_s2_space_init(&vm2, &be, VM2, ROOT2, NULL), TLBB_OK);
	assert_int_equal(tlbb_arm64_s2_space_init(&vm3, &be, VM3, ROOT3, NULL), TLBB_OK);
	assert_int_equal(tlbb_arm64_s2_space_init(&vm4, &be, VM4, ROOT4, NULL), TLBB_OK);
	tlbb_batch_init(&batch);
	cur_cpu = 0;
	debug_fails = 0;
	log_reset(VTTBR_IDLE);
	return 0;
}

static int setup_default(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_s2_config){0});
}

static int setup_range(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_s2_config){.range_ops = true});
}

static int setup_lpa2(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_s2_config){.range_ops = true, .lpa2 = true});
}

static int setup_range_limit1(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_s2_config){.range_ops = true, .max_tlbi_ops = 1});
}

static int setup_limit4(void **state)
{
	(void)state;
	return setup_with(&(struct tlbb_arm64_s2_config){.max_tlbi_ops = 4});
}

/* ---- encodings ------------------------------------------------------------------- */

static void encoding_ipa_operand_is_ipa_51_12_from_bit_0_ttl_and_ns_zero(void **state)
{
	(void)state;
	/* IPA 0x8000_0000: IPA[47:12] = 0x80000 in 35:0 */
	assert_int_equal(tlbb_arm64_ipa_operand(UINT64_C(0x80000000)), UINT64_C(0x80000));
	/* the top 52-bit IPA page: IPA[51:48] = 0xf in 39:36, IPA[47:12] all ones */
	assert_int_equal(tlbb_arm64_ipa_operand(UINT64_C(0x000ffffffffff000)),
			 UINT64_C(0x000000ffffffffff));
	/* bits 11:0 dropped; bits above 51 never reach TTL (47:44) or NS (63) */
	assert_int_equal(tlbb_arm64_ipa_operand(UINT64_C(0xfff0000080000fff)), UINT64_C(0x80000));
	/* 64 KiB granule: still in 4 KiB units (IPA[51:12]) */
	assert_int_equal(tlbb_arm64_ipa_operand(UINT64_C(0x12340000)), UINT64_C(0x12340));
}

static void encoding_ipa_range_operand_fields(void **state)
{
	(void)state;
	/* 4K: TG 01 (bit 46), SCALE 0, NUM 7 (43:39), BaseADDR IPA[48:12] */
	assert_int_equal(tlbb_arm64_ipa_range_operand(12, 0, 7, IPA, false),
			 UINT64_C(0x0000438000080000));
	/* 64K: TG 11 (47:46), SCALE 2 (45:44), NUM 31, BaseADDR IPA[52:16] = 0x8000 */
	assert_int_equal(tlbb_arm64_ipa_range_operand(16, 2, 31, IPA, false),
			 UINT64_C(0x0000ef8000008000));
	/* LPA2, 4K: BaseADDR = IPA[52:16] = 0x8000, TG still 01 */
	assert_int_equal(tlbb_arm64_ipa_range_operand(12, 0, 7, IPA, true),
			 UINT64_C(0x0000438000008000));
}

static void encoding_vttbr_is_vmid_63_48_and_baddr(void **state)
{
	(void)state;
	assert_int_equal(tlbb_arm64_vttbr(VM1, ROOT1), VTTBR1);
	/* VMID bits in the table value are not taken: the VMID is the space's */
	assert_int_equal(tlbb_arm64_vttbr(0xabcd, UINT64_C(0xffff000040100001)),
			 UINT64_C(0xabcd000040100001));
	assert_int_equal(tlbb_arm64_s2_vttbr(&vm2), VTTBR2);
}

/* ---- add ----------------------------------------------------------------------------- */

static void add_under_the_loaded_vmid_is_dsb_ishst_then_ipas2e1is_per_page(void **state)
{
	(void)state;
	log_reset(VTTBR1); /* the guest of vm1 is the one loaded on this CPU */
	assert_int_equal(tlbb_add_range(&batch, &vm1, IPA, IPA + 3 * PAGE, 0), TLBB_OK);
	expect_len(4);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_IPAS2E1IS, UINT64_C(0x80000));
	expect_at(2, TLBB_A64_TLBI_IPAS2E1IS, UINT64_C(0x80001));
	expect_at(3, TLBB_A64_TLBI_IPAS2E1IS, UINT64_C(0x80002));
	for (size_t i = 1; i < 4; i++)
		assert_int_equal(vmid_seen_at(i), VM1);
	/* no completion at add */
	assert_int_equal(count_op(TLBB_A64_DSB_ISH), 0);
	expect_stats_match_log(&stats);
}

static void add_under_another_vmid_switches_vttbr_with_isb_and_restores_it(void **state)
{
	(void)state;
	assert_int_equal(tlbb_add_page(&batch, &vm1, IPA, 0), TLBB_OK);
	expect_len(6);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_MSR_VTTBR, VTTBR1);
	expect_at(2, TLBB_A64_ISB, 0);
	expect_at(3, TLBB_A64_TLBI_IPAS2E1IS, UINT64_C(0x80000));
	expect_at(4, TLBB_A64_MSR_VTTBR, VTTBR_IDLE);
	expect_at(5, TLBB_A64_ISB, 0);
	assert_int_equal(vmid_seen_at(3), VM1);
	expect_vttbr_restored();
	expect_stats_match_log(&stats);
}

static void every_add_has_its_own_dsb_ishst(void **state)
{
	(void)state;
	log_reset(VTTBR1);
	tlbb_add_page(&batch, &vm1, IPA, 0);
	tlbb_add_page(&batch, &vm1, IPA + PAGE, 0);
	/* the second add's stage-2 store came after the first barrier */
	expect_len(4);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_IPAS2E1IS, UINT64_C(0x80000));
	expect_at(2, TLBB_A64_DSB_ISHST, 0);
	expect_at(3, TLBB_A64_TLBI_IPAS2E1IS, UINT64_C(0x80001));
}

static void leaf_only_add_uses_ipas2le1is(void **state)
{
	(void)state;
	log_reset(VTTBR1);
	tlbb_add_page(&batch, &vm1, IPA, TLBB_ADD_LEAF_ONLY);
	expect_len(2);
	expect_at(1, TLBB_A64_TLBI_IPAS2LE1IS, UINT64_C(0x80000));
}

static void whole_space_add_is_vmalls12e1is_of_that_vmid(void **state)
{
	(void)state;
	tlbb_add_space(&batch, &vm2, 0);
	expect_len(6);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_MSR_VTTBR, VTTBR2);
	expect_at(2, TLBB_A64_ISB, 0);
	expect_at(3, TLBB_A64_TLBI_VMALLS12E1IS, 0);
	assert_int_equal(vmid_seen_at(3), VM2);
	expect_at(4, TLBB_A64_MSR_VTTBR, VTTBR_IDLE);
	expect_at(5, TLBB_A64_ISB, 0);
}

static void over_the_op_limit_is_one_vmalls12e1is(void **state)
{
	(void)state;
	log_reset(VTTBR1);
	tlbb_add_range(&batch, &vm1, IPA, IPA + 4 * PAGE, 0); /* 4 <= limit 4 */
	assert_int_equal(count_op(TLBB_A64_TLBI_IPAS2E1IS), 4);
	log_reset(VTTBR1);
	tlbb_add_range(&batch, &vm1, IPA, IPA + 5 * PAGE, 0); /* 5 > 4 */
	expect_len(2);
	expect_at(1, TLBB_A64_TLBI_VMALLS12E1IS, 0);
}

/* ---- range ops (FEAT_TLBIRANGE) ------------------------------------------------------- */

static void range_16_pages_is_one_ripas2e1is_scale0_num7(void **state)
{
	(void)state;
	log_reset(VTTBR1);
	tlbb_add_range(&batch, &vm1, IPA, IPA + 16 * PAGE, 0);
	expect_len(2);
	expect_at(1, TLBB_A64_TLBI_RIPAS2E1IS, UINT64_C(0x0000438000080000));
}

static void range_odd_count_is_one_ipas2e1is_then_a_range(void **state)
{
	(void)state;
	log_reset(VTTBR1);
	tlbb_add_range(&batch, &vm1, IPA, IPA + 3 * PAGE, TLBB_ADD_LEAF_ONLY);
	/* 3 = 1 single + 2: IPAS2LE1IS at IPA, then RIPAS2LE1IS SCALE 0 NUM 0
	 * (2 pages) from IPA + 4K: TG 01, BaseADDR 0x80001 */
	expect_len(3);
	expect_at(1, TLBB_A64_TLBI_IPAS2LE1IS, UINT64_C(0x80000));
	expect_at(2, TLBB_A64_TLBI_RIPAS2LE1IS, UINT64_C(0x0000400000080001));
}

static void range_lpa2_base_is_64k_aligned_ipa_52_16(void **state)
{
	(void)state;
	log_reset(VTTBR1);
	/* 16 pages from IPA + 4K: aligned down to IPA, 17 pages from there:
	 * high scales first: SCALE 0 NUM 7 (16 pages) at IPA[52:16] = 0x8000,
	 * then one single page at IPA + 64K */
	tlbb_add_range(&batch, &vm1, IPA + PAGE, IPA + 17 * PAGE, 0);
	expect_len(3);
	expect_at(1, TLBB_A64_TLBI_RIPAS2E1IS, UINT64_C(0x0000438000008000));
	expect_at(2, TLBB_A64_TLBI_IPAS2E1IS, UINT64_C(0x80010));
}

/* The op limit counts range ops too: 3 pages = one IPAS2E1IS + one
 * RIPAS2E1IS, two TLBIs, over a limit of 1: one VMALLS12E1IS instead. */
static void range_plan_over_the_op_limit_is_one_vmalls12e1is(void **state)
{
	(void)state;
	log_reset(VTTBR1);
	tlbb_add_range(&batch, &vm1, IPA, IPA + 2 * PAGE, 0); /* one range op: within 1 */
	expect_len(2);
	expect_at(1, TLBB_A64_TLBI_RIPAS2E1IS, UINT64_C(0x0000400000080000));
	log_reset(VTTBR1);
	tlbb_add_range(&batch, &vm1, IPA, IPA + 3 * PAGE, 0);
	expect_len(2);
	expect_at(1, TLBB_A64_TLBI_VMALLS12E1IS, 0);
}

/* ---- flush ------------------------------------------------------------------------------- */

static void flush_of_one_loaded_vmid_is_dsb_vmalle1is_dsb_isb(void **state)
{
	(void)state;
	log_reset(VTTBR1);
	for (unsigned i = 0; i < 16; i++)
		tlbb_add_page(&batch, &vm1, IPA + i * PAGE, 0);
	log_reset(VTTBR1);
	tlbb_flush(&batch);
	expect_len(4);
	expect_at(0, TLBB_A64_DSB_ISH, 0);       /* the 16 IPAS2E1IS complete */
	expect_at(1, TLBB_A64_TLBI_VMALLE1IS, 0); /* combined entries of VM1 */
	assert_int_equal(vmid_seen_at(1), VM1);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_at(3, TLBB_A64_ISB, 0);
	expect_stats_match_log(&stats);
}

static void flush_switches_to_each_touched_vmid_once_and_restores(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &vm1, IPA, 0);
	tlbb_add_page(&batch, &vm2, IPA, 0);
	tlbb_add_page(&batch, &vm1, IPA + PAGE, 0);
	log_reset(VTTBR_IDLE);
	tlbb_flush(&batch);
	expect_len(10);
	expect_at(0, TLBB_A64_DSB_ISH, 0);
	expect_at(1, TLBB_A64_MSR_VTTBR, VTTBR1);
	expect_at(2, TLBB_A64_ISB, 0);
	expect_at(3, TLBB_A64_TLBI_VMALLE1IS, 0);
	expect_at(4, TLBB_A64_MSR_VTTBR, VTTBR2);
	expect_at(5, TLBB_A64_ISB, 0);
	expect_at(6, TLBB_A64_TLBI_VMALLE1IS, 0);
	expect_at(7, TLBB_A64_DSB_ISH, 0);
	expect_at(8, TLBB_A64_MSR_VTTBR, VTTBR_IDLE);
	expect_at(9, TLBB_A64_ISB, 0);
	assert_int_equal(vmid_seen_at(3), VM1);
	assert_int_equal(vmid_seen_at(6), VM2);
	expect_vttbr_restored();
	expect_stats_match_log(&stats);
}

static void batch_over_more_vmids_than_it_holds_flushes_with_alle1is(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &vm1, IPA, 0);
	tlbb_add_page(&batch, &vm2, IPA, 0);
	tlbb_add_page(&batch, &vm3, IPA, 0);
	tlbb_add_page(&batch, &vm4, IPA, 0); /* a fourth VMID: no slot */
	log_reset(VTTBR_IDLE);
	tlbb_flush(&batch);
	expect_len(4);
	expect_at(0, TLBB_A64_DSB_ISH, 0);
	expect_at(1, TLBB_A64_TLBI_ALLE1IS, 0); /* every VMID's EL1&0 entries */
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_at(3, TLBB_A64_ISB, 0);
	assert_int_equal(stats.alle1is, 1);
}

static void three_vmids_still_fit(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &vm1, IPA, 0);
	tlbb_add_page(&batch, &vm2, IPA, 0);
	tlbb_add_page(&batch, &vm3, IPA, 0);
	log_reset(VTTBR_IDLE);
	tlbb_flush(&batch);
	assert_int_equal(count_op(TLBB_A64_TLBI_VMALLE1IS), 3);
	assert_int_equal(count_op(TLBB_A64_TLBI_ALLE1IS), 0);
	expect_vttbr_restored();
}

static void flush_after_flush_starts_empty(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &vm1, IPA, 0);
	tlbb_flush(&batch);
	tlbb_add_page(&batch, &vm2, IPA, 0);
	log_reset(VTTBR_IDLE);
	tlbb_flush(&batch);
	/* only VM2 this time */
	assert_int_equal(count_op(TLBB_A64_TLBI_VMALLE1IS), 1);
	assert_int_equal(vmid_seen_at(3), VM2);
}

/* Per page batched vs the per-IPA KVM sequence (DSB ISHST, TLBI IPAS2E1IS,
 * DSB ISH, TLBI VMALLE1IS, DSB ISH, ISB per page): 2 DSB ISH per batch
 * against 2 per page. */
static void sixteen_pages_cost_two_completions_not_thirty_two(void **state)
{
	(void)state;
	log_reset(VTTBR1);
	for (unsigned i = 0; i < 16; i++)
		tlbb_add_page(&batch, &vm1, IPA + i * PAGE, TLBB_ADD_WRITABLE);
	tlbb_flush(&batch);
	assert_int_equal(count_op(TLBB_A64_DSB_ISH), 2);
	assert_int_equal(count_op(TLBB_A64_TLBI_IPAS2E1IS), 16);
	assert_int_equal(count_op(TLBB_A64_TLBI_VMALLE1IS), 1);
	assert_int_equal(count_op(TLBB_A64_ISB), 1);
}

/* ---- race check, fini, VMID change -------------------------------------------------------- */

static void race_check_is_vmalls12e1is_and_its_own_dsb_never_a_bare_dsb(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &vm1, IPA, 0); /* some batch (another CPU's) */
	log_reset(VTTBR_IDLE);
	cur_cpu = 2;
	assert_true(tlbb_flush_pending(&vm1));
	expect_len(7);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_MSR_VTTBR, VTTBR1);
	expect_at(2, TLBB_A64_ISB, 0);
	expect_at(3, TLBB_A64_TLBI_VMALLS12E1IS, 0);
	assert_int_equal(vmid_seen_at(3), VM1);
	expect_at(4, TLBB_A64_DSB_ISH, 0);
	expect_at(5, TLBB_A64_MSR_VTTBR, VTTBR_IDLE);
	expect_at(6, TLBB_A64_ISB, 0);
	/* published: a second check does nothing */
	log_reset(VTTBR_IDLE);
	assert_false(tlbb_flush_pending(&vm1));
	expect_len(0);
}

static void race_check_under_the_loaded_vmid_needs_no_switch(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &vm1, IPA, 0);
	log_reset(VTTBR1);
	tlbb_flush_pending(&vm1);
	expect_len(4);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_VMALLS12E1IS, 0);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_at(3, TLBB_A64_ISB, 0);
}

static void fini_releases_the_vmid_with_vmalls12e1is(void **state)
{
	(void)state;
	log_reset(VTTBR_IDLE);
	assert_int_equal(tlbb_space_fini(&vm3), TLBB_OK);
	assert_int_equal(count_op(TLBB_A64_TLBI_VMALLS12E1IS), 1);
	assert_int_equal(vmid_seen_at(3), VM3);
	assert_int_equal(count_op(TLBB_A64_DSB_ISH), 1);
	expect_vttbr_restored();
}

static void set_vmid_releases_the_old_vmid_and_keeps_the_table(void **state)
{
	(void)state;
	log_reset(VTTBR_IDLE);
	assert_int_equal(tlbb_arm64_s2_set_vmid(&vm1, 0x33), TLBB_OK);
	assert_int_equal(vmid_seen_at(3), VM1); /* the old VMID released */
	assert_int_equal(count_op(TLBB_A64_TLBI_VMALLS12E1IS), 1);
	assert_int_equal(tlbb_arm64_s2_vttbr(&vm1), UINT64_C(0x0033000040100000));
	log_reset(VTTBR_IDLE);
	tlbb_add_page(&batch, &vm1, IPA, 0);
	expect_at(1, TLBB_A64_MSR_VTTBR, UINT64_C(0x0033000040100000));
}

static void a_space_without_its_table_is_served_by_alle1is(void **state)
{
	(void)state;
	/* tlbb_space_set_id() forgets backend state: the root is unknown now */
	assert_int_equal(tlbb_space_set_id(&vm2, 0x44), TLBB_OK);
	assert_int_equal(tlbb_arm64_s2_vttbr(&vm2), 0);
	log_reset(VTTBR_IDLE);
	tlbb_add_page(&batch, &vm2, IPA, 0);
	/* never loads a VTTBR it cannot name */
	expect_len(1);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	tlbb_flush(&batch);
	expect_at(1, TLBB_A64_DSB_ISH, 0);
	expect_at(2, TLBB_A64_TLBI_ALLE1IS, 0);
	expect_at(3, TLBB_A64_DSB_ISH, 0);
	expect_at(4, TLBB_A64_ISB, 0);
	tlbb_add_page(&batch, &vm2, IPA, 0);
	log_reset(VTTBR_IDLE);
	tlbb_flush_pending(&vm2);
	/* the race check: its own ALLE1IS, completed by its own DSB ISH */
	expect_len(4);
	expect_at(0, TLBB_A64_DSB_ISHST, 0);
	expect_at(1, TLBB_A64_TLBI_ALLE1IS, 0);
	expect_at(2, TLBB_A64_DSB_ISH, 0);
	expect_at(3, TLBB_A64_ISB, 0);
	tlbb_flush(&batch);
}

static void null_batch_flushes_the_vmid_synchronously(void **state)
{
	(void)state;
	assert_int_equal(tlbb_add_page(NULL, &vm1, IPA, 0), TLBB_EINVAL);
	assert_int_equal(count_op(TLBB_A64_TLBI_VMALLS12E1IS), 1);
	assert_int_equal(count_op(TLBB_A64_DSB_ISH), 1);
}

static void should_defer_is_true(void **state)
{
	(void)state;
	assert_true(tlbb_should_defer(&vm1));
}

/* ---- the issuing-CPU rule ----------------------------------------------------------------- */

static void context_switch_completes_queued_tlbis_once(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &vm1, IPA, 0);
	log_reset(VTTBR_IDLE);
	tlbb_arm64_s2_context_switch(&batch);
	expect_len(1);
	expect_at(0, TLBB_A64_DSB_ISH, 0);
	tlbb_arm64_s2_context_switch(&batch); /* nothing queued any more */
	expect_len(1);
	tlbb_arm64_s2_context_switch(NULL);
	expect_len(2);
	tlbb_flush(&batch);
}

#ifdef TLBB_DEBUG
static void debug_flush_on_other_cpu_without_switch_barrier_fails(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &vm1, IPA, 0);
	cur_cpu = 1;
	tlbb_flush(&batch);
	assert_int_equal(debug_fails, 1);
}

static void debug_flush_on_other_cpu_after_switch_barrier_passes(void **state)
{
	(void)state;
	tlbb_add_page(&batch, &vm1, IPA, 0);
	tlbb_arm64_s2_context_switch(&batch);
	cur_cpu = 1;
	tlbb_flush(&batch);
	assert_int_equal(debug_fails, 0);
}
#endif

#define T(fn, setup) cmocka_unit_test_setup(fn, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(encoding_ipa_operand_is_ipa_51_12_from_bit_0_ttl_and_ns_zero, setup_default),
		T(encoding_ipa_range_operand_fields, setup_default),
		T(encoding_vttbr_is_vmid_63_48_and_baddr, setup_default),
		T(add_under_the_loaded_vmid_is_dsb_ishst_then_ipas2e1is_per_page, setup_default),
		T(add_under_another_vmid_switches_vttbr_with_isb_and_restores_it, setup_default),
		T(every_add_has_its_own_dsb_ishst, setup_default),
		T(leaf_only_add_uses_ipas2le1is, setup_default),
		T(whole_space_add_is_vmalls12e1is_of_that_vmid, setup_default),
		T(over_the_op_limit_is_one_vmalls12e1is, setup_limit4),
		T(range_16_pages_is_one_ripas2e1is_scale0_num7, setup_range),
		T(range_odd_count_is_one_ipas2e1is_then_a_range, setup_range),
		T(range_lpa2_base_is_64k_aligned_ipa_52_16, setup_lpa2),
		T(range_plan_over_the_op_limit_is_one_vmalls12e1is, setup_range_limit1),
		T(flush_of_one_loaded_vmid_is_dsb_vmalle1is_dsb_isb, setup_default),
		T(flush_switches_to_each_touched_vmid_once_and_restores, setup_default),
		T(batch_over_more_vmids_than_it_holds_flushes_with_alle1is, setup_default),
		T(three_vmids_still_fit, setup_default),
		T(flush_after_flush_starts_empty, setup_default),
		T(sixteen_pages_cost_two_completions_not_thirty_two, setup_default),
		T(race_check_is_vmalls12e1is_and_its_own_dsb_never_a_bare_dsb, setup_default),
		T(race_check_under_the_loaded_vmid_needs_no_switch, setup_default),
		T(fini_releases_the_vmid_with_vmalls12e1is, setup_default),
		T(set_vmid_releases_the_old_vmid_and_keeps_the_table, setup_default),
		T(a_space_without_its_table_is_served_by_alle1is, setup_default),
		T(null_batch_flushes_the_vmid_synchronously, setup_default),
		T(should_defer_is_true, setup_default),
		T(context_switch_completes_queued_tlbis_once, setup_default),
#ifdef TLBB_DEBUG
		T(debug_flush_on_other_cpu_without_switch_barrier_fails, setup_default),
		T(debug_flush_on_other_cpu_after_switch_barrier_passes, setup_default),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
