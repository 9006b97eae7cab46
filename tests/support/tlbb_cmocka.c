/* SPDX-License-Identifier: MIT */
/*
 * The runner behind tlbb_cmocka.h. Every fixture and test body runs inside
 * guarded(): a setjmp that a failed check or skip() leaves by longjmp, as
 * cmocka leaves a test. So a failure anywhere below a test, in a backend
 * hook the library calls too, ends that test alone and counts it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlbb_cmocka.h"

enum outcome { PASSED = 0, FAILED = 1, SKIPPED = 2 };
enum phase { SETUP, BODY, TEARDOWN };

/* The running fixture's or test's way out; NULL between them. */
static jmp_buf *current;

static _Noreturn void leave(enum outcome o)
{
	fflush(stdout);
	fflush(stderr);
	if (!current) {
		/* A check outside any test (in main, say): nothing to return to. */
		fprintf(stderr, "tlbb_cmocka: check failed outside a test\n");
		exit(1);
	}
	/* cmocka's switch: stop at the first failure, where a debugger or core dump sees it. */
	if (o == FAILED && getenv("CMOCKA_TEST_ABORT"))
		abort();
	longjmp(*current, o);
}

void tlbb_cm_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s:%d: error: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	leave(FAILED);
}

void tlbb_cm_skip(const char *file, int line)
{
	fflush(stdout);
	fprintf(stderr, "%s:%d: skip()\n", file, line);
	leave(SKIPPED);
}

void tlbb_cm_true(uintmax_t value, const char *expr, const char *file, int line)
{
	if (!value)
		tlbb_cm_fail(file, line, "%s is false", expr);
}

void tlbb_cm_int(uintmax_t a, uintmax_t b, int want_equal, const char *ea, const char *eb,
		 const char *file, int line)
{
	if ((a == b) == !!want_equal)
		return;
	tlbb_cm_fail(file, line, "%s %s %s: %ju (0x%jx, signed %jd) vs %ju (0x%jx, signed %jd)",
		     ea, want_equal ? "==" : "!=", eb, a, a, (intmax_t)a, b, b, (intmax_t)b);
}

void tlbb_cm_string(const char *a, const char *b, int want_equal, const char *ea,
		    const char *eb, const char *file, int line)
{
	if (!a || !b)
		tlbb_cm_fail(file, line, "%s %s %s: a NULL string", ea, want_equal ? "==" : "!=", eb);
	if ((strcmp(a, b) == 0) == !!want_equal)
		return;
	tlbb_cm_fail(file, line, "%s %s %s: \"%s\" vs \"%s\"", ea, want_equal ? "==" : "!=", eb,
		     a, b);
}

void tlbb_cm_memory(const void *a, const void *b, size_t size, int want_equal,
		    const char *ea, const char *eb, const char *file, int line)
{
	const unsigned char *pa = a, *pb = b;
	size_t i = 0;

	if (!a || !b)
		tlbb_cm_fail(file, line, "%s %s %s: a NULL buffer", ea, want_equal ? "==" : "!=", eb);
	while (i < size && pa[i] == pb[i])
		i++;
	if ((i == size) == !!want_equal)
		return;
	if (want_equal)
		tlbb_cm_fail(file, line, "%s == %s (%zu bytes): byte %zu is 0x%02x vs 0x%02x", ea,
			     eb, size, i, pa[i], pb[i]);
	tlbb_cm_fail(file, line, "%s != %s: all %zu bytes are equal", ea, eb, size);
}

static enum outcome call(enum phase p, const struct CMUnitTest *t, void **state)
{
	CMFixtureFunction f = p == SETUP ? t->setup_func : t->teardown_func;

	if (p == BODY) {
		t->test_func(state);
		return PASSED;
	}
	if (f(state) == 0)
		return PASSED;
	fprintf(stderr, "%s: %s returned nonzero\n", t->name, p == SETUP ? "setup" : "teardown");
	return FAILED;
}

/*
 * setjmp is the whole controlling expression of the switch, one of the uses
 * C11 7.13.1.1 allows; nothing local is written between it and a longjmp.
 */
static enum outcome guarded(enum phase p, const struct CMUnitTest *t, void **state)
{
	jmp_buf here;
	enum outcome o;

	switch (setjmp(here)) {
	case 0:
		break;
	case SKIPPED:
		current = NULL;
		return SKIPPED;
	default:
		current = NULL;
		return FAILED;
	}
	current = &here;
	o = call(p, t, state);
	current = NULL;
	return o;
}

/* Fixtures as cmocka runs them: no body or teardown after a setup that failed. */
static enum outcome run_test(const struct CMUnitTest *t, void *group_state)
{
	void *state = t->initial_state ? t->initial_state : group_state;
	enum outcome o = PASSED;

	if (t->setup_func)
		o = guarded(SETUP, t, &state);
	if (o != PASSED)
		return o;
	o = guarded(BODY, t, &state);
	if (t->teardown_func && guarded(TEARDOWN, t, &state) == FAILED)
		o = FAILED;
	return o;
}

int tlbb_cm_run_group(const char *group_name, const struct CMUnitTest *tests, size_t count,
		      CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
	const struct CMUnitTest setup = { "group setup", NULL, group_setup, NULL, NULL };
	const struct CMUnitTest teardown = { "group teardown", NULL, NULL, group_teardown, NULL };
	size_t passed = 0, failed = 0, skipped = 0;
	void *group_state = NULL;

	/* Lines in order with the failure messages on stderr, and none lost to a crash. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("[ group ] %s: %zu test(s) (tlbb_cmocka)\n", group_name, count);
	if (group_setup && guarded(SETUP, &setup, &group_state) != PASSED) {
		printf("[ FAIL  ] %s: group setup failed, no test ran\n", group_name);
		return 1;
	}
	for (size_t i = 0; i < count; i++) {
		printf("[ run   ] %s\n", tests[i].name);
		switch (run_test(&tests[i], group_state)) {
		case PASSED:
			passed++;
			printf("[    ok ] %s\n", tests[i].name);
			break;
		case SKIPPED:
			skipped++;
			printf("[  skip ] %s\n", tests[i].name);
			break;
		default:
			failed++;
			printf("[ FAIL  ] %s\n", tests[i].name);
			break;
		}
	}
	if (group_teardown && guarded(TEARDOWN, &teardown, &group_state) != PASSED) {
		printf("[ FAIL  ] %s: group teardown failed\n", group_name);
		failed++;
	}
	printf("[ group ] %s: %zu passed, %zu failed, %zu skipped\n", group_name, passed, failed,
	       skipped);
	fflush(stdout);
	/* cmocka's answer is the failure count; past 255 an exit status would wrap to 0. */
	return failed > 255 ? 255 : (int)failed;
}
