/* SPDX-License-Identifier: MIT */
/*
 * An EL1 unikernel for qemu-system-aarch64 -M virt -smp 4 that uses
 * tlbbatch (core + arm64 backend, freestanding build) as a kernel would,
 * and checks it with a poison test:
 *
 *   - its own page tables (4 KiB granule, 32-bit VA, ASID 1 in TTBR0),
 *     MMU and caches on;
 *   - secondaries started with PSCI CPU_ON; each reads through a window of
 *     WIN_PAGES virtual pages in a loop, forever checking what it reads;
 *   - CPU 0 repeatedly retargets those pages to fresh physical frames:
 *     clear the PTE, tlbb_add_*() it to a batch; one tlbb_flush() per batch;
 *     only then poison the old frames and install the new ones;
 *   - a reader that reads POISON (or another page's data) used a translation
 *     that the flush had already invalidated: a stale read, a failure.
 *
 * The last phase ("global") does the same to a second window whose PTEs are
 * global (nG=0), in a space flagged TLBB_SPACE_GLOBAL, like a kernel's own
 * mappings: an ASID-tagged TLBI cannot remove a global entry, so every flush
 * there must end in the backend's TLBI VMALLE1IS (whole-space add, a range
 * over the space's threshold, the synchronous flush of such a range).
 *
 * The phase "reuse" ends the window's space and gives its ASID to a new
 * one, the way a kernel recycles an ASID: the readers stop using the space
 * (they pause, keeping TTBR0), CPU 0 tears down the old tables, calls
 * tlbb_space_fini(), poisons the old frames, starts a new space with the
 * same ASID on a second set of tables with fresh frames, and the readers
 * load that root into TTBR0 (same ASID, so the TTBR write invalidates
 * nothing) and read on. A reader that reads poison used an entry the old
 * space left under the ASID. Built with -DREUSE_SKIP_FINI the port reuses
 * the ASID without tlbb_space_fini() (what arm64.h forbids): stale reads
 * must appear there and nowhere else.
 *
 * Built with -DNEGATIVE_CONTROL the retarget does no TLB maintenance at all
 * (no tlbb_add_*, no tlbb_flush), and the image must then SEE stale reads:
 * proof that this image can fail. Built with -DGLOBAL_SKIP_FLUSH only the
 * global phase skips its maintenance: it must be stale there and nowhere
 * else, proof that the global phase can fail on its own. (Removing only the
 * DSB of tlbb_flush() cannot be seen here: QEMU's TCG completes broadcast
 * TLBIs synchronously. That rule is tested by the sim model, see
 * docs/arm64.md.)
 *
 * Port hooks implemented here: tlbb_port_cpu_id() (MPIDR Aff0) and
 * tlbb_port_debug_fail(); the library is built with debug checks, so the
 * issuing-CPU rule is checked live on every add and flush.
 */
#include <tlbbatch/arm64.h>
#include <tlbbatch/port.h>

#define NCPU_MAX 4
#define STACK_SIZE 16384 /* start.S: kstack + 16 KiB per CPU */
#define PAGE 4096u
#define WIN_VA 0x80000000u
#define WIN_PAGES 16u
#define GWIN_VA 0xC0000000u /* the global window: l1[3] */
#define POOL_FRAMES 128u
#define ASID 1u

#ifndef RETARGETS_BATCHED
#define RETARGETS_BATCHED 100000u
#endif
#ifndef RETARGETS_RANGE
#define RETARGETS_RANGE 16000u
#endif
/* With range ops every batch waits for the readers' TLB-growing sweeps. */
#ifndef RETARGETS_RANGE_OPS
#define RETARGETS_RANGE_OPS 4000u
#endif
#ifndef RETARGETS_PER_PAGE
#define RETARGETS_PER_PAGE 16000u
#endif
/* Every global round flushes every vCPU's whole TLB (TCG's VMALLE1IS). */
#ifndef RETARGETS_GLOBAL
#define RETARGETS_GLOBAL 16000u
#endif
/* 16 pages per space lifetime; a multiple of 32 so the phase ends on the
 * first set of tables (the handoff after it uses them). */
#ifndef RETARGETS_REUSE
#define RETARGETS_REUSE 2048u
#endif
_Static_assert(RETARGETS_REUSE % 32 == 0, "reuse phase must end on the first root");
/* The global space's threshold: half the window, so a whole-window range
 * is over the ceiling and becomes a whole-space invalidation. */
#define GLOBAL_THRESHOLD (WIN_PAGES / 2)
#define BATCH_PAGES WIN_PAGES

#define POISON UINT64_C(0xdeaddeaddeaddead)
#define PROBE_FAULT UINT64_C(0xfa1700000000fa17) /* start.S: movz/movk */
#define LIVE_TAG UINT64_C(0x1111)

#include "machine.h"

/* Called from start.S for any unexpected exception. */
void fatal_exception(uint64_t esr, uint64_t elr, uint64_t far);
void fatal_exception(uint64_t esr, uint64_t elr, uint64_t far)
{
	puts_("\nunexpected exception on cpu ");
	putu(this_cpu());
	puts_(" esr=");
	putx(esr);
	puts_(" elr=");
	putx(elr);
	puts_(" far=");
	putx(far);
	puts_("\nVERDICT: FAIL (exception)\n");
	power_off();
}

/* ---- page tables --------------------------------------------------------------- */

#define PTE_VALID 1u
#define PTE_TABLE 3u   /* table (levels 0-2) or page (level 3) */
#define PTE_BLOCK 1u
#define PTE_ATTR(i) ((uint64_t)(i) << 2)
#define PTE_SH_INNER (UINT64_C(3) << 8)
#define PTE_AF (UINT64_C(1) << 10)
#define PTE_NG (UINT64_C(1) << 11)
#define PTE_PXN (UINT64_C(1) << 53)
#define PTE_UXN (UINT64_C(1) << 54)
#define PTE_ADDR_MASK UINT64_C(0x0000fffffffff000)
#define ATTR_DEVICE 0 /* MAIR attr0 = 0x00: Device-nGnRnE */
#define ATTR_NORMAL 1 /* MAIR attr1 = 0xff: Normal write-back */

static uint64_t l1[512] __attribute__((aligned(4096)));
static uint64_t l2_win[512] __attribute__((aligned(4096)));
static volatile uint64_t l3_win[512] __attribute__((aligned(4096)));
static uint64_t l2_gwin[512] __attribute__((aligned(4096)));
static volatile uint64_t l3_gwin[512] __attribute__((aligned(4096)));
/* The second set of tables for the window (the reuse phase): l1_b is l1
 * with its window entry pointing at l2_b -> l3_b. */
static uint64_t l1_b[512] __attribute__((aligned(4096)));
static uint64_t l2_b[512] __attribute__((aligned(4096)));
static volatile uint64_t l3_b[512] __attribute__((aligned(4096)));

static uint64_t frames[POOL_FRAMES][PAGE / 8] __attribute__((aligned(4096)));

static void build_tables(void)
{
	/* 0-1 GiB: devices (UART); 1-2 GiB: RAM identity; 2-3 GiB: the window;
	 * 3-4 GiB: the global window. */
	l1[0] = 0x00000000u | PTE_BLOCK | PTE_ATTR(ATTR_DEVICE) | PTE_AF | PTE_PXN | PTE_UXN;
	l1[1] = 0x40000000u | PTE_BLOCK | PTE_ATTR(ATTR_NORMAL) | PTE_SH_INNER | PTE_AF;
	l1[2] = (uint64_t)(uintptr_t)l2_win | PTE_TABLE;
	l2_win[0] = (uint64_t)(uintptr_t)l3_win | PTE_TABLE;
	l1[3] = (uint64_t)(uintptr_t)l2_gwin | PTE_TABLE;
	l2_gwin[0] = (uint64_t)(uintptr_t)l3_gwin | PTE_TABLE;
	for (unsigned i = 0; i < 4; i++)
		l1_b[i] = l1[i];
	l1_b[2] = (uint64_t)(uintptr_t)l2_b | PTE_TABLE;
	l2_b[0] = (uint64_t)(uintptr_t)l3_b | PTE_TABLE;
}

/* Window PTEs are non-global (nG): they belong to ASID 1, so TLBI by
 * VA+ASID is what must remove them. Global-window PTEs have nG=0: their
 * TLB entries match every ASID, and only the all-ASID TLBIs remove them. */
static uint64_t window_pte(uint64_t pa, uint64_t ng)
{
	return pa | PTE_TABLE | PTE_ATTR(ATTR_NORMAL) | PTE_SH_INNER | PTE_AF | ng | PTE_PXN |
	       PTE_UXN;
}

static void mmu_on(void)
{
	const uint64_t mair = UINT64_C(0xff) << 8;
	/* T0SZ=32 (4 GiB, walk starts at level 1), inner/outer WB WA, inner
	 * shareable, 4K granule, EPD1 (no TTBR1 walks), IPS 32-bit, 8-bit ASID
	 * taken from TTBR0. */
	const uint64_t tcr = 32u | (1u << 8) | (1u << 10) | (3u << 12) | (1u << 23);
	const uint64_t ttbr0 = (uint64_t)(uintptr_t)l1 | ((uint64_t)ASID << 48);
	uint64_t sctlr;

	__asm__ volatile("msr mair_el1, %0\n"
			 "msr tcr_el1, %1\n"
			 "msr ttbr0_el1, %2\n"
			 "isb\n"
			 "tlbi vmalle1\n"
			 "dsb nsh\n"
			 "isb" ::"r"(mair), "r"(tcr), "r"(ttbr0)
			 : "memory");
	__asm__ volatile("mrs %0, sctlr_el1" : "=r"(sctlr));
	sctlr |= (1u << 0) | (1u << 2) | (1u << 12); /* M, C, I */
	sctlr &= ~(uint64_t)((1u << 1) | (1u << 19)); /* no alignment check, no WXN */
	__asm__ volatile("msr sctlr_el1, %0\nisb" ::"r"(sctlr) : "memory");
}

/* ---- shared state ------------------------------------------------------------------ */

enum { PH_WARMUP, PH_BATCHED, PH_RANGE, PH_PER_PAGE, PH_GLOBAL, PH_REUSE, PH_STOP,
       NPHASE = PH_STOP };
static const char *const phase_name[NPHASE] = {"warmup", "batched", "range", "per-page",
					       "global", "reuse"};

struct reader_stats {
	uint64_t reads, ok, faults, stale_poison, stale_wrong_page, corrupt;
} __attribute__((aligned(64)));

static struct reader_stats rstats[NCPU_MAX][NPHASE];
static uint64_t first_bad_value, first_bad_va;
static volatile uint32_t phase;
static volatile uint32_t cpus_online;
static volatile uint32_t readers_done;
static volatile uint32_t handoff_request, handoff_done;
/* The reuse phase's handshake: CPU 0 asks for a pause (reuse_pause = n),
 * each reader stops reading and answers (reuse_paused[cpu] = n), CPU 0
 * switches spaces and publishes the new root (reuse_ttbr0, then
 * reuse_go = n); each reader loads it and reads on, counting its loops. */
static volatile uint32_t reuse_pause, reuse_go;
static volatile uint64_t reuse_ttbr0;
static uint64_t reuse_paused[NCPU_MAX][8], reuse_loops[NCPU_MAX][8];

uint8_t kstack[NCPU_MAX][STACK_SIZE] __attribute__((aligned(16)));

/*
 * Making range TLBIs observable under QEMU. TCG turns a range flush longer
 * than a vCPU's softmmu TLB into a full flush of that TLB, and the TLB only
 * grows (256 -> 4096 entries) when more than 70% of it is in use at a flush.
 * So in the range phase with range ops, each reader sweeps INFLATE_PAGES
 * distinct pages per loop and CPU 0 waits for a full sweep before each batch:
 * the readers' TLBs grow past 16 pages' worth and TCG then invalidates
 * exactly the encoded range. The pages start at TLB index 16 (16 MiB
 * alignment + 16 pages), away from the window's indices 0..15, so the sweep
 * never evicts a window entry.
 */
#define INFLATE_PAGES 1536u
#define INFLATE_SKIP 16u
static uint64_t inflate[INFLATE_SKIP + INFLATE_PAGES][PAGE / 8]
	__attribute__((aligned(16u << 20)));
static volatile uint32_t inflate_on;
static uint64_t sweeps[NCPU_MAX][8]; /* [cpu][0], one cache line each */

uint64_t probe_read(const volatile uint64_t *p);
void secondary_entry(void);
void kernel_main(void);
void secondary_main(void);

static uint64_t live_word(unsigned page, uint32_t gen)
{
	return (LIVE_TAG << 48) | ((uint64_t)page << 32) | gen;
}

/* ---- readers (CPUs 1..3) ----------------------------------------------------------- */

static void handoff_flush(void);

/* A reader's side of one space switch in the reuse phase. */
static void reader_reuse_switch(unsigned cpu, uint32_t n)
{
	uint64_t ttbr0;

	__atomic_store_n(&reuse_paused[cpu][0], n, __ATOMIC_RELEASE);
	while (__atomic_load_n(&reuse_go, __ATOMIC_ACQUIRE) != n)
		;
	ttbr0 = __atomic_load_n(&reuse_ttbr0, __ATOMIC_ACQUIRE);
	/* Same ASID: this write invalidates nothing; only the old space's
	 * tlbb_space_fini() can have removed its entries. */
	__asm__ volatile("msr ttbr0_el1, %0\nisb" ::"r"(ttbr0) : "memory");
}

void secondary_main(void)
{
	const unsigned cpu = this_cpu();
	uint64_t iter = 0;
	uint32_t reuse_seen = 0;

	mmu_on();
	__atomic_fetch_add(&cpus_online, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		uint32_t ph = __atomic_load_n(&phase, __ATOMIC_ACQUIRE);
		struct reader_stats *st;

		if (ph >= PH_STOP)
			break;
		st = &rstats[cpu][ph];
		if (ph == PH_REUSE) {
			uint32_t n = __atomic_load_n(&reuse_pause, __ATOMIC_ACQUIRE);

			if (n != reuse_seen) {
				reader_reuse_switch(cpu, n);
				reuse_seen = n;
			}
			__atomic_fetch_add(&reuse_loops[cpu][0], 1, __ATOMIC_RELEASE);
		}
		if (inflate_on) {
			for (unsigned p = 0; p < INFLATE_PAGES; p++)
				(void)*(volatile uint64_t *)inflate[INFLATE_SKIP + p];
			__atomic_fetch_add(&sweeps[cpu][0], 1, __ATOMIC_RELEASE);
		}
		for (unsigned i = 0; i < WIN_PAGES; i++) {
			/* a different word each time: the whole page must be poisoned */
			uintptr_t va = (ph == PH_GLOBAL ? GWIN_VA : WIN_VA) + i * PAGE +
				       (((iter * 7 + i) * 8) & (PAGE - 8));
			uint64_t v = probe_read((const volatile uint64_t *)va);

			st->reads++;
			if (v == PROBE_FAULT) {
				st->faults++; /* PTE cleared, new one not yet installed */
			} else if ((v >> 48) == LIVE_TAG && ((v >> 32) & 0xffff) == i) {
				st->ok++;
			} else {
				if (v == POISON)
					st->stale_poison++;
				else if ((v >> 48) == LIVE_TAG)
					st->stale_wrong_page++; /* frame already reused elsewhere */
				else
					st->corrupt++;
				if (!first_bad_va) {
					first_bad_value = v;
					first_bad_va = va;
				}
			}
		}
		iter++;
	}
	__atomic_fetch_add(&readers_done, 1, __ATOMIC_SEQ_CST);
	if (cpu == 1)
		handoff_flush();
	for (;;)
		__asm__ volatile("wfe");
}

/* ---- CPU 0: the retargeting kernel ------------------------------------------------- */

static struct tlbb_arm64_stats bstats;
static struct tlbb_arm64_config bcfg = {.stats = &bstats};
static struct tlbb_backend backend;
static struct tlbb_space space;
static struct tlbb_space gspace; /* TLBB_SPACE_GLOBAL: the global window */
static struct tlbb_batch batch;

/* A window of WIN_PAGES pages: its last-level table and its space. */
struct window {
	volatile uint64_t *l3;
	uintptr_t va;
	uint64_t ng; /* PTE_NG, or 0 for global PTEs */
	struct tlbb_space *space;
};
static const struct window win = {l3_win, WIN_VA, PTE_NG, &space};
static const struct window gwin = {l3_gwin, GWIN_VA, 0, &gspace};
/* The window on the second set of tables (reuse phase). */
static const struct window win_b = {l3_b, WIN_VA, PTE_NG, &space};

/* Frames not mapped in the window, oldest-retired first: a retired frame is
 * reused as late as possible, so its poison stays visible to stale readers. */
static uint64_t free_ring[POOL_FRAMES];
static unsigned free_head, free_count;
static uint32_t generation;

static void free_push(uint64_t pa)
{
	free_ring[(free_head + free_count++) % POOL_FRAMES] = pa;
}

static uint64_t free_pop(void)
{
	uint64_t pa = free_ring[free_head];

	free_head = (free_head + 1) % POOL_FRAMES;
	free_count--;
	return pa;
}

static void fill(uint64_t pa, uint64_t word)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)pa;

	for (unsigned w = 0; w < PAGE / 8; w++)
		p[w] = word;
}

static void install(const struct window *w, unsigned i)
{
	uint64_t pa = free_pop();

	fill(pa, live_word(i, ++generation));
	/* The frame's contents before the PTE that exposes it. */
	__asm__ volatile("dmb ishst" ::: "memory");
	w->l3[i] = window_pte(pa, w->ng);
}

/*
 * MODE_GLOBAL_*: the three ways a global space reaches TLBI VMALLE1IS
 * (arch/arm64/arm64.c, a64_tlbi_space): a whole-space add, a range add over
 * the space's threshold (the core turns it into a whole-space add), and the
 * synchronous flush of such a range. The phase rotates through them.
 */
enum mode {
	MODE_PAGE_ADDS,
	MODE_RANGE_ADD,
	MODE_PER_PAGE_FLUSH,
	MODE_GLOBAL_SPACE_ADD,
	MODE_GLOBAL_RANGE_OVER_THRESHOLD,
	MODE_GLOBAL_SYNC_OVER_THRESHOLD,
	MODE_REUSE_ASID,
};
#define NGLOBAL_MODES 3u

static unsigned nreaders_started;

/* Each reader's count of @ctr (one cache line per reader) now. */
static void readers_snapshot(uint64_t (*ctr)[8], uint64_t *seen)
{
	for (unsigned c = 1; c <= nreaders_started; c++)
		seen[c] = __atomic_load_n(&ctr[c][0], __ATOMIC_ACQUIRE);
}

/* Wait until every reader's @ctr has advanced by two since @seen: one whole
 * pass of that reader lies in between. A reader that stops fails the run. */
static void readers_wait_two(uint64_t (*ctr)[8], const uint64_t *seen, const char *fail)
{
	for (unsigned c = 1; c <= nreaders_started; c++)
		for (unsigned spin = 0; __atomic_load_n(&ctr[c][0], __ATOMIC_ACQUIRE) < seen[c] + 2;
		     spin++)
			if (spin > 400000000u) {
				puts_(fail);
				power_off();
			}
}

/* Wait until every reader has swept its inflate pages twice since now: one
 * whole sweep lies between the last flush and the next one. */
static void wait_for_sweeps(void)
{
	uint64_t seen[NCPU_MAX];

	readers_snapshot(sweeps, seen);
	readers_wait_two(sweeps, seen, "VERDICT: FAIL (a reader stopped sweeping)\n");
}

/*
 * Retarget window pages [first, first + n) (no wrap): the reclaim sequence.
 * Clear each PTE and queue its invalidation; complete the batch once; only
 * then may the old frames be reused (here: poisoned) and new ones mapped.
 */
static void retarget_global(unsigned first, unsigned n, enum mode mode);
static void reuse_asid(void);

static void retarget(unsigned first, unsigned n, enum mode mode)
{
	uint64_t old[WIN_PAGES];

	if (mode == MODE_REUSE_ASID) {
		(void)first;
		(void)n;
		reuse_asid();
		return;
	}
	if (mode >= MODE_GLOBAL_SPACE_ADD) {
		retarget_global(first, n, mode);
		return;
	}
	for (unsigned k = 0; k < n; k++) {
		unsigned i = first + k;
		uintptr_t va = WIN_VA + i * PAGE;

		old[k] = l3_win[i] & PTE_ADDR_MASK;
		l3_win[i] = 0; /* under the (here implicit) PTL */
#ifndef NEGATIVE_CONTROL
		if (mode == MODE_PAGE_ADDS)
			tlbb_add_page(&batch, &space, va, TLBB_ADD_LEAF_ONLY | TLBB_ADD_WRITABLE);
		else if (mode == MODE_PER_PAGE_FLUSH) /* unbatched, like ptep_clear_flush() */
			tlbb_flush_range_sync(&space, va, va + PAGE, TLBB_ADD_LEAF_ONLY);
#else
		(void)va;
		(void)mode;
#endif
	}
#ifndef NEGATIVE_CONTROL
#ifdef RANGE_SHIFT_CONTROL
	/* Sensitivity control: the range starts one page late, so page `first`
	 * is never invalidated. Must be seen as stale, or the range phase could
	 * not tell a right range from a wrong one. */
	if (mode == MODE_RANGE_ADD)
		tlbb_add_range(&batch, &space, WIN_VA + (first + 1) * PAGE,
			       WIN_VA + (first + n + 1) * PAGE, TLBB_ADD_LEAF_ONLY | TLBB_ADD_WRITABLE);
#else
	if (mode == MODE_RANGE_ADD)
		tlbb_add_range(&batch, &space, WIN_VA + first * PAGE, WIN_VA + (first + n) * PAGE,
			       TLBB_ADD_LEAF_ONLY | TLBB_ADD_WRITABLE);
#endif
	tlbb_flush(&batch); /* no-op in per-page mode: nothing was batched */
#endif
	/* From here on no CPU may still reach the old frames: poison them. */
	for (unsigned k = 0; k < n; k++) {
		fill(old[k], POISON);
		free_push(old[k]);
	}
	for (unsigned k = 0; k < n; k++)
		install(&win, first + k);
	/* New PTEs visible to the readers' walkers (invalid entries are never
	 * cached, so no TLBI is needed for a make). */
	__asm__ volatile("dsb ishst" ::: "memory");
}

/*
 * The same reclaim sequence on the global window. Each mode must end in one
 * TLBI VMALLE1IS completed by DSB ISH (+ ISB): the window's entries are
 * global, so nothing tagged with an ASID would do. The caller checks the
 * count (tlbi_asid) per phase; the readers check that it worked.
 */
static void retarget_global(unsigned first, unsigned n, enum mode mode)
{
	const struct window *w = &gwin;
	const uintptr_t start = w->va + first * PAGE, end = start + n * PAGE;
	uint64_t old[WIN_PAGES];

	for (unsigned k = 0; k < n; k++) {
		old[k] = w->l3[first + k] & PTE_ADDR_MASK;
		w->l3[first + k] = 0; /* under the (here implicit) PTL */
	}
#if !defined(NEGATIVE_CONTROL) && !defined(GLOBAL_SKIP_FLUSH)
	if (mode == MODE_GLOBAL_SPACE_ADD) {
		tlbb_add_space(&batch, w->space, TLBB_ADD_WRITABLE);
		tlbb_flush(&batch);
	} else if (mode == MODE_GLOBAL_RANGE_OVER_THRESHOLD) {
		/* n > GLOBAL_THRESHOLD pages: queued as the whole space */
		tlbb_add_range(&batch, w->space, start, end, TLBB_ADD_LEAF_ONLY | TLBB_ADD_WRITABLE);
		tlbb_flush(&batch);
	} else {
		/* the unbatched path (flush_tlb_kernel_range), same ceiling */
		tlbb_flush_range_sync(w->space, start, end, TLBB_ADD_LEAF_ONLY);
	}
#else
	(void)start;
	(void)end;
	(void)mode;
#endif
	/* From here on no CPU may still reach the old frames: poison them. */
	for (unsigned k = 0; k < n; k++) {
		fill(old[k], POISON);
		free_push(old[k]);
	}
	for (unsigned k = 0; k < n; k++)
		install(w, first + k);
	__asm__ volatile("dsb ishst" ::: "memory");
}

/*
 * One space lifetime ends, the next begins with the same ASID. The readers
 * are paused first (fini's precondition: no CPU runs the space; they keep
 * their TTBR0 and their TLB entries). The dying space's tables are torn
 * down, tlbb_space_fini() releases the ASID, and only then are the old
 * frames reused (poisoned). The new space gets ASID again, the other set
 * of tables and fresh frames; the readers switch to it and each reads the
 * window at least once more before the next switch.
 */
static uint32_t reuse_round;

static void reuse_asid(void)
{
	const struct window *dying = (reuse_round & 1) ? &win_b : &win;
	const struct window *born = (reuse_round & 1) ? &win : &win_b;
	const uint64_t *root = (reuse_round & 1) ? l1 : l1_b;
	const uint32_t n = ++reuse_round;
	uint64_t old[WIN_PAGES], loops[NCPU_MAX];

	__atomic_store_n(&reuse_pause, n, __ATOMIC_RELEASE);
	for (unsigned c = 1; c <= nreaders_started; c++)
		for (unsigned spin = 0; __atomic_load_n(&reuse_paused[c][0], __ATOMIC_ACQUIRE) != n;
		     spin++)
			if (spin > 400000000u) {
				puts_("VERDICT: FAIL (a reader did not pause)\n");
				power_off();
			}
	for (unsigned i = 0; i < WIN_PAGES; i++) {
		old[i] = dying->l3[i] & PTE_ADDR_MASK;
		dying->l3[i] = 0; /* the port frees the dying space's tables */
	}
#if !defined(REUSE_SKIP_FINI) && !defined(NEGATIVE_CONTROL)
	tlbb_space_fini(&space);
#endif
	for (unsigned i = 0; i < WIN_PAGES; i++) {
		fill(old[i], POISON);
		free_push(old[i]);
	}
	tlbb_space_init(&space, &backend, ASID, NULL);
	for (unsigned i = 0; i < WIN_PAGES; i++)
		install(born, i);
	__asm__ volatile("dsb ishst" ::: "memory");
	readers_snapshot(reuse_loops, loops);
	__atomic_store_n(&reuse_ttbr0, (uint64_t)(uintptr_t)root | ((uint64_t)ASID << 48),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&reuse_go, n, __ATOMIC_RELEASE);
	/* Two loop starts after go: one whole pass over the window on the new
	 * root lies in between. */
	readers_wait_two(reuse_loops, loops, "VERDICT: FAIL (a reader stopped after a switch)\n");
}

/*
 * The issuing-CPU rule, live. CPU 0 queues a TLBI in the batch, then the
 * "task" moves: CPU 1 runs tlbb_flush() on the same batch. The port's
 * context switch must have executed tlbb_arm64_context_switch() on CPU 0
 * first; the library (built with TLBB_DEBUG) checks that through
 * tlbb_port_cpu_id(). With -DMIGRATE_WITHOUT_SWITCH the barrier is skipped
 * and the check must stop the image (tlbb_port_debug_fail()).
 */
static void handoff_flush(void)
{
	for (unsigned spin = 0; !__atomic_load_n(&handoff_request, __ATOMIC_ACQUIRE); spin++)
		if (spin > 200000000u)
			return;
	tlbb_flush(&batch);
	__atomic_store_n(&handoff_done, 1, __ATOMIC_RELEASE);
}

static void migrate_and_flush_on_cpu1(void)
{
	uint64_t old = l3_win[0] & PTE_ADDR_MASK;

	l3_win[0] = 0;
	tlbb_add_page(&batch, &space, WIN_VA, TLBB_ADD_LEAF_ONLY);
#ifndef MIGRATE_WITHOUT_SWITCH
	tlbb_arm64_context_switch(&batch); /* the task leaves CPU 0 */
#endif
	__atomic_store_n(&handoff_request, 1, __ATOMIC_RELEASE);
	for (unsigned spin = 0; !__atomic_load_n(&handoff_done, __ATOMIC_ACQUIRE); spin++) {
		if (spin > 200000000u) {
			puts_("VERDICT: FAIL (cpu 1 never flushed the handed-off batch)\n");
			power_off();
		}
	}
	puts_("issuing-cpu rule: batch filled on cpu 0, context switch barrier, flushed on cpu 1: ok\n");
	fill(old, POISON);
	free_push(old);
	install(&win, 0);
}

static void run_phase(uint32_t ph, uint32_t retargets, enum mode mode, unsigned nreaders)
{
	struct tlbb_arm64_stats before = bstats;
	struct reader_stats tot = {0};
	uint32_t done = 0, round = 0;

	__atomic_store_n(&phase, ph, __ATOMIC_RELEASE);
	while (done < retargets) {
		if (inflate_on)
			wait_for_sweeps();
		/* the global phase takes its three paths in turn */
		retarget(0, BATCH_PAGES,
			 mode == MODE_GLOBAL_SPACE_ADD ? (enum mode)(mode + round % NGLOBAL_MODES)
						       : mode);
		done += BATCH_PAGES;
		round++;
	}
	/* Let the readers see the final mappings for a moment. */
	for (volatile unsigned spin = 0; spin < 200000; spin++)
		;
	for (unsigned c = 1; c <= nreaders; c++) {
		const struct reader_stats *r = &rstats[c][ph];
		tot.reads += r->reads;
		tot.ok += r->ok;
		tot.faults += r->faults;
		tot.stale_poison += r->stale_poison;
		tot.stale_wrong_page += r->stale_wrong_page;
		tot.corrupt += r->corrupt;
	}
	puts_("{\"phase\":\"");
	puts_(phase_name[ph]);
	puts_("\",");
	kv("retargets", done, 0);
	kv("batch_pages", mode == MODE_PER_PAGE_FLUSH ? 1 : BATCH_PAGES, 0);
	kv("range_ops", bcfg.range_ops, 0);
	kv("tlbi", bstats.tlbi - before.tlbi, 0);
	kv("tlbi_asid", bstats.tlbi_asid - before.tlbi_asid, 0);
	kv("dsb_ishst", bstats.dsb_ishst - before.dsb_ishst, 0);
	kv("dsb_ish", bstats.dsb_ish - before.dsb_ish, 0);
	kv("isb", bstats.isb - before.isb, 0);
	kv("reads", tot.reads, 0);
	kv("reads_ok", tot.ok, 0);
	kv("faults", tot.faults, 0);
	kv("stale_poison", tot.stale_poison, 0);
	kv("stale_wrong_page", tot.stale_wrong_page, 0);
	kv("corrupt", tot.corrupt, 1);
	puts_("}\n");
}

void kernel_main(void)
{
	unsigned nreaders = 0;
	uint64_t isar0, stale = 0, corrupt = 0, min_ok = UINT64_MAX, retargets;

	puts_("unikernel-arm64: tlbbatch poison test"
#ifdef NEGATIVE_CONTROL
	      " (NEGATIVE CONTROL: no TLB maintenance)"
#endif
#ifdef GLOBAL_SKIP_FLUSH
	      " (NEGATIVE CONTROL: no TLB maintenance in the global phase)"
#endif
#ifdef REUSE_SKIP_FINI
	      " (NEGATIVE CONTROL: ASID reused without tlbb_space_fini())"
#endif
	      "\n");
	build_tables();
	for (unsigned f = 0; f < POOL_FRAMES; f++)
		free_push((uint64_t)(uintptr_t)frames[f]);
	for (unsigned i = 0; i < WIN_PAGES; i++) {
		install(&win, i);
		install(&gwin, i);
	}
	mmu_on();

	/* FEAT_TLBIRANGE: ID_AA64ISAR0_EL1.TLB (bits 59:56) == 0b0010. */
	__asm__ volatile("mrs %0, id_aa64isar0_el1" : "=r"(isar0));
	bcfg.range_ops = ((isar0 >> 56) & 0xf) == 2;
	tlbb_arm64_backend_init(&backend, &bcfg);
	tlbb_space_init(&space, &backend, ASID, NULL);
	/* The kernel's own mappings: id 0 (no ASID), all-ASID TLBI forms. */
	tlbb_space_init(&gspace, &backend, 0, NULL);
	tlbb_space_set_global(&gspace, true);
	tlbb_space_set_threshold(&gspace, GLOBAL_THRESHOLD);
	tlbb_batch_init(&batch);
	puts_("FEAT_TLBIRANGE: ");
	puts_(bcfg.range_ops ? "yes (range ops on)\n" : "no\n");

	for (unsigned c = 1; c < NCPU_MAX; c++) {
		uint64_t stack_top = (uint64_t)(uintptr_t)kstack[c] + STACK_SIZE;
		if (psci(PSCI_CPU_ON, c, (uint64_t)(uintptr_t)secondary_entry, stack_top) == 0)
			nreaders++;
	}
	for (unsigned spin = 0; cpus_online < nreaders && spin < 100000000u; spin++)
		;
	nreaders_started = nreaders;
	puts_("readers online: ");
	putu(cpus_online);
	puts_("\n");
	if (cpus_online == 0 || cpus_online != nreaders) {
		puts_("VERDICT: FAIL (readers did not start)\n");
		power_off();
	}

	run_phase(PH_BATCHED, RETARGETS_BATCHED, MODE_PAGE_ADDS, nreaders);
	inflate_on = bcfg.range_ops;
	run_phase(PH_RANGE, bcfg.range_ops ? RETARGETS_RANGE_OPS : RETARGETS_RANGE, MODE_RANGE_ADD,
		  nreaders);
	inflate_on = 0;
	run_phase(PH_PER_PAGE, RETARGETS_PER_PAGE, MODE_PER_PAGE_FLUSH, nreaders);
	run_phase(PH_GLOBAL, RETARGETS_GLOBAL, MODE_GLOBAL_SPACE_ADD, nreaders);
	run_phase(PH_REUSE, RETARGETS_REUSE, MODE_REUSE_ASID, nreaders);
	__atomic_store_n(&phase, PH_STOP, __ATOMIC_RELEASE);
	for (unsigned spin = 0; readers_done < nreaders && spin < 100000000u; spin++)
		;
	migrate_and_flush_on_cpu1();

	for (unsigned c = 1; c <= nreaders; c++) {
		for (unsigned ph = PH_BATCHED; ph < PH_STOP; ph++) {
			const struct reader_stats *r = &rstats[c][ph];
			stale += r->stale_poison + r->stale_wrong_page;
			corrupt += r->corrupt;
			if (r->ok < min_ok)
				min_ok = r->ok;
		}
	}
	retargets = RETARGETS_BATCHED + (bcfg.range_ops ? RETARGETS_RANGE_OPS : RETARGETS_RANGE) +
		    RETARGETS_PER_PAGE + RETARGETS_GLOBAL + RETARGETS_REUSE;
	puts_("total retargets: ");
	putu(retargets);
	puts_("\nstale reads: ");
	putu(stale);
	puts_("\n");
	if (stale) {
		puts_("first stale value ");
		putx(first_bad_value);
		puts_(" at va ");
		putx(first_bad_va);
		puts_("\n");
	}
	/*
	 * Stale reads decide first: any is a failure of the protocol (or, in
	 * the negative control, the expected proof that the image can fail).
	 * Without any, a reader that never read valid data in some phase proves
	 * nothing: the run only counts if every reader really raced every phase.
	 */
	if (corrupt) {
		puts_("VERDICT: FAIL (corrupt reads)\n");
	} else if (stale) {
		puts_("VERDICT: STALE stale_reads=");
		putu(stale);
		puts_("\n");
	} else if (min_ok == 0) {
		puts_("VERDICT: FAIL (a reader made no valid reads in some phase)\n");
	} else {
		puts_("VERDICT: CLEAN stale_reads=0\n");
	}
	power_off();
}
