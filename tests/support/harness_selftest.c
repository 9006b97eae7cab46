/* SPDX-License-Identifier: MIT */
/*
 * The test harness's own controls. Built against tlbb_cmocka (and, in a
 * native build, against cmocka too, so both are held to the same answers).
 *
 *   harness_selftest pass    every check holds: exit 0
 *   harness_selftest KIND    one test fails by KIND, between two that pass
 *
 * A KIND run exits 1 only if the harness did all of: counted exactly one
 * failed test, left the failing test at its check (the line after it never
 * ran), ran the test after it, and ran the failed test's teardown. Anything
 * else, a crash included, exits 99: meson's hard error, which should_fail
 * does not turn into a pass as it does any other nonzero status or signal.
 * So its meson test (should_fail) passes only for a harness whose failed
 * check fails the program the way cmocka's does.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define HARNESS_BROKEN 99 /* meson: ERROR, never an expected failure */

static const char *const kinds[] = {
	"assert", "false", "int-equal", "int-equal-wide", "int-not-equal", "ptr-equal", "null",
	"non-null", "string-equal", "memory-equal", "fail", "fail-msg", "nested", "setup",
	"setup-check", "teardown",
};
static const char *kind;
static int body_ran, after_check, next_ran, teardown_ran;

static int nested_depth(int n)
{
	/* The check fires below a few frames, as in a backend hook the library calls. */
	if (n == 0)
		assert_int_equal(n, 1);
	return n == 0 ? 0 : nested_depth(n - 1) + 1;
}

static void failing(void **state)
{
	static const unsigned char x[4] = { 1, 2, 3, 4 }, y[4] = { 1, 2, 9, 4 };
	int v = 5, *p = &v, *none = NULL;

	body_ran = 1;
	if (!strcmp(kind, "assert"))
		assert_true(1 == 2);
	else if (!strcmp(kind, "false"))
		assert_false(v == 5);
	else if (!strcmp(kind, "int-equal"))
		assert_int_equal(v, 6);
	else if (!strcmp(kind, "int-equal-wide"))
		assert_int_equal(UINT64_C(1) << 40, 0); /* differs above 32 bits only */
	else if (!strcmp(kind, "int-not-equal"))
		assert_int_not_equal(v, 5);
	else if (!strcmp(kind, "ptr-equal"))
		assert_ptr_equal(p, none);
	else if (!strcmp(kind, "null"))
		assert_null(p);
	else if (!strcmp(kind, "non-null"))
		assert_non_null(none);
	else if (!strcmp(kind, "string-equal"))
		assert_string_equal("tlbi", "tlbi vale1is");
	else if (!strcmp(kind, "memory-equal"))
		assert_memory_equal(x, y, sizeof(x));
	else if (!strcmp(kind, "fail"))
		fail();
	else if (!strcmp(kind, "fail-msg"))
		fail_msg("a deliberate failure, value %d", v);
	else if (!strcmp(kind, "nested"))
		nested_depth(3);
	after_check = 1;
}

static void passing(void **state)
{
	static const unsigned char x[3] = { 7, 8, 9 }, y[3] = { 7, 8, 9 };
	int v = 5, *p = &v;

	assert_true(v == 5);
	assert_false(v == 6);
	assert_int_equal(-1, UINTMAX_MAX); /* both as uintmax_t, as in cmocka */
	assert_int_equal(UINT64_C(1) << 40, UINT64_C(1) << 40);
	assert_int_not_equal(v, 6);
	assert_ptr_equal(p, &v);
	assert_null(NULL);
	assert_non_null(p);
	assert_string_equal("sfence.vma", "sfence.vma");
	assert_memory_equal(x, y, sizeof(x));
	assert_int_equal(*(int *)*state, 42);
}

static void next(void **state)
{
	next_ran = 1;
}

static int answer = 42;

static int setup(void **state)
{
	*state = &answer;
	teardown_ran = 0; /* the previous test's teardown set it */
	return 0;
}

static int teardown(void **state)
{
	teardown_ran = 1;
	return 0;
}

/* The failing test's fixtures: they fail for the kinds "setup", "setup-check", "teardown". */
static int setup_k(void **state)
{
	setup(state);
	if (!strcmp(kind, "setup-check"))
		assert_true(0);
	return !strcmp(kind, "setup");
}

static int teardown_k(void **state)
{
	teardown(state);
	return !strcmp(kind, "teardown");
}

static int known(const char *k)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(k, kinds[i]))
			return 1;
	return 0;
}

static void crashed(int sig)
{
	_exit(HARNESS_BROKEN);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(passing, setup, teardown),
		cmocka_unit_test_setup_teardown(failing, setup_k, teardown_k),
		cmocka_unit_test(next),
	};
	const struct CMUnitTest clean[] = {
		cmocka_unit_test_setup_teardown(passing, setup, teardown),
		cmocka_unit_test(next),
	};
	int failed;

	kind = argc > 1 ? argv[1] : "pass";
	if (!strcmp(kind, "pass"))
		return cmocka_run_group_tests_name("selftest-pass", clean, NULL, NULL);
	if (!known(kind)) {
		printf("unknown kind '%s'\n", kind);
		return HARNESS_BROKEN;
	}
	signal(SIGSEGV, crashed);
	signal(SIGBUS, crashed);
	signal(SIGILL, crashed);
	signal(SIGFPE, crashed);
	signal(SIGABRT, crashed);
	failed = cmocka_run_group_tests_name("selftest-fail", tests, NULL, NULL);
	printf("selftest %s: %d failed; body ran: %d; line after the check ran: %d; "
	       "next test ran: %d; teardown ran: %d\n",
	       kind, failed, body_ran, after_check, next_ran, teardown_ran);
	if (failed != 1 || !next_ran)
		return HARNESS_BROKEN;
	if (!strcmp(kind, "setup") || !strcmp(kind, "setup-check"))
		/* A setup that fails skips its body and its teardown. */
		return !body_ran && !teardown_ran ? 1 : HARNESS_BROKEN;
	if (!strcmp(kind, "teardown"))
		return body_ran && after_check && teardown_ran ? 1 : HARNESS_BROKEN;
	return body_ran && !after_check && teardown_ran ? 1 : HARNESS_BROKEN;
}
