/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 backend, specified rule by rule on the host.
 *
 * arch/x86_64/x86_64.c is compiled here unchanged except for
 * -DTLBB_X86_RECORD, which turns its five instructions (INVLPG, INVPCID,
 * CR3 read/write, CR4 read/write) into calls to the recorder (recorder.c,
 * shared with the sequence fuzzer fuzz_x86.c). The port hooks are defined
 * there too: tlbb_port_ipi_send_and_wait() records the round and then runs
 * the handler "on" each target by switching the current CPU number. So
 * every test sees exactly which CPU executed which instruction, and which
 * rounds of IPIs were sent from where.
 *
 * On top of the raw record, a small per-CPU TLB model applies each
 * instruction with the architectural meaning (INVLPG of a non-canonical
 * address does nothing; CR3 writes flush only the new PCID unless the
 * no-flush bit is set; ...). The safety tests fill the model TLBs, clear
 * PTEs, run the protocol and then ask: does any CPU still hold an entry for
 * a cleared page? Run with the argument "negative" this binary instead runs
 * the negative controls, which remove one step (the IPI round, the flushing
 * CR3 write) and must find stale entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "recorder.h" /* the recorder, the port hooks and the TLB model */

#define ROOT_A 0x1000000ull /* page-table roots (CR3 bits 51:12) */
#define ROOT_B 0x2000000ull
#define VA(n) (0x7f0000000000ull + (uint64_t)(n) * 4096u)

/* A harness invariant broke: fail the running test (cmocka longjmps out). */
void rec_fail(const char *what)
{
	fail_msg("%s", what);
}

/* How many debug reports one bad-input event gives in this build. */
#ifdef TLBB_DEBUG
#define DEBUG_REPORTS 1u
#else
#define DEBUG_REPORTS 0u
#endif

/* ---- fixtures ---------------------------------------------------------------- */

static struct tlbb_x86 X;
static struct tlbb_x86_cpu PC[NCPU];
static struct tlbb_space A, B, K; /* two user spaces, one global kernel space */

/* CR4 of every model CPU at the next setup (then back to 0): its paging mode. */
static uint64_t next_setup_cr4;

/* The port's masks (Linux's mm_cpumask): one per space, and per batch. */
static tlbb_cpumask_t MA, MB, MK, MC;
static tlbb_cpumask_t batch_masks[8];
static unsigned next_batch_mask;

/* A batch with the port's mask for batches over several spaces. */
static void batch_init(struct tlbb_batch *b)
{
	tlbb_batch_init(b);
	assert_int_equal(tlbb_batch_set_cpumask(b, &batch_masks[next_batch_mask++ % 8]), TLBB_OK);
}

/* @ncpus < NCPU: the port runs more CPUs than it gave the backend. */
static void setup_backend_ncpus(unsigned features, unsigned ceiling, unsigned ncpus)
{
	struct tlbb_x86_config cfg = { features, ceiling };

	memset(&R, 0, sizeof(R));
	for (unsigned c = 0; c < NCPU; c++)
		R.cr4[c] = next_setup_cr4;
	next_setup_cr4 = 0;
	memset(PC, 0xa5, sizeof(PC)); /* init must reset what it tracks */
	R.pcide = (features & TLBB_X86_PCID) != 0;
	assert_int_equal(tlbb_x86_init(&X, &cfg, PC, ncpus), TLBB_OK);
	assert_int_equal(tlbb_space_init(&A, tlbb_x86_backend(&X), 1, NULL), TLBB_OK);
	assert_int_equal(tlbb_space_init(&B, tlbb_x86_backend(&X), 2, NULL), TLBB_OK);
	assert_int_equal(tlbb_space_init(&K, tlbb_x86_backend(&X), 0, NULL), TLBB_OK);
	tlbb_space_set_global(&K, true);
	memset(&MA, 0, sizeof(MA));
	memset(&MB, 0, sizeof(MB));
	memset(&MK, 0, sizeof(MK));
	tlbb_space_set_cpumask(&A, &MA);
	tlbb_space_set_cpumask(&B, &MB);
	tlbb_space_set_cpumask(&K, &MK);
}

static void setup_backend(unsigned features, unsigned ceiling)
{
	setup_backend_ncpus(features, ceiling, NCPU);
}

/* CPU @cpu loads @s (as the port's context switch would). */
static bool run_on(unsigned cpu, struct tlbb_space *s, uint64_t root)
{
	unsigned self = R.cur;
	bool flushed;

	R.cur = cpu;
	flushed = tlbb_x86_switch_space(&X, s, root);
	R.cur = self;
	return flushed;
}

static tlbb_cpumask_t mask_of(const unsigned *cpus, unsigned n)
{
	tlbb_cpumask_t m;

	tlbb_cpumask_clear(&m);
	for (unsigned i = 0; i < n; i++)
		tlbb_cpumask_set(&m, cpus[i]);
	return m;
}

static void assert_mask_equal(const tlbb_cpumask_t *a, const tlbb_cpumask_t *b)
{
	assert_memory_equal(a->bits, b->bits, sizeof(a->bits));
}

/* CPUs 0..3 run space A; the test acts as CPU 0. */
static void four_cpus_on_A(unsigned features, unsigned ceiling)
{
	setup_backend(features, ceiling);
	for (unsigned c = 0; c < 4; c++)
		run_on(c, &A, ROOT_A);
	R.cur = 0;
	R.nev = 0;
}

static void flush_n_pages(unsigned n)
{
	struct tlbb_batch b;

	batch_init(&b);
	for (unsigned i = 0; i < n; i++)
		tlbb_add_page(&b, &A, VA(i), 0);
	tlbb_flush(&b);
}

static void test_init_refuses_what_it_cannot_track(void **state)
{
	struct tlbb_x86 x;

	assert_int_equal(tlbb_x86_init(NULL, NULL, PC, NCPU), TLBB_EINVAL);
	assert_int_equal(tlbb_x86_init(&x, NULL, NULL, NCPU), TLBB_EINVAL);
	assert_int_equal(tlbb_x86_init(&x, NULL, PC, 0), TLBB_EINVAL);
	assert_int_equal(tlbb_x86_init(&x, NULL, PC, TLBB_MAX_CPUS + 1), TLBB_EINVAL);
	assert_int_equal(tlbb_x86_init(&x, NULL, PC, NCPU), TLBB_OK);
	assert_int_equal(x.cfg.ceiling, TLBB_X86_DEFAULT_CEILING);
	assert_int_equal(PC[3].loaded, -1);
}

/* ---- one round per batch ------------------------------------------------------ */

static void test_one_ipi_round_per_batch_whatever_its_size(void **state)
{
	static const unsigned sizes[] = { 1, 2, 32, 33, 34, 100, 512, 5000 };

	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct tlbb_batch b;

		four_cpus_on_A(0, 0);
		batch_init(&b);
		for (unsigned i = 0; i < sizes[k]; i++)
			assert_int_equal(tlbb_add_page(&b, &A, VA(i % 700), 0), TLBB_OK);
		assert_int_equal(R.nrounds, 0); /* add never interrupts anyone */
		tlbb_flush(&b);
		assert_int_equal(R.nrounds, 1);
		tlbb_flush(&b); /* an empty batch costs nothing */
		assert_int_equal(R.nrounds, 1);
	}
}

static void test_target_mask_is_the_union_of_the_spaces_minus_self(void **state)
{
	static const unsigned expect[] = { 1, 2, 5, 6 };
	struct tlbb_batch b;
	tlbb_cpumask_t want = mask_of(expect, 4);

	setup_backend(TLBB_X86_PCID, 0);
	run_on(0, &A, ROOT_A);
	run_on(1, &A, ROOT_A);
	run_on(2, &A, ROOT_A);
	run_on(5, &B, ROOT_B);
	run_on(6, &B, ROOT_B);
	R.cur = 0;
	batch_init(&b);
	tlbb_add_page(&b, &A, VA(1), 0);
	tlbb_add_page(&b, &B, VA(2), 0);
	tlbb_flush(&b);
	assert_int_equal(R.nrounds, 1);
	assert_int_equal(R.rounds[0].from, 0);
	assert_mask_equal(&R.rounds[0].mask, &want);
	/* CPUs 3, 4 and 7 never ran either space: not a single instruction. */
	assert_int_equal(count_ev(3, EV_INVLPG, 0) + count_ev(3, EV_CR3, 0), 0);
	assert_int_equal(count_ev(4, EV_CR3, 0) + count_ev(7, EV_CR3, 0), 0);
}

static void test_never_an_ipi_to_self_local_part_inline(void **state)
{
	static const unsigned rest[] = { 0, 1, 3 };
	tlbb_cpumask_t want = mask_of(rest, 3);
	struct tlbb_batch b;

	four_cpus_on_A(0, 0);
	R.cur = 2; /* flush from CPU 2, which also runs A */
	batch_init(&b);
	tlbb_add_page(&b, &A, VA(7), 0);
	tlbb_flush(&b);
	assert_int_equal(R.nrounds, 1);
	assert_mask_equal(&R.rounds[0].mask, &want);
	assert_false(tlbb_cpumask_test(&R.rounds[0].mask, 2));
	assert_int_equal(count_ev(2, EV_INVLPG, 0), 1); /* done inline */
	assert_int_equal(PC[2].st.local, 1);
	assert_int_equal(PC[2].st.ipis, 0);
}

static void test_no_round_when_only_this_cpu_caches_the_space(void **state)
{
	struct tlbb_batch b;

	setup_backend(0, 0);
	run_on(0, &A, ROOT_A);
	R.cur = 0;
	assert_false(tlbb_should_defer(&A));
	batch_init(&b);
	tlbb_add_page(&b, &A, VA(3), 0);
	tlbb_flush(&b);
	assert_int_equal(R.nrounds, 0);
	assert_int_equal(count_ev(0, EV_INVLPG, 0), 1);
}

static void test_should_defer_only_when_another_cpu_may_cache(void **state)
{
	setup_backend(0, 0);
	R.cur = 0;
	assert_false(tlbb_should_defer(&A)); /* nobody */
	run_on(0, &A, ROOT_A);
	assert_false(tlbb_should_defer(&A)); /* only us */
	run_on(3, &A, ROOT_A);
	assert_true(tlbb_should_defer(&A)); /* CPU 3 too */
	R.cur = 3;
	assert_true(tlbb_should_defer(&A)); /* seen from CPU 3: CPU 0 */
}

/* ---- per-CPU generations -------------------------------------------------------- */

static void test_adds_take_no_number_their_flush_takes_one(void **state)
{
	struct tlbb_batch b;

	/*
	 * The number that tells a CPU to flush at switch-in is taken once per
	 * flush, after every change it answers for: adds do no shared
	 * read-modify-write beyond the core's pending bump.
	 */
	four_cpus_on_A(0, 0);
	batch_init(&b);
	for (unsigned i = 0; i < 40; i++)
		tlbb_add_page(&b, &A, VA(i), 0);
	assert_int_equal(tlbb_x86_space_gen(&A), 0);
	tlbb_flush(&b);
	assert_int_equal(tlbb_x86_space_gen(&A), 1);
	for (unsigned c = 0; c < 4; c++)
		assert_int_equal(PC[c].slot[PC[c].loaded].gen, 1);
}

static void test_consecutive_batches_catch_cpus_up_without_full_flushes(void **state)
{
	struct tlbb_batch b1, b2, late;
	unsigned mark;

	four_cpus_on_A(0, 0);
	batch_init(&b1);
	tlbb_add_page(&b1, &A, VA(1), 0); /* adds take no number */
	tlbb_add_page(&b1, &A, VA(2), 0);
	tlbb_flush(&b1);                  /* number 1, INVLPG 1..2: CPUs at 1 */
	batch_init(&b2);
	tlbb_add_page(&b2, &A, VA(3), 0);
	tlbb_flush(&b2);                  /* number 2: CPUs at 2 */
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(PC[c].slot[PC[c].loaded].gen, 2);
		assert_int_equal(PC[c].st.full, 0);
	}
	/*
	 * Another batch's unflushed adds hold no number: a batch flushed
	 * meanwhile still catches up, and the other batch's later number is
	 * above it, so its own flush still runs its INVLPG.
	 */
	batch_init(&b1);
	batch_init(&late);
	tlbb_add_page(&late, &A, VA(9), 0);
	tlbb_add_page(&b1, &A, VA(5), 0);
	tlbb_flush(&b1);                    /* number 3: INVLPG 5, CPUs at 3 */
	for (unsigned c = 0; c < 4; c++)
		assert_int_equal(PC[c].slot[PC[c].loaded].gen, 3);
	mark = R.nev;
	tlbb_flush(&late); /* number 4: its INVLPG of page 9 on every CPU */
	assert_int_equal(count_ev(NCPU, EV_INVLPG, mark), 4);
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(PC[c].slot[PC[c].loaded].gen, 4);
		assert_int_equal(PC[c].st.full, 0);
	}
}

static void test_a_full_flush_claims_only_the_generation_read_before_it(void **state)
{
	struct tlbb_batch b;

	four_cpus_on_A(0, 0);
	flush_n_pages(40);                  /* number 1, whole-PCID flush */
	for (unsigned c = 0; c < 4; c++)
		assert_int_equal(PC[c].slot[PC[c].loaded].gen, 1);
	for (unsigned c = 0; c < 4; c++)
		touch(c, VA(7), false);
	batch_init(&b);
	tlbb_add_page(&b, &A, VA(7), 0);    /* its flush's number 2: newer */
	tlbb_flush(&b);
	assert_int_equal(usable_holders(&A, VA(7)), 0);
	assert_int_equal(count_ev(NCPU, EV_INVLPG, 0), 4);
}

static void test_a_catch_up_never_claims_an_interleaved_batchs_number(void **state)
{
	struct tlbb_batch w, a, b;

	four_cpus_on_A(0, 0);
	batch_init(&w);
	batch_init(&a);
	batch_init(&b);
	for (unsigned i = 0; i < 40; i++)
		tlbb_add_page(&w, &A, VA(100 + i), 0);
	tlbb_add_page(&a, &A, VA(1), 0);
	tlbb_flush(&w); /* number 1, whole flush: every CPU at 1 */
	for (unsigned c = 0; c < 4; c++)
		touch(c, VA(50), false);
	tlbb_add_page(&b, &A, VA(50), 0);          /* b's, outside a's range */
	tlbb_add_page(&a, &A, VA(3), 0);
	tlbb_flush(&a); /* number 2, INVLPG 1..3 (its range): page 50 is not a's */
	tlbb_flush(&b);
	assert_int_equal(usable_holders(&A, VA(50)), 0);
}

static void test_unnumbered_synchronous_flush_is_never_skipped(void **state)
{
	/* A NULL batch makes the core flush the space at once, with no add:
	 * the flush must take its own number or current CPUs would skip it. */
	four_cpus_on_A(0, 0);
	flush_n_pages(40); /* every CPU current at 40 */
	for (unsigned c = 0; c < 4; c++)
		touch(c, VA(3), false);
	assert_int_equal(tlbb_add_page(NULL, &A, VA(3), 0), TLBB_EINVAL);
	assert_int_equal(usable_holders(&A, VA(3)), 0);
}

static struct tlbb_batch other_flusher;

static void cpu1_flushes_its_batch(void)
{
	R.cur = 1;
	tlbb_flush(&other_flusher); /* its round interrupts CPU 0 */
}

static void test_a_flush_interrupted_by_another_round_keeps_the_higher_generation(void **state)
{
	struct tlbb_batch mine;

	/*
	 * CPU 0 is in the local part of its own 2-page flush (number 1, which
	 * it may claim) when CPU 1's round for a 40-page batch arrives and does
	 * a whole flush (number 2: CPU 0 now at 2). Back in its INVLPGs, CPU 0
	 * must not lower its generation to 1: the update is one atomic "raise".
	 */
	four_cpus_on_A(0, 0);
	batch_init(&mine);
	batch_init(&other_flusher);
	tlbb_add_page(&mine, &A, VA(1), 0);
	tlbb_add_page(&mine, &A, VA(2), 0);
	R.cur = 1;
	for (unsigned i = 0; i < 40; i++)
		tlbb_add_page(&other_flusher, &A, VA(100 + i), 0);
	R.cur = 0;
	R.interrupt_cpu0 = cpu1_flushes_its_batch;
	tlbb_flush(&mine);
	assert_null(R.interrupt_cpu0); /* the interrupt did happen */
	assert_int_equal(PC[0].st.ipis, 1);
	assert_int_equal(PC[0].slot[PC[0].loaded].gen, 2);
}

/* ---- the ceiling ------------------------------------------------------------------- */

static void test_invlpg_up_to_the_ceiling_of_33(void **state)
{
	four_cpus_on_A(0, 0);
	flush_n_pages(33);
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(count_ev(c, EV_INVLPG, 0), 33);
		assert_int_equal(count_ev(c, EV_CR3, 0), 0);
		/* The statistics a port exports count what was executed. */
		assert_int_equal(PC[c].st.invlpg, 33);
		assert_int_equal(PC[c].st.full, 0);
	}
}

static void test_whole_space_flush_above_the_ceiling(void **state)
{
	four_cpus_on_A(0, 0);
	flush_n_pages(34);
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(count_ev(c, EV_INVLPG, 0), 0);
		assert_int_equal(count_ev(c, EV_CR3, 0), 1);
		assert_int_equal(PC[c].st.invlpg, 0);
		assert_int_equal(PC[c].st.full, 1);
	}
}

static void test_ceiling_is_configurable(void **state)
{
	four_cpus_on_A(0, 4);
	flush_n_pages(4);
	assert_int_equal(count_ev(NCPU, EV_INVLPG, 0), 4 * 4);
	R.nev = 0;
	flush_n_pages(5);
	assert_int_equal(count_ev(NCPU, EV_INVLPG, 0), 0);
	assert_int_equal(count_ev(NCPU, EV_CR3, 0), 4);
}

static void test_ceiling_counts_the_covering_range_not_the_adds(void **state)
{
	struct tlbb_batch b;

	/* Two pages 100 pages apart: INVLPG would cover 101 pages: full flush. */
	four_cpus_on_A(0, 0);
	batch_init(&b);
	tlbb_add_page(&b, &A, VA(0), 0);
	tlbb_add_page(&b, &A, VA(100), 0);
	tlbb_flush(&b);
	assert_int_equal(count_ev(NCPU, EV_INVLPG, 0), 0);
	assert_int_equal(count_ev(NCPU, EV_CR3, 0), 4);
}

static void test_whole_space_add_is_not_narrowed_by_later_pages(void **state)
{
	struct tlbb_batch b;

	four_cpus_on_A(0, 0);
	batch_init(&b);
	tlbb_add_space(&b, &A, 0);
	tlbb_add_page(&b, &A, 0x1000, 0); /* a low page must not shrink "all" */
	tlbb_add_page(&b, &A, 0x2000, 0);
	tlbb_flush(&b);
	assert_int_equal(count_ev(NCPU, EV_INVLPG, 0), 0);
	assert_int_equal(count_ev(NCPU, EV_CR3, 0), 4);
}

/* ---- PCID paths --------------------------------------------------------------------- */

static void test_full_flush_is_invpcid_single_context_when_available(void **state)
{
	four_cpus_on_A(TLBB_X86_PCID | TLBB_X86_INVPCID, 0);
	flush_n_pages(34);
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(count_ev(c, EV_INVPCID, 0), 1);
		assert_int_equal(count_ev(c, EV_CR3, 0), 0);
	}
	for (unsigned i = 0; i < R.nev; i++) {
		assert_int_equal(R.ev[i].a, 1);    /* type 1: single context */
		assert_int_equal(R.ev[i].b, A.id); /* A's PCID */
	}
}

static void test_full_flush_reloads_cr3_without_invpcid(void **state)
{
	four_cpus_on_A(TLBB_X86_PCID, 0);
	flush_n_pages(34);
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(count_ev(c, EV_INVPCID, 0), 0);
		assert_int_equal(count_ev(c, EV_CR3, 0), 1);
	}
	for (unsigned i = 0; i < R.nev; i++) {
		/* Same root, same PCID, and the no-flush bit clear: a flush. */
		assert_int_equal(R.ev[i].a, ROOT_A | A.id);
	}
}

static void test_switch_keeps_a_current_pcid_and_flushes_a_stale_one(void **state)
{
	setup_backend(TLBB_X86_PCID, 0);
	R.cur = 0;
	run_on(1, &A, ROOT_A);
	assert_true(run_on(0, &A, ROOT_A));   /* first time on CPU 0: flush */
	assert_true(run_on(0, &B, ROOT_B));   /* first time for B */
	assert_false(run_on(0, &A, ROOT_A));  /* back to A, nothing changed */
	assert_int_equal(R.ev[R.nev - 1].a, ROOT_A | A.id | CR3_NOFLUSH);
	assert_false(run_on(0, &B, ROOT_B));
	/* While B runs on CPU 0, A's pages change: CPU 0 defers to switch-in. */
	flush_n_pages(3);
	assert_int_equal(PC[0].st.deferred, 1);
	assert_int_equal(count_ev(0, EV_INVLPG, 0), 0);
	assert_true(run_on(0, &A, ROOT_A)); /* stale slot: flushing CR3 write */
	assert_int_equal(R.ev[R.nev - 1].a, ROOT_A | A.id);
	/* Five switches on CPU 0: A, B (new), A, B (current), A (stale). */
	assert_int_equal(PC[0].st.switches, 5);
	assert_int_equal(PC[0].st.switch_flushes, 3);
	assert_int_equal(PC[1].st.switches, 1);
	assert_int_equal(PC[1].st.switch_flushes, 1);
}

static void test_pcid_reused_by_another_space_is_flushed_at_switch(void **state)
{
	struct tlbb_space C;

	setup_backend(TLBB_X86_PCID, 0);
	assert_int_equal(tlbb_space_init(&C, tlbb_x86_backend(&X), A.id, NULL), TLBB_OK);
	memset(&MC, 0, sizeof(MC));
	tlbb_space_set_cpumask(&C, &MC);
	run_on(0, &A, ROOT_A);
	run_on(0, &B, ROOT_B);
	assert_true(run_on(0, &C, ROOT_A)); /* same PCID, other space */
	assert_true(run_on(0, &A, ROOT_A)); /* and back: C's leftovers go */
}

static void test_without_pcid_every_switch_flushes(void **state)
{
	setup_backend(0, 0);
	assert_true(run_on(0, &A, ROOT_A));
	assert_true(run_on(0, &A, ROOT_A));
	assert_int_equal(R.ev[R.nev - 1].a & CR3_NOFLUSH, 0);
	assert_int_equal(PC[0].st.switches, 2);
	assert_int_equal(PC[0].st.switch_flushes, 2);
}

/* ---- addresses ------------------------------------------------------------------------ */

static void test_non_canonical_address_becomes_a_full_flush(void **state)
{
	struct tlbb_batch b;

	four_cpus_on_A(0, 0);
	batch_init(&b);
	tlbb_add_page(&b, &A, 0x0000800000000000ull, 0); /* first non-canonical page */
	tlbb_flush(&b);
	assert_int_equal(count_ev(NCPU, EV_INVLPG, 0), 0);
	assert_int_equal(count_ev(NCPU, EV_CR3, 0), 4);
}

static void test_range_across_the_hole_becomes_a_full_flush(void **state)
{
	struct tlbb_batch b;

	four_cpus_on_A(0, 0);
	batch_init(&b);
	/* Both ends canonical, the middle is not: ends in different halves. */
	tlbb_add_page(&b, &A, 0x00007ffffffff000ull, 0);
	tlbb_add_page(&b, &A, 0xffff800000000000ull, 0);
	tlbb_flush(&b);
	for (unsigned i = 0; i < R.nev; i++)
		if (R.ev[i].kind == EV_INVLPG)
			assert_true(canonical48(R.ev[i].a));
	assert_int_equal(count_ev(NCPU, EV_CR3, 0), 4);
}

static void test_la57_widens_the_canonical_range(void **state)
{
	struct tlbb_batch b;

	four_cpus_on_A(TLBB_X86_LA57, 0);
	batch_init(&b);
	tlbb_add_page(&b, &A, 0x0000800000000000ull, 0); /* canonical with 57 bits */
	tlbb_flush(&b);
	assert_int_equal(count_ev(NCPU, EV_INVLPG, 0), 4);
}

/* An address of Linux's 5-level vmalloc area: canonical with 57 bits, not 48. */
#define LA57_VA(n) (0xffa0000000000000ull + (uint64_t)(n) * 4096u)

/*
 * 5-level paging, and a port that did not say so: init reads CR4.LA57 and
 * the batch stays per-page. Every CPU on the model's 57-bit paging drops
 * the entries by INVLPG.
 */
static void test_la57_is_taken_from_cr4_at_init(void **state)
{
	struct tlbb_batch b;

	next_setup_cr4 = CR4_LA57;
	four_cpus_on_A(0, 0);
	assert_true(X.cfg.features & TLBB_X86_LA57);
	for (unsigned c = 0; c < 4; c++)
		touch(c, LA57_VA(3), false);
	batch_init(&b);
	tlbb_add_page(&b, &A, LA57_VA(3), 0);
	tlbb_add_page(&b, &A, LA57_VA(4), 0);
	tlbb_flush(&b);
	assert_int_equal(count_ev(NCPU, EV_INVLPG, 0), 8);
	assert_int_equal(count_ev(NCPU, EV_CR3, 0), 0);
	assert_int_equal(usable_holders(&A, LA57_VA(3)), 0);
}

/*
 * A port that states the paging mode itself: init reads no CR4 (a PV guest
 * whose CR4 read traps, the benchmarks in ring 3) and takes the port's word,
 * LA57 or not. With CR4.LA57 set and the port saying 4-level, 48 bits stay.
 */
static void test_paging_from_port_reads_no_cr4(void **state)
{
	next_setup_cr4 = CR4_LA57;
	four_cpus_on_A(TLBB_X86_PAGING_FROM_PORT, 0);
	assert_false(X.cfg.features & TLBB_X86_LA57);
	next_setup_cr4 = 0;
	four_cpus_on_A(TLBB_X86_PAGING_FROM_PORT | TLBB_X86_LA57, 0);
	assert_true(X.cfg.features & TLBB_X86_LA57);
}

/* 4-level paging: nothing changes (the 48-bit rule stays). */
static void test_no_la57_in_cr4_keeps_48_bits(void **state)
{
	four_cpus_on_A(0, 0);
	assert_false(X.cfg.features & TLBB_X86_LA57);
}

/* ---- race check, several spaces, global --------------------------------------------- */

static void test_race_check_flushes_the_whole_space_on_its_mask(void **state)
{
	static const unsigned others[] = { 1, 2, 3 };
	tlbb_cpumask_t want = mask_of(others, 3);
	struct tlbb_batch b;

	four_cpus_on_A(TLBB_X86_PCID | TLBB_X86_INVPCID, 0);
	batch_init(&b);
	tlbb_add_page(&b, &A, VA(1), 0);
	R.nev = 0;
	assert_true(tlbb_flush_pending(&A)); /* another path changing A's PTEs */
	assert_int_equal(R.nrounds, 1);
	assert_mask_equal(&R.rounds[0].mask, &want);
	for (unsigned c = 0; c < 4; c++)
		assert_int_equal(count_ev(c, EV_INVPCID, 0), 1);
	assert_false(tlbb_flush_pending(&A)); /* published: nothing outstanding */
	/*
	 * The batch's own flush takes the next number: every CPU is one
	 * behind it and runs just the batch's INVLPG (the whole flush came
	 * first, but a number is taken after the changes it answers for).
	 */
	tlbb_flush(&b);
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(count_ev(c, EV_INVLPG, 0), 1);
		assert_int_equal(PC[c].st.full, 1);
	}
}

static void test_batch_of_two_spaces_flushes_loaded_and_defers_others(void **state)
{
	struct tlbb_batch b;

	setup_backend(TLBB_X86_PCID, 0);
	run_on(1, &B, ROOT_B);
	run_on(1, &A, ROOT_A); /* CPU 1 holds B's PCID, runs A */
	run_on(2, &B, ROOT_B);
	R.cur = 0;
	R.nev = 0;
	batch_init(&b);
	tlbb_add_page(&b, &A, VA(1), 0);
	tlbb_add_page(&b, &B, VA(1), 0);
	tlbb_flush(&b);
	assert_int_equal(R.nrounds, 1);
	assert_int_equal(count_ev(1, EV_CR3, 0), 1); /* A, loaded: now */
	assert_int_equal(count_ev(2, EV_CR3, 0), 1);
	for (unsigned c = 1; c <= 2; c++) {
		assert_int_equal(PC[c].st.ipis, 1);
		assert_int_equal(PC[c].st.full, 1); /* one whole-PCID flush each */
		assert_int_equal(PC[c].st.invlpg, 0);
	}
	assert_int_equal(PC[0].st.local, 0); /* CPU 0 caches neither space */
	assert_true(run_on(1, &B, ROOT_B));          /* B: at its switch-in */
	assert_false(run_on(1, &A, ROOT_A));         /* A was caught up */
}

static void test_global_space_full_flush_drops_global_entries(void **state)
{
	struct tlbb_batch b;

	/* With INVPCID: type 2 (all contexts, global included). */
	four_cpus_on_A(TLBB_X86_PCID | TLBB_X86_INVPCID, 0);
	for (unsigned c = 0; c < 4; c++)
		tlbb_space_cpu_enter(&K, c);
	batch_init(&b);
	tlbb_add_space(&b, &K, 0);
	tlbb_flush(&b);
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(count_ev(c, EV_INVPCID, 0), 1);
		assert_int_equal(R.ev[c].a, 2);
	}
	/* Without: a CR4.PGE toggle, CR4 restored. */
	four_cpus_on_A(TLBB_X86_PCID, 0);
	for (unsigned c = 0; c < 4; c++) {
		tlbb_space_cpu_enter(&K, c);
		R.cr4[c] = CR4_PGE;
	}
	batch_init(&b);
	tlbb_add_space(&b, &K, 0);
	tlbb_flush(&b);
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(count_ev(c, EV_CR4, 0), 2);
		assert_int_equal(R.cr4[c], CR4_PGE);
	}
	/* A batch mixing a user space and the global one: still everything. */
	four_cpus_on_A(TLBB_X86_PCID | TLBB_X86_INVPCID, 0);
	for (unsigned c = 0; c < 4; c++) {
		tlbb_space_cpu_enter(&K, c);
		touch(c, 0xffffffff80001000ull, true);
	}
	batch_init(&b);
	tlbb_add_page(&b, &A, VA(1), 0);
	tlbb_add_page(&b, &K, 0xffffffff80001000ull, 0);
	tlbb_flush(&b);
	for (unsigned c = 0; c < NCPU; c++)
		for (unsigned i = 0; i < TLB_SIZE; i++)
			assert_false(R.tlb[c][i].valid && R.tlb[c][i].global);
	for (unsigned c = 0; c < 4; c++)
		assert_int_equal(PC[c].st.full, 1); /* one "everything" per CPU */
}

#define KVA(n) (0xffffffff80000000ull + (uint64_t)(n) * 4096u)

/* CPUs holding a global entry of @va (under any PCID: it matches all). */
static unsigned global_holders(uint64_t va)
{
	unsigned n = 0;

	for (unsigned c = 0; c < NCPU; c++)
		for (unsigned i = 0; i < TLB_SIZE; i++) {
			const struct tlbe *e = &R.tlb[c][i];

			if (e->valid && e->global && e->va == (va & ~0xfffull)) {
				n++;
				break;
			}
		}
	return n;
}

/*
 * The kernel space K on CPUs 0..3, which run different things: 0 and 1 run
 * A, 2 runs B, 3 has loaded nothing yet. Each caches kernel pages
 * KVA(0..39) as global entries, tagged with whatever PCID it has loaded.
 * The test acts as CPU 0; the record starts empty.
 */
static void kernel_on_four_cpus(unsigned features)
{
	setup_backend(features, 0);
	run_on(0, &A, ROOT_A);
	run_on(1, &A, ROOT_A);
	run_on(2, &B, ROOT_B);
	for (unsigned c = 0; c < 4; c++) {
		tlbb_space_cpu_enter(&K, c); /* the port's duty for a global space */
		R.cr4[c] = CR4_PGE;
		for (unsigned i = 0; i < 40; i++)
			touch(c, KVA(i), true);
	}
	R.cur = 0;
	R.nev = 0;
}

/*
 * A few kernel pages: INVLPG on every CPU of K's mask, whatever PCID it has
 * loaded (INVLPG drops the page's global entry under any PCID), with or
 * without INVPCID (type 0 would reach one PCID only, so it is not used).
 */
static void global_small_range(unsigned features)
{
	static const unsigned others[] = { 1, 2, 3 };
	tlbb_cpumask_t want = mask_of(others, 3);
	struct tlbb_batch b;

	kernel_on_four_cpus(features);
	batch_init(&b);
	tlbb_add_page(&b, &K, KVA(1), 0);
	tlbb_add_page(&b, &K, KVA(2), 0);
	tlbb_flush(&b);
	assert_int_equal(R.nrounds, 1);
	assert_mask_equal(&R.rounds[0].mask, &want);
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(count_ev(c, EV_INVLPG, 0), 2);
		assert_int_equal(count_ev(c, EV_INVPCID, 0), 0);
		assert_int_equal(count_ev(c, EV_CR3, 0), 0);
		assert_int_equal(count_ev(c, EV_CR4, 0), 0);
		assert_int_equal(PC[c].st.invlpg, 2);
		assert_int_equal(PC[c].st.full, 0);
		assert_int_equal(PC[c].st.skipped, 0);
	}
	assert_int_equal(global_holders(KVA(1)), 0);
	assert_int_equal(global_holders(KVA(2)), 0);
	assert_int_equal(global_holders(KVA(3)), 4); /* only those two pages */
}

static void test_global_space_small_range_is_invlpg_on_every_cpu_invpcid(void **state)
{
	global_small_range(TLBB_X86_PCID | TLBB_X86_INVPCID);
}

static void test_global_space_small_range_is_invlpg_on_every_cpu_no_invpcid(void **state)
{
	global_small_range(TLBB_X86_PCID);
}

static void test_global_space_above_the_ceiling_is_invpcid_all_contexts(void **state)
{
	struct tlbb_batch b;

	kernel_on_four_cpus(TLBB_X86_PCID | TLBB_X86_INVPCID);
	batch_init(&b);
	for (unsigned i = 0; i < 34; i++)
		tlbb_add_page(&b, &K, KVA(i), 0);
	tlbb_flush(&b);
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(count_ev(c, EV_INVLPG, 0), 0);
		assert_int_equal(count_ev(c, EV_INVPCID, 0), 1);
		assert_int_equal(count_ev(c, EV_CR4, 0), 0);
		assert_int_equal(PC[c].st.invlpg, 0);
		assert_int_equal(PC[c].st.full, 1);
	}
	for (unsigned i = 0; i < R.nev; i++)
		assert_int_equal(R.ev[i].a, 2); /* type 2: global entries too */
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(global_holders(KVA(i)), 0);
}

static void test_global_space_above_the_ceiling_toggles_cr4_pge_without_invpcid(void **state)
{
	struct tlbb_batch b;

	kernel_on_four_cpus(TLBB_X86_PCID);
	batch_init(&b);
	for (unsigned i = 0; i < 34; i++)
		tlbb_add_page(&b, &K, KVA(i), 0);
	tlbb_flush(&b);
	for (unsigned c = 0; c < 4; c++) {
		unsigned first = NCPU;

		assert_int_equal(count_ev(c, EV_INVLPG, 0), 0);
		assert_int_equal(count_ev(c, EV_INVPCID, 0), 0);
		assert_int_equal(count_ev(c, EV_CR4, 0), 2);
		for (unsigned i = 0; i < R.nev && first == NCPU; i++)
			if (R.ev[i].cpu == c && R.ev[i].kind == EV_CR4)
				first = i;
		/* PGE off, then back on: CR4 ends as it was. */
		assert_int_equal(R.ev[first].a, 0);
		assert_int_equal(R.ev[first + 1].a, CR4_PGE);
		assert_int_equal(R.cr4[c], CR4_PGE);
		assert_int_equal(PC[c].st.full, 1);
	}
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(global_holders(KVA(i)), 0);
}

static void test_global_space_is_never_skipped_by_generation(void **state)
{
	struct tlbb_batch old, big;
	unsigned mark;

	/*
	 * A user-space request older than a CPU's generation is skipped; a
	 * global one cannot be: its entries live under every PCID, there is no
	 * one slot whose generation could vouch for them. The straggler after
	 * a whole flush still does its INVLPG on every CPU.
	 */
	kernel_on_four_cpus(TLBB_X86_PCID | TLBB_X86_INVPCID);
	batch_init(&old);
	batch_init(&big);
	tlbb_add_page(&old, &K, KVA(1), 0); /* 1 */
	for (unsigned i = 0; i < 40; i++)
		tlbb_add_page(&big, &K, KVA(i), 0); /* 2..41 */
	tlbb_flush(&big);
	mark = R.nev;
	for (unsigned c = 0; c < 4; c++)
		touch(c, KVA(1), true); /* walked again after the flush */
	tlbb_flush(&old);
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(count_ev(c, EV_INVLPG, mark), 1);
		assert_int_equal(PC[c].st.invlpg, 1);
		assert_int_equal(PC[c].st.full, 1);
		assert_int_equal(PC[c].st.skipped, 0);
	}
	assert_int_equal(global_holders(KVA(1)), 0);
}

/* ---- a CPU the port did not give the backend ---------------------------------------- */

/*
 * A port bug: tlbb_port_cpu_id() returns a number >= the ncpus given to
 * tlbb_x86_init(). The backend has no per-CPU state for it, so it cannot
 * know what that CPU caches: TLBB_DEBUG builds report it, and every build
 * treats the CPU as knowing nothing (every switch flushes, every request
 * flushes everything), never writing outside the per-CPU array.
 */
#define TRACKED 4
#define UNTRACKED 5

static bool untracked_cpu_state_untouched(void)
{
	static struct tlbb_x86_cpu pattern;

	memset(&pattern, 0xa5, sizeof(pattern));
	for (unsigned c = TRACKED; c < NCPU; c++)
		if (memcmp(&PC[c], &pattern, sizeof(pattern)) != 0)
			return false;
	return true;
}

static void test_untracked_cpu_switch_always_writes_a_flushing_cr3(void **state)
{
	setup_backend_ncpus(TLBB_X86_PCID, 0, TRACKED);
	R.expect_debug_fail = true;
	assert_true(run_on(UNTRACKED, &A, ROOT_A));
	assert_int_equal(R.nev, 1);
	assert_int_equal(R.ev[0].cpu, UNTRACKED);
	assert_int_equal(R.ev[0].kind, EV_CR3);
	assert_int_equal(R.ev[0].a, ROOT_A | A.id); /* no no-flush bit */
	assert_true(tlbb_cpumask_test(A.cpus, UNTRACKED)); /* flushes reach it */
	touch(UNTRACKED, VA(1), false);
	run_on(UNTRACKED, &B, ROOT_B);
	/* Back to A: it cannot know A is unchanged, so it flushes again. */
	assert_true(run_on(UNTRACKED, &A, ROOT_A));
	assert_int_equal(R.ev[R.nev - 1].a, ROOT_A | A.id);
	assert_int_equal(usable_holders(&A, VA(1)), 0);
	assert_int_equal(R.debug_fails, 3 * DEBUG_REPORTS);
	assert_true(untracked_cpu_state_untouched());
}

static void untracked_cpu_gets_everything(unsigned features)
{
	static const unsigned others[] = { 1, UNTRACKED };
	tlbb_cpumask_t want = mask_of(others, 2);

	setup_backend_ncpus(features, 0, TRACKED);
	R.expect_debug_fail = true;
	run_on(0, &A, ROOT_A);
	run_on(1, &A, ROOT_A);
	run_on(UNTRACKED, &A, ROOT_A);
	R.cr4[UNTRACKED] = CR4_PGE;
	touch(0, VA(1), false);
	touch(1, VA(1), false);
	touch(UNTRACKED, VA(1), false);
	R.cur = 0;
	R.nev = 0;
	R.debug_fails = 0;
	flush_n_pages(2);
	assert_int_equal(R.nrounds, 1);
	assert_mask_equal(&R.rounds[0].mask, &want);
	assert_int_equal(count_ev(UNTRACKED, EV_INVLPG, 0), 0);
	if (features & TLBB_X86_INVPCID) {
		assert_int_equal(count_ev(UNTRACKED, EV_INVPCID, 0), 1);
		for (unsigned i = 0; i < R.nev; i++)
			if (R.ev[i].cpu == UNTRACKED)
				assert_int_equal(R.ev[i].a, 2); /* all contexts, global too */
	} else {
		assert_int_equal(count_ev(UNTRACKED, EV_CR4, 0), 2);
		assert_int_equal(R.cr4[UNTRACKED], CR4_PGE);
	}
	assert_int_equal(usable_holders(&A, VA(1)), 0);
	assert_int_equal(R.debug_fails, DEBUG_REPORTS);
	/* The tracked CPUs did their ordinary INVLPGs. */
	assert_int_equal(PC[1].st.invlpg, 2);
	assert_true(untracked_cpu_state_untouched());
}

static void test_untracked_cpu_request_flushes_everything_invpcid(void **state)
{
	untracked_cpu_gets_everything(TLBB_X86_PCID | TLBB_X86_INVPCID);
}

static void test_untracked_cpu_request_flushes_everything_cr4(void **state)
{
	untracked_cpu_gets_everything(TLBB_X86_PCID);
}

/* ---- a CPU that left the space -------------------------------------------------------- */

static void test_cpu_that_switched_away_without_pcid_skips_the_request(void **state)
{
	struct tlbb_batch b;
	unsigned mark;

	/*
	 * Without PCIDs, CPU 1's switch to B flushed all of A's entries and
	 * forgot A (one slot). Its bit in A's mask stays (the port clears it
	 * lazily, or never), so it still gets the round, and does nothing:
	 * its next switch to A flushes anyway.
	 */
	setup_backend(0, 0);
	run_on(0, &A, ROOT_A);
	run_on(1, &A, ROOT_A);
	touch(1, VA(1), false);
	run_on(1, &B, ROOT_B);
	assert_int_equal(holders(&A, VA(1)), 0); /* the switch's CR3 write */
	R.cur = 0;
	mark = R.nev;
	batch_init(&b);
	tlbb_add_page(&b, &A, VA(1), 0);
	tlbb_flush(&b);
	assert_int_equal(R.nrounds, 1);
	assert_true(tlbb_cpumask_test(&R.rounds[0].mask, 1));
	assert_int_equal(count_ev(1, EV_INVLPG, mark) + count_ev(1, EV_CR3, mark) +
				 count_ev(1, EV_INVPCID, mark) + count_ev(1, EV_CR4, mark),
			 0);
	assert_int_equal(PC[1].st.ipis, 1);
	assert_int_equal(PC[1].st.skipped, 1);
	assert_int_equal(PC[1].st.deferred, 0);
	assert_true(run_on(1, &A, ROOT_A));
	assert_int_equal(PC[1].st.switch_flushes, 3);
}


/* ---- the life of a space: death, rebirth, recycled PCIDs, the mask trim ------------ */

/* Valid non-global entries of @va tagged @pcid on @cpu (loaded or not). */
static unsigned entries(unsigned cpu, uint32_t pcid, uint64_t va)
{
	unsigned n = 0;

	for (unsigned i = 0; i < TLB_SIZE; i++) {
		const struct tlbe *e = &R.tlb[cpu][i];

		n += e->valid && !e->global && e->pcid == pcid && e->va == (va & ~0xfffull);
	}
	return n;
}

/*
 * A dies and a new space is born in A's memory with A's PCID (slab reuse,
 * PCID recycling). CPU 1 ran the dead A, cached VA(1), and switched to B
 * with its slot at generation @l. The new space makes @l flushes on CPU 0
 * while CPU 1 is outside its mask, so its generation equals the old slot's.
 * CPU 1's switch to the new space must not keep the dead space's entries.
 */
static void reborn_in_place(uint64_t l)
{
	setup_backend(TLBB_X86_PCID, 0);
	run_on(0, &A, ROOT_A);
	run_on(1, &A, ROOT_A);
	R.cur = 0;
	for (uint64_t i = 0; i < l; i++)
		flush_n_pages(1); /* a number per flush: CPU 1 catches up to l */
	assert_int_equal(PC[1].slot[PC[1].loaded].gen, l);
	touch(1, VA(1), false);
	run_on(1, &B, ROOT_B);
	run_on(0, &B, ROOT_B);           /* nobody runs A now */
	assert_int_equal(tlbb_space_fini(&A), TLBB_OK);
	assert_int_equal(tlbb_space_init(&A, tlbb_x86_backend(&X), 1, NULL), TLBB_OK);
	memset(&MA, 0, sizeof(MA)); /* a new mm, a new mask */
	tlbb_space_set_cpumask(&A, &MA);
	run_on(0, &A, ROOT_A);
	R.cur = 0;
	for (uint64_t i = 0; i < l; i++)
		flush_n_pages(1);
	assert_int_equal(tlbb_x86_space_gen(&A), l);
	assert_false(tlbb_cpumask_test(A.cpus, 1));
	assert_int_equal(entries(1, 1, VA(1)), 1); /* the dead space's entry, PCID 1 */
	R.nev = 0;
	assert_true(run_on(1, &A, ROOT_A));
	assert_int_equal(R.ev[R.nev - 1].kind, EV_CR3);
	assert_int_equal(R.ev[R.nev - 1].a, ROOT_A | 1); /* no no-flush bit */
	assert_int_equal(entries(1, 1, VA(1)), 0);
	assert_int_equal(usable_holders(&A, VA(1)), 0);
}

static void test_a_space_reborn_in_place_with_its_pcid_is_flushed_at_switch_in_gen_0(void **state)
{
	reborn_in_place(0);
}

static void test_a_space_reborn_in_place_with_its_pcid_is_flushed_at_switch_in_gen_l(void **state)
{
	reborn_in_place(3);
}

static void test_set_id_recycling_a_pcid_to_another_live_space_flushes_at_switch_in(void **state)
{
	struct tlbb_space C;

	/* C: the port's idle space, where CPUs wait while ids change. */
	setup_backend(TLBB_X86_PCID, 0);
	assert_int_equal(tlbb_space_init(&C, tlbb_x86_backend(&X), 3, NULL), TLBB_OK);
	run_on(1, &B, ROOT_B);
	run_on(1, &A, ROOT_A);
	touch(1, VA(1), false);
	run_on(1, &C, ROOT_A);
	R.cur = 0;
	R.nrounds = 0;
	/* A gives up PCID 1 and B takes it: both spaces stay alive. */
	assert_int_equal(tlbb_space_set_id(&A, 5), TLBB_OK);
	assert_int_equal(tlbb_space_set_id(&B, 1), TLBB_OK);
	assert_int_equal(R.nrounds, 0); /* an id change sends no IPI */
	R.nev = 0;
	assert_true(run_on(1, &B, ROOT_B));
	assert_int_equal(R.ev[R.nev - 1].a, ROOT_B | 1);
	assert_int_equal(entries(1, 1, VA(1)), 0); /* A's entry under PCID 1 is gone */
	/* And A, now on PCID 5, is new to CPU 1 too. */
	assert_true(run_on(1, &A, ROOT_A));
	assert_int_equal(R.ev[R.nev - 1].a, ROOT_A | 5);
	/* A space given its own old PCID back restarts at generation 0: flushes too. */
	touch(1, VA(2), false);
	run_on(1, &C, ROOT_A);
	assert_int_equal(tlbb_space_set_id(&A, 6), TLBB_OK);
	assert_int_equal(tlbb_space_set_id(&A, 5), TLBB_OK);
	assert_int_equal(tlbb_x86_space_gen(&A), 0);
	assert_true(run_on(1, &A, ROOT_A));
	assert_int_equal(entries(1, 5, VA(2)), 0);
}

static void test_space_fini_sends_no_ipi(void **state)
{
	struct tlbb_batch b;

	four_cpus_on_A(TLBB_X86_PCID, 0);
	for (unsigned c = 0; c < 4; c++)
		run_on(c, &B, ROOT_B);
	R.cur = 0;
	R.nev = 0;
	R.nrounds = 0;
	assert_int_equal(tlbb_space_fini(&A), TLBB_OK);
	assert_int_equal(R.nrounds, 0);
	assert_int_equal(R.nev, 0); /* no instruction either, on any CPU */
	assert_int_equal(tlbb_space_fini(&A), TLBB_EINVAL);
	/* Control: the same fini with batched work outstanding runs the race
	 * check first, and that does interrupt the CPUs of the space's mask. */
	assert_int_equal(tlbb_space_init(&A, tlbb_x86_backend(&X), 1, NULL), TLBB_OK);
	run_on(1, &A, ROOT_A);
	run_on(2, &A, ROOT_A);
	run_on(1, &B, ROOT_B);
	run_on(2, &B, ROOT_B);
	R.cur = 0;
	batch_init(&b);
	tlbb_add_page(&b, &A, VA(1), 0);
	/* Flushed (fini's precondition) but delivered nowhere, so CPUs 1 and 2
	 * keep their bits; the word still shows the batch's number as pending. */
	R.drop_ipis = true;
	tlbb_flush(&b);
	R.drop_ipis = false;
	R.nrounds = 0;
	assert_int_equal(tlbb_space_fini(&A), TLBB_OK);
	assert_int_equal(R.nrounds, 1);
	assert_true(tlbb_cpumask_test(&R.rounds[0].mask, 1));
	assert_true(tlbb_cpumask_test(&R.rounds[0].mask, 2));
}

/*
 * The trim: CPU 1 runs A, caches VA(1), switches to B. The first flush of
 * A still interrupts it (its bit is set); it finds A not loaded and leaves
 * A's mask. The second flush does not interrupt it. Its switch back to A
 * flushes the PCID (its slot is behind), so VA(1)'s entry, cleared by the
 * second flush, is never usable.
 */
static void trimmed_cpu_switches_back(void)
{
	setup_backend(TLBB_X86_PCID, 0);
	run_on(0, &A, ROOT_A);
	run_on(1, &A, ROOT_A);
	run_on(2, &A, ROOT_A);
	touch(1, VA(1), false);
	touch(1, VA(2), false);
	run_on(1, &B, ROOT_B);
	R.cur = 0;
	R.nrounds = 0;
	flush_n_pages(1); /* VA(0) */
	assert_int_equal(R.nrounds, 1);
	assert_true(tlbb_cpumask_test(&R.rounds[0].mask, 1));
	assert_true(tlbb_cpumask_test(&R.rounds[0].mask, 2));
	assert_int_equal(PC[1].st.ipis, 1);
	assert_int_equal(PC[1].st.trimmed, 1);
	assert_false(tlbb_cpumask_test(A.cpus, 1));
	assert_true(tlbb_cpumask_test(A.cpus, 2)); /* CPU 2 runs A: stays */
	assert_true(tlbb_cpumask_test(A.cpus, 0));
	{
		struct tlbb_batch b;

		batch_init(&b);
		tlbb_add_page(&b, &A, VA(1), 0);
		tlbb_flush(&b);
	}
	assert_int_equal(R.nrounds, 2);
	assert_false(tlbb_cpumask_test(&R.rounds[1].mask, 1));
	assert_true(tlbb_cpumask_test(&R.rounds[1].mask, 2));
	assert_int_equal(PC[1].st.ipis, 1); /* no IPI for the second flush */
	assert_int_equal(entries(1, 1, VA(1)), 1); /* still there, under a PCID not loaded */
	R.nev = 0;
}

static void test_a_cpu_that_switched_away_takes_one_ipi_then_is_trimmed(void **state)
{
	trimmed_cpu_switches_back();
	assert_true(run_on(1, &A, ROOT_A));
	assert_int_equal(R.ev[R.nev - 1].a, ROOT_A | A.id); /* no no-flush bit */
	assert_true(tlbb_cpumask_test(A.cpus, 1));          /* back in the mask */
	assert_int_equal(usable_holders(&A, VA(1)), 0);
	/* Back in the mask: the next flush reaches it again. */
	R.cur = 0;
	R.nrounds = 0;
	flush_n_pages(1);
	assert_int_equal(R.nrounds, 1);
	assert_true(tlbb_cpumask_test(&R.rounds[0].mask, 1));
	assert_int_equal(PC[1].st.ipis, 2);
}

static void test_a_cpu_trimmed_while_not_tracking_the_space_is_not_interrupted_again(void **state)
{
	/* Without PCIDs a switch forgets the space: slot gone, trimmed as well. */
	setup_backend(0, 0);
	run_on(0, &A, ROOT_A);
	run_on(1, &A, ROOT_A);
	run_on(1, &B, ROOT_B);
	R.cur = 0;
	R.nrounds = 0;
	flush_n_pages(1);
	flush_n_pages(1);
	assert_int_equal(R.nrounds, 1);
	assert_int_equal(PC[1].st.ipis, 1);
	assert_int_equal(PC[1].st.skipped, 1);
	assert_int_equal(PC[1].st.trimmed, 1);
	assert_true(run_on(1, &A, ROOT_A));
}

static void test_the_flushing_cpu_trims_itself_when_not_running_the_space(void **state)
{
	setup_backend(TLBB_X86_PCID, 0);
	run_on(0, &A, ROOT_A);
	run_on(1, &A, ROOT_A);
	run_on(0, &B, ROOT_B); /* CPU 0 flushes A while running B */
	R.cur = 0;
	flush_n_pages(1);
	assert_int_equal(PC[0].st.local, 1);
	assert_int_equal(PC[0].st.trimmed, 1);
	assert_false(tlbb_cpumask_test(A.cpus, 0));
	assert_true(tlbb_cpumask_test(A.cpus, 1));
	flush_n_pages(1);
	assert_int_equal(PC[0].st.local, 1); /* no longer in the mask */
	assert_true(run_on(0, &A, ROOT_A));
}

static void test_a_global_space_is_never_trimmed(void **state)
{
	struct tlbb_batch b;

	kernel_on_four_cpus(TLBB_X86_PCID | TLBB_X86_INVPCID);
	/* Every CPU is on A or B, never "on" K: K's entries live under all PCIDs. */
	run_on(1, &B, ROOT_B);
	R.cur = 0;
	for (unsigned k = 0; k < 3; k++) {
		R.nrounds = 0;
		batch_init(&b);
		tlbb_add_page(&b, &K, KVA(1), 0);
		tlbb_flush(&b);
		assert_int_equal(R.nrounds, 1);
		for (unsigned c = 1; c < 4; c++) {
			assert_true(tlbb_cpumask_test(&R.rounds[0].mask, c));
			assert_true(tlbb_cpumask_test(K.cpus, c));
		}
	}
	for (unsigned c = 0; c < 4; c++)
		assert_int_equal(PC[c].st.trimmed, 0);
}

static void cr4_toggle_order(unsigned c, bool irqs_on_before)
{
	unsigned save = R.nev, cr4a = R.nev, cr4b = R.nev, restore = R.nev;

	for (unsigned i = 0; i < R.nev; i++) {
		if (R.ev[i].cpu != c)
			continue;
		if (R.ev[i].kind == EV_IRQ_SAVE && save == R.nev)
			save = i;
		else if (R.ev[i].kind == EV_CR4 && cr4a == R.nev)
			cr4a = i;
		else if (R.ev[i].kind == EV_CR4)
			cr4b = i;
		else if (R.ev[i].kind == EV_IRQ_RESTORE)
			restore = i;
	}
	assert_true(save < cr4a && cr4a < cr4b && cr4b < restore && restore < R.nev);
	assert_int_equal(R.ev[cr4a].b, 1); /* interrupts off at both CR4 writes */
	assert_int_equal(R.ev[cr4b].b, 1);
	assert_int_equal(R.ev[save].a, irqs_on_before ? RFLAGS_IF : 0);
	assert_int_equal(R.ev[restore].a, R.ev[save].a); /* restored as saved */
	assert_int_equal(count_ev(c, EV_IRQ_SAVE, 0), 1);
	assert_int_equal(count_ev(c, EV_IRQ_RESTORE, 0), 1);
}

static void test_cr4_pge_toggle_runs_with_interrupts_off(void **state)
{
	struct tlbb_batch b;

	kernel_on_four_cpus(TLBB_X86_PCID);
	batch_init(&b);
	tlbb_add_space(&b, &K, 0);
	tlbb_flush(&b);
	/* CPU 0 flushes inline with interrupts on: off for the toggle, on after. */
	cr4_toggle_order(0, true);
	assert_false(R.irq_off[0]);
	/* The others toggle in their handler, interrupts already off: stay off. */
	for (unsigned c = 1; c < 4; c++)
		cr4_toggle_order(c, false);
}

/* ---- safety on the TLB model --------------------------------------------------------- */

/*
 * The reclaim scenario with PCIDs: CPUs 0..3 run A and cache pages; CPU 3
 * moves to B (keeping A's entries under A's PCID); CPU 0 clears and batches
 * 40 pages, some flushes are single pages, some above the ceiling, one
 * race check; afterwards no CPU may be able to use a cleared translation,
 * now or after switching back to A. Returns how many stale uses remain.
 */
static unsigned reclaim_scenario(unsigned features)
{
	struct tlbb_batch b;
	unsigned stale = 0;

	four_cpus_on_A(features, 0);
	for (unsigned c = 0; c < 4; c++)
		for (unsigned i = 0; i < 40; i++)
			touch(c, VA(i), false);
	run_on(3, &B, ROOT_B);
	/* Small batch: INVLPG path. */
	batch_init(&b);
	for (unsigned i = 0; i < 5; i++)
		tlbb_add_page(&b, &A, VA(i), TLBB_ADD_WRITABLE);
	tlbb_flush_dirty(&b);
	for (unsigned i = 0; i < 5; i++)
		stale += usable_holders(&A, VA(i));
	/* Big batch: whole-PCID path. */
	batch_init(&b);
	for (unsigned i = 5; i < 39; i++)
		tlbb_add_page(&b, &A, VA(i), 0);
	tlbb_flush(&b);
	for (unsigned i = 5; i < 39; i++)
		stale += usable_holders(&A, VA(i));
	/* A page left in a batch, found by the race check (mprotect). */
	batch_init(&b);
	tlbb_add_page(&b, &A, VA(39), TLBB_ADD_WRITABLE);
	tlbb_flush_pending(&A);
	stale += usable_holders(&A, VA(39));
	/* CPU 3 comes back to A: what it kept under A's PCID must be gone. */
	run_on(3, &A, ROOT_A);
	for (unsigned i = 0; i < 40; i++)
		stale += usable_holders(&A, VA(i));
	tlbb_flush(&b);
	return stale;
}

static void test_no_cpu_can_use_a_cleared_translation_invpcid(void **state)
{
	assert_int_equal(reclaim_scenario(TLBB_X86_PCID | TLBB_X86_INVPCID), 0);
}

static void test_no_cpu_can_use_a_cleared_translation_cr3(void **state)
{
	assert_int_equal(reclaim_scenario(TLBB_X86_PCID), 0);
}

static void test_no_cpu_can_use_a_cleared_translation_no_pcid(void **state)
{
	assert_int_equal(reclaim_scenario(0), 0);
}

/* ---- negative controls: each removes one step and must see stale entries -------------- */

static void test_negative_without_the_ipi_round_remote_cpus_stay_stale(void **state)
{
	unsigned stale;

	setup_backend(TLBB_X86_PCID | TLBB_X86_INVPCID, 0);
	for (unsigned c = 0; c < 4; c++)
		run_on(c, &A, ROOT_A);
	for (unsigned c = 0; c < 4; c++)
		touch(c, VA(1), false);
	R.drop_ipis = true;
	flush_n_pages(2);
	stale = usable_holders(&A, VA(1));
	assert_int_equal(stale, 3); /* CPUs 1..3: nobody told them */
	assert_int_equal(holders(&A, VA(1)), 3);
}

static void test_negative_a_switch_in_that_never_flushes_keeps_deferred_entries(void **state)
{
	/* The deferral is only safe because the switch-in flushes. */
	setup_backend(TLBB_X86_PCID, 0);
	run_on(1, &A, ROOT_A);
	touch(1, VA(1), false);
	run_on(1, &B, ROOT_B);
	R.cur = 0;
	run_on(0, &A, ROOT_A);
	flush_n_pages(1);
	assert_int_equal(PC[1].st.deferred, 1);
	R.cr3_never_flushes = true;
	run_on(1, &A, ROOT_A);
	assert_int_equal(usable_holders(&A, VA(1)), 1);
}

static void test_negative_a_reborn_space_that_kept_the_old_pcid_uses_dead_entries(void **state)
{
	/* What the flush at the reborn space's switch-in prevents. */
	setup_backend(TLBB_X86_PCID, 0);
	run_on(1, &A, ROOT_A);
	touch(1, VA(1), false);
	run_on(1, &B, ROOT_B);
	assert_int_equal(tlbb_space_fini(&A), TLBB_OK);
	assert_int_equal(tlbb_space_init(&A, tlbb_x86_backend(&X), 1, NULL), TLBB_OK);
	R.cr3_never_flushes = true;
	run_on(1, &A, ROOT_A);
	assert_int_equal(usable_holders(&A, VA(1)), 1);
}

static void test_negative_a_trimmed_cpu_whose_switch_back_keeps_the_pcid_is_stale(void **state)
{
	/* The trim is only safe because the switch back flushes. */
	trimmed_cpu_switches_back();
	R.cr3_never_flushes = true;
	run_on(1, &A, ROOT_A);
	assert_int_equal(usable_holders(&A, VA(1)), 1);
}

/*
 * What the CR4 read at init prevents: a 5-level machine whose backend
 * believes in 48 bits (here CR4 reads without LA57, as if init had not
 * looked) turns every batch of kernel addresses into a whole flush.
 */
static void test_negative_a_la57_address_without_la57_is_a_whole_flush(void **state)
{
	struct tlbb_batch b;

	four_cpus_on_A(0, 0);
	batch_init(&b);
	tlbb_add_page(&b, &A, LA57_VA(3), 0);
	tlbb_flush(&b);
	assert_int_equal(count_ev(NCPU, EV_INVLPG, 0), 0);
	assert_int_equal(count_ev(NCPU, EV_CR3, 0), 4);
}

static void test_negative_the_model_sees_a_non_canonical_invlpg_as_a_nop(void **state)
{
	/* What the backend avoids: the TLB model must really ignore such INVLPGs. */
	setup_backend(0, 0);
	run_on(0, &A, ROOT_A);
	R.cur = 0;
	touch(0, 0xffff800000000000ull, false);
	tlbb_x86_rec_invlpg(0x0000800000000000ull);
	assert_int_equal(usable_holders(&A, 0xffff800000000000ull), 1);
	tlbb_x86_rec_invlpg(0xffff800000000000ull);
	assert_int_equal(usable_holders(&A, 0xffff800000000000ull), 0);
}

/* ---- CPUs beyond the mask (built with TLBB_MAX_CPUS=4 < NCPU) ----------------------- */

#if TLBB_MAX_CPUS < NCPU
#define BEYOND TLBB_MAX_CPUS /* a CPU number no mask can hold */

/* The port's figure of CPUs above the mask is refused, not truncated. */
static void test_beyond_init_refuses_more_cpus_than_a_mask_holds(void **state)
{
	struct tlbb_x86 x;

	assert_int_equal(tlbb_x86_init(&x, NULL, PC, TLBB_MAX_CPUS + 1), TLBB_EINVAL);
	assert_int_equal(tlbb_x86_init(&x, NULL, PC, TLBB_MAX_CPUS), TLBB_OK);
}

/*
 * A port that runs a CPU numbered beyond the mask anyway (its CPU id is
 * above what it gave init) is told at every switch-in; the CR3 write still
 * flushes. No round can reach that CPU while it runs the space, which is
 * why the report exists: the test shows the entry it keeps.
 */
static void test_beyond_switch_in_is_reported_and_flushes(void **state)
{
	setup_backend_ncpus(TLBB_X86_PCID, 0, TLBB_MAX_CPUS);
	R.expect_debug_fail = true;
	run_on(0, &A, ROOT_A);
	assert_true(run_on(BEYOND, &A, ROOT_A));
	assert_int_equal(R.ev[R.nev - 1].a, ROOT_A | A.id); /* no no-flush bit */
	assert_int_equal(R.debug_fails, DEBUG_REPORTS);
	assert_false(tlbb_cpumask_test(A.cpus, BEYOND));
	touch(BEYOND, VA(1), false);
	R.cur = 0;
	R.nrounds = 0;
	flush_n_pages(1);
	assert_int_equal(R.nrounds, 0);
	assert_int_equal(usable_holders(&A, VA(1)), 1);
}

/* A CPU beyond the mask that flushes still does its own part: everything. */
static void test_beyond_flushing_cpu_flushes_itself(void **state)
{
	struct tlbb_batch b;
	static const unsigned others[] = { 1 };
	tlbb_cpumask_t want = mask_of(others, 1);

	setup_backend_ncpus(TLBB_X86_PCID, 0, TLBB_MAX_CPUS);
	R.expect_debug_fail = true;
	run_on(1, &A, ROOT_A);
	run_on(BEYOND, &A, ROOT_A);
	R.cr4[BEYOND] = CR4_PGE;
	touch(1, VA(1), false);
	touch(BEYOND, VA(1), false);
	R.cur = BEYOND;
	R.debug_fails = 0;
	batch_init(&b);
	tlbb_add_page(&b, &A, VA(1), 0);
	tlbb_flush(&b);
	assert_int_equal(R.nrounds, 1);
	assert_mask_equal(&R.rounds[0].mask, &want);
	assert_int_equal(count_ev(BEYOND, EV_CR4, 0), 2); /* no INVPCID: the PGE toggle */
	assert_int_equal(usable_holders(&A, VA(1)), 0);
	assert_int_equal(R.debug_fails, DEBUG_REPORTS);
}
#endif

int main(int argc, char **argv)
{
	const struct CMUnitTest rules[] = {
		cmocka_unit_test(test_init_refuses_what_it_cannot_track),
		cmocka_unit_test(test_one_ipi_round_per_batch_whatever_its_size),
		cmocka_unit_test(test_a_catch_up_never_claims_an_interleaved_batchs_number),
		cmocka_unit_test(test_target_mask_is_the_union_of_the_spaces_minus_self),
		cmocka_unit_test(test_never_an_ipi_to_self_local_part_inline),
		cmocka_unit_test(test_no_round_when_only_this_cpu_caches_the_space),
		cmocka_unit_test(test_should_defer_only_when_another_cpu_may_cache),
		cmocka_unit_test(test_adds_take_no_number_their_flush_takes_one),
		cmocka_unit_test(test_consecutive_batches_catch_cpus_up_without_full_flushes),
		cmocka_unit_test(test_a_full_flush_claims_only_the_generation_read_before_it),
		cmocka_unit_test(test_unnumbered_synchronous_flush_is_never_skipped),
		cmocka_unit_test(test_a_flush_interrupted_by_another_round_keeps_the_higher_generation),
		cmocka_unit_test(test_invlpg_up_to_the_ceiling_of_33),
		cmocka_unit_test(test_whole_space_flush_above_the_ceiling),
		cmocka_unit_test(test_ceiling_is_configurable),
		cmocka_unit_test(test_ceiling_counts_the_covering_range_not_the_adds),
		cmocka_unit_test(test_whole_space_add_is_not_narrowed_by_later_pages),
		cmocka_unit_test(test_full_flush_is_invpcid_single_context_when_available),
		cmocka_unit_test(test_full_flush_reloads_cr3_without_invpcid),
		cmocka_unit_test(test_switch_keeps_a_current_pcid_and_flushes_a_stale_one),
		cmocka_unit_test(test_pcid_reused_by_another_space_is_flushed_at_switch),
		cmocka_unit_test(test_without_pcid_every_switch_flushes),
		cmocka_unit_test(test_non_canonical_address_becomes_a_full_flush),
		cmocka_unit_test(test_range_across_the_hole_becomes_a_full_flush),
		cmocka_unit_test(test_la57_widens_the_canonical_range),
		cmocka_unit_test(test_la57_is_taken_from_cr4_at_init),
		cmocka_unit_test(test_no_la57_in_cr4_keeps_48_bits),
		cmocka_unit_test(test_paging_from_port_reads_no_cr4),
		cmocka_unit_test(test_race_check_flushes_the_whole_space_on_its_mask),
		cmocka_unit_test(test_batch_of_two_spaces_flushes_loaded_and_defers_others),
		cmocka_unit_test(test_global_space_full_flush_drops_global_entries),
		cmocka_unit_test(test_global_space_small_range_is_invlpg_on_every_cpu_invpcid),
		cmocka_unit_test(test_global_space_small_range_is_invlpg_on_every_cpu_no_invpcid),
		cmocka_unit_test(test_global_space_above_the_ceiling_is_invpcid_all_contexts),
		cmocka_unit_test(test_global_space_above_the_ceiling_toggles_cr4_pge_without_invpcid),
		cmocka_unit_test(test_global_space_is_never_skipped_by_generation),
		cmocka_unit_test(test_untracked_cpu_switch_always_writes_a_flushing_cr3),
		cmocka_unit_test(test_untracked_cpu_request_flushes_everything_invpcid),
		cmocka_unit_test(test_untracked_cpu_request_flushes_everything_cr4),
		cmocka_unit_test(test_cpu_that_switched_away_without_pcid_skips_the_request),
		cmocka_unit_test(test_a_space_reborn_in_place_with_its_pcid_is_flushed_at_switch_in_gen_0),
		cmocka_unit_test(test_a_space_reborn_in_place_with_its_pcid_is_flushed_at_switch_in_gen_l),
		cmocka_unit_test(test_set_id_recycling_a_pcid_to_another_live_space_flushes_at_switch_in),
		cmocka_unit_test(test_space_fini_sends_no_ipi),
		cmocka_unit_test(test_a_cpu_that_switched_away_takes_one_ipi_then_is_trimmed),
		cmocka_unit_test(test_a_cpu_trimmed_while_not_tracking_the_space_is_not_interrupted_again),
		cmocka_unit_test(test_the_flushing_cpu_trims_itself_when_not_running_the_space),
		cmocka_unit_test(test_a_global_space_is_never_trimmed),
		cmocka_unit_test(test_cr4_pge_toggle_runs_with_interrupts_off),
		cmocka_unit_test(test_no_cpu_can_use_a_cleared_translation_invpcid),
		cmocka_unit_test(test_no_cpu_can_use_a_cleared_translation_cr3),
		cmocka_unit_test(test_no_cpu_can_use_a_cleared_translation_no_pcid),
	};
	const struct CMUnitTest negative[] = {
		cmocka_unit_test(test_negative_without_the_ipi_round_remote_cpus_stay_stale),
		cmocka_unit_test(test_negative_a_switch_in_that_never_flushes_keeps_deferred_entries),
		cmocka_unit_test(test_negative_the_model_sees_a_non_canonical_invlpg_as_a_nop),
		cmocka_unit_test(test_negative_a_la57_address_without_la57_is_a_whole_flush),
		cmocka_unit_test(test_negative_a_reborn_space_that_kept_the_old_pcid_uses_dead_entries),
		cmocka_unit_test(test_negative_a_trimmed_cpu_whose_switch_back_keeps_the_pcid_is_stale),
	};

#if TLBB_MAX_CPUS < NCPU
	const struct CMUnitTest beyond[] = {
		cmocka_unit_test(test_beyond_init_refuses_more_cpus_than_a_mask_holds),
		cmocka_unit_test(test_beyond_switch_in_is_reported_and_flushes),
		cmocka_unit_test(test_beyond_flushing_cpu_flushes_itself),
	};

	if (argc > 1 && strcmp(argv[1], "beyond-mask") == 0)
		return cmocka_run_group_tests_name("x86_64 CPUs beyond the mask", beyond, NULL, NULL);
#endif
	if (argc > 1 && strcmp(argv[1], "negative") == 0)
		return cmocka_run_group_tests_name("x86_64 negative controls", negative, NULL, NULL);
	return cmocka_run_group_tests_name("x86_64 backend rules", rules, NULL, NULL);
}
