/* SPDX-License-Identifier: MIT */
/*
 * The riscv64 backend's rules, checked on its own code: arch/riscv64/riscv64.c
 * compiled with -DTLBB_RISCV_RECORD, whose fences, satp writes and SBI calls
 * come here instead of to the hart. Each is recorded (which CPU executed
 * which instruction word with which rs1/rs2, which ecall with which
 * arguments) and applied to a per-hart TLB model with the privileged spec's
 * rules:
 *   SFENCE.VMA rs1, rs2   rs1 = x0: every address, else the page of rs1;
 *                         rs2 = x0: every ASID and global entries, else only
 *                         the non-global entries of ASID rs2;
 *   SINVAL.VMA            the same invalidation, taking effect at the hart's
 *                         next SFENCE.INVAL.IR, and only legal after an
 *                         SFENCE.W.INVAL of the same sequence;
 *   SBI RFENCE (EID 0x52464E43) FID 1 / FID 2 apply that to every hart of
 *                         (hart_mask, hart_mask_base), start 0 + size 0 or
 *                         size 2^XLEN-1 meaning the whole address space;
 *   satp writes           change the hart's ASID, flush nothing.
 * The port's IPI round runs the handler "on" each target by switching the
 * current CPU. A stale entry is a valid model entry of a page the test
 * changed, usable under that page's ASID (or global).
 *
 * Modes (argv[1]): none = the rules; "negative" = the harness's controls
 * (the port drops rounds, the race check skipped: stale entries MUST be
 * seen); "mutant" = the scenarios run on a backend with a known bug put
 * back (tests/riscv64/mutate-riscv64.sh) and MUST see stale entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <tlbbatch/port.h>
#include <tlbbatch/riscv64.h>

#include "riscv_insn.h"

#define NCPU 4
#define TLB_SIZE 128
#define MAX_EV 8192
#define PAGE 4096ull
#define VA0 0x40000000ull
#define ASID_A 5u
#define ROOT 0x80400000ull

enum ev_kind { EV_INSN, EV_SATP, EV_SBI };

struct ev {
	unsigned cpu;
	enum ev_kind kind;
	uint32_t word;
	uint64_t rs1, rs2; /* EV_SATP: rs1 = value */
	unsigned long eid, fid, a[5];
};

struct tlbe {
	bool valid, global;
	uint64_t asid, va;
	uint32_t tag; /* the random sequences' PTE version it cached */
};

struct inval {
	bool has_va, has_asid;
	uint64_t va, asid;
};

static struct {
	unsigned cur;
	struct ev ev[MAX_EV];
	unsigned nev;
	unsigned rounds;
	tlbb_cpumask_t round_to[64];
	struct tlbe tlb[NCPU][TLB_SIZE];
	uint64_t asid[NCPU];
	bool w_inval_open[NCPU];
	struct inval pend[NCPU][64];
	unsigned npend[NCPU];
	bool drop_rounds;
	unsigned sbi_fail; /* the next n ecalls return SBI_ERR_FAILED */
	uint32_t hart[NCPU];
	bool expect_debug_fail; /* a test provoking a debug check on purpose */
	unsigned debug_fails;
} R;

/* ---- the model ------------------------------------------------------------- */

static void drop(unsigned cpu, const struct inval *iv)
{
	for (unsigned i = 0; i < TLB_SIZE; i++) {
		struct tlbe *e = &R.tlb[cpu][i];

		if (!e->valid)
			continue;
		if (iv->has_va && e->va != (iv->va & ~(PAGE - 1)))
			continue;
		if (iv->has_asid && (e->global || e->asid != iv->asid))
			continue;
		e->valid = false;
	}
}

static void touch(unsigned cpu, uint64_t va, bool global)
{
	for (unsigned i = 0; i < TLB_SIZE; i++)
		if (!R.tlb[cpu][i].valid) {
			R.tlb[cpu][i] = (struct tlbe){ true, global, R.asid[cpu], va & ~(PAGE - 1), 0 };
			return;
		}
	fail_msg("model TLB full");
}

/* Entries of [va, va + n pages) still usable: non-global ones under @asid, or global. */
static unsigned stale(uint64_t va, unsigned n, uint64_t asid)
{
	unsigned k = 0;

	for (unsigned c = 0; c < NCPU; c++)
		for (unsigned i = 0; i < TLB_SIZE; i++) {
			const struct tlbe *e = &R.tlb[c][i];

			if (e->valid && e->va >= va && e->va < va + n * PAGE &&
			    (e->global || e->asid == asid))
				k++;
		}
	return k;
}

static struct ev *record(enum ev_kind k)
{
	if (R.nev >= MAX_EV)
		fail_msg("recorder: event record full");
	R.ev[R.nev] = (struct ev){ .cpu = R.cur, .kind = k };
	return &R.ev[R.nev++];
}

void tlbb_rv_rec_insn(uint32_t word, uint64_t rs1, uint64_t rs2)
{
	struct ev *e = record(EV_INSN);
	unsigned f7 = word >> 25, r2 = (word >> 20) & 31, r1 = (word >> 15) & 31;
	struct inval iv = { r1 != 0, r2 != 0, rs1, rs2 };

	e->word = word;
	e->rs1 = rs1;
	e->rs2 = rs2;
	if (word == RV_FENCE_RW_RW)
		return;
	if ((word & 0x7fffu) != 0x73u ||
	    (f7 != RV_F7_SVINVAL_ORDER && ((r1 != 0 && r1 != RV_A0) || (r2 != 0 && r2 != RV_A1))))
		fail_msg("recorder: unexpected instruction word %#x", word);
	switch (f7) {
	case RV_F7_SFENCE_VMA:
		drop(R.cur, &iv);
		break;
	case RV_F7_SINVAL_VMA:
		if (!R.w_inval_open[R.cur])
			fail_msg("SINVAL.VMA without a preceding SFENCE.W.INVAL");
		assert_true(R.npend[R.cur] < 64);
		R.pend[R.cur][R.npend[R.cur]++] = iv;
		break;
	case RV_F7_SVINVAL_ORDER:
		if (r1 != 0 || r2 > 1)
			fail_msg("recorder: bad Svinval ordering fence %#x", word);
		if (r2 == 0) {
			R.w_inval_open[R.cur] = true;
		} else {
			for (unsigned i = 0; i < R.npend[R.cur]; i++)
				drop(R.cur, &R.pend[R.cur][i]);
			R.npend[R.cur] = 0;
			R.w_inval_open[R.cur] = false;
		}
		break;
	default:
		fail_msg("recorder: unexpected SYSTEM instruction %#x", word);
	}
}

void tlbb_rv_rec_satp(uint64_t satp)
{
	struct ev *e = record(EV_SATP);

	e->rs1 = satp;
	R.asid[R.cur] = (satp >> RV_SATP_ASID_SHIFT) & RV_SATP_ASID_MASK;
}

static int cpu_of_hart(unsigned long h)
{
	for (unsigned c = 0; c < NCPU; c++)
		if (R.hart[c] == h)
			return (int)c;
	return -1;
}

struct rv_sbiret tlbb_rv_rec_sbi(unsigned long eid, unsigned long fid, unsigned long a0,
				 unsigned long a1, unsigned long a2, unsigned long a3,
				 unsigned long a4)
{
	struct ev *e = record(EV_SBI);
	bool whole = (a2 == 0 && a3 == 0) || a3 == ~0ul;

	e->eid = eid;
	e->fid = fid;
	e->a[0] = a0, e->a[1] = a1, e->a[2] = a2, e->a[3] = a3, e->a[4] = a4;
	if (R.sbi_fail) {
		R.sbi_fail--;
		return (struct rv_sbiret){ -1, 0 }; /* SBI_ERR_FAILED */
	}
	if (eid != RV_SBI_EXT_RFENCE || (fid != 1 && fid != 2))
		fail_msg("unexpected SBI call %#lx/%lu", eid, fid);
	for (unsigned i = 0; i < 64; i++) {
		int c;

		if (!(a0 >> i & 1))
			continue;
		c = cpu_of_hart(a1 + i);
		if (c < 0)
			fail_msg("RFENCE to hart %lu, which does not exist", a1 + i);
		if ((unsigned)c == R.cur)
			fail_msg("RFENCE naming the calling hart");
		if (whole) {
			drop((unsigned)c, &(struct inval){ false, fid == 2, 0, a4 });
		} else {
			for (uint64_t va = a2; va < a2 + a3; va += PAGE)
				drop((unsigned)c, &(struct inval){ true, fid == 2, va, a4 });
		}
	}
	return (struct rv_sbiret){ 0, 0 };
}

unsigned tlbb_port_cpu_id(void)
{
	return R.cur;
}

void tlbb_port_ipi_send_and_wait(const tlbb_cpumask_t *targets, void (*fn)(void *), void *arg)
{
	unsigned self = R.cur;

	assert_true(R.rounds < 64);
	tlbb_cpumask_clear(&R.round_to[R.rounds]);
	for (unsigned c = 0; c < NCPU; c++)
		if (c != self && (!targets || tlbb_cpumask_test(targets, c)))
			tlbb_cpumask_set(&R.round_to[R.rounds], c);
	if (tlbb_cpumask_empty(&R.round_to[R.rounds]))
		fail_msg("port: an empty round");
	R.rounds++;
	if (R.drop_rounds)
		return;
	for (unsigned c = 0; c < NCPU; c++)
		if (c != self && (!targets || tlbb_cpumask_test(targets, c))) {
			R.cur = c;
			fn(arg);
		}
	R.cur = self;
}

void tlbb_port_debug_fail(const char *what)
{
	if (!R.expect_debug_fail)
		fail_msg("debug check: %s", what);
	R.debug_fails++;
}

/* ---- fixtures ---------------------------------------------------------------- */

static struct tlbb_riscv rv;
static struct tlbb_mg_cpu percpu[NCPU];
static struct tlbb_space A, G;
static tlbb_cpumask_t amask, gmask;

static void setup(unsigned features, const uint32_t *harts)
{
	struct tlbb_riscv_config cfg = { .features = features };

	memset(&R, 0, sizeof(R));
	for (unsigned c = 0; c < NCPU; c++)
		R.hart[c] = harts ? harts[c] : c;
	cfg.hartid = harts;
	tlbb_cpumask_clear(&amask);
	tlbb_cpumask_clear(&gmask);
	assert_int_equal(tlbb_riscv_init(&rv, &cfg, percpu, NCPU), TLBB_OK);
	assert_int_equal(tlbb_space_init(&A, tlbb_riscv_backend(&rv), ASID_A, NULL), TLBB_OK);
	assert_int_equal(tlbb_space_init(&G, tlbb_riscv_backend(&rv), 0, NULL), TLBB_OK);
	assert_int_equal(tlbb_space_set_global(&G, true), TLBB_OK);
	assert_int_equal(tlbb_space_set_cpumask(&A, &amask), TLBB_OK);
	assert_int_equal(tlbb_space_set_cpumask(&G, &gmask), TLBB_OK);
	for (unsigned c = 0; c < NCPU; c++) {
		R.cur = c;
		tlbb_riscv_switch_space(&rv, &A, ROOT);
		tlbb_space_cpu_enter(&G, c);
	}
	R.cur = 0;
	R.nev = 0;
}

/* Every hart caches @n pages from VA0 (of A, or global ones of G). */
static void cache(unsigned n, bool global)
{
	for (unsigned c = 0; c < NCPU; c++)
		for (unsigned p = 0; p < n; p++)
			touch(c, VA0 + p * PAGE, global);
}

/* CPU 0 batches @n pages of @s and flushes them. */
static void batch_flush(struct tlbb_space *s, unsigned n)
{
	struct tlbb_batch b;

	tlbb_batch_init(&b);
	for (unsigned p = 0; p < n; p++)
		assert_int_equal(tlbb_add_page(&b, s, VA0 + p * PAGE, 0), TLBB_OK);
	tlbb_flush(&b);
}

static unsigned count(unsigned cpu, enum ev_kind k, uint32_t word)
{
	unsigned n = 0;

	for (unsigned i = 0; i < R.nev; i++)
		if (R.ev[i].cpu == cpu && R.ev[i].kind == k && (k != EV_INSN || R.ev[i].word == word))
			n++;
	return n;
}

/* ---- the rules ------------------------------------------------------------------ */

static void test_fence_words_are_the_privileged_specs_encodings(void **state)
{
	(void)state;
	/* funct7 | rs2 | rs1 | 000 | 00000 | 1110011, rs1 = a0 (x10), rs2 = a1 (x11) */
	assert_int_equal(RV_SFENCE_VMA_VA_ASID, 0x12b50073u);
	assert_int_equal(RV_SFENCE_VMA_ASID, 0x12b00073u);
	assert_int_equal(RV_SFENCE_VMA_VA, 0x12050073u);
	assert_int_equal(RV_SFENCE_VMA_ALL, 0x12000073u);
	assert_int_equal(RV_SINVAL_VMA_VA_ASID, 0x16b50073u);
	assert_int_equal(RV_SINVAL_VMA_VA, 0x16050073u);
	assert_int_equal(RV_SFENCE_W_INVAL, 0x18000073u);
	assert_int_equal(RV_SFENCE_INVAL_IR, 0x18100073u);
	assert_int_equal(RV_FENCE_RW_RW, 0x0330000fu);
	/* SBI spec: RFENCE "RFNC", HSM "HSM", IPI "sPI" */
	assert_int_equal(RV_SBI_EXT_RFENCE, 0x52464e43ul);
	assert_int_equal(RV_SBI_RFENCE_SFENCE_VMA_ASID, 2);
	assert_int_equal(RV_SBI_EXT_HSM, 0x48534dul);
	assert_int_equal(RV_SBI_EXT_IPI, 0x735049ul);
}

static void test_ipi_path_one_round_per_batch_and_a_page_fence_per_page(void **state)
{
	(void)state;
	setup(0, NULL);
	cache(10, false);
	batch_flush(&A, 10);
	assert_int_equal(R.rounds, 1);
	assert_true(tlbb_cpumask_test(&R.round_to[0], 1) && tlbb_cpumask_test(&R.round_to[0], 3));
	assert_false(tlbb_cpumask_test(&R.round_to[0], 0)); /* never to self */
	for (unsigned c = 0; c < NCPU; c++)
		assert_int_equal(count(c, EV_INSN, RV_SFENCE_VMA_VA_ASID), 10);
	for (unsigned i = 0; i < R.nev; i++)
		if (R.ev[i].word == RV_SFENCE_VMA_VA_ASID)
			assert_int_equal(R.ev[i].rs2, ASID_A);
	for (unsigned c = 0; c < NCPU; c++)
		assert_int_equal(percpu[c].st.invlpg, 10); /* the page fences are counted */
	assert_int_equal(rv.st.sbi_calls, 0);
	assert_int_equal(stale(VA0, 10, ASID_A), 0);
}

static void test_above_the_ceiling_one_whole_asid_fence_per_hart(void **state)
{
	(void)state;
	setup(0, NULL);
	cache(40, false);
	batch_flush(&A, 40);
	for (unsigned c = 0; c < NCPU; c++) {
		assert_int_equal(count(c, EV_INSN, RV_SFENCE_VMA_VA_ASID), 0);
		assert_int_equal(count(c, EV_INSN, RV_SFENCE_VMA_ASID), 1);
	}
	assert_int_equal(stale(VA0, 40, ASID_A), 0);
}

static const uint32_t sparse_harts[NCPU] = { 4, 1, 9, 6 };

static void test_sbi_path_one_rfence_call_with_the_specs_arguments(void **state)
{
	(void)state;
	setup(TLBB_RISCV_SBI_RFENCE, sparse_harts);
	cache(3, false);
	batch_flush(&A, 3);
	assert_int_equal(R.rounds, 0); /* no port round */
	assert_int_equal(count(0, EV_SBI, 0), 1);
	for (unsigned i = 0; i < R.nev; i++) {
		const struct ev *e = &R.ev[i];

		if (e->kind != EV_SBI)
			continue;
		assert_int_equal(e->eid, 0x52464e43ul);
		assert_int_equal(e->fid, 2); /* remote_sfence_vma_asid */
		assert_int_equal(e->a[0], (1ul << 1) | (1ul << 9) | (1ul << 6)); /* harts of CPUs 1..3 */
		assert_int_equal(e->a[1], 0);                                    /* hart_mask_base */
		assert_int_equal(e->a[2], VA0);                                  /* start_addr */
		assert_int_equal(e->a[3], 3 * PAGE);                             /* size */
		assert_int_equal(e->a[4], ASID_A);                               /* asid */
		/* the PTE stores are ordered before the request */
		assert_true(i > 0 && R.ev[i - 1].kind == EV_INSN && R.ev[i - 1].word == RV_FENCE_RW_RW);
	}
	assert_int_equal(count(0, EV_INSN, RV_SFENCE_VMA_VA_ASID), 3); /* the local part inline */
	assert_int_equal(rv.st.sbi_calls, 1);
	assert_int_equal(rv.st.sbi_pages, 3);
	assert_int_equal(rv.st.sbi_whole, 0);
	assert_int_equal(stale(VA0, 3, ASID_A), 0);
}

static void test_sbi_path_whole_asid_is_start_0_size_all_ones(void **state)
{
	(void)state;
	setup(TLBB_RISCV_SBI_RFENCE, NULL);
	cache(40, false);
	batch_flush(&A, 40);
	for (unsigned i = 0; i < R.nev; i++)
		if (R.ev[i].kind == EV_SBI) {
			assert_int_equal(R.ev[i].fid, 2);
			assert_int_equal(R.ev[i].a[2], 0);
			assert_int_equal(R.ev[i].a[3], ~0ul);
			assert_int_equal(R.ev[i].a[4], ASID_A);
		}
	assert_int_equal(count(0, EV_SBI, 0), 1);
	assert_int_equal(rv.st.sbi_whole, 1);
	assert_int_equal(rv.st.sbi_pages, 0);
	assert_int_equal(stale(VA0, 40, ASID_A), 0);
}

static const uint32_t wide_harts[NCPU] = { 0, 130, 70, 65 };

static void test_sbi_path_one_call_per_64_hart_window(void **state)
{
	(void)state;
	setup(TLBB_RISCV_SBI_RFENCE, wide_harts);
	cache(2, false);
	batch_flush(&A, 2);
	assert_int_equal(count(0, EV_SBI, 0), 2);
	for (unsigned i = 0, k = 0; i < R.nev; i++)
		if (R.ev[i].kind == EV_SBI) {
			/* bases in increasing order: 64 (harts 65, 70), then 128 (hart 130) */
			assert_int_equal(R.ev[i].a[1], k == 0 ? 64ul : 128ul);
			assert_int_equal(R.ev[i].a[0], k == 0 ? (1ul << 1) | (1ul << 6) : (1ul << 2));
			k++;
		}
	assert_int_equal(stale(VA0, 2, ASID_A), 0);
}

static void test_sbi_error_is_answered_by_the_port_round(void **state)
{
	(void)state;
	setup(TLBB_RISCV_SBI_RFENCE, NULL);
	cache(5, false);
	R.sbi_fail = 1;
	batch_flush(&A, 5);
	assert_int_equal(rv.st.sbi_errors, 1);
	assert_int_equal(R.rounds, 1);
	assert_int_equal(stale(VA0, 5, ASID_A), 0);
}

static void test_svinval_page_loop_between_one_pair_of_ordering_fences(void **state)
{
	(void)state;
	setup(TLBB_RISCV_SVINVAL, NULL);
	cache(6, false);
	batch_flush(&A, 6);
	for (unsigned c = 0; c < NCPU; c++) {
		assert_int_equal(count(c, EV_INSN, RV_SFENCE_W_INVAL), 1);
		assert_int_equal(count(c, EV_INSN, RV_SINVAL_VMA_VA_ASID), 6);
		assert_int_equal(count(c, EV_INSN, RV_SFENCE_INVAL_IR), 1);
		assert_int_equal(count(c, EV_INSN, RV_SFENCE_VMA_VA_ASID), 0);
	}
	assert_int_equal(stale(VA0, 6, ASID_A), 0);
}

static void test_global_space_is_fenced_without_an_asid(void **state)
{
	(void)state;
	setup(0, NULL);
	cache(4, true);
	batch_flush(&G, 4);
	for (unsigned c = 0; c < NCPU; c++) {
		assert_int_equal(count(c, EV_INSN, RV_SFENCE_VMA_VA), 4); /* rs2 = x0 */
		assert_int_equal(count(c, EV_INSN, RV_SFENCE_VMA_VA_ASID), 0);
	}
	assert_int_equal(stale(VA0, 4, ASID_A), 0);

	setup(TLBB_RISCV_SBI_RFENCE, NULL);
	cache(4, true);
	batch_flush(&G, 4);
	for (unsigned i = 0; i < R.nev; i++)
		if (R.ev[i].kind == EV_SBI)
			assert_int_equal(R.ev[i].fid, 1); /* remote_sfence_vma: every ASID */
	assert_int_equal(stale(VA0, 4, ASID_A), 0);
}

static void test_global_space_above_the_ceiling_fences_everything(void **state)
{
	(void)state;
	setup(0, NULL);
	cache(40, true);
	batch_flush(&G, 40);
	for (unsigned c = 0; c < NCPU; c++)
		assert_int_equal(count(c, EV_INSN, RV_SFENCE_VMA_ALL), 1); /* x0, x0: G entries too */
	assert_int_equal(stale(VA0, 40, ASID_A), 0);
}

static void test_svinval_global_pages_are_sinval_without_an_asid(void **state)
{
	(void)state;
	setup(TLBB_RISCV_SVINVAL, NULL);
	cache(4, true);
	batch_flush(&G, 4);
	for (unsigned c = 0; c < NCPU; c++) {
		assert_int_equal(count(c, EV_INSN, RV_SINVAL_VMA_VA), 4);
		assert_int_equal(count(c, EV_INSN, RV_SINVAL_VMA_VA_ASID), 0);
	}
	assert_int_equal(stale(VA0, 4, ASID_A), 0);
}

static void test_a_hart_beyond_the_per_cpu_array_fences_everything_at_switch_in(void **state)
{
	struct tlbb_riscv_config cfg = { 0 };

	(void)state;
	setup(0, NULL);
	/* an instance that tracks CPUs 0..1 only; CPU 3 has a mask bit but no slot */
	assert_int_equal(tlbb_riscv_init(&rv, &cfg, percpu, 2), TLBB_OK);
	assert_int_equal(tlbb_space_init(&A, tlbb_riscv_backend(&rv), ASID_A, NULL), TLBB_OK);
	assert_int_equal(tlbb_space_set_cpumask(&A, &amask), TLBB_OK);
	R.cur = 3;
	R.nev = 0;
	R.expect_debug_fail = true;
	assert_true(tlbb_riscv_switch_space(&rv, &A, ROOT));
	assert_int_equal(count(3, EV_INSN, RV_SFENCE_VMA_ALL), 1);
#ifdef TLBB_DEBUG
	assert_int_equal(R.debug_fails, 1); /* and reported, in debug builds */
#else
	assert_int_equal(R.debug_fails, 0);
#endif
	assert_true(tlbb_cpumask_test(&amask, 3));
	R.cur = 0;
}

static void race_check_scenario(unsigned features)
{
	struct tlbb_batch b;

	setup(features, NULL);
	cache(8, false);
	tlbb_batch_init(&b);
	for (unsigned p = 0; p < 8; p++)
		assert_int_equal(tlbb_add_page(&b, &A, VA0 + p * PAGE, 0), TLBB_OK);
	/* the changer, on CPU 1, before it looks at the PTEs */
	R.cur = 1;
	assert_true(tlbb_flush_pending(&A));
	R.cur = 0;
	assert_int_equal(stale(VA0, 8, ASID_A), 0);
	tlbb_flush(&b);
}

static void test_race_check_fences_the_whole_asid_on_the_mask_ipi(void **state)
{
	(void)state;
	race_check_scenario(0);
	for (unsigned c = 0; c < NCPU; c++)
		assert_true(count(c, EV_INSN, RV_SFENCE_VMA_ASID) >= 1);
}

static void test_race_check_fences_the_whole_asid_on_the_mask_sbi(void **state)
{
	(void)state;
	race_check_scenario(TLBB_RISCV_SBI_RFENCE);
	assert_int_equal(count(1, EV_SBI, 0), 1);
	for (unsigned i = 0; i < R.nev; i++)
		if (R.ev[i].kind == EV_SBI && R.ev[i].cpu == 1) {
			assert_int_equal(R.ev[i].a[3], ~0ul);
			assert_int_equal(R.ev[i].a[4], ASID_A);
			assert_int_equal(R.ev[i].a[0], (1ul << 0) | (1ul << 2) | (1ul << 3));
		}
}

static void test_switch_in_writes_satp_and_fences_only_a_stale_asid(void **state)
{
	(void)state;
	setup(0, NULL);
	/* CPU 2 leaves A for a moment; a batch of A is flushed meanwhile. */
	R.cur = 2;
	R.nev = 0;
	batch_flush(&A, 1); /* from CPU 2: it runs A, nothing deferred */
	R.cur = 2;
	assert_false(tlbb_riscv_switch_space(&rv, &A, ROOT)); /* current: no fence */
	assert_int_equal(count(2, EV_SATP, 0), 1);
	for (unsigned i = 0; i < R.nev; i++)
		if (R.ev[i].kind == EV_SATP)
			assert_int_equal(R.ev[i].rs1, RV_SATP_MODE_SV39 | ((uint64_t)ASID_A << 44) | (ROOT >> 12));
	/* a change this CPU never fenced (no round reached it) */
	R.drop_rounds = true;
	R.cur = 0;
	batch_flush(&A, 1);
	R.drop_rounds = false;
	R.cur = 2;
	R.nev = 0;
	assert_true(tlbb_riscv_switch_space(&rv, &A, ROOT));
	assert_int_equal(count(2, EV_INSN, RV_SFENCE_VMA_ASID), 1);
	R.cur = 0;
}

static void test_an_invalid_sv39_address_becomes_a_whole_asid_fence(void **state)
{
	struct tlbb_batch b;

	(void)state;
	setup(0, NULL);
	tlbb_batch_init(&b);
	/* bit 38 set but not copied above: not an Sv39 address (valid under Sv48) */
	assert_int_equal(tlbb_add_page(&b, &A, 0x4000000000ull, 0), TLBB_OK);
	tlbb_flush(&b);
	assert_int_equal(count(0, EV_INSN, RV_SFENCE_VMA_VA_ASID), 0);
	assert_int_equal(count(0, EV_INSN, RV_SFENCE_VMA_ASID), 1);
}

static void test_init_refuses_what_it_cannot_serve(void **state)
{
	struct tlbb_riscv_config both = { .features = TLBB_RISCV_SV48 | TLBB_RISCV_SV57 };
	static const uint32_t huge[NCPU] = { 0, 1, TLBB_RISCV_MAX_HARTID, 3 };
	struct tlbb_riscv_config bad_hart = { .features = TLBB_RISCV_SBI_RFENCE, .hartid = huge };

	(void)state;
	assert_int_equal(tlbb_riscv_init(&rv, &both, percpu, NCPU), TLBB_EINVAL);
	assert_int_equal(tlbb_riscv_init(&rv, &bad_hart, percpu, NCPU), TLBB_EINVAL);
	assert_int_equal(tlbb_riscv_init(&rv, NULL, percpu, TLBB_MAX_CPUS + 1), TLBB_EINVAL);
	assert_int_equal(tlbb_riscv_init(&rv, NULL, NULL, NCPU), TLBB_EINVAL);
}

/* ---- random sequences against a reference rule ----------------------------- */

/*
 * Random programs over 4 harts, 16 pages of space A and two batches (owned
 * by CPUs 0 and 1): fills, PTE changes added to a batch, flushes, race
 * checks from any hart. THE RULE (from tlbbatch.h's contract, not the
 * backend's code): a PTE change retires the page's version; the version is
 * DISCHARGED when the flush of the batch it was added to returns, or when a
 * race check of A that started after the add returns. After every step no
 * hart may hold an entry of a discharged version (all harts run A, so every
 * entry of ASID A is usable). Undischarged stale entries are allowed: that
 * is batching. Each path runs SEQS programs of STEPS steps from fixed seeds.
 */
#define SEQ_PAGES 16
#define SEQ_VERS 512
#define SEQS 200
#define STEPS 120

static struct {
	uint32_t cur[SEQ_PAGES];                 /* the PTE's version now */
	bool discharged[SEQ_PAGES][SEQ_VERS];
	struct { unsigned page, ver; } pend[2][SEQ_PAGES * 8]; /* retired by each batch */
	unsigned npend[2];
	uint64_t rng;
	bool drop_rounds; /* the harness's control: the port drops every round */
} Q;

static unsigned rnd(unsigned n)
{
	Q.rng = Q.rng * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)((Q.rng >> 33) % n);
}

static void fill(unsigned cpu, unsigned p)
{
	for (unsigned i = 0; i < TLB_SIZE; i++) {
		struct tlbe *e = &R.tlb[cpu][i];

		if (e->valid && e->va == VA0 + p * PAGE && e->asid == ASID_A)
			return; /* already cached (some version) */
	}
	for (unsigned i = 0; i < TLB_SIZE; i++)
		if (!R.tlb[cpu][i].valid) {
			R.tlb[cpu][i] = (struct tlbe){ true, false, ASID_A, VA0 + p * PAGE, Q.cur[p] };
			return;
		}
}

/* Number of entries that break the rule now. */
static unsigned violations(void)
{
	unsigned v = 0;

	for (unsigned c = 0; c < NCPU; c++)
		for (unsigned i = 0; i < TLB_SIZE; i++) {
			const struct tlbe *e = &R.tlb[c][i];

			if (e->valid && e->asid == ASID_A && Q.discharged[(e->va - VA0) / PAGE][e->tag])
				v++;
		}
	return v;
}

/* Runs the programs on one path; returns the first failing step count, 0 if clean. */
static unsigned run_sequences(unsigned features, uint64_t seed)
{
	bool drop = Q.drop_rounds;
	unsigned bad = 0;

	for (unsigned seq = 0; seq < SEQS && !bad; seq++) {
		struct tlbb_batch b[2];

		setup(features, NULL);
		memset(&Q, 0, sizeof(Q));
		Q.drop_rounds = R.drop_rounds = drop;
		Q.rng = seed + seq;
		tlbb_batch_init(&b[0]);
		tlbb_batch_init(&b[1]);
		for (unsigned step = 0; step < STEPS && !bad; step++) {
			unsigned op = rnd(10), cpu = rnd(NCPU), k = rnd(2), p = rnd(SEQ_PAGES);

			R.nev = 0;
			if (op < 4) {
				fill(cpu, p);
			} else if (op < 7) {
				/* the owner changes the PTE and adds it (under the PTL) */
				if (Q.cur[p] + 1 >= SEQ_VERS || Q.npend[k] >= SEQ_PAGES * 8)
					continue;
				R.cur = k;
				Q.pend[k][Q.npend[k]].page = p;
				Q.pend[k][Q.npend[k]++].ver = Q.cur[p]++;
				tlbb_add_page(&b[k], &A, VA0 + p * PAGE, 0);
			} else if (op < 9) {
				R.cur = k;
				tlbb_flush(&b[k]);
				for (unsigned j = 0; j < Q.npend[k]; j++)
					Q.discharged[Q.pend[k][j].page][Q.pend[k][j].ver] = true;
				Q.npend[k] = 0;
			} else {
				/* every version batched so far was added before this check started */
				R.cur = cpu;
				(void)tlbb_flush_pending(&A);
				for (unsigned kk = 0; kk < 2; kk++)
					for (unsigned j = 0; j < Q.npend[kk]; j++)
						Q.discharged[Q.pend[kk][j].page][Q.pend[kk][j].ver] = true;
			}
			R.cur = 0;
			if (violations())
				bad = step + 1;
		}
		R.cur = 0;
		tlbb_flush(&b[0]);
		R.cur = 1;
		tlbb_flush(&b[1]);
		R.cur = 0;
	}
	Q.drop_rounds = false;
	return bad;
}

static void test_random_sequences_keep_the_rule_ipi(void **state)
{
	(void)state;
	assert_int_equal(run_sequences(0, 1000), 0);
}

static void test_random_sequences_keep_the_rule_sbi(void **state)
{
	(void)state;
	assert_int_equal(run_sequences(TLBB_RISCV_SBI_RFENCE, 2000), 0);
}

static void test_random_sequences_keep_the_rule_svinval(void **state)
{
	(void)state;
	assert_int_equal(run_sequences(TLBB_RISCV_SVINVAL, 3000), 0);
}

/* ---- the harness's negative controls --------------------------------------- */

static void test_negative_without_the_port_round_remote_harts_stay_stale(void **state)
{
	(void)state;
	setup(0, NULL);
	cache(10, false);
	R.drop_rounds = true;
	batch_flush(&A, 10);
	assert_int_equal(stale(VA0, 10, ASID_A), 3 * 10); /* CPUs 1..3, every page */
}

static void test_negative_without_the_race_check_the_changer_leaves_stale_entries(void **state)
{
	struct tlbb_batch b;

	(void)state;
	setup(0, NULL);
	cache(8, false);
	tlbb_batch_init(&b);
	for (unsigned p = 0; p < 8; p++)
		assert_int_equal(tlbb_add_page(&b, &A, VA0 + p * PAGE, 0), TLBB_OK);
	/* the changer skips tlbb_flush_pending() and would now reuse the frames */
	assert_true(stale(VA0, 8, ASID_A) > 0);
	tlbb_flush(&b);
	assert_int_equal(stale(VA0, 8, ASID_A), 0);
}

static void test_negative_random_sequences_without_the_port_round_break_the_rule(void **state)
{
	(void)state;
	Q.drop_rounds = true;
	assert_true(run_sequences(0, 1000) > 0);
}

/* ---- on a mutant backend: each scenario must be found stale ---------------- */

static void test_mutant_ipi_path_is_found_stale(void **state)
{
	(void)state;
	setup(0, NULL);
	cache(10, false);
	batch_flush(&A, 10);
	assert_true(stale(VA0, 10, ASID_A) > 0);
}

static void test_mutant_random_sequences_break_the_rule(void **state)
{
	(void)state;
	assert_true(run_sequences(0, 1000) > 0);
	assert_true(run_sequences(TLBB_RISCV_SBI_RFENCE, 2000) > 0);
}

static void test_mutant_sbi_path_is_found_stale(void **state)
{
	(void)state;
	setup(TLBB_RISCV_SBI_RFENCE, NULL);
	cache(10, false);
	batch_flush(&A, 10);
	assert_true(stale(VA0, 10, ASID_A) > 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest rules[] = {
		cmocka_unit_test(test_fence_words_are_the_privileged_specs_encodings),
		cmocka_unit_test(test_ipi_path_one_round_per_batch_and_a_page_fence_per_page),
		cmocka_unit_test(test_above_the_ceiling_one_whole_asid_fence_per_hart),
		cmocka_unit_test(test_sbi_path_one_rfence_call_with_the_specs_arguments),
		cmocka_unit_test(test_sbi_path_whole_asid_is_start_0_size_all_ones),
		cmocka_unit_test(test_sbi_path_one_call_per_64_hart_window),
		cmocka_unit_test(test_sbi_error_is_answered_by_the_port_round),
		cmocka_unit_test(test_svinval_page_loop_between_one_pair_of_ordering_fences),
		cmocka_unit_test(test_global_space_is_fenced_without_an_asid),
		cmocka_unit_test(test_global_space_above_the_ceiling_fences_everything),
		cmocka_unit_test(test_svinval_global_pages_are_sinval_without_an_asid),
		cmocka_unit_test(test_a_hart_beyond_the_per_cpu_array_fences_everything_at_switch_in),
		cmocka_unit_test(test_race_check_fences_the_whole_asid_on_the_mask_ipi),
		cmocka_unit_test(test_race_check_fences_the_whole_asid_on_the_mask_sbi),
		cmocka_unit_test(test_switch_in_writes_satp_and_fences_only_a_stale_asid),
		cmocka_unit_test(test_an_invalid_sv39_address_becomes_a_whole_asid_fence),
		cmocka_unit_test(test_init_refuses_what_it_cannot_serve),
		cmocka_unit_test(test_random_sequences_keep_the_rule_ipi),
		cmocka_unit_test(test_random_sequences_keep_the_rule_sbi),
		cmocka_unit_test(test_random_sequences_keep_the_rule_svinval),
	};
	const struct CMUnitTest negative[] = {
		cmocka_unit_test(test_negative_without_the_port_round_remote_harts_stay_stale),
		cmocka_unit_test(test_negative_without_the_race_check_the_changer_leaves_stale_entries),
		cmocka_unit_test(test_negative_random_sequences_without_the_port_round_break_the_rule),
	};
	const struct CMUnitTest mutant[] = {
		cmocka_unit_test(test_mutant_ipi_path_is_found_stale),
		cmocka_unit_test(test_mutant_sbi_path_is_found_stale),
		cmocka_unit_test(test_mutant_random_sequences_break_the_rule),
	};

	if (argc > 1 && strcmp(argv[1], "negative") == 0)
		return cmocka_run_group_tests(negative, NULL, NULL);
	if (argc > 1 && strcmp(argv[1], "mutant") == 0)
		return cmocka_run_group_tests(mutant, NULL, NULL);
	return cmocka_run_group_tests(rules, NULL, NULL);
}
