/* SPDX-License-Identifier: MIT */
/*
 * The vcpu backend, scenario by scenario, with real vCPU threads (urcu-qsbr
 * readers) driven step by step. Each safety rule has its negative control
 * right after it: the same scenario with one protocol step removed, which
 * must be observed as a stale translation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sched.h>
#include <string.h>
#include <time.h>

#include <urcu/urcu-qsbr.h>

#include <tlbbatch/sim.h>

#include "harness.h"

#define VA(vpn) ((uintptr_t)(vpn) * T_PAGE)

static struct tlbb_vcpu_host *host_new(unsigned max_vcpus, unsigned faults)
{
	struct tlbb_vcpu_config cfg = { .max_vcpus = max_vcpus, .faults = faults };
	struct tlbb_vcpu_host *h = tlbb_vcpu_host_create(&cfg);

	assert_non_null(h);
	t_frames_reset();
	return h;
}

static struct tlbb_vcpu_stats stats(struct tlbb_vcpu_host *h)
{
	struct tlbb_vcpu_stats st;

	tlbb_vcpu_get_stats(h, &st);
	return st;
}

/* A thread that runs tlbb_flush() and says when it returned. */
struct flusher {
	pthread_t th;
	struct tlbb_batch *b;
	int done; /* atomic */
	uint64_t ns;
};

static void *flusher_main(void *arg)
{
	struct flusher *f = arg;
	uint64_t t0 = t_now_ns();

	tlbb_flush(f->b);
	f->ns = t_now_ns() - t0;
	__atomic_store_n(&f->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void flusher_start(struct flusher *f, struct tlbb_batch *b)
{
	memset(f, 0, sizeof(*f));
	f->b = b;
	pthread_create(&f->th, NULL, flusher_main, f);
}

static bool flusher_done(struct flusher *f)
{
	return __atomic_load_n(&f->done, __ATOMIC_SEQ_CST);
}

/* ---- registration ---------------------------------------------------------- */

static void test_config_out_of_range_is_refused(void **state)
{
	struct tlbb_vcpu_config bad[] = {
		{ .max_vcpus = TLBB_MAX_CPUS + 1 },
		{ .tlb_sets = 48 },
		{ .tlb_ways = 65 },
		{ .page_shift = 11 },
		{ .page_shift = 31 },
		{ .mailbox_entries = 65537 },
		{ .flags = TLBB_VCPU_NO_BUILTIN_TLB }, /* own TLB but no callback */
		{ .flags = 0x80 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(tlbb_vcpu_host_create(&bad[i]));
	struct tlbb_vcpu_host *h = tlbb_vcpu_host_create(NULL);
	assert_non_null(h);
	assert_string_equal(tlbb_vcpu_backend(h)->name, "vcpu");
	tlbb_vcpu_host_destroy(h);
}

static void test_register_gives_lowest_free_ids_and_refuses_when_full(void **state)
{
	struct tlbb_vcpu_host *h = host_new(3, 0);
	struct t_vcpu a, b, c, d;

	(void)state;
	assert_true(t_vcpu_start(&a, h));
	assert_true(t_vcpu_start(&b, h));
	assert_true(t_vcpu_start(&c, h));
	assert_int_equal(a.id, 0);
	assert_int_equal(b.id, 1);
	assert_int_equal(c.id, 2);
	assert_false(t_vcpu_start(&d, h)); /* all three slots taken */
	t_vcpu_stop(&b);
	assert_true(t_vcpu_start(&d, h));
	assert_int_equal(d.id, 1); /* the freed id is reused */
	t_vcpu_stop(&a);
	t_vcpu_stop(&c);
	t_vcpu_stop(&d);
	tlbb_vcpu_host_destroy(h);
}

static void test_thread_registers_at_most_once(void **state)
{
	struct tlbb_vcpu_host *h = host_new(4, 0);
	struct tlbb_vcpu *v = tlbb_vcpu_register(h);

	(void)state;
	assert_non_null(v);
	assert_ptr_equal(tlbb_vcpu_self(), v);
	assert_null(tlbb_vcpu_register(h));
	tlbb_vcpu_unregister(v);
	assert_null(tlbb_vcpu_self());
	tlbb_vcpu_host_destroy(h);
}

/* A new vCPU on a reused id must not inherit the old occupant's entries. */
static void test_reused_vcpu_id_starts_with_empty_tlb(void **state)
{
	struct tlbb_vcpu_host *h = host_new(2, 0);
	struct t_space sp;
	struct t_vcpu a, b;

	(void)state;
	t_space_init(h, &sp, 7);
	t_map(&sp, 3);
	assert_true(t_vcpu_start(&a, h));
	t_vcpu_cmd(&a, C_ENTER, &sp, 0);
	assert_int_equal(t_vcpu_cmd(&a, C_ACCESS, &sp, VA(3)), T_WALK);
	assert_int_equal(t_vcpu_cmd(&a, C_COUNT, &sp, 0), 1);
	t_vcpu_stop(&a);
	assert_true(t_vcpu_start(&b, h));
	assert_int_equal(b.id, 0);
	assert_int_equal(t_vcpu_cmd(&b, C_COUNT, &sp, 0), 0);
	t_vcpu_stop(&b);
	tlbb_vcpu_host_destroy(h);
}

/* ---- the software TLB ------------------------------------------------------ */

static void test_tlb_is_asid_tagged_and_set_associative(void **state)
{
	struct tlbb_vcpu_config cfg = { .max_vcpus = 1, .tlb_sets = 4, .tlb_ways = 2 };
	struct tlbb_vcpu_host *h = tlbb_vcpu_host_create(&cfg);
	struct tlbb_vcpu *v;
	uint64_t p = 0;

	(void)state;
	assert_non_null(h);
	v = tlbb_vcpu_register(h);
	assert_non_null(v);
	tlbb_vcpu_tlb_fill(v, 1, VA(8), 100, false);
	assert_true(tlbb_vcpu_tlb_lookup(v, 1, VA(8) + 123, false, &p));
	assert_int_equal(p, 100);
	assert_false(tlbb_vcpu_tlb_lookup(v, 2, VA(8), false, NULL)); /* other ASID */
	assert_false(tlbb_vcpu_tlb_lookup(v, 1, VA(8), true, NULL));  /* read-only entry */
	/* vpn 0, 4, 8, 12 share set 0 of 4 sets; 2 ways keep two of them. */
	tlbb_vcpu_tlb_fill(v, 1, VA(0), 200, true);
	tlbb_vcpu_tlb_fill(v, 1, VA(4), 300, true);
	assert_int_equal(tlbb_vcpu_tlb_count(v, 1), 2);
	assert_true(tlbb_vcpu_tlb_lookup(v, 1, VA(4), true, &p));
	assert_int_equal(p, 300);
	/* Refill of a present page replaces it, no duplicate. */
	tlbb_vcpu_tlb_fill(v, 1, VA(4), 301, true);
	assert_int_equal(tlbb_vcpu_tlb_count(v, 1), 2);
	assert_true(tlbb_vcpu_tlb_lookup(v, 1, VA(4), false, &p));
	assert_int_equal(p, 301);
	/*
	 * The statistics count exactly what happened above: 5 lookups (the
	 * other-ASID and the permission miss count as lookups, not hits), 3 hits,
	 * 4 fills (the refill included). They survive the vCPU's unregistration
	 * (summed over past registrations of the slot).
	 */
	struct tlbb_vcpu_stats st;
	tlbb_vcpu_get_stats(h, &st);
	assert_int_equal(st.lookups, 5);
	assert_int_equal(st.hits, 3);
	assert_int_equal(st.fills, 4);
	tlbb_vcpu_unregister(v);
	tlbb_vcpu_get_stats(h, &st);
	assert_int_equal(st.lookups, 5);
	assert_int_equal(st.hits, 3);
	assert_int_equal(st.fills, 4);
	tlbb_vcpu_host_destroy(h);
}

static void test_should_defer_only_when_another_vcpu_may_cache(void **state)
{
	struct tlbb_vcpu_host *h = host_new(4, 0);
	struct tlbb_vcpu *self = tlbb_vcpu_register(h);
	struct t_space sp;
	struct t_vcpu other;

	(void)state;
	t_space_init(h, &sp, 1);
	tlbb_vcpu_enter_space(self, &sp.s);
	assert_false(tlbb_should_defer(&sp.s)); /* only we may cache it */
	assert_true(t_vcpu_start(&other, h));
	t_vcpu_cmd(&other, C_ENTER, &sp, 0);
	assert_true(tlbb_should_defer(&sp.s));
	t_vcpu_stop(&other);
	tlbb_vcpu_unregister(self);
	tlbb_vcpu_host_destroy(h);
}

/*
 * A quiescent-state call while offline must not bring the vCPU back online
 * behind the backend's back (urcu's own call would): a flush that must wait
 * a grace period for another vCPU must not also wait for this idle one.
 */
static void test_quiescent_while_offline_keeps_vcpu_offline(void **state)
{
	struct tlbb_vcpu_host *h = host_new(4, 0);
	struct tlbb_vcpu *self = tlbb_vcpu_register(h);
	struct t_space sp;
	struct t_vcpu other;
	struct tlbb_batch b;
	struct flusher fl;
	uint64_t t0;

	(void)state;
	t_space_init(h, &sp, 1);
	tlbb_vcpu_enter_space(self, &sp.s);
	assert_true(t_vcpu_start(&other, h));
	t_vcpu_cmd(&other, C_ENTER, &sp, 0); /* online: the flush needs a grace period */
	tlbb_vcpu_offline(self);
	tlbb_vcpu_quiescent(self); /* misuse: must be a no-op */
	assert_false(tlbb_vcpu_is_online(self));
	t_batch_init(&b);
	tlbb_add_page(&b, &sp.s, VA(1), 0);
	flusher_start(&fl, &b);
	t0 = t_now_ns();
	while (!flusher_done(&fl) && t_now_ns() - t0 < 5000000000u)
		t_sleep_ms(1); /* we stay idle (no safe points) while it runs */
	assert_true(flusher_done(&fl));
	pthread_join(fl.th, NULL);
	assert_int_equal(stats(h).grace_periods, 1);
	tlbb_vcpu_online(self);
	t_vcpu_stop(&other);
	tlbb_vcpu_unregister(self);
	tlbb_vcpu_host_destroy(h);
}

/* ---- batch flush ------------------------------------------------------------ */

/* Map, let the vCPU cache it, unmap into @b. */
static void cache_then_unmap(struct t_vcpu *tv, struct t_space *sp, unsigned vpn, struct tlbb_batch *b)
{
	assert_int_equal(t_vcpu_cmd(tv, C_ACCESS, sp, VA(vpn)), T_WALK);
	assert_true(t_vcpu_cmd(tv, C_HAS, sp, VA(vpn)));
	t_unmap(sp, vpn);
	assert_int_equal(tlbb_add_page(b, &sp->s, VA(vpn), TLBB_ADD_WRITABLE), TLBB_OK);
}

static void remote_flush_scenario(unsigned faults, bool expect_stale)
{
	struct tlbb_vcpu_host *h = host_new(4, faults);
	struct t_space sp;
	struct t_vcpu a;
	struct tlbb_batch b;

	t_space_init(h, &sp, 3);
	t_map(&sp, 5);
	assert_true(t_vcpu_start(&a, h));
	t_vcpu_cmd(&a, C_ENTER, &sp, 0);
	t_batch_init(&b);
	cache_then_unmap(&a, &sp, 5, &b);
	tlbb_flush(&b);
	/* After the flush returned, the vCPU must not translate page 5 any more. */
	assert_int_equal(t_vcpu_cmd(&a, C_HAS, &sp, VA(5)), expect_stale);
	t_vcpu_stop(&a);
	tlbb_vcpu_host_destroy(h);
}

static void test_batch_flush_invalidates_remote_vcpu_tlb(void **state)
{
	(void)state;
	remote_flush_scenario(0, false);
}

/* Negative control: nothing posted -> the remote entry survives the flush. */
static void test_negative_no_post_leaves_remote_entry(void **state)
{
	(void)state;
	remote_flush_scenario(TLBB_VCPU_FAULT_NO_POST, true);
}

static void test_one_grace_period_per_batch_not_per_page(void **state)
{
	struct tlbb_vcpu_host *h = host_new(4, 0);
	struct t_space sp;
	struct t_vcpu a, c;
	struct tlbb_batch b;
	struct tlbb_vcpu_stats st;

	(void)state;
	t_space_init(h, &sp, 3);
	assert_true(t_vcpu_start(&a, h));
	assert_true(t_vcpu_start(&c, h));
	t_vcpu_cmd(&a, C_ENTER, &sp, 0);
	t_vcpu_cmd(&c, C_ENTER, &sp, 0);
	t_batch_init(&b);
	for (unsigned vpn = 0; vpn < T_NPAGES; vpn += 2) { /* not adjacent: no merging */
		t_map(&sp, vpn);
		t_vcpu_cmd(&a, C_ACCESS, &sp, VA(vpn));
	}
	tlbb_vcpu_reset_stats(h);
	for (unsigned vpn = 0; vpn < T_NPAGES; vpn += 2) {
		t_unmap(&sp, vpn);
		tlbb_add_page(&b, &sp.s, VA(vpn), 0);
	}
	tlbb_flush(&b);
	st = stats(h);
	assert_int_equal(st.batch_flushes, 1);
	assert_int_equal(st.grace_periods, 1);
	assert_int_equal(st.posts, 2 * T_NPAGES / 2); /* each page to each of 2 vCPUs */
	assert_int_equal(t_vcpu_cmd(&a, C_COUNT, &sp, 0), 0);
	/* The per-page synchronous shape pays one grace period per page. */
	tlbb_vcpu_reset_stats(h);
	for (unsigned vpn = 1; vpn < 9; vpn++) {
		t_map(&sp, vpn);
		t_unmap(&sp, vpn);
		tlbb_add_page(&b, &sp.s, VA(vpn), 0);
		tlbb_flush(&b);
	}
	assert_int_equal(stats(h).grace_periods, 8);
	t_vcpu_stop(&a);
	t_vcpu_stop(&c);
	tlbb_vcpu_host_destroy(h);
}

static void test_adjacent_pages_are_posted_as_one_range(void **state)
{
	struct tlbb_vcpu_host *h = host_new(2, 0);
	struct t_space sp;
	struct t_vcpu a;
	struct tlbb_batch b;

	(void)state;
	t_space_init(h, &sp, 3);
	assert_true(t_vcpu_start(&a, h));
	t_vcpu_cmd(&a, C_ENTER, &sp, 0);
	t_vcpu_cmd(&a, C_OFFLINE, NULL, 0); /* so nothing drains mid-way */
	tlbb_vcpu_reset_stats(h);
	t_batch_init(&b);
	for (unsigned vpn = 10; vpn < 20; vpn++)
		tlbb_add_page(&b, &sp.s, VA(vpn), 0);
	tlbb_flush(&b);
	t_vcpu_cmd(&a, C_ONLINE, NULL, 0);
	assert_int_equal(stats(h).posts, 10);
	assert_int_equal(stats(h).ops_applied, 1); /* merged into [10, 20) */
	t_vcpu_stop(&a);
	tlbb_vcpu_host_destroy(h);
}

/* ---- grace periods: a vCPU inside a translated block ------------------------ */

static void frame_freed(struct tlbb_vcpu_deferred *d)
{
	struct t_frame *f = (struct t_frame *)((char *)d - offsetof(struct t_frame, dnode));

	__atomic_store_n(&f->state, FRAME_FREED, __ATOMIC_SEQ_CST);
}

static void frame_released(struct tlbb_release *r)
{
	struct t_frame *f = (struct t_frame *)((char *)r - offsetof(struct t_frame, rnode));

	__atomic_store_n(&f->state, FRAME_FREED, __ATOMIC_SEQ_CST);
}

/*
 * The vCPU translated page 9 and is still inside its block (no quiescent
 * state). The flush must not return, and the frame must not be freed, until
 * the block ended; the block's last access must find the frame live. The
 * frame goes back through tlbb_vcpu_defer(), or with @core_release through
 * the core's tlbb_batch_release(): the same guarantee on this backend.
 */
static void inside_block_scenario_with(unsigned faults, bool expect_stale, bool core_release)
{
	struct tlbb_vcpu_host *h = host_new(2, faults);
	struct t_space sp;
	struct t_vcpu a;
	struct tlbb_batch b;
	struct flusher fl;
	unsigned f;
	int r;

	t_space_init(h, &sp, 4);
	f = t_map(&sp, 9);
	assert_true(t_vcpu_start(&a, h));
	t_vcpu_cmd(&a, C_ENTER, &sp, 0);
	t_vcpu_hold(&a, &sp, VA(9)); /* translated; now inside the block */
	t_batch_init(&b);
	t_unmap(&sp, 9);
	tlbb_add_page(&b, &sp.s, VA(9), TLBB_ADD_WRITABLE);
	if (core_release)
		assert_int_equal(tlbb_batch_release(&b, &t_frame(f)->rnode, frame_released), TLBB_OK);
	else
		assert_int_equal(tlbb_vcpu_defer(&b, &t_frame(f)->dnode, frame_freed), TLBB_OK);
	flusher_start(&fl, &b);
	if (!expect_stale) {
		t_sleep_ms(100);
		assert_false(flusher_done(&fl)); /* still waiting for the vCPU */
		assert_int_equal(__atomic_load_n(&t_frame(f)->state, __ATOMIC_SEQ_CST), FRAME_LIVE);
	} else {
		uint64_t t0 = t_now_ns();

		while (!flusher_done(&fl) && t_now_ns() - t0 < 5000000000u)
			t_sleep_ms(1);
		assert_true(flusher_done(&fl)); /* returned under a running block */
	}
	r = t_vcpu_release(&a);
	pthread_join(fl.th, NULL);
	assert_int_equal(r, expect_stale ? T_STALE : T_HIT);
	assert_int_equal(__atomic_load_n(&t_frame(f)->state, __ATOMIC_SEQ_CST), FRAME_FREED);
	/* Next block: the translation is gone either way (it drained at its safe point). */
	assert_false(t_vcpu_cmd(&a, C_HAS, &sp, VA(9)));
	t_vcpu_stop(&a);
	tlbb_vcpu_host_destroy(h);
}

static void inside_block_scenario(unsigned faults, bool expect_stale)
{
	inside_block_scenario_with(faults, expect_stale, false);
}

static void test_core_release_waits_for_vcpu_inside_block(void **state)
{
	(void)state;
	inside_block_scenario_with(0, false, true);
}

/* Negative control: the release rides on the flush; without its grace period it frees under the block. */
static void test_negative_core_release_without_grace_period_frees_under_block(void **state)
{
	(void)state;
	inside_block_scenario_with(TLBB_VCPU_FAULT_NO_GRACE_PERIOD, true, true);
}

static void test_flush_waits_for_vcpu_inside_block(void **state)
{
	(void)state;
	inside_block_scenario(0, false);
}

/* Negative control: no grace period -> the frame is freed under the block. */
static void test_negative_no_grace_period_frees_frame_under_running_block(void **state)
{
	(void)state;
	inside_block_scenario(TLBB_VCPU_FAULT_NO_GRACE_PERIOD, true);
}

/* ---- offline vCPUs (lazy TLB) ---------------------------------------------- */

static void offline_scenario(unsigned faults, bool expect_stale)
{
	struct tlbb_vcpu_host *h = host_new(2, faults);
	struct t_space sp;
	struct t_vcpu a;
	struct tlbb_batch b;
	struct flusher fl;
	uint64_t t0;
	unsigned f;

	t_space_init(h, &sp, 5);
	f = t_map(&sp, 2);
	assert_true(t_vcpu_start(&a, h));
	t_vcpu_cmd(&a, C_ENTER, &sp, 0);
	assert_int_equal(t_vcpu_cmd(&a, C_ACCESS, &sp, VA(2)), T_WALK);
	t_vcpu_cmd(&a, C_OFFLINE, NULL, 0); /* idle: blocked on a condvar */
	tlbb_vcpu_reset_stats(h);
	t_batch_init(&b);
	t_unmap(&sp, 2);
	tlbb_add_page(&b, &sp.s, VA(2), 0);
	tlbb_vcpu_defer(&b, &t_frame(f)->dnode, frame_freed);
	flusher_start(&fl, &b);
	t0 = t_now_ns();
	while (!flusher_done(&fl) && t_now_ns() - t0 < 2000000000u)
		t_sleep_ms(1);
	/* Never waited for: the flush returned although the vCPU is blocked. */
	assert_true(flusher_done(&fl));
	pthread_join(fl.th, NULL);
	assert_int_equal(stats(h).grace_periods, 0);
	assert_int_equal(stats(h).gp_skipped, 1);
	assert_int_equal(__atomic_load_n(&t_frame(f)->state, __ATOMIC_SEQ_CST), FRAME_FREED);
	/*
	 * The first block after idle touches page 2 again: it must walk (and
	 * fault on the cleared PTE), not use the entry it cached before idling.
	 */
	assert_int_equal(t_vcpu_cmd(&a, C_ONLINE_ACCESS, &sp, VA(2)),
			 expect_stale ? T_STALE : T_FAULT);
	if (!expect_stale)
		assert_int_equal(stats(h).online_drains, 1);
	t_vcpu_stop(&a);
	tlbb_vcpu_host_destroy(h);
}

static void test_offline_vcpu_is_not_waited_for_and_drains_at_online(void **state)
{
	(void)state;
	offline_scenario(0, false);
}

/* Negative control: online without draining uses the stale entry. */
static void test_negative_online_without_drain_uses_freed_frame(void **state)
{
	(void)state;
	offline_scenario(TLBB_VCPU_FAULT_NO_ONLINE_DRAIN, true);
}

/* ---- vCPUs joining and leaving during a batch ------------------------------ */

static void test_vcpu_joining_during_batch_sees_cleared_pte(void **state)
{
	struct tlbb_vcpu_host *h = host_new(4, 0);
	struct t_space sp;
	struct t_vcpu a, late;
	struct tlbb_batch b;

	(void)state;
	t_space_init(h, &sp, 6);
	t_map(&sp, 1);
	t_map(&sp, 2);
	assert_true(t_vcpu_start(&a, h));
	t_vcpu_cmd(&a, C_ENTER, &sp, 0);
	t_batch_init(&b);
	cache_then_unmap(&a, &sp, 1, &b);
	/* Joins after the add: not in the batch's mask, and needs not be. */
	assert_true(t_vcpu_start(&late, h));
	t_vcpu_cmd(&late, C_ENTER, &sp, 0);
	assert_int_equal(t_vcpu_cmd(&late, C_ACCESS, &sp, VA(1)), T_FAULT);
	assert_int_equal(t_vcpu_cmd(&late, C_ACCESS, &sp, VA(2)), T_WALK);
	assert_false(tlbb_cpumask_test(b.cpus, late.id));
	tlbb_flush(&b);
	assert_false(t_vcpu_cmd(&a, C_HAS, &sp, VA(1)));
	assert_true(t_vcpu_cmd(&late, C_HAS, &sp, VA(2))); /* untouched page stays */
	t_vcpu_stop(&a);
	t_vcpu_stop(&late);
	tlbb_vcpu_host_destroy(h);
}

static void test_vcpu_leaving_during_batch_is_not_waited_for(void **state)
{
	struct tlbb_vcpu_host *h = host_new(4, 0);
	struct t_space sp;
	struct t_vcpu a;
	struct tlbb_batch b;
	struct flusher fl;
	uint64_t t0;

	(void)state;
	t_space_init(h, &sp, 6);
	t_map(&sp, 4);
	assert_true(t_vcpu_start(&a, h));
	t_vcpu_cmd(&a, C_ENTER, &sp, 0);
	t_batch_init(&b);
	cache_then_unmap(&a, &sp, 4, &b);
	assert_true(tlbb_cpumask_test(b.cpus, a.id));
	t_vcpu_stop(&a); /* leaves with the batch still open */
	tlbb_vcpu_reset_stats(h);
	flusher_start(&fl, &b);
	t0 = t_now_ns();
	while (!flusher_done(&fl) && t_now_ns() - t0 < 2000000000u)
		t_sleep_ms(1);
	assert_true(flusher_done(&fl));
	pthread_join(fl.th, NULL);
	assert_int_equal(stats(h).gp_skipped, 1);
	tlbb_vcpu_host_destroy(h);
}

/* ---- ordered frame hand-off -------------------------------------------------- */

static unsigned order_log[8], order_n;

static void log_deferred(struct tlbb_vcpu_deferred *d)
{
	struct t_frame *f = (struct t_frame *)((char *)d - offsetof(struct t_frame, dnode));

	order_log[order_n++] = (unsigned)(f - t_frame(0));
	__atomic_store_n(&f->state, FRAME_FREED, __ATOMIC_SEQ_CST);
}

static void test_frames_handed_back_only_after_batch_flush(void **state)
{
	struct tlbb_vcpu_host *h = host_new(2, 0);
	struct t_space sp;
	struct t_vcpu a;
	struct tlbb_batch b;
	unsigned f[3];

	(void)state;
	t_space_init(h, &sp, 8);
	assert_true(t_vcpu_start(&a, h));
	t_vcpu_cmd(&a, C_ENTER, &sp, 0);
	t_batch_init(&b);
	order_n = 0;
	for (unsigned i = 0; i < 3; i++) {
		f[i] = t_map(&sp, 20 + i * 2);
		cache_then_unmap(&a, &sp, 20 + i * 2, &b);
		assert_int_equal(tlbb_vcpu_defer(&b, &t_frame(f[i])->dnode, log_deferred), TLBB_OK);
	}
	/* The vCPU keeps running; nothing may be handed back before the flush. */
	t_sleep_ms(20);
	assert_int_equal(order_n, 0);
	tlbb_flush(&b);
	assert_int_equal(order_n, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(order_log[i], f[i]); /* in the order deferred */
	assert_int_equal(stats(h).deferred_run, 3);
	for (unsigned i = 0; i < TLBB_ARCH_BATCH_WORDS; i++)
		assert_int_equal(b.arch[i], 0); /* the batch is empty again */
	/* An empty batch: a grace period, then the callback at once. */
	order_n = 0;
	assert_int_equal(tlbb_vcpu_defer(&b, &t_frame(f[0])->dnode, log_deferred), TLBB_OK);
	assert_int_equal(order_n, 1);
	assert_int_equal(tlbb_vcpu_defer(NULL, &t_frame(f[0])->dnode, log_deferred), TLBB_EINVAL);
	assert_int_equal(order_n, 2);
	t_vcpu_stop(&a);
	tlbb_vcpu_host_destroy(h);
}

/* ---- the race check ---------------------------------------------------------- */

static void test_race_check_flushes_whole_space_on_every_vcpu(void **state)
{
	struct tlbb_vcpu_host *h = host_new(4, 0);
	struct t_space A, B;
	struct t_vcpu a, c;
	struct tlbb_batch reclaim;

	(void)state;
	t_space_init(h, &A, 1);
	t_space_init(h, &B, 2);
	assert_true(t_vcpu_start(&a, h));
	assert_true(t_vcpu_start(&c, h));
	for (unsigned vpn = 0; vpn < 4; vpn++) {
		t_map(&A, vpn);
		t_map(&B, vpn);
	}
	t_vcpu_cmd(&a, C_ENTER, &A, 0);
	t_vcpu_cmd(&c, C_ENTER, &A, 0);
	t_vcpu_cmd(&c, C_ENTER, &B, 0);
	for (unsigned vpn = 0; vpn < 4; vpn++) {
		t_vcpu_cmd(&a, C_ACCESS, &A, VA(vpn));
		t_vcpu_cmd(&c, C_ACCESS, &A, VA(vpn));
		t_vcpu_cmd(&c, C_ACCESS, &B, VA(vpn));
	}
	/* Reclaim cleared a PTE of A and has not flushed its batch yet. */
	t_batch_init(&reclaim);
	t_unmap(&A, 0);
	tlbb_add_page(&reclaim, &A.s, VA(0), TLBB_ADD_WRITABLE);
	assert_true(tlbb_space_has_pending(&A.s));
	/* A changer (mprotect, zap) on A runs the race check first. */
	assert_true(tlbb_flush_pending(&A.s));
	assert_false(tlbb_space_has_pending(&A.s));
	assert_int_equal(stats(h).space_flushes, 1);
	/* The reclaim's page op and the race check's whole-ASID op, to a and c each. */
	assert_int_equal(stats(h).posts, 4);
	assert_int_equal(t_vcpu_cmd(&a, C_COUNT, &A, 0), 0); /* all of A, everywhere */
	assert_int_equal(t_vcpu_cmd(&c, C_COUNT, &A, 0), 0);
	assert_int_equal(t_vcpu_cmd(&c, C_COUNT, &B, 0), 4); /* B untouched */
	assert_false(tlbb_flush_pending(&A.s));              /* nothing left */
	assert_int_equal(stats(h).space_flushes, 1);         /* and nothing flushed */
	tlbb_flush(&reclaim);
	t_vcpu_stop(&a);
	t_vcpu_stop(&c);
	tlbb_vcpu_host_destroy(h);
}

/* ---- flushing from a vCPU thread --------------------------------------------- */

static void test_flush_from_vcpu_thread_applies_own_tlb_inline(void **state)
{
	struct tlbb_vcpu_host *h = host_new(4, 0);
	struct t_space sp;
	struct t_vcpu a, c;
	struct tlbb_batch b;

	(void)state;
	t_space_init(h, &sp, 9);
	t_map(&sp, 6);
	assert_true(t_vcpu_start(&a, h));
	assert_true(t_vcpu_start(&c, h));
	t_vcpu_cmd(&a, C_ENTER, &sp, 0);
	t_vcpu_cmd(&c, C_ENTER, &sp, 0);
	t_vcpu_cmd(&c, C_ACCESS, &sp, VA(6));
	t_batch_init(&b);
	cache_then_unmap(&a, &sp, 6, &b);
	/* vCPU a flushes its own batch (guest-initiated unmap): it must not wait
	 * for itself, and its own entry is gone when tlbb_flush() returns. */
	assert_false(t_vcpu_flush_has(&a, &b, &sp, VA(6))); /* before any safe point */
	assert_false(t_vcpu_cmd(&a, C_HAS, &sp, VA(6)));
	assert_false(t_vcpu_cmd(&c, C_HAS, &sp, VA(6)));
	t_vcpu_stop(&a);
	t_vcpu_stop(&c);
	tlbb_vcpu_host_destroy(h);
}

/*
 * A race check run on a vCPU thread (a guest mprotect emulated inline): the
 * vCPU does not wait for itself, so its own TLB must be cleaned inline, before
 * the check returns and before its next safe point.
 */
static void race_check_on_vcpu_scenario(unsigned faults, bool expect_stale)
{
	struct tlbb_vcpu_host *h = host_new(4, faults);
	struct t_space sp;
	struct t_vcpu a, c;
	struct tlbb_batch reclaim;

	t_space_init(h, &sp, 10);
	t_map(&sp, 3);
	t_map(&sp, 7);
	assert_true(t_vcpu_start(&a, h));
	assert_true(t_vcpu_start(&c, h));
	t_vcpu_cmd(&a, C_ENTER, &sp, 0);
	t_vcpu_cmd(&c, C_ENTER, &sp, 0);
	assert_int_equal(t_vcpu_cmd(&a, C_ACCESS, &sp, VA(7)), T_WALK);
	assert_int_equal(t_vcpu_cmd(&c, C_ACCESS, &sp, VA(7)), T_WALK);
	/* Reclaim has a page of the space pending in an unflushed batch. */
	t_batch_init(&reclaim);
	t_unmap(&sp, 3);
	tlbb_add_page(&reclaim, &sp.s, VA(3), 0);
	/* vCPU a changes page 7 (say, write-protects it): race check first. */
	assert_int_equal(t_vcpu_cmd(&a, C_RACE_CHECK_HAS, &sp, VA(7)), expect_stale);
	assert_int_equal(stats(h).space_flushes, 1);
	if (!expect_stale) /* the other vCPU was waited for: clean as well */
		assert_false(t_vcpu_cmd(&c, C_HAS, &sp, VA(7)));
	tlbb_flush(&reclaim);
	t_vcpu_stop(&a);
	t_vcpu_stop(&c);
	tlbb_vcpu_host_destroy(h);
}

static void test_race_check_from_vcpu_thread_cleans_own_tlb_inline(void **state)
{
	(void)state;
	race_check_on_vcpu_scenario(0, false);
}

/* Negative control: nothing posted -> the vCPU's own entry survives its check. */
static void test_negative_race_check_without_post_leaves_own_entry(void **state)
{
	(void)state;
	race_check_on_vcpu_scenario(TLBB_VCPU_FAULT_NO_POST, true);
}

/* ---- deferring on an empty batch: a grace period, not "at once" --------------- */

struct deferrer {
	pthread_t th;
	struct tlbb_batch *b; /* NULL: the EINVAL path */
	struct tlbb_vcpu_deferred *d;
	int rc;
	int entering; /* atomic: about to call tlbb_vcpu_defer() */
	int done;     /* atomic */
};

static void *deferrer_main(void *arg)
{
	struct deferrer *df = arg;

	__atomic_store_n(&df->entering, 1, __ATOMIC_SEQ_CST);
	df->rc = tlbb_vcpu_defer(df->b, df->d, frame_freed);
	__atomic_store_n(&df->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * Frame 50 is a guest page-table page. vCPU a's walker is reading it, inside
 * a translated block. The reclaimer unlinks the table page: no TLB entry maps
 * it, so nothing is added to any batch, and it hands the page back through
 * tlbb_vcpu_defer() on an empty (or NULL) batch. The callback must wait for
 * a grace period: not run while the block that may still read the page is
 * running, and the block's last read must find the page live.
 */
static void defer_empty_waits_for_block(bool null_batch)
{
	struct tlbb_vcpu_host *h = host_new(2, 0);
	struct t_frame *table = t_frame(50);
	struct t_vcpu a;
	struct tlbb_batch b;
	struct deferrer df = { 0 };
	bool returned_early;
	int state_during, r;

	__atomic_store_n(&table->state, FRAME_LIVE, __ATOMIC_SEQ_CST);
	assert_true(t_vcpu_start(&a, h));
	t_vcpu_hold_frame(&a, 50); /* inside the block, reading the table page */
	t_batch_init(&b);
	df.b = null_batch ? NULL : &b;
	df.d = &table->dnode;
	pthread_create(&df.th, NULL, deferrer_main, &df);
	/*
	 * Give a defer without its grace period every chance to be seen: wait
	 * until the deferrer runs (a loaded machine may not start it for a
	 * while), then up to 250 ms for it to return, which it must not do.
	 */
	while (!__atomic_load_n(&df.entering, __ATOMIC_SEQ_CST))
		t_sleep_ms(1);
	for (unsigned ms = 0; ms < 250 && !__atomic_load_n(&df.done, __ATOMIC_SEQ_CST); ms++)
		t_sleep_ms(1);
	/* Record, release the vCPU, then assert: a failure leaves no thread
	 * stuck inside a block (it would stall every later grace period). */
	returned_early = __atomic_load_n(&df.done, __ATOMIC_SEQ_CST);
	state_during = __atomic_load_n(&table->state, __ATOMIC_SEQ_CST);
	r = t_vcpu_release(&a);
	pthread_join(df.th, NULL);
	assert_false(returned_early); /* still waiting for the vCPU's safe point */
	assert_int_equal(state_during, FRAME_LIVE);
	assert_int_equal(r, T_HIT); /* the block's last read: page still live */
	assert_int_equal(df.rc, null_batch ? TLBB_EINVAL : TLBB_OK);
	assert_int_equal(__atomic_load_n(&table->state, __ATOMIC_SEQ_CST), FRAME_FREED);
	t_vcpu_stop(&a);
	tlbb_vcpu_host_destroy(h);
}

static void test_defer_on_empty_batch_waits_for_vcpu_inside_block(void **state)
{
	(void)state;
	defer_empty_waits_for_block(false);
}

static void test_defer_on_null_batch_waits_for_vcpu_inside_block(void **state)
{
	(void)state;
	defer_empty_waits_for_block(true);
}

/*
 * Negative control of the two above: freeing the table page without any
 * grace period while the block runs is seen by the block's last read (the
 * checker is not vacuous).
 */
static void test_negative_free_without_grace_period_is_seen_inside_block(void **state)
{
	struct tlbb_vcpu_host *h = host_new(2, 0);
	struct t_frame *table = t_frame(50);
	struct t_vcpu a;

	(void)state;
	__atomic_store_n(&table->state, FRAME_LIVE, __ATOMIC_SEQ_CST);
	assert_true(t_vcpu_start(&a, h));
	t_vcpu_hold_frame(&a, 50);
	frame_freed(&table->dnode); /* what a defer without its grace period does */
	assert_int_equal(t_vcpu_release(&a), T_STALE);
	t_vcpu_stop(&a);
	tlbb_vcpu_host_destroy(h);
}

/* ---- deferring on another backend's batch ------------------------------------- */

static struct {
	struct tlbb_sim *sim;
	struct tlbb_batch *b;
	bool ran, remote_had_entry, batch_still_required;
} other_be;

static void other_backend_frame_freed(struct tlbb_vcpu_deferred *d)
{
	(void)d;
	other_be.ran = true;
	/* By now the batch must have been flushed on its own backend. */
	other_be.remote_had_entry = tlbb_sim_tlb_has(other_be.sim, 1, 1, VA(2));
	other_be.batch_still_required = other_be.b->flush_required;
}

/*
 * tlbb_vcpu_defer() on a batch of another backend (here the sim's x86 model,
 * where CPU 1 caches page 2): it cannot queue the callback in that batch, so
 * it must flush the batch first and only then run the callback. The frame
 * is retired inside the callback; CPU 1 must then fault, not reach it.
 */
static void test_defer_on_other_backend_batch_flushes_it_first(void **state)
{
	struct tlbb_sim_config cfg = { .ncpus = 2, .model = TLBB_SIM_X86 };
	struct tlbb_sim_space ss;
	struct tlbb_batch b;
	struct tlbb_vcpu_deferred d;
	int f;

	(void)state;
	memset(&other_be, 0, sizeof(other_be));
	other_be.sim = tlbb_sim_create(&cfg);
	assert_non_null(other_be.sim);
	assert_int_equal(tlbb_sim_space_init(other_be.sim, &ss, 1, 8), TLBB_OK);
	f = tlbb_sim_frame_alloc(other_be.sim);
	assert_true(f > 0);
	tlbb_sim_pte_set(&ss, 2, (unsigned)f, true);
	tlbb_sim_switch_to(other_be.sim, 1, &ss);
	assert_int_equal(tlbb_sim_access(other_be.sim, 1, VA(2), false), TLBB_SIM_WALK);
	tlbb_sim_cpu_enter(other_be.sim, 0);
	t_batch_init(&b);
	other_be.b = &b;
	tlbb_sim_pte_clear(&ss, 2);
	assert_int_equal(tlbb_add_page(&b, &ss.space, VA(2), 0), TLBB_OK);
	assert_true(b.flush_required); /* CPU 1 may cache it: deferred */
	assert_int_equal(tlbb_vcpu_defer(&b, &d, other_backend_frame_freed), TLBB_EBACKEND);
	assert_true(other_be.ran);
	assert_false(other_be.remote_had_entry);
	assert_false(other_be.batch_still_required);
	tlbb_sim_frame_set_state(other_be.sim, (unsigned)f, TLBB_SIM_FRAME_RETIRED);
	assert_int_equal(tlbb_sim_access(other_be.sim, 1, VA(2), false), TLBB_SIM_FAULT);
	tlbb_sim_space_fini(&ss);
	tlbb_sim_destroy(other_be.sim);
}

/* ---- mailbox overflow ---------------------------------------------------------- */

static void test_mailbox_overflow_degrades_to_full_flush(void **state)
{
	struct tlbb_vcpu_config cfg = { .max_vcpus = 2, .mailbox_entries = 4 };
	struct tlbb_vcpu_host *h = tlbb_vcpu_host_create(&cfg);
	struct t_space A, B;
	struct t_vcpu a;
	struct tlbb_batch b;
	struct tlbb_vcpu_stats st;

	(void)state;
	t_frames_reset();
	t_space_init(h, &A, 1);
	t_space_init(h, &B, 2);
	t_map(&B, 0);
	assert_true(t_vcpu_start(&a, h));
	t_vcpu_cmd(&a, C_ENTER, &A, 0);
	t_vcpu_cmd(&a, C_ENTER, &B, 0);
	t_vcpu_cmd(&a, C_ACCESS, &B, VA(0));
	t_vcpu_cmd(&a, C_OFFLINE, NULL, 0);
	t_batch_init(&b);
	for (unsigned vpn = 0; vpn < 20; vpn += 2)
		tlbb_add_page(&b, &A.s, VA(vpn), 0);
	tlbb_flush(&b);
	t_vcpu_cmd(&a, C_ONLINE, NULL, 0);
	st = stats(h);
	assert_true(st.mailbox_overflows >= 1);
	assert_int_equal(st.full_flushes, 1);
	/* A superset: even B's entry went. Safe, merely slower. */
	assert_int_equal(t_vcpu_cmd(&a, C_COUNT, &B, 0), 0);
	t_vcpu_stop(&a);
	tlbb_vcpu_host_destroy(h);
}

/* ---- the consumer's own TLB ---------------------------------------------------- */

struct cb_log {
	pthread_t thread[8];
	uint32_t asid[8];
	uint64_t vpn[8], npages[8];
	unsigned n;
};

static void record_invalidate(struct tlbb_vcpu *v, uint32_t asid, uint64_t vpn, uint64_t npages,
			      void *arg)
{
	struct cb_log *log = arg;

	(void)v;
	if (log->n < 8) {
		log->thread[log->n] = pthread_self();
		log->asid[log->n] = asid;
		log->vpn[log->n] = vpn;
		log->npages[log->n] = npages;
		__atomic_store_n(&log->n, log->n + 1, __ATOMIC_SEQ_CST);
	}
}

static void test_consumer_tlb_callback_runs_on_vcpu_thread_at_safe_point(void **state)
{
	static struct cb_log log;
	struct tlbb_vcpu_config cfg = { .max_vcpus = 2, .flags = TLBB_VCPU_NO_BUILTIN_TLB,
					.invalidate = record_invalidate, .invalidate_arg = &log };
	struct tlbb_vcpu_host *h = tlbb_vcpu_host_create(&cfg);
	struct t_space sp;
	struct t_vcpu a;
	struct tlbb_batch b;

	(void)state;
	assert_non_null(h);
	memset(&log, 0, sizeof(log));
	t_space_init(h, &sp, 12);
	assert_true(t_vcpu_start(&a, h));
	/* Registration starts the consumer's TLB empty. */
	assert_int_equal(__atomic_load_n(&log.n, __ATOMIC_SEQ_CST), 1);
	assert_int_equal(log.asid[0], TLBB_VCPU_ALL_ASIDS);
	t_vcpu_cmd(&a, C_ENTER, &sp, 0);
	t_batch_init(&b);
	tlbb_add_range(&b, &sp.s, VA(30), VA(33), 0);
	tlbb_flush(&b);
	/* The callback runs right after the vCPU's safe point, which may be just
	 * after the flush returned: one command round trip passes it. */
	t_vcpu_cmd(&a, C_COUNT, &sp, 0);
	assert_int_equal(__atomic_load_n(&log.n, __ATOMIC_SEQ_CST), 2);
	assert_true(pthread_equal(log.thread[1], a.th));
	assert_int_equal(log.asid[1], 12);
	assert_int_equal(log.vpn[1], 30);
	assert_int_equal(log.npages[1], 3);
	/* The race check: whole ASID (npages 0). */
	tlbb_add_page(&b, &sp.s, VA(40), 0);
	assert_true(tlbb_flush_pending(&sp.s));
	tlbb_flush(&b);
	t_vcpu_cmd(&a, C_COUNT, &sp, 0);
	assert_true(__atomic_load_n(&log.n, __ATOMIC_SEQ_CST) >= 3);
	bool whole = false;
	for (unsigned i = 2; i < log.n; i++)
		whole |= log.asid[i] == 12 && log.npages[i] == 0;
	assert_true(whole);
	t_vcpu_stop(&a);
	tlbb_vcpu_host_destroy(h);
}

/* ---- an emulator's own vCPU numbers, invalidate argument and RCU ------------- */

struct id_probe {
	struct tlbb_vcpu_host *h;
	bool taken_refused, out_of_range_refused, bad_flag_refused;
	unsigned got;
};

static void *id_probe_main(void *arg)
{
	struct id_probe *p = arg;
	struct tlbb_vcpu_register_args taken = { .id = 2 }, out = { .id = 4 }, bad = { .id = 1, .flags = 0x80 };
	struct tlbb_vcpu_register_args one = { .id = 1 };
	struct tlbb_vcpu *v;

	p->taken_refused = tlbb_vcpu_register_as(p->h, &taken) == NULL;
	p->out_of_range_refused = tlbb_vcpu_register_as(p->h, &out) == NULL;
	p->bad_flag_refused = tlbb_vcpu_register_as(p->h, &bad) == NULL;
	v = tlbb_vcpu_register_as(p->h, &one);
	p->got = v ? tlbb_vcpu_id(v) : 99;
	tlbb_vcpu_unregister(v);
	return NULL;
}

static void test_emulator_chooses_vcpu_ids(void **state)
{
	struct tlbb_vcpu_host *h = host_new(4, 0);
	struct tlbb_vcpu_register_args two = { .id = 2 };
	struct tlbb_vcpu *me = tlbb_vcpu_register_as(h, &two);
	struct t_vcpu a;
	struct id_probe p = { .h = h };
	pthread_t t;

	(void)state;
	assert_non_null(me);
	assert_int_equal(tlbb_vcpu_id(me), 2);
	assert_true(t_vcpu_start(&a, h));
	assert_int_equal(a.id, 0); /* ID_ANY: the lowest free */
	assert_int_equal(pthread_create(&t, NULL, id_probe_main, &p), 0);
	pthread_join(t, NULL);
	assert_true(p.taken_refused);
	assert_true(p.out_of_range_refused);
	assert_true(p.bad_flag_refused);
	assert_int_equal(p.got, 1);
	t_vcpu_stop(&a);
	tlbb_vcpu_unregister(me);
	tlbb_vcpu_host_destroy(h);
}

/* Each vCPU's own TLB object reaches its callback: no host-wide lookup by vCPU id. */
static void test_invalidate_callback_gets_the_vcpus_own_arg(void **state)
{
	static struct cb_log host_log, mine;
	struct tlbb_vcpu_config cfg = { .max_vcpus = 2, .flags = TLBB_VCPU_NO_BUILTIN_TLB,
					.invalidate = record_invalidate, .invalidate_arg = &host_log };
	struct tlbb_vcpu_host *h = tlbb_vcpu_host_create(&cfg);
	struct tlbb_vcpu_register_args own = { .id = TLBB_VCPU_ID_ANY, .invalidate_arg = &mine };
	struct tlbb_vcpu *v;
	struct tlbb_space s;
	struct tlbb_batch b;

	(void)state;
	memset(&host_log, 0, sizeof(host_log));
	memset(&mine, 0, sizeof(mine));
	v = tlbb_vcpu_register_as(h, &own);
	assert_non_null(v);
	assert_int_equal(mine.n, 1); /* registration empties the consumer's TLB */
	assert_int_equal(tlbb_vcpu_space_init(h, &s, 4, NULL), TLBB_OK);
	tlbb_vcpu_enter_space(v, &s);
	tlbb_batch_init(&b);
	tlbb_add_range(&b, &s, VA(8), VA(10), 0);
	tlbb_flush(&b); /* from the vCPU itself: applied inline */
	assert_int_equal(mine.n, 2);
	assert_int_equal(mine.vpn[1], 8);
	assert_int_equal(mine.npages[1], 2);
	assert_int_equal(host_log.n, 0);
	tlbb_vcpu_unregister(v);
	v = tlbb_vcpu_register(h); /* no arg of its own: the host's */
	assert_int_equal(host_log.n, 1);
	tlbb_vcpu_unregister(v);
	tlbb_vcpu_host_destroy(h);
}

/*
 * An emulator that already uses liburcu-qsbr for its own RCU registered the
 * thread itself; the backend shares that registration. The vCPU caches page
 * 3, the flusher unmaps it, flushes and frees the frame while the vCPU keeps
 * reporting quiescent states; then the vCPU touches page 3 again.
 */
struct shared_emu {
	struct tlbb_vcpu_host *h;
	struct t_space *sp;
	bool bare_qs;          /* the emulator reports its QS itself: no drain */
	int ready, step;       /* atomic */
	bool plain_refused, still_reader;
	unsigned id;
	int result;
};

static void *shared_emu_main(void *arg)
{
	struct shared_emu *e = arg;
	struct tlbb_vcpu_register_args ra = { .id = 5, .flags = TLBB_VCPU_REG_URCU_SHARED };
	struct tlbb_vcpu *v;

	urcu_qsbr_register_thread(); /* the emulator's own registration */
	e->plain_refused = tlbb_vcpu_register(e->h) == NULL; /* would register twice */
	v = tlbb_vcpu_register_as(e->h, &ra);
	if (!v) {
		urcu_qsbr_unregister_thread();
		__atomic_store_n(&e->ready, -1, __ATOMIC_SEQ_CST);
		return NULL;
	}
	e->id = tlbb_vcpu_id(v);
	tlbb_vcpu_enter_space(v, &e->sp->s);
	t_access(v, e->sp, VA(3));
	__atomic_store_n(&e->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&e->step, __ATOMIC_SEQ_CST)) {
		if (e->bare_qs)
			urcu_qsbr_quiescent_state();
		else
			tlbb_vcpu_quiescent(v);
		sched_yield();
	}
	e->result = t_access(v, e->sp, VA(3));
	tlbb_vcpu_unregister(v);
	e->still_reader = urcu_qsbr_read_ongoing() != 0; /* ours to unregister */
	urcu_qsbr_unregister_thread();
	return NULL;
}

static int shared_registration_scenario(bool bare_qs)
{
	struct tlbb_vcpu_host *h = host_new(8, 0);
	struct t_space sp;
	struct tlbb_batch b;
	struct shared_emu e = { .h = h, .sp = &sp, .bare_qs = bare_qs };
	pthread_t t;
	unsigned f;

	t_space_init(h, &sp, 6);
	f = t_map(&sp, 3);
	assert_int_equal(pthread_create(&t, NULL, shared_emu_main, &e), 0);
	while (!__atomic_load_n(&e.ready, __ATOMIC_SEQ_CST))
		t_sleep_ms(1);
	assert_int_equal(e.ready, 1);
	assert_true(e.plain_refused);
	assert_int_equal(e.id, 5);
	tlbb_batch_init(&b);
	t_unmap(&sp, 3);
	tlbb_add_page(&b, &sp.s, VA(3), 0);
	tlbb_flush(&b); /* one grace period: the emulator's thread is its reader */
	__atomic_store_n(&t_frame(f)->state, FRAME_FREED, __ATOMIC_SEQ_CST);
	__atomic_store_n(&e.step, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	assert_true(e.still_reader);
	assert_int_equal(stats(h).grace_periods, 1);
	tlbb_vcpu_host_destroy(h);
	return e.result;
}

static void test_shared_urcu_registration_serves_both(void **state)
{
	(void)state;
	assert_int_equal(shared_registration_scenario(false), T_FAULT);
}

/* Negative control: a bare urcu quiescent state ends the grace period without the drain. */
static void test_negative_shared_registration_bare_qs_uses_freed_frame(void **state)
{
	(void)state;
	assert_int_equal(shared_registration_scenario(true), T_STALE);
}

/* Sharing a registration the thread does not have is refused, not undefined. */
static void test_shared_registration_without_urcu_reader_is_refused(void **state)
{
	struct tlbb_vcpu_host *h = host_new(2, 0);
	struct tlbb_vcpu_register_args ra = { .id = TLBB_VCPU_ID_ANY, .flags = TLBB_VCPU_REG_URCU_SHARED };

	(void)state;
	assert_null(tlbb_vcpu_register_as(h, &ra));
	tlbb_vcpu_host_destroy(h);
}

/* ---- the header-inline lookup ------------------------------------------------ */

/* Inline and out-of-line lookups agree on every page, before and after a flush. */
static void test_inline_lookup_answers_as_the_library_lookup(void **state)
{
	struct tlbb_vcpu_config cfg = { .max_vcpus = 1, .tlb_sets = 4, .tlb_ways = 2 };
	struct tlbb_vcpu_host *h = tlbb_vcpu_host_create(&cfg);
	struct tlbb_vcpu *v = tlbb_vcpu_register(h);
	struct tlbb_vcpu_tlb_view view;
	struct tlbb_space s;
	struct tlbb_batch b;
	unsigned hits = 0;

	(void)state;
	assert_non_null(v);
	tlbb_vcpu_tlb_view(v, &view);
	assert_int_equal(tlbb_vcpu_space_init(h, &s, 3, NULL), TLBB_OK);
	tlbb_vcpu_enter_space(v, &s);
	for (unsigned p = 0; p < 12; p++) /* more than fit: evictions too */
		tlbb_vcpu_tlb_fill(v, p % 3 ? 3 : 4, VA(p), 100 + p, p % 2);
	tlbb_batch_init(&b);
	for (int round = 0; round < 2; round++) {
		for (unsigned p = 0; p < 14; p++)
			for (uint32_t asid = 3; asid <= 4; asid++)
				for (int w = 0; w <= 1; w++) {
					uint64_t a = 0, c = 0;
					bool x = tlbb_vcpu_tlb_lookup(v, asid, VA(p) + 5, w, &a);
					bool y = tlbb_vcpu_tlb_lookup_inline(&view, asid, VA(p) + 5, w, &c);

					assert_int_equal(x, y);
					assert_int_equal(a, c);
					hits += round == 0 && y;
				}
		tlbb_add_range(&b, &s, VA(0), VA(14), 0); /* every page of ASID 3 */
		tlbb_flush(&b);                            /* drained inline: we are the vCPU */
	}
	assert_true(hits > 0);
	for (unsigned p = 0; p < 14; p++) {
		uint64_t c;

		assert_false(tlbb_vcpu_tlb_lookup_inline(&view, 3, VA(p), false, &c));
	}
	tlbb_vcpu_unregister(v);
	tlbb_vcpu_host_destroy(h);
}

/* ---- the race check under a lock the vCPUs take --------------------------- */

/*
 * An emulator's vCPU takes the page-table lock inside its block (a guest
 * page-table walk, a fault), online, with a blocking lock (timed here, so
 * that a deadlock is observed instead of hanging the test). The changer
 * holds that lock for the race check of a space with a batched unmap.
 */
struct locking_vcpu {
	struct tlbb_vcpu_host *h;
	struct t_space *sp;
	pthread_mutex_t *ptl;
	int ready, stop;       /* atomic */
	int waiting;           /* atomic: past its safe point, taking the lock */
	int lock_count;        /* atomic: lock acquisitions */
	bool timed_out;        /* waited 1 s for the lock: the deadlock */
	int last;              /* the access after the race check */
};

static void *locking_vcpu_main(void *arg)
{
	struct locking_vcpu *l = arg;
	struct tlbb_vcpu *v = tlbb_vcpu_register(l->h);

	tlbb_vcpu_enter_space(v, &l->sp->s);
	t_access(v, l->sp, VA(7));
	__atomic_store_n(&l->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&l->stop, __ATOMIC_SEQ_CST)) {
		struct timespec until;

		tlbb_vcpu_quiescent(v); /* the safe point between blocks */
		/* The block: take the lock, walk, drop it. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		__atomic_store_n(&l->waiting, 1, __ATOMIC_SEQ_CST);
		if (pthread_mutex_timedlock(l->ptl, &until) != 0) {
			__atomic_store_n(&l->waiting, 0, __ATOMIC_SEQ_CST);
			l->timed_out = true;
			continue; /* give up the block: the safe point frees the changer */
		}
		__atomic_store_n(&l->waiting, 0, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&l->lock_count, 1, __ATOMIC_SEQ_CST);
		l->last = t_access(v, l->sp, VA(7));
		pthread_mutex_unlock(l->ptl);
		sched_yield();
	}
	tlbb_vcpu_unregister(v);
	return NULL;
}

static struct locking_vcpu *relock_seen;
static int relock_count_at_drop;

static void ptl_unlock(void *m)
{
	relock_count_at_drop = __atomic_load_n(&relock_seen->lock_count, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(m);
	/* The race check is pending with the lock free: a vCPU takes it now. */
	while (__atomic_load_n(&relock_seen->lock_count, __ATOMIC_SEQ_CST) == relock_count_at_drop)
		sched_yield();
}

static void ptl_lock(void *m)
{
	pthread_mutex_lock(m);
}

static void race_check_under_vcpu_lock(bool relock, struct locking_vcpu *l)
{
	struct tlbb_vcpu_host *h = host_new(2, 0);
	static pthread_mutex_t ptl = PTHREAD_MUTEX_INITIALIZER;
	struct t_space sp;
	struct tlbb_batch b;
	pthread_t t;
	unsigned f;

	memset(l, 0, sizeof(*l));
	l->h = h;
	l->sp = &sp;
	l->ptl = &ptl;
	t_space_init(h, &sp, 9);
	f = t_map(&sp, 7);
	assert_int_equal(pthread_create(&t, NULL, locking_vcpu_main, l), 0);
	while (!__atomic_load_n(&l->ready, __ATOMIC_SEQ_CST))
		t_sleep_ms(1);
	/* Reclaim: page 7 cleared and batched, the batch not flushed yet. */
	pthread_mutex_lock(&ptl);
	t_unmap(&sp, 7);
	tlbb_batch_init(&b);
	tlbb_add_page(&b, &sp.s, VA(7), 0);
	pthread_mutex_unlock(&ptl);
	/* The changer (zap): lock, race check, then the frame may go. */
	pthread_mutex_lock(&ptl);
	/*
	 * Wait until the vCPU is past its last safe point and blocks on our
	 * lock (it cleared `waiting` before any unlock we could have seen).
	 */
	while (!__atomic_load_n(&l->waiting, __ATOMIC_SEQ_CST))
		sched_yield();
	relock_seen = l;
	if (relock)
		assert_true(tlbb_vcpu_flush_pending_relock(&sp.s, ptl_unlock, ptl_lock, &ptl));
	else
		assert_true(tlbb_flush_pending(&sp.s));
	assert_false(tlbb_space_has_pending(&sp.s));
	__atomic_store_n(&t_frame(f)->state, FRAME_FREED, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&ptl);
	/* A few more blocks of the vCPU: each access must fault, not reach the frame. */
	for (int n = __atomic_load_n(&l->lock_count, __ATOMIC_SEQ_CST) + 3;
	     __atomic_load_n(&l->lock_count, __ATOMIC_SEQ_CST) < n;)
		t_sleep_ms(1);
	__atomic_store_n(&l->stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	tlbb_flush(&b);
	tlbb_vcpu_host_destroy(h);
}

static void test_race_check_relock_lets_vcpus_take_the_lock(void **state)
{
	struct locking_vcpu l;

	(void)state;
	race_check_under_vcpu_lock(true, &l);
	assert_false(l.timed_out);        /* no vCPU waited out the race check */
	assert_int_equal(l.last, T_FAULT); /* and none kept the old translation */
}

/* Negative control: the plain race check waits for the grace period holding the lock. */
static void test_negative_race_check_under_vcpu_lock_deadlocks(void **state)
{
	struct locking_vcpu l;

	(void)state;
	race_check_under_vcpu_lock(false, &l);
	assert_true(l.timed_out); /* the vCPU blocked, online, on the changer's lock */
	assert_int_equal(l.last, T_FAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_out_of_range_is_refused),
		cmocka_unit_test(test_register_gives_lowest_free_ids_and_refuses_when_full),
		cmocka_unit_test(test_thread_registers_at_most_once),
		cmocka_unit_test(test_reused_vcpu_id_starts_with_empty_tlb),
		cmocka_unit_test(test_tlb_is_asid_tagged_and_set_associative),
		cmocka_unit_test(test_should_defer_only_when_another_vcpu_may_cache),
		cmocka_unit_test(test_quiescent_while_offline_keeps_vcpu_offline),
		cmocka_unit_test(test_batch_flush_invalidates_remote_vcpu_tlb),
		cmocka_unit_test(test_negative_no_post_leaves_remote_entry),
		cmocka_unit_test(test_one_grace_period_per_batch_not_per_page),
		cmocka_unit_test(test_adjacent_pages_are_posted_as_one_range),
		cmocka_unit_test(test_flush_waits_for_vcpu_inside_block),
		cmocka_unit_test(test_negative_no_grace_period_frees_frame_under_running_block),
		cmocka_unit_test(test_offline_vcpu_is_not_waited_for_and_drains_at_online),
		cmocka_unit_test(test_negative_online_without_drain_uses_freed_frame),
		cmocka_unit_test(test_vcpu_joining_during_batch_sees_cleared_pte),
		cmocka_unit_test(test_vcpu_leaving_during_batch_is_not_waited_for),
		cmocka_unit_test(test_frames_handed_back_only_after_batch_flush),
		cmocka_unit_test(test_core_release_waits_for_vcpu_inside_block),
		cmocka_unit_test(test_negative_core_release_without_grace_period_frees_under_block),
		cmocka_unit_test(test_race_check_flushes_whole_space_on_every_vcpu),
		cmocka_unit_test(test_flush_from_vcpu_thread_applies_own_tlb_inline),
		cmocka_unit_test(test_race_check_from_vcpu_thread_cleans_own_tlb_inline),
		cmocka_unit_test(test_negative_race_check_without_post_leaves_own_entry),
		cmocka_unit_test(test_defer_on_empty_batch_waits_for_vcpu_inside_block),
		cmocka_unit_test(test_defer_on_null_batch_waits_for_vcpu_inside_block),
		cmocka_unit_test(test_negative_free_without_grace_period_is_seen_inside_block),
		cmocka_unit_test(test_defer_on_other_backend_batch_flushes_it_first),
		cmocka_unit_test(test_mailbox_overflow_degrades_to_full_flush),
		cmocka_unit_test(test_consumer_tlb_callback_runs_on_vcpu_thread_at_safe_point),
		cmocka_unit_test(test_emulator_chooses_vcpu_ids),
		cmocka_unit_test(test_invalidate_callback_gets_the_vcpus_own_arg),
		cmocka_unit_test(test_shared_urcu_registration_serves_both),
		cmocka_unit_test(test_negative_shared_registration_bare_qs_uses_freed_frame),
		cmocka_unit_test(test_shared_registration_without_urcu_reader_is_refused),
		cmocka_unit_test(test_inline_lookup_answers_as_the_library_lookup),
		cmocka_unit_test(test_race_check_relock_lets_vcpus_take_the_lock),
		cmocka_unit_test(test_negative_race_check_under_vcpu_lock_deadlocks),
	};

	return cmocka_run_group_tests_name("vcpu", tests, NULL, NULL);
}
