/* SPDX-License-Identifier: MIT */
/*
 * Core logic, specified call by call: the generation word, its reset, the
 * lost-update interleaving, and every bad-input answer. The backend here only
 * records what the core asked of it; whether those requests keep TLBs
 * coherent is proven on the sim in tests/model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <tlbbatch/backend.h>

/* ---- a backend that records the core's requests ------------------------- */

#define MAX_CALLS 256

struct call {
	char kind; /* 'a' add, 'f' flush, 's' flush_space */
	struct tlbb_space *space;
	uint64_t start, end;
	unsigned flags;
};

struct recorder {
	struct call calls[MAX_CALLS];
	bool same[MAX_CALLS]; /* add calls: TLBB_RANGE_SAME was passed */
	unsigned n;
	bool defer;
	/* Runs inside flush_space, after the invalidation: a racing adder. */
	void (*during_flush_space)(void *arg);
	void *arg;
};

static struct recorder rec;

static void record(char kind, struct tlbb_space *s, uint64_t start, uint64_t end, unsigned flags)
{
	assert_true(rec.n < MAX_CALLS);
	rec.calls[rec.n++] = (struct call){ kind, s, start, end, flags };
}

static bool rec_should_defer(const struct tlbb_backend *be, const struct tlbb_space *s)
{
	return rec.defer;
}

static void rec_add(const struct tlbb_backend *be, struct tlbb_batch *b, struct tlbb_space *s,
		    uint64_t start, uint64_t end, unsigned flags)
{
	/* The core's promise to every backend. */
	if (!(flags & TLBB_RANGE_ALL)) {
		uint64_t mask = ((uint64_t)1 << s->page_shift) - 1;

		assert_true(start < end);
		assert_int_equal(start & mask, 0);
		assert_int_equal(end & mask, 0);
		assert_true(((end - start) >> s->page_shift) <= s->full_flush_pages);
	} else {
		assert_true(start == 0 && end == 0);
	}
	/* TLBB_RANGE_SAME exactly when @s is the space of the batch's previous add. */
	assert_int_equal((flags & TLBB_RANGE_SAME) != 0, b->last == s);
	rec.same[rec.n] = (flags & TLBB_RANGE_SAME) != 0;
	record('a', s, start, end, flags & ~TLBB_RANGE_SAME);
}

static void rec_flush(const struct tlbb_backend *be, struct tlbb_batch *b)
{
	record('f', NULL, 0, 0, 0);
}

static void rec_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
	record('s', s, 0, 0, 0);
	if (rec.during_flush_space) {
		void (*fn)(void *) = rec.during_flush_space;

		rec.during_flush_space = NULL;
		fn(rec.arg);
	}
}

static const struct tlbb_backend rec_be = {
	.name = "recorder",
	.should_defer = rec_should_defer,
	.add = rec_add,
	.flush = rec_flush,
	.flush_space = rec_flush_space,
};

static const struct tlbb_backend other_be = {
	.name = "other",
	.add = rec_add,
	.flush = rec_flush,
	.flush_space = rec_flush_space,
};

static struct tlbb_space S, T;
static struct tlbb_batch B, B2;

static int setup(void **state)
{
	memset(&rec, 0, sizeof(rec));
	rec.defer = true;
	assert_int_equal(tlbb_space_init(&S, &rec_be, 7, NULL), TLBB_OK);
	assert_int_equal(tlbb_space_init(&T, &rec_be, 8, NULL), TLBB_OK);
	tlbb_batch_init(&B);
	tlbb_batch_init(&B2);
	return 0;
}

static uint32_t word(const struct tlbb_space *s)
{
	return __atomic_load_n(&s->batch_gen, __ATOMIC_SEQ_CST);
}

static void set_word(struct tlbb_space *s, unsigned pending, unsigned flushed)
{
	__atomic_store_n(&s->batch_gen, pending | (flushed << TLBB_GEN_FLUSHED_SHIFT), __ATOMIC_SEQ_CST);
}

/* ---- generation arithmetic ------------------------------------------------ */

static void new_space_has_nothing_pending(void **state)
{
	assert_false(tlbb_space_has_pending(&S));
	assert_false(tlbb_flush_pending(&S));
	assert_int_equal(rec.n, 0);
}

static void every_add_bumps_pending_once(void **state)
{
	assert_int_equal(tlbb_add_page(&B, &S, 0x1000, 0), TLBB_OK);
	assert_int_equal(tlbb_gen_pending(word(&S)), 1);
	assert_int_equal(tlbb_add_range(&B, &S, 0x2000, 0x5000, 0), TLBB_OK);
	assert_int_equal(tlbb_gen_pending(word(&S)), 2);
	assert_int_equal(tlbb_add_space(&B, &S, 0), TLBB_OK);
	assert_int_equal(tlbb_gen_pending(word(&S)), 3);
	assert_int_equal(tlbb_gen_flushed(word(&S)), 0);
	assert_true(tlbb_space_has_pending(&S));
}

static void batch_flush_leaves_the_word_for_the_race_check(void **state)
{
	tlbb_add_page(&B, &S, 0x1000, 0);
	tlbb_flush(&B);
	/* Another batch may still hold work for S: only the race check publishes. */
	assert_true(tlbb_space_has_pending(&S));
	assert_true(tlbb_flush_pending(&S));
	assert_false(tlbb_space_has_pending(&S));
	assert_int_equal(word(&S), 1u | (1u << TLBB_GEN_FLUSHED_SHIFT));
}

static void race_check_flushes_whole_space_and_publishes(void **state)
{
	tlbb_add_page(&B, &S, 0x1000, 0);
	tlbb_add_page(&B, &S, 0x2000, 0);
	assert_true(tlbb_flush_pending(&S));
	assert_int_equal(rec.calls[rec.n - 1].kind, 's');
	assert_ptr_equal(rec.calls[rec.n - 1].space, &S);
	assert_int_equal(tlbb_gen_flushed(word(&S)), 2);
	/* A second check with nothing new does nothing. */
	rec.n = 0;
	assert_false(tlbb_flush_pending(&S));
	assert_int_equal(rec.n, 0);
}

static void race_check_on_one_space_leaves_the_other_pending(void **state)
{
	tlbb_add_page(&B, &S, 0x1000, 0);
	tlbb_add_page(&B, &T, 0x1000, 0);
	assert_true(tlbb_flush_pending(&S));
	assert_true(tlbb_space_has_pending(&T));
}

static void pending_16383_still_increments(void **state)
{
	set_word(&S, 16383, 16383);
	tlbb_add_page(&B, &S, 0x1000, 0);
	assert_int_equal(word(&S), 16384u | (16383u << TLBB_GEN_FLUSHED_SHIFT));
}

static void pending_16384_resets_to_one_over_zero(void **state)
{
	set_word(&S, 16384, 16384);
	tlbb_add_page(&B, &S, 0x1000, 0);
	/* Reset keeps pending != flushed: the next race check still flushes. */
	assert_int_equal(word(&S), 1u);
	assert_true(tlbb_flush_pending(&S));
	assert_int_equal(word(&S), 1u | (1u << TLBB_GEN_FLUSHED_SHIFT));
}

static void pending_32767_resets_without_touching_flushed_bits(void **state)
{
	/* The largest value concurrent adders could push pending to. */
	set_word(&S, 32767, 5);
	tlbb_add_page(&B, &S, 0x1000, 0);
	assert_int_equal(word(&S), 1u);
}

static void guard_bit_absorbs_concurrent_overshoot(void **state)
{
	/* Two adders both saw 16383 and both incremented: no carry into flushed. */
	set_word(&S, 16383, 100);
	__atomic_fetch_add(&S.batch_gen, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&S.batch_gen, 1, __ATOMIC_SEQ_CST);
	assert_int_equal(tlbb_gen_pending(word(&S)), 16385);
	assert_int_equal(tlbb_gen_flushed(word(&S)), 100);
	tlbb_add_page(&B, &S, 0x1000, 0);
	assert_int_equal(word(&S), 1u);
}

static void wraparound_never_makes_fields_meet(void **state)
{
	/* 100,000 adds with a race check every 7: pending == flushed only right
	 * after a race check published, never while work is outstanding. */
	for (unsigned i = 1; i <= 100000; i++) {
		tlbb_add_page(&B, &S, 0x1000, 0);
		assert_true(tlbb_space_has_pending(&S));
		if (i % 7 == 0) {
			assert_true(tlbb_flush_pending(&S));
			assert_false(tlbb_space_has_pending(&S));
		}
		rec.n = 0;
	}
}

/* ---- the lost-update interleaving ----------------------------------------- */

static void racing_adder(void *arg)
{
	/* A second reclaimer clears a PTE and batches it while the race check
	 * is between its flush and its publish. */
	assert_int_equal(tlbb_add_page(&B2, &S, 0x9000, 0), TLBB_OK);
}

static void add_during_race_check_is_not_lost(void **state)
{
	tlbb_add_page(&B, &S, 0x1000, 0); /* word 1/0 */
	rec.during_flush_space = racing_adder;
	assert_true(tlbb_flush_pending(&S)); /* reads 1/0, flushes, adder -> 2/0 */
	/* The cmpxchg saw 2/0 != 1/0 and published nothing. */
	assert_int_equal(tlbb_gen_pending(word(&S)), 2);
	assert_int_equal(tlbb_gen_flushed(word(&S)), 0);
	/* So the next changer flushes again, covering the racing TLBI. */
	rec.n = 0;
	assert_true(tlbb_flush_pending(&S));
	assert_int_equal(rec.calls[0].kind, 's');
	assert_false(tlbb_space_has_pending(&S));
}

static void reset_during_race_check_is_not_lost(void **state)
{
	set_word(&S, 16384, 16000);
	rec.during_flush_space = racing_adder; /* its add resets the word to 1/0 */
	assert_true(tlbb_flush_pending(&S));
	assert_int_equal(word(&S), 1u);
	assert_true(tlbb_space_has_pending(&S));
}

/* ---- batch flags ------------------------------------------------------------ */

static void flush_runs_backend_once_and_empties_batch(void **state)
{
	for (uint64_t va = 0; va < 100 * 4096; va += 4096)
		tlbb_add_page(&B, &S, va, 0);
	assert_true(tlbb_batch_pending(&B));
	assert_int_equal(B.nr_adds, 100);
	rec.n = 0;
	tlbb_flush(&B);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.calls[0].kind, 'f');
	assert_false(tlbb_batch_pending(&B));
	assert_null(B.backend);
	rec.n = 0;
	tlbb_flush(&B); /* empty: nothing to do */
	assert_int_equal(rec.n, 0);
}

static void flush_dirty_only_when_something_was_writable(void **state)
{
	tlbb_add_page(&B, &S, 0x1000, 0);
	rec.n = 0;
	tlbb_flush_dirty(&B);
	assert_int_equal(rec.n, 0);
	assert_true(tlbb_batch_pending(&B));
	tlbb_add_page(&B, &S, 0x2000, TLBB_ADD_WRITABLE);
	rec.n = 0;
	tlbb_flush_dirty(&B);
	assert_int_equal(rec.n, 1);
	assert_false(tlbb_batch_pending(&B));
	assert_false(B.inv_flags & TLBB_INV_WRITABLE);
}

/* ---- frame hand-off: releases after the flush -------------------------------- */

/* A release records how many backend calls had happened when it ran. */
struct rel {
	struct tlbb_release node;
	unsigned id;
};

static unsigned rel_order[8], rel_calls_seen[8], rel_n;

static void rel_fn(struct tlbb_release *r)
{
	const struct rel *x = (const struct rel *)(void *)((char *)r - offsetof(struct rel, node));

	rel_order[rel_n] = x->id;
	rel_calls_seen[rel_n++] = rec.n;
}

static void releases_run_after_the_backend_flush_in_order(void **state)
{
	struct rel r[3] = { { .id = 0 }, { .id = 1 }, { .id = 2 } };

	rel_n = 0;
	tlbb_add_page(&B, &S, 0x1000, 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(tlbb_batch_release(&B, &r[i].node, rel_fn), TLBB_OK);
	rec.n = 0;
	tlbb_flush(&B);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.calls[0].kind, 'f');
	assert_int_equal(rel_n, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(rel_order[i], i);        /* in the order queued */
		assert_int_equal(rel_calls_seen[i], 1);   /* after the backend's flush */
	}
	assert_null(B.release);
	tlbb_flush(&B); /* run once only */
	assert_int_equal(rel_n, 3);
}

static void release_waits_for_adds_queued_after_it(void **state)
{
	struct rel r = { .id = 0 };

	rel_n = 0;
	tlbb_batch_release(&B, &r.node, rel_fn);
	tlbb_add_page(&B, &S, 0x1000, 0);
	assert_int_equal(rel_n, 0);
	rec.n = 0;
	tlbb_flush(&B);
	assert_int_equal(rel_n, 1);
	assert_int_equal(rel_calls_seen[0], 1);
}

/* Pages that took the synchronous path: nothing queued, the releases still run at the flush. */
static void releases_of_an_empty_batch_run_at_its_flush(void **state)
{
	struct rel r = { .id = 0 };

	rel_n = 0;
	assert_int_equal(tlbb_flush_range_sync(&S, 0x1000, 0x2000, 0), TLBB_OK);
	tlbb_batch_release(&B, &r.node, rel_fn);
	assert_int_equal(rel_n, 0);
	rec.n = 0;
	tlbb_flush(&B);
	assert_int_equal(rec.n, 0); /* no backend flush: nothing was queued */
	assert_int_equal(rel_n, 1);
}

static void flush_dirty_without_writable_runs_no_release(void **state)
{
	struct rel r = { .id = 0 };

	rel_n = 0;
	tlbb_add_page(&B, &S, 0x1000, 0);
	tlbb_batch_release(&B, &r.node, rel_fn);
	tlbb_flush_dirty(&B);
	assert_int_equal(rel_n, 0);
	tlbb_flush(&B);
	assert_int_equal(rel_n, 1);
}

static void release_bad_input(void **state)
{
	struct rel r = { .id = 5 };

	rel_n = 0;
	assert_int_equal(tlbb_batch_release(&B, NULL, rel_fn), TLBB_EINVAL);
	assert_int_equal(tlbb_batch_release(&B, &r.node, NULL), TLBB_EINVAL);
	assert_null(B.release);
	/* NULL batch: its adds were synchronous, so the release runs at once. */
	assert_int_equal(tlbb_batch_release(NULL, &r.node, rel_fn), TLBB_EINVAL);
	assert_int_equal(rel_n, 1);
	assert_int_equal(rel_order[0], 5);
}

/* A release may queue into the batch it ran from: that one waits for the next flush. */
static struct rel requeued = { .id = 9 };

static void rel_requeue_fn(struct tlbb_release *r)
{
	rel_fn(r);
	tlbb_batch_release(&B, &requeued.node, rel_fn);
}

static void release_may_queue_into_the_emptied_batch(void **state)
{
	struct rel r = { .id = 0 };

	rel_n = 0;
	tlbb_add_page(&B, &S, 0x1000, 0);
	tlbb_batch_release(&B, &r.node, rel_requeue_fn);
	tlbb_flush(&B);
	assert_int_equal(rel_n, 1);
	assert_ptr_equal(B.release, &requeued.node);
	tlbb_flush(&B);
	assert_int_equal(rel_n, 2);
	assert_int_equal(rel_order[1], 9);
}

static void batch_spans_spaces_of_one_backend(void **state)
{
	tlbb_add_page(&B, &S, 0x1000, 0);
	tlbb_add_page(&B, &T, 0x1000, 0);
	assert_int_equal(rec.n, 2);
	assert_ptr_equal(rec.calls[0].space, &S);
	assert_ptr_equal(rec.calls[1].space, &T);
	rec.n = 0;
	tlbb_flush(&B);
	assert_int_equal(rec.n, 1);
}

static void leaf_only_and_writable_reach_the_backend(void **state)
{
	tlbb_add_page(&B, &S, 0x1000, TLBB_ADD_LEAF_ONLY | TLBB_ADD_WRITABLE);
	assert_int_equal(rec.calls[0].flags, TLBB_ADD_LEAF_ONLY | TLBB_ADD_WRITABLE);
}

static void should_defer_asks_the_backend(void **state)
{
	assert_true(tlbb_should_defer(&S));
	rec.defer = false;
	assert_false(tlbb_should_defer(&S));
}

/* ---- bad input -------------------------------------------------------------- */

static void empty_range_queues_nothing(void **state)
{
	assert_int_equal(tlbb_add_range(&B, &S, 0x5000, 0x5000, 0), TLBB_OK);
	assert_int_equal(rec.n, 0);
	assert_false(tlbb_batch_pending(&B));
	assert_false(tlbb_space_has_pending(&S));
}

static void inverted_range_becomes_whole_space(void **state)
{
	assert_int_equal(tlbb_add_range(&B, &S, 0x9000, 0x1000, 0), TLBB_ERANGE);
	assert_int_equal(rec.n, 1);
	assert_true(rec.calls[0].flags & TLBB_RANGE_ALL);
	assert_true(tlbb_batch_pending(&B));
	assert_true(tlbb_space_has_pending(&S));
}

static void unaligned_range_is_rounded_outward(void **state)
{
	assert_int_equal(tlbb_add_range(&B, &S, 0x3800, 0x4001, 0), TLBB_OK);
	assert_int_equal(rec.calls[0].start, 0x3000);
	assert_int_equal(rec.calls[0].end, 0x5000);
	/* One byte still covers its page. */
	assert_int_equal(tlbb_add_range(&B, &S, 0x7fff, 0x8000, 0), TLBB_OK);
	assert_int_equal(rec.calls[1].start, 0x7000);
	assert_int_equal(rec.calls[1].end, 0x8000);
}

static void unaligned_page_is_rounded_down(void **state)
{
	assert_int_equal(tlbb_add_page(&B, &S, 0x12345, 0), TLBB_OK);
	assert_int_equal(rec.calls[0].start, 0x12000);
	assert_int_equal(rec.calls[0].end, 0x13000);
}

static void wrapped_length_is_inverted_and_widened(void **state)
{
	/* start + len overflowed in the caller: end < start. */
	uint64_t start = UINT64_MAX - 0x1fff;

	assert_int_equal(tlbb_add_range(&B, &S, start, start + 0x4000, 0), TLBB_ERANGE);
	assert_true(rec.calls[0].flags & TLBB_RANGE_ALL);
}

static void range_reaching_the_top_page_becomes_whole_space(void **state)
{
	/* Legal, but its rounded end 2^64 cannot be written half-open. */
	assert_int_equal(tlbb_add_range(&B, &S, UINT64_MAX - 0x2fff, UINT64_MAX, 0), TLBB_OK);
	assert_true(rec.calls[0].flags & TLBB_RANGE_ALL);
	assert_int_equal(tlbb_add_page(&B, &S, UINT64_MAX, 0), TLBB_OK);
	assert_true(rec.calls[1].flags & TLBB_RANGE_ALL);
	/* One page lower is still expressible exactly. */
	assert_int_equal(tlbb_add_page(&B, &S, UINT64_MAX - 0x1000, 0), TLBB_OK);
	assert_false(rec.calls[2].flags & TLBB_RANGE_ALL);
	assert_int_equal(rec.calls[2].end, UINT64_MAX - 0xfff);
}

static void range_over_threshold_becomes_whole_space(void **state)
{
	assert_int_equal(tlbb_space_set_threshold(&S, 16), TLBB_OK);
	assert_int_equal(tlbb_add_range(&B, &S, 0, 16 * 4096, 0), TLBB_OK);
	assert_false(rec.calls[0].flags & TLBB_RANGE_ALL);
	assert_int_equal(tlbb_add_range(&B, &S, 0, 17 * 4096, 0), TLBB_OK);
	assert_true(rec.calls[1].flags & TLBB_RANGE_ALL);
	/* Huge: the whole 64-bit space. */
	assert_int_equal(tlbb_add_range(&B, &S, 0, UINT64_MAX - 4096 * 2, 0), TLBB_OK);
	assert_true(rec.calls[2].flags & TLBB_RANGE_ALL);
}

static void granule_changes_rounding(void **state)
{
	assert_int_equal(tlbb_space_set_granule(&S, 16), TLBB_OK); /* 64 KiB */
	assert_int_equal(tlbb_add_range(&B, &S, 0x11000, 0x21000, 0), TLBB_OK);
	assert_int_equal(rec.calls[0].start, 0x10000);
	assert_int_equal(rec.calls[0].end, 0x30000);
	assert_int_equal(tlbb_space_set_granule(&S, 11), TLBB_EINVAL);
	assert_int_equal(tlbb_space_set_granule(&S, 31), TLBB_EINVAL);
	assert_int_equal(tlbb_space_set_threshold(&S, 0), TLBB_EINVAL);
}

static void null_space_is_refused(void **state)
{
	assert_int_equal(tlbb_add_page(&B, NULL, 0x1000, 0), TLBB_EINVAL);
	assert_int_equal(tlbb_add_range(&B, NULL, 0, 0x1000, 0), TLBB_EINVAL);
	assert_int_equal(tlbb_add_space(&B, NULL, 0), TLBB_EINVAL);
	assert_false(tlbb_flush_pending(NULL));
	assert_false(tlbb_should_defer(NULL));
	assert_int_equal(tlbb_space_init(NULL, &rec_be, 1, NULL), TLBB_EINVAL);
	assert_int_equal(rec.n, 0);
}

static void null_batch_flushes_synchronously(void **state)
{
	/* The PTE is already clear: refusing without flushing would under-flush. */
	assert_int_equal(tlbb_add_page(NULL, &S, 0x1000, 0), TLBB_EINVAL);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.calls[0].kind, 's');
	tlbb_flush(NULL);
	tlbb_flush_dirty(NULL);
	tlbb_batch_init(NULL);
	assert_false(tlbb_batch_pending(NULL));
}

static void uninitialised_space_is_refused(void **state)
{
	struct tlbb_space zero;

	memset(&zero, 0, sizeof(zero));
	assert_int_equal(tlbb_add_page(&B, &zero, 0x1000, 0), TLBB_EINVAL);
	assert_false(tlbb_flush_pending(&zero));
	assert_false(tlbb_should_defer(&zero));
	/* A backend without its mandatory hooks is refused too. */
	struct tlbb_backend incomplete = { .name = "incomplete" };
	assert_int_equal(tlbb_space_init(&zero, &incomplete, 1, NULL), TLBB_EINVAL);
	assert_null(zero.backend);
}

static void foreign_backend_space_flushes_synchronously(void **state)
{
	struct tlbb_space U;

	assert_int_equal(tlbb_space_init(&U, &other_be, 9, NULL), TLBB_OK);
	tlbb_add_page(&B, &S, 0x1000, 0);
	assert_int_equal(tlbb_add_page(&B, &U, 0x1000, 0), TLBB_EBACKEND);
	assert_int_equal(rec.calls[rec.n - 1].kind, 's');
	assert_ptr_equal(rec.calls[rec.n - 1].space, &U);
	/* After the batch is flushed it may bind to the other backend. */
	tlbb_flush(&B);
	assert_int_equal(tlbb_add_page(&B, &U, 0x1000, 0), TLBB_OK);
}

static void strerror_names_every_status(void **state)
{
	assert_string_equal(tlbb_strerror(TLBB_OK), "ok");
	assert_non_null(strstr(tlbb_strerror(TLBB_ERANGE), "range"));
	assert_non_null(strstr(tlbb_strerror(TLBB_EINVAL), "invalid"));
	assert_non_null(strstr(tlbb_strerror(TLBB_EBACKEND), "backend"));
	assert_non_null(strstr(tlbb_strerror(TLBB_EFLAGS), "flag"));
	assert_string_equal(tlbb_strerror(42), "unknown status");
}

/* ---- the synchronous path ---------------------------------------------------- */

static void sync_flush_completes_without_leaving_pending(void **state)
{
	assert_int_equal(tlbb_flush_range_sync(&S, 0x3800, 0x4001, TLBB_ADD_LEAF_ONLY), TLBB_OK);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.calls[0].kind, 'a');
	assert_int_equal(rec.calls[0].start, 0x3000);
	assert_int_equal(rec.calls[0].end, 0x5000);
	assert_int_equal(rec.calls[0].flags, TLBB_ADD_LEAF_ONLY);
	assert_int_equal(rec.calls[1].kind, 'f');
	/* Complete on return: nothing for a race check to find. */
	assert_false(tlbb_space_has_pending(&S));
}

static void sync_flush_bad_input_has_the_same_answers(void **state)
{
	assert_int_equal(tlbb_flush_range_sync(&S, 0x5000, 0x5000, 0), TLBB_OK);
	assert_int_equal(rec.n, 0);
	assert_int_equal(tlbb_flush_range_sync(&S, 0x9000, 0x1000, 0), TLBB_ERANGE);
	assert_true(rec.calls[0].flags & TLBB_RANGE_ALL);
	assert_int_equal(rec.calls[1].kind, 'f');
	assert_int_equal(tlbb_flush_range_sync(NULL, 0, 0x1000, 0), TLBB_EINVAL);
	assert_int_equal(rec.n, 2);
}

/* ---- unknown flags ------------------------------------------------------------ */

static void unknown_add_flags_are_read_as_writable_all_levels(void **state)
{
	/* A bit from a newer API could mean "writable" or "more than the leaf". */
	assert_int_equal(tlbb_add_page(&B, &S, 0x5000, TLBB_ADD_LEAF_ONLY | 0x100), TLBB_EFLAGS);
	assert_int_equal(rec.calls[0].flags, TLBB_ADD_WRITABLE);
	assert_int_equal(rec.calls[0].start, 0x5000);
	assert_true(B.inv_flags & TLBB_INV_WRITABLE);
	assert_int_equal(tlbb_add_range(&B, &S, 0x9000, 0xb000, 0x40), TLBB_EFLAGS);
	assert_int_equal(rec.calls[1].flags, TLBB_ADD_WRITABLE);
	assert_int_equal(rec.calls[1].end, 0xb000);
	assert_int_equal(tlbb_add_space(&B, &S, TLBB_RANGE_ALL), TLBB_EFLAGS);
	assert_int_equal(rec.calls[2].flags, TLBB_ADD_WRITABLE | TLBB_RANGE_ALL);
	assert_int_equal(tlbb_gen_pending(word(&S)), 3); /* each still bumped once */
	assert_int_equal(tlbb_flush_range_sync(&S, 0x1000, 0x2000, 0x8), TLBB_EFLAGS);
	assert_int_equal(rec.calls[3].flags, TLBB_ADD_WRITABLE);
	assert_int_equal(rec.calls[4].kind, 'f');
}

/*
 * The core tells the backend when an add is for the space of the batch's
 * previous add (TLBB_RANGE_SAME, what x86-64's add keys its fast path on):
 * not for the first add, not for another space, not after a flush.
 */
static void an_add_to_the_batchs_current_space_is_marked_same(void **state)
{
	assert_int_equal(tlbb_add_page(&B, &S, 0x1000, 0), TLBB_OK);
	assert_int_equal(tlbb_add_page(&B, &S, 0x2000, 0), TLBB_OK);
	assert_int_equal(tlbb_add_range(&B, &S, 0x4000, 0x6000, 0), TLBB_OK);
	assert_int_equal(tlbb_add_page(&B, &T, 0x1000, 0), TLBB_OK);
	assert_int_equal(tlbb_add_page(&B, &S, 0x3000, 0), TLBB_OK);
	assert_int_equal(tlbb_add_space(&B, &S, 0), TLBB_OK);
	tlbb_flush(&B);
	assert_int_equal(tlbb_add_page(&B, &S, 0x1000, 0), TLBB_OK);
	assert_false(rec.same[0]);
	assert_true(rec.same[1]);
	assert_true(rec.same[2]);
	assert_false(rec.same[3]); /* another space */
	assert_false(rec.same[4]); /* back: the newest add was T's */
	assert_true(rec.same[5]);
	assert_int_equal(rec.calls[6].kind, 'f');
	assert_false(rec.same[7]); /* a flush empties the batch */
}

static void unknown_flags_do_not_hide_a_worse_status(void **state)
{
	assert_int_equal(tlbb_add_range(&B, &S, 0x9000, 0x1000, 0x40), TLBB_ERANGE);
	assert_true(rec.calls[0].flags & TLBB_RANGE_ALL);
	assert_int_equal(tlbb_add_page(NULL, &S, 0x1000, 0x40), TLBB_EINVAL);
	assert_int_equal(rec.calls[1].kind, 's');
	assert_int_equal(tlbb_add_page(&B, NULL, 0x1000, 0x40), TLBB_EINVAL);
}

/* ---- the life of a space ----------------------------------------------------------- */

static uint32_t fini_ids[8];
static unsigned nfini, ninit;

static void rec_space_fini(const struct tlbb_backend *be, struct tlbb_space *s)
{
	record('z', s, 0, 0, 0);
	fini_ids[nfini++ % 8] = s->id;
}

static void rec_space_init(const struct tlbb_backend *be, struct tlbb_space *s)
{
	ninit++;
	s->arch[0] = 0xabcd; /* the backend's own per-space state */
}

static const struct tlbb_backend life_be = {
	.name = "life",
	.add = rec_add,
	.flush = rec_flush,
	.flush_space = rec_flush_space,
	.space_init = rec_space_init,
	.space_fini = rec_space_fini,
};

static void fini_completes_outstanding_work_then_releases_the_id(void **state)
{
	struct tlbb_space L;

	nfini = ninit = 0;
	assert_int_equal(tlbb_space_init(&L, &life_be, 9, NULL), TLBB_OK);
	assert_int_equal(tlbb_add_page(&B, &L, 0x1000, 0), TLBB_OK);
	tlbb_flush(&B); /* flushed, but no race check since: pending != flushed */
	rec.n = 0;
	assert_int_equal(tlbb_space_fini(&L), TLBB_OK);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.calls[0].kind, 's'); /* the race check */
	assert_int_equal(rec.calls[1].kind, 'z'); /* then the backend releases id 9 */
	assert_int_equal(fini_ids[0], 9);
}

static void fini_without_backend_hook_flushes_the_space(void **state)
{
	/* rec_be has no space_fini: releasing the id must still flush it. */
	assert_int_equal(tlbb_space_fini(&S), TLBB_OK);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.calls[0].kind, 's');
	assert_ptr_equal(rec.calls[0].space, &S);
}

static void finished_space_refuses_every_call(void **state)
{
	assert_int_equal(tlbb_space_fini(&S), TLBB_OK);
	rec.n = 0;
	assert_int_equal(tlbb_add_page(&B, &S, 0x1000, 0), TLBB_EINVAL);
	assert_int_equal(tlbb_add_range(&B, &S, 0x1000, 0x3000, 0), TLBB_EINVAL);
	assert_int_equal(tlbb_flush_range_sync(&S, 0x1000, 0x3000, 0), TLBB_EINVAL);
	assert_false(tlbb_flush_pending(&S));
	assert_false(tlbb_should_defer(&S));
	assert_int_equal(tlbb_space_fini(&S), TLBB_EINVAL);
	assert_int_equal(tlbb_space_set_id(&S, 3), TLBB_EINVAL);
	assert_int_equal(tlbb_space_fini(NULL), TLBB_EINVAL);
	assert_int_equal(rec.n, 0);
}

static void reinit_in_place_after_fini_starts_clean(void **state)
{
	/* Slab reuse: the same memory, the same id, a new space. */
	assert_int_equal(tlbb_add_page(&B, &S, 0x1000, 0), TLBB_OK);
	tlbb_flush(&B);
	assert_int_equal(tlbb_space_fini(&S), TLBB_OK);
	assert_int_equal(tlbb_space_init(&S, &rec_be, 7, NULL), TLBB_OK);
	assert_false(tlbb_space_has_pending(&S));
	assert_int_equal(tlbb_add_page(&B, &S, 0x2000, 0), TLBB_OK);
	assert_true(tlbb_space_has_pending(&S));
}

static void set_id_releases_the_old_id_and_keeps_the_settings(void **state)
{
	struct tlbb_space L;

	nfini = ninit = 0;
	assert_int_equal(tlbb_space_init(&L, &life_be, 21, &rec), TLBB_OK);
	assert_int_equal(tlbb_space_set_granule(&L, 14), TLBB_OK);
	assert_int_equal(tlbb_space_set_global(&L, true), TLBB_OK);
	assert_int_equal(tlbb_add_page(&B, &L, 0x4000, 0), TLBB_OK);
	tlbb_flush(&B);
	rec.n = 0;
	L.arch[0] = 0x1111; /* state of the old id */
	assert_int_equal(tlbb_space_set_id(&L, 22), TLBB_OK);
	assert_int_equal(rec.calls[0].kind, 's');
	assert_int_equal(rec.calls[1].kind, 'z');
	assert_int_equal(fini_ids[0], 21); /* released under the OLD id */
	assert_int_equal(L.id, 22);
	assert_int_equal(L.arch[0], 0xabcd); /* set up again for the new id */
	assert_int_equal(ninit, 2);
	assert_false(tlbb_space_has_pending(&L));
	assert_int_equal(L.page_shift, 14);
	assert_true(L.flags & TLBB_SPACE_GLOBAL);
	assert_ptr_equal(L.owner, &rec);
	assert_int_equal(tlbb_add_page(&B, &L, 0x4000, 0), TLBB_OK); /* still usable */
}

static void set_global_sets_and_clears_the_flag(void **state)
{
	assert_int_equal(tlbb_space_set_global(&S, true), TLBB_OK);
	assert_true(S.flags & TLBB_SPACE_GLOBAL);
	assert_int_equal(tlbb_space_set_global(&S, false), TLBB_OK);
	assert_false(S.flags & TLBB_SPACE_GLOBAL);
	assert_int_equal(tlbb_space_set_global(NULL, true), TLBB_EINVAL);
}

/* ---- CPU masks -------------------------------------------------------------- */

static void cpumask_iterates_and_excludes_self(void **state)
{
	tlbb_cpumask_t m;
	unsigned seen[4], n = 0;

	tlbb_cpumask_clear(&m);
	assert_true(tlbb_cpumask_empty(&m));
	tlbb_cpumask_set(&m, 3);
	assert_false(tlbb_cpumask_any_but(&m, 3));
	assert_true(tlbb_cpumask_any_but(&m, 0));
	tlbb_cpumask_set(&m, 0);
	tlbb_cpumask_set(&m, TLBB_MAX_CPUS - 1);
	tlbb_cpumask_set(&m, TLBB_MAX_CPUS); /* out of range: ignored */
	for (unsigned c = tlbb_cpumask_next(&m, 0); c < TLBB_MAX_CPUS; c = tlbb_cpumask_next(&m, c + 1))
		seen[n++] = c;
	assert_int_equal(n, 3);
	assert_int_equal(seen[0], 0);
	assert_int_equal(seen[1], 3);
	assert_int_equal(seen[2], TLBB_MAX_CPUS - 1);
	tlbb_cpumask_unset(&m, 3);
	assert_false(tlbb_cpumask_test(&m, 3));
}

#define T(fn) cmocka_unit_test_setup(fn, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(new_space_has_nothing_pending),
		T(releases_run_after_the_backend_flush_in_order),
		T(release_waits_for_adds_queued_after_it),
		T(releases_of_an_empty_batch_run_at_its_flush),
		T(flush_dirty_without_writable_runs_no_release),
		T(release_bad_input),
		T(release_may_queue_into_the_emptied_batch),
		T(every_add_bumps_pending_once),
		T(batch_flush_leaves_the_word_for_the_race_check),
		T(race_check_flushes_whole_space_and_publishes),
		T(race_check_on_one_space_leaves_the_other_pending),
		T(pending_16383_still_increments),
		T(pending_16384_resets_to_one_over_zero),
		T(pending_32767_resets_without_touching_flushed_bits),
		T(guard_bit_absorbs_concurrent_overshoot),
		T(wraparound_never_makes_fields_meet),
		T(add_during_race_check_is_not_lost),
		T(reset_during_race_check_is_not_lost),
		T(flush_runs_backend_once_and_empties_batch),
		T(flush_dirty_only_when_something_was_writable),
		T(batch_spans_spaces_of_one_backend),
		T(leaf_only_and_writable_reach_the_backend),
		T(should_defer_asks_the_backend),
		T(empty_range_queues_nothing),
		T(inverted_range_becomes_whole_space),
		T(unaligned_range_is_rounded_outward),
		T(unaligned_page_is_rounded_down),
		T(wrapped_length_is_inverted_and_widened),
		T(range_reaching_the_top_page_becomes_whole_space),
		T(range_over_threshold_becomes_whole_space),
		T(granule_changes_rounding),
		T(null_space_is_refused),
		T(null_batch_flushes_synchronously),
		T(uninitialised_space_is_refused),
		T(foreign_backend_space_flushes_synchronously),
		T(strerror_names_every_status),
		T(sync_flush_completes_without_leaving_pending),
		T(sync_flush_bad_input_has_the_same_answers),
		T(cpumask_iterates_and_excludes_self),
		T(unknown_add_flags_are_read_as_writable_all_levels),
		T(unknown_flags_do_not_hide_a_worse_status),
		T(an_add_to_the_batchs_current_space_is_marked_same),
		T(fini_completes_outstanding_work_then_releases_the_id),
		T(fini_without_backend_hook_flushes_the_space),
		T(finished_space_refuses_every_call),
		T(reinit_in_place_after_fini_starts_clean),
		T(set_id_releases_the_old_id_and_keeps_the_settings),
		T(set_global_sets_and_clears_the_flag),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
