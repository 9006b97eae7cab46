/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 EPT backend (arch/x86_64/ept.c), specified rule by rule on the
 * host, with its one instruction, INVEPT, sent to the recorder's EPT model
 * (recorder.c: guest-physical mappings tagged by EP4TA, combined mappings
 * tagged by VPID, PCID and EP4TA; INVEPT single-context drops both kinds
 * for its EP4TA whatever the VPID and PCID, Intel SDM vol. 3C 28.3.3.1 and
 * 30.3). The port hooks are the recorder's: a round runs the handler "on"
 * each target CPU, which stands for the VM exit the flush IPI causes.
 *
 * The port's VM entry here is enter(): tlbb_ept_vm_enter(), then the CPU's
 * VMCS runs the space's EPTP (R.cur_eptp). A guest read is guest_reads():
 * the CPU caches a guest-physical and a combined mapping of the page.
 *
 * Run with "negative NAME" this binary runs one negative control instead,
 * which removes one step and passes only if stale mappings are found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <tlbbatch/x86_ept.h>
#include "recorder.h"

/* EPTPs: EP4TA | walk length 4 (3 << 3) | write-back (6). */
#define EPTP_A (0x1000000ull | 0x1e)
#define EPTP_B (0x2000000ull | 0x1e)
#define GPA(n) (0x100000ull + (uint64_t)(n) * 4096u)

void rec_fail(const char *what)
{
	fail_msg("%s", what);
}

static struct tlbb_ept E;
static struct tlbb_ept_cpu PC[NCPU];
static struct tlbb_space A, B;
static tlbb_cpumask_t MA, MB, MBATCH;

static void setup_features(unsigned features)
{
	struct tlbb_ept_config cfg = { features };

	memset(&R, 0, sizeof(R));
	memset(PC, 0xa5, sizeof(PC));
	assert_int_equal(tlbb_ept_init(&E, &cfg, PC, NCPU), TLBB_OK);
	tlbb_cpumask_clear(&MA);
	tlbb_cpumask_clear(&MB);
	assert_int_equal(tlbb_space_init(&A, tlbb_ept_backend(&E), 1, NULL), TLBB_OK);
	assert_int_equal(tlbb_space_init(&B, tlbb_ept_backend(&E), 2, NULL), TLBB_OK);
	assert_int_equal(tlbb_space_set_cpumask(&A, &MA), TLBB_OK);
	assert_int_equal(tlbb_space_set_cpumask(&B, &MB), TLBB_OK);
	assert_int_equal(tlbb_ept_space_set_eptp(&A, EPTP_A), TLBB_OK);
	assert_int_equal(tlbb_ept_space_set_eptp(&B, EPTP_B), TLBB_OK);
}

static void setup(void)
{
	setup_features(TLBB_EPT_INVEPT_SINGLE | TLBB_EPT_INVEPT_ALL);
}

/* The port's VM entry of @cpu into @s; returns whether it INVEPTed. */
static bool enter(unsigned cpu, struct tlbb_space *s)
{
	bool flushed;

	R.cur = cpu;
	flushed = tlbb_ept_vm_enter(&E, s);
	R.cur_eptp[cpu] = tlbb_ept_space_eptp(s);
	R.cur = 0;
	return flushed;
}

/* A guest instruction on @cpu reads guest page @n: both kinds cached. */
static void guest_reads(unsigned cpu, unsigned n, uint16_t vpid)
{
	ept_fill(cpu, false, 0, 0, GPA(n), 1);
	ept_fill(cpu, true, vpid, 5, GPA(n) + 0x7f0000000000ull, 1);
}

/* Mappings of page @n of @eptp that any CPU running it could use. */
static unsigned stale(uint64_t eptp, unsigned n)
{
	return ept_usable_holders(eptp, GPA(n)) +
	       ept_usable_holders(eptp, GPA(n) + 0x7f0000000000ull);
}

/* Recorded INVEPTs on @cpu of @type with descriptor EPTP @eptp. */
static unsigned invepts(unsigned cpu, unsigned type, uint64_t eptp)
{
	unsigned n = 0;

	for (unsigned i = 0; i < R.nev; i++)
		if (R.ev[i].kind == EV_INVEPT && R.ev[i].cpu == cpu && R.ev[i].a == type &&
		    (type == 2 || R.ev[i].b == eptp))
			n++;
	return n;
}

/* CPUs 1..3 in VM A, each having read pages 0..9. */
static void three_cpus_in_a(void)
{
	for (unsigned c = 1; c <= 3; c++) {
		assert_true(enter(c, &A)); /* first entry: INVEPT */
		for (unsigned n = 0; n < 10; n++)
			guest_reads(c, n, (uint16_t)c);
	}
	R.nev = 0;
	R.nrounds = 0;
}

/* ---- the rules --------------------------------------------------------------- */

static void test_init_refuses_a_cpu_without_all_context_invept(void **state)
{
	struct tlbb_ept_config none = { 0 }, single = { TLBB_EPT_INVEPT_SINGLE };

	(void)state;
	assert_int_equal(tlbb_ept_init(&E, &none, PC, NCPU), TLBB_EINVAL);
	assert_int_equal(tlbb_ept_init(&E, &single, PC, NCPU), TLBB_EINVAL);
	assert_int_equal(tlbb_ept_init(&E, NULL, PC, NCPU), TLBB_EINVAL);
	assert_int_equal(tlbb_ept_features_from_cap(TLBB_EPT_CAP_INVEPT | TLBB_EPT_CAP_INVEPT_ALL |
						    TLBB_EPT_CAP_INVEPT_SINGLE),
			 TLBB_EPT_INVEPT_SINGLE | TLBB_EPT_INVEPT_ALL);
	/* Without the INVEPT bit the type bits mean nothing. */
	assert_int_equal(tlbb_ept_features_from_cap(TLBB_EPT_CAP_INVEPT_ALL), 0);
}

static void test_set_eptp_refuses_no_ep4ta_and_a_foreign_space(void **state)
{
	struct tlbb_space none;

	(void)state;
	setup();
	assert_int_equal(tlbb_ept_space_set_eptp(&A, 0x1e), TLBB_EINVAL);
	memset(&none, 0, sizeof(none));
	assert_int_equal(tlbb_ept_space_set_eptp(&none, EPTP_A), TLBB_EINVAL);
	assert_int_equal(tlbb_ept_space_set_eptp(NULL, EPTP_A), TLBB_EINVAL);
	assert_int_equal(tlbb_ept_space_eptp(&A), EPTP_A);
}

static void test_add_executes_nothing_and_sends_nothing(void **state)
{
	struct tlbb_batch b;

	(void)state;
	setup();
	three_cpus_in_a();
	tlbb_batch_init(&b);
	for (unsigned n = 0; n < 10; n++)
		assert_int_equal(tlbb_add_page(&b, &A, GPA(n), 0), TLBB_OK);
	assert_int_equal(R.nev, 0);
	assert_int_equal(R.nrounds, 0);
	tlbb_flush(&b);
}

static void test_one_round_each_cpu_in_the_vm_invepts_single_context_for_the_eptp(void **state)
{
	struct tlbb_batch b;
	tlbb_cpumask_t want;

	(void)state;
	setup();
	three_cpus_in_a();
	tlbb_batch_init(&b);
	for (unsigned n = 0; n < 10; n++)
		tlbb_add_page(&b, &A, GPA(n), 0);
	tlbb_flush(&b);
	tlbb_cpumask_clear(&want);
	for (unsigned c = 1; c <= 3; c++)
		tlbb_cpumask_set(&want, c);
	assert_int_equal(R.nrounds, 1);
	assert_int_equal(R.rounds[0].from, 0);
	assert_memory_equal(&R.rounds[0].mask, &want, sizeof(want));
	for (unsigned c = 1; c <= 3; c++) {
		assert_int_equal(invepts(c, 1, EPTP_A), 1); /* exact descriptor and type */
		assert_int_equal(invepts(c, 2, 0), 0);
		assert_int_equal(PC[c].st.ipis, 1);
		assert_int_equal(PC[c].st.full, 1);
	}
	assert_int_equal(count_ev(NCPU, EV_INVEPT, 0), 3); /* CPU 0 is in no VM: nothing */
	for (unsigned n = 0; n < 10; n++)
		assert_int_equal(stale(EPTP_A, n), 0);
}

/*
 * The VPID question: combined mappings of three VPIDs (and a PCID) under
 * EPTP A are gone after the flush with no INVVPID; B's are untouched.
 */
static void test_invept_single_context_drops_combined_mappings_of_every_vpid(void **state)
{
	struct tlbb_batch b;

	(void)state;
	setup();
	assert_true(enter(4, &B));
	guest_reads(4, 0, 9);
	three_cpus_in_a();
	tlbb_batch_init(&b);
	tlbb_add_page(&b, &A, GPA(0), 0);
	tlbb_flush(&b);
	for (unsigned c = 1; c <= 3; c++)
		assert_int_equal(ept_entries(c, EPTP_A, GPA(0) + 0x7f0000000000ull), 0);
	assert_int_equal(ept_entries(4, EPTP_B, GPA(0) + 0x7f0000000000ull), 1);
	assert_int_equal(ept_entries(4, EPTP_B, GPA(0)), 1);
}

static void test_reentry_of_the_same_vm_executes_nothing(void **state)
{
	(void)state;
	setup();
	assert_true(enter(1, &A));
	assert_false(enter(1, &A));
	assert_false(enter(1, &A));
	assert_int_equal(count_ev(1, EV_INVEPT, 0), 1);
	assert_int_equal(PC[1].st.switches, 1); /* re-entries do not switch in */
}

static void test_a_cpu_outside_the_vm_flushes_at_its_next_vm_entry(void **state)
{
	struct tlbb_batch b;

	(void)state;
	setup();
	three_cpus_in_a();
	assert_true(enter(1, &B)); /* CPU 1 leaves A for B */
	R.nev = 0;
	tlbb_batch_init(&b);
	tlbb_add_page(&b, &A, GPA(3), 0);
	tlbb_flush(&b);
	assert_int_equal(invepts(1, 1, EPTP_A), 0); /* not in A: deferred, trimmed */
	assert_int_equal(PC[1].st.deferred, 1);
	assert_int_equal(PC[1].st.trimmed, 1);
	assert_false(tlbb_cpumask_test(&MA, 1));
	assert_int_equal(ept_entries(1, EPTP_A, GPA(3)), 1); /* held, unusable in B */
	assert_int_equal(stale(EPTP_A, 3), 0);
	/* A second flush of A no longer interrupts CPU 1. */
	tlbb_batch_init(&b);
	tlbb_add_page(&b, &A, GPA(4), 0);
	tlbb_flush(&b);
	assert_int_equal(PC[1].st.ipis, 1);
	/* Back into A: INVEPT before the guest runs. */
	assert_true(enter(1, &A));
	assert_int_equal(invepts(1, 1, EPTP_A), 1);
	assert_int_equal(ept_entries(1, EPTP_A, GPA(3)), 0);
	assert_int_equal(stale(EPTP_A, 3), 0);
}

static void test_a_cpu_reentering_between_add_and_flush_is_flushed_by_the_round(void **state)
{
	struct tlbb_batch b;

	(void)state;
	setup();
	three_cpus_in_a();
	tlbb_batch_init(&b);
	tlbb_add_page(&b, &A, GPA(1), 0);
	/*
	 * CPU 2 leaves and re-enters A after the add. The add took no number,
	 * so its slot is current and the entry executes nothing; the flush's
	 * number, taken after the change, is above its slot and the round
	 * reaches it (its bit is set again).
	 */
	assert_true(enter(2, &B));
	R.nev = 0;
	assert_false(enter(2, &A));
	assert_int_equal(invepts(2, 1, EPTP_A), 0);
	tlbb_flush(&b);
	assert_int_equal(invepts(2, 1, EPTP_A), 1);
	assert_int_equal(PC[2].st.skipped, 0);
	assert_int_equal(invepts(1, 1, EPTP_A), 1);
	assert_int_equal(stale(EPTP_A, 1), 0);
}

static void test_race_check_invepts_the_whole_eptp_on_its_mask(void **state)
{
	struct tlbb_batch b;

	(void)state;
	setup();
	three_cpus_in_a();
	tlbb_batch_init(&b);
	tlbb_add_page(&b, &A, GPA(2), 0); /* queued by a batch not flushed yet */
	assert_true(tlbb_flush_pending(&A));
	assert_int_equal(R.nrounds, 1);
	for (unsigned c = 1; c <= 3; c++)
		assert_int_equal(invepts(c, 1, EPTP_A), 1);
	assert_int_equal(stale(EPTP_A, 2), 0);
	tlbb_flush(&b);
}

static void test_without_single_context_every_flush_is_all_context(void **state)
{
	struct tlbb_batch b;

	(void)state;
	setup_features(TLBB_EPT_INVEPT_ALL);
	three_cpus_in_a();
	tlbb_batch_init(&b);
	tlbb_add_page(&b, &A, GPA(0), 0);
	tlbb_flush(&b);
	for (unsigned c = 1; c <= 3; c++) {
		assert_int_equal(invepts(c, 1, EPTP_A), 0);
		assert_int_equal(invepts(c, 2, 0), 1);
	}
	assert_int_equal(stale(EPTP_A, 0), 0);
}

static void test_a_single_context_vmfail_falls_back_to_all_context(void **state)
{
	struct tlbb_batch b;

	(void)state;
	setup();
	three_cpus_in_a();
	R.invept_single_fails = true;
	tlbb_batch_init(&b);
	tlbb_add_page(&b, &A, GPA(0), 0);
	tlbb_flush(&b);
	for (unsigned c = 1; c <= 3; c++) {
		assert_int_equal(invepts(c, 1, EPTP_A), 1);
		assert_int_equal(invepts(c, 2, 0), 1);
	}
	assert_int_equal(stale(EPTP_A, 0), 0);
}

static void test_a_batch_of_two_vms_invepts_each_cpus_current_eptp(void **state)
{
	struct tlbb_batch b;
	tlbb_cpumask_t want;

	(void)state;
	setup();
	three_cpus_in_a();
	assert_true(enter(4, &B));
	guest_reads(4, 0, 4);
	R.nev = 0;
	tlbb_batch_init(&b);
	assert_int_equal(tlbb_batch_set_cpumask(&b, &MBATCH), TLBB_OK);
	tlbb_add_page(&b, &A, GPA(0), 0);
	tlbb_add_page(&b, &B, GPA(0), 0);
	tlbb_flush(&b);
	tlbb_cpumask_clear(&want);
	for (unsigned c = 1; c <= 4; c++)
		tlbb_cpumask_set(&want, c);
	assert_int_equal(R.nrounds, 1);
	assert_memory_equal(&R.rounds[0].mask, &want, sizeof(want));
	for (unsigned c = 1; c <= 3; c++)
		assert_int_equal(invepts(c, 1, EPTP_A), 1);
	assert_int_equal(invepts(4, 1, EPTP_B), 1);
	assert_int_equal(stale(EPTP_A, 0), 0);
	assert_int_equal(stale(EPTP_B, 0), 0);
}

/*
 * EPTP recycling: the VM ends (its CPUs entered another VM first), the
 * space is finished, and a new VM is born in the same memory with the same
 * EPT root. Generations restart; the first entry must still INVEPT.
 */
static void test_an_eptp_recycled_to_a_new_space_is_flushed_at_first_entry(void **state)
{
	(void)state;
	setup();
	assert_true(enter(1, &A));
	guest_reads(1, 0, 1);
	assert_true(enter(1, &B)); /* the VM's vCPUs stop: CPU 1 moves on */
	assert_int_equal(tlbb_space_fini(&A), TLBB_OK);
	assert_int_equal(R.nrounds, 0); /* fini sends no IPI */
	assert_int_equal(tlbb_space_init(&A, tlbb_ept_backend(&E), 1, NULL), TLBB_OK);
	assert_int_equal(tlbb_space_set_cpumask(&A, &MA), TLBB_OK);
	assert_int_equal(tlbb_ept_space_set_eptp(&A, EPTP_A), TLBB_OK);
	R.nev = 0;
	assert_true(enter(1, &A));
	assert_int_equal(invepts(1, 1, EPTP_A), 1);
	assert_int_equal(ept_entries(1, EPTP_A, GPA(0)), 0);
}

static void test_set_id_needs_the_eptp_again_and_flushes_at_entry(void **state)
{
	(void)state;
	setup();
	assert_true(enter(1, &A));
	assert_true(enter(1, &B));
	assert_int_equal(tlbb_space_set_id(&A, 7), TLBB_OK);
	assert_int_equal(tlbb_ept_space_eptp(&A), 0);
	assert_int_equal(tlbb_ept_space_set_eptp(&A, EPTP_A), TLBB_OK);
	R.nev = 0;
	assert_true(enter(1, &A));
	assert_int_equal(invepts(1, 1, EPTP_A), 1);
}

static void flush_page_of_a(unsigned n)
{
	struct tlbb_batch b;

	tlbb_batch_init(&b);
	tlbb_add_page(&b, &A, GPA(n), 0);
	tlbb_flush(&b);
}

/*
 * A CPU numbered beyond the ncpus given to init (a port bug, reported in
 * debug builds): it has no slots, so its VM entry and every request that
 * reaches it INVEPT all contexts.
 */
static void test_an_untracked_cpu_invepts_all_contexts_at_entry_and_on_requests(void **state)
{
	struct tlbb_ept_config cfg = { TLBB_EPT_INVEPT_SINGLE | TLBB_EPT_INVEPT_ALL };

	(void)state;
	setup();
	assert_int_equal(tlbb_ept_init(&E, &cfg, PC, 4), TLBB_OK);
	assert_int_equal(tlbb_space_init(&A, tlbb_ept_backend(&E), 1, NULL), TLBB_OK);
	assert_int_equal(tlbb_space_set_cpumask(&A, &MA), TLBB_OK);
	assert_int_equal(tlbb_ept_space_set_eptp(&A, EPTP_A), TLBB_OK);
	R.expect_debug_fail = true;
	assert_true(enter(5, &A));
	assert_true(enter(5, &A)); /* no slot: every entry flushes */
	assert_int_equal(invepts(5, 2, 0), 2);
	guest_reads(5, 0, 5);
	R.nev = 0;
	flush_page_of_a(0);
	assert_int_equal(invepts(5, 2, 0), 1);
	assert_int_equal(stale(EPTP_A, 0), 0);
}

/* ---- negative controls: one step removed, stale mappings must be found ---- */

static void test_negative_invept_deleted(void **state)
{
	(void)state;
	setup();
	three_cpus_in_a();
	R.drop_invept = true;
	flush_page_of_a(0);
	assert_int_equal(stale(EPTP_A, 0), 6);
}

static void test_negative_no_ipi_round(void **state)
{
	(void)state;
	setup();
	three_cpus_in_a();
	R.drop_ipis = true;
	flush_page_of_a(0);
	assert_int_equal(stale(EPTP_A, 0), 6);
}

/* The port enters A again without the VM entry hook. */
static void test_negative_no_flush_at_vm_entry_for_a_cpu_that_was_outside(void **state)
{
	(void)state;
	setup();
	three_cpus_in_a();
	assert_true(enter(1, &B));
	flush_page_of_a(3);
	R.cur_eptp[1] = EPTP_A; /* VMRESUME with A's EPTP, no tlbb_ept_vm_enter() */
	assert_int_equal(stale(EPTP_A, 3), 2);
}

/* A batch holds A's change unflushed; the racing changer frees without the check. */
static void test_negative_no_race_check(void **state)
{
	struct tlbb_batch b;

	(void)state;
	setup();
	three_cpus_in_a();
	tlbb_batch_init(&b);
	tlbb_add_page(&b, &A, GPA(2), 0);
	/* tlbb_flush_pending(&A) left out: the frame is reused now */
	assert_int_equal(stale(EPTP_A, 2), 6);
	tlbb_flush(&b);
}

/* A model where INVEPT keeps combined mappings: the VPID test must fail. */
static void test_negative_invept_that_keeps_combined_mappings(void **state)
{
	(void)state;
	setup();
	three_cpus_in_a();
	R.invept_keeps_combined = true;
	flush_page_of_a(0);
	for (unsigned c = 1; c <= 3; c++)
		assert_int_equal(ept_entries(c, EPTP_A, GPA(0) + 0x7f0000000000ull), 1);
	assert_int_equal(stale(EPTP_A, 0), 3);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest rules[] = {
		cmocka_unit_test(test_init_refuses_a_cpu_without_all_context_invept),
		cmocka_unit_test(test_set_eptp_refuses_no_ep4ta_and_a_foreign_space),
		cmocka_unit_test(test_add_executes_nothing_and_sends_nothing),
		cmocka_unit_test(test_one_round_each_cpu_in_the_vm_invepts_single_context_for_the_eptp),
		cmocka_unit_test(test_invept_single_context_drops_combined_mappings_of_every_vpid),
		cmocka_unit_test(test_reentry_of_the_same_vm_executes_nothing),
		cmocka_unit_test(test_a_cpu_outside_the_vm_flushes_at_its_next_vm_entry),
		cmocka_unit_test(test_a_cpu_reentering_between_add_and_flush_is_flushed_by_the_round),
		cmocka_unit_test(test_race_check_invepts_the_whole_eptp_on_its_mask),
		cmocka_unit_test(test_without_single_context_every_flush_is_all_context),
		cmocka_unit_test(test_a_single_context_vmfail_falls_back_to_all_context),
		cmocka_unit_test(test_a_batch_of_two_vms_invepts_each_cpus_current_eptp),
		cmocka_unit_test(test_an_eptp_recycled_to_a_new_space_is_flushed_at_first_entry),
		cmocka_unit_test(test_set_id_needs_the_eptp_again_and_flushes_at_entry),
		cmocka_unit_test(test_an_untracked_cpu_invepts_all_contexts_at_entry_and_on_requests),
	};
	const struct {
		const char *name;
		void (*fn)(void **);
	} negative[] = {
		{ "invept-deleted", test_negative_invept_deleted },
		{ "no-ipi-round", test_negative_no_ipi_round },
		{ "no-flush-at-vm-entry", test_negative_no_flush_at_vm_entry_for_a_cpu_that_was_outside },
		{ "no-race-check", test_negative_no_race_check },
		{ "invept-keeps-combined", test_negative_invept_that_keeps_combined_mappings },
	};

	if (argc > 2 && strcmp(argv[1], "negative") == 0) {
		for (size_t i = 0; i < sizeof(negative) / sizeof(negative[0]); i++) {
			if (strcmp(argv[2], negative[i].name) == 0) {
				const struct CMUnitTest one[] = { { negative[i].name, negative[i].fn,
								    NULL, NULL, NULL } };

				return cmocka_run_group_tests_name("ept negative control", one,
								   NULL, NULL);
			}
		}
		return 2;
	}
	return cmocka_run_group_tests_name("x86 EPT backend rules", rules, NULL, NULL);
}
