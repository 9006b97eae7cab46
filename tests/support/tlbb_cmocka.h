/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for cmocka where the host machine has none: the riscv64 Linux
 * cross build (Debian 12 has no riscv64 architecture, so no
 * libcmocka-dev:riscv64). tests/meson.build uses it only when meson finds no
 * cmocka for the host machine of a cross build; native builds use cmocka.
 *
 * It is exactly the part of cmocka's API the tests use, with cmocka's
 * meaning: each test runs under its own setjmp, a failed assertion prints
 * where and why and leaves the test (longjmp), the next test still runs,
 * and the group's result is the number of failed tests, so a failure is a
 * nonzero exit. Its own controls are in tests/support/meson.build.
 *
 * Written for this project from cmocka's documented API; no cmocka code.
 */
#ifndef TLBB_CMOCKA_H
#define TLBB_CMOCKA_H

#include <stddef.h>
#include <stdint.h>

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
	const char *name;
	CMUnitTestFunction test_func;
	CMFixtureFunction setup_func;
	CMFixtureFunction teardown_func;
	void *initial_state;
};

#define cmocka_unit_test(f) { #f, f, NULL, NULL, NULL }
#define cmocka_unit_test_setup(f, setup) { #f, f, setup, NULL, NULL }
#define cmocka_unit_test_teardown(f, teardown) { #f, f, NULL, teardown, NULL }
#define cmocka_unit_test_setup_teardown(f, setup, teardown) { #f, f, setup, teardown, NULL }
#define cmocka_unit_test_prestate(f, state) { #f, f, NULL, NULL, state }

#define cmocka_run_group_tests(group, setup, teardown) \
	tlbb_cm_run_group(#group, group, sizeof(group) / sizeof((group)[0]), setup, teardown)
#define cmocka_run_group_tests_name(name, group, setup, teardown) \
	tlbb_cm_run_group(name, group, sizeof(group) / sizeof((group)[0]), setup, teardown)

/* The number of tests that failed (capped at 255, so it survives as an exit status). */
int tlbb_cm_run_group(const char *group_name, const struct CMUnitTest *tests, size_t count,
		      CMFixtureFunction group_setup, CMFixtureFunction group_teardown);

/* Each ends the running test: as failed, or (skip) as skipped. */
_Noreturn void tlbb_cm_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
_Noreturn void tlbb_cm_skip(const char *file, int line);

/* Each returns only when the check holds. */
void tlbb_cm_true(uintmax_t value, const char *expr, const char *file, int line);
void tlbb_cm_int(uintmax_t a, uintmax_t b, int want_equal, const char *ea, const char *eb,
		 const char *file, int line);
void tlbb_cm_string(const char *a, const char *b, int want_equal, const char *ea,
		    const char *eb, const char *file, int line);
void tlbb_cm_memory(const void *a, const void *b, size_t size, int want_equal,
		    const char *ea, const char *eb, const char *file, int line);

/*
 * Integers compare as uintmax_t, as in cmocka: both operands converted, so
 * -1 equals UINTMAX_MAX; pointers compare as their addresses.
 */
#define tlbb_cm_u(x) ((uintmax_t)(x))
#define tlbb_cm_p(x) ((uintmax_t)(uintptr_t)(x))

#define assert_true(c) tlbb_cm_true(!!(c), #c, __FILE__, __LINE__)
#define assert_false(c) tlbb_cm_true(!(c), "!(" #c ")", __FILE__, __LINE__)
#define assert_null(p) tlbb_cm_true(tlbb_cm_p(p) == 0, #p " == NULL", __FILE__, __LINE__)
#define assert_non_null(p) tlbb_cm_true(tlbb_cm_p(p) != 0, #p " != NULL", __FILE__, __LINE__)
#define assert_int_equal(a, b) \
	tlbb_cm_int(tlbb_cm_u(a), tlbb_cm_u(b), 1, #a, #b, __FILE__, __LINE__)
#define assert_int_not_equal(a, b) \
	tlbb_cm_int(tlbb_cm_u(a), tlbb_cm_u(b), 0, #a, #b, __FILE__, __LINE__)
#define assert_ptr_equal(a, b) \
	tlbb_cm_int(tlbb_cm_p(a), tlbb_cm_p(b), 1, #a, #b, __FILE__, __LINE__)
#define assert_ptr_not_equal(a, b) \
	tlbb_cm_int(tlbb_cm_p(a), tlbb_cm_p(b), 0, #a, #b, __FILE__, __LINE__)
#define assert_string_equal(a, b) tlbb_cm_string(a, b, 1, #a, #b, __FILE__, __LINE__)
#define assert_string_not_equal(a, b) tlbb_cm_string(a, b, 0, #a, #b, __FILE__, __LINE__)
#define assert_memory_equal(a, b, size) \
	tlbb_cm_memory(a, b, size, 1, #a, #b, __FILE__, __LINE__)
#define assert_memory_not_equal(a, b, size) \
	tlbb_cm_memory(a, b, size, 0, #a, #b, __FILE__, __LINE__)

#define fail() tlbb_cm_fail(__FILE__, __LINE__, "fail()")
#define fail_msg(...) tlbb_cm_fail(__FILE__, __LINE__, __VA_ARGS__)
#define skip() tlbb_cm_skip(__FILE__, __LINE__)

#endif
