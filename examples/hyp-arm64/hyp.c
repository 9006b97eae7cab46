/* SPDX-License-Identifier: MIT */
/*
 * An EL2 hypervisor for qemu-system-aarch64 -M virt,virtualization=on -smp 4
 * that reclaims guest memory with tlbbatch's stage-2 backend (core + arm64
 * stage-2 backend, freestanding build) and checks it with a poison test:
 *
 *   - CPU 0 starts at EL2: its own stage-1 MMU (identity, caches on), the
 *     guest's stage-2 tables (VMID 1, 4 KiB granule, 32-bit IPA): IPA 1-2 GiB
 *     is RAM identity (the guest's code, data, stacks, its own page tables
 *     and the shared page), IPA 0x8000_0000 a window of WIN_PAGES pages whose
 *     stage-2 entries point at frames of a pool;
 *   - CPUs 1-3 are started with PSCI CPU_ON through SMC (the conduit when
 *     QEMU runs the ELF at EL2), set up EL2 (HCR_EL2.VM, VTCR_EL2, VTTBR_EL2)
 *     and ERET into the guest at EL1. The guest turns its own stage-1 MMU on
 *     (VA 0xC000_0000 -> IPA 0x8000_0000 with 4 KiB pages), so its TLBs hold
 *     combined stage 1+2 entries, and reads through the window forever,
 *     reporting what it reads into the shared page;
 *   - CPU 0 is the balloon: it retargets window IPAs to fresh frames in
 *     batches (clear the stage-2 entry, tlbb_add_page(); one tlbb_flush() per
 *     batch; only then poison the old frames and map new ones). CPU 0 keeps
 *     an idle VTTBR_EL2 (VMID 0, an empty table), so the backend switches to
 *     VMID 1 and back for every add and flush, as a hypervisor core that is
 *     not running the guest would.
 *
 * A guest read that returns POISON, another page's data, or an older
 * generation than the hypervisor published for that page after remapping it
 * (shared.min_gen) went through a translation the hypervisor had already
 * invalidated: a stale read, a failure.
 *
 * Phases: "batched" (16-page batches), "range" (one tlbb_add_range() per
 * batch: one TLBI RIPAS2LE1IS with FEAT_TLBIRANGE, -cpu max), "per-ipa" (the unbatched path, one
 * tlbb_flush_range_sync() per page: KVM's per-IPA sequence, for the counts),
 * "race" (a racing changer: between the balloon's adds and its flush, a
 * second hypervisor path on CPU 0 takes the window, runs the race check
 * tlbb_flush_pending(), finds the entries clear, maps fresh frames and
 * publishes their generation; the balloon flushes only afterwards).
 *
 * "overflow": each batch also holds a page of three other guests (VMIDs 2-4):
 * four VMIDs, one more than a batch remembers, so the flush is one TLBI
 * ALLE1IS.
 *
 * Negative controls (build flags; each must see stale reads):
 *   CONTROL_NO_VMALLE1IS  the batch flush completes the IPA invalidations
 *                         (DSB ISH) but never issues TLBI VMALLE1IS: the
 *                         image's backend table replaces the flush hook
 *   CONTROL_NO_FLUSH      the balloon never calls tlbb_flush()
 *   CONTROL_NO_RACE_CHECK the changer skips tlbb_flush_pending()
 *
 * Port hooks: tlbb_port_cpu_id() (MPIDR Aff0), tlbb_port_debug_fail(); the
 * library is built with debug checks.
 */
#include <tlbbatch/arm64_s2.h>
#include <tlbbatch/port.h>

#define NCPU_MAX 4
#define STACK_SIZE 16384 /* start.S: kstack + 16 KiB per CPU */
#define PAGE 4096u
#define WIN_IPA 0x80000000u
#define GUEST_WIN_VA 0xC0000000u
#define WIN_PAGES 16u
#define POOL_FRAMES 128u
#define VMID 1u
#define BATCH_PAGES WIN_PAGES

#ifndef RETARGETS_BATCHED
#define RETARGETS_BATCHED 100000u
#endif
#ifndef RETARGETS_PER_IPA
#define RETARGETS_PER_IPA 4000u
#endif
#ifndef RETARGETS_RANGE
#define RETARGETS_RANGE 4000u
#endif
#ifndef RETARGETS_RACE
#define RETARGETS_RACE 4000u
#endif
#ifndef RETARGETS_OVERFLOW
#define RETARGETS_OVERFLOW 1600u
#endif

#define POISON UINT64_C(0xdeaddeaddeaddead)
#define PROBE_FAULT UINT64_C(0xfa1700000000fa17) /* start.S: movz/movk */
#define LIVE_TAG UINT64_C(0x1111)

#define A64_PSCI_CONDUIT "smc #0" /* PSCI from EL2 */
#include "../unikernel-arm64/machine.h"

void fatal_exception(uint64_t esr, uint64_t elr, uint64_t far, uint64_t hpfar);
void fatal_exception(uint64_t esr, uint64_t elr, uint64_t far, uint64_t hpfar)
{
	puts_("\nunexpected exception at EL2 on cpu ");
	putu(this_cpu());
	puts_(" esr=");
	putx(esr);
	puts_(" elr=");
	putx(elr);
	puts_(" far=");
	putx(far);
	puts_(" hpfar=");
	putx(hpfar);
	puts_("\nVERDICT: FAIL (exception)\n");
	power_off();
}

/* ---- page tables ------------------------------------------------------------------------ */

#define DESC_VALID 1u
#define DESC_TABLE 3u /* table (levels 0-2) or page (level 3) */
#define DESC_BLOCK 1u
#define DESC_AF (UINT64_C(1) << 10)
#define DESC_SH_INNER (UINT64_C(3) << 8)
#define DESC_ADDR_MASK UINT64_C(0x0000fffffffff000)
/* stage 1 (EL2 and the guest's EL1): AttrIndx into MAIR: 0 device, 1 normal WB */
#define S1_ATTR(i) ((uint64_t)(i) << 2)
#define S1_PXN (UINT64_C(1) << 53)
#define S1_UXN (UINT64_C(1) << 54)
/* stage 2: MemAttr[5:2] (0b0000 Device-nGnRnE, 0b1111 Normal WB), S2AP[7:6] RW */
#define S2_MEMATTR_DEVICE (UINT64_C(0x0) << 2)
#define S2_MEMATTR_NORMAL (UINT64_C(0xf) << 2)
#define S2_S2AP_RW (UINT64_C(3) << 6)

/* EL2's own identity map */
static uint64_t hyp_l1[512] __attribute__((aligned(4096)));
/* the guest's stage 2 (VMID 1), and CPU 0's idle stage 2 (VMID 0, empty) */
static uint64_t s2_l1[512] __attribute__((aligned(4096)));
static uint64_t s2_l2_win[512] __attribute__((aligned(4096)));
static volatile uint64_t s2_l3_win[512] __attribute__((aligned(4096)));
static uint64_t s2_idle_l1[512] __attribute__((aligned(4096)));
/* the guest's stage 1 (in guest memory: IPA = PA for RAM) */
static uint64_t g_l1[512] __attribute__((aligned(4096)));
static uint64_t g_l2[512] __attribute__((aligned(4096)));
static uint64_t g_l3[512] __attribute__((aligned(4096)));

static uint64_t frames[POOL_FRAMES][PAGE / 8] __attribute__((aligned(4096)));

static void build_tables(void)
{
	/* EL2: 0-1 GiB devices, 1-2 GiB RAM */
	hyp_l1[0] = 0x00000000u | DESC_BLOCK | S1_ATTR(0) | DESC_AF | S1_PXN;
	hyp_l1[1] = 0x40000000u | DESC_BLOCK | S1_ATTR(1) | DESC_SH_INNER | DESC_AF;
	/* stage 2: IPA 0-1 GiB devices, 1-2 GiB RAM identity, 2-3 GiB the window */
	s2_l1[0] = 0x00000000u | DESC_BLOCK | S2_MEMATTR_DEVICE | S2_S2AP_RW | DESC_AF;
	s2_l1[1] = 0x40000000u | DESC_BLOCK | S2_MEMATTR_NORMAL | S2_S2AP_RW | DESC_SH_INNER |
		   DESC_AF;
	s2_l1[2] = (uint64_t)(uintptr_t)s2_l2_win | DESC_TABLE;
	s2_l2_win[0] = (uint64_t)(uintptr_t)s2_l3_win | DESC_TABLE;
	/* guest stage 1: VA 0-1 GiB devices, 1-2 GiB RAM, 3-4 GiB -> IPA window */
	g_l1[0] = 0x00000000u | DESC_BLOCK | S1_ATTR(0) | DESC_AF | S1_PXN | S1_UXN;
	g_l1[1] = 0x40000000u | DESC_BLOCK | S1_ATTR(1) | DESC_SH_INNER | DESC_AF;
	g_l1[3] = (uint64_t)(uintptr_t)g_l2 | DESC_TABLE;
	g_l2[0] = (uint64_t)(uintptr_t)g_l3 | DESC_TABLE;
	for (unsigned i = 0; i < WIN_PAGES; i++)
		g_l3[i] = (WIN_IPA + i * PAGE) | DESC_TABLE | S1_ATTR(1) | DESC_SH_INNER | DESC_AF |
			  S1_PXN | S1_UXN;
}

static uint64_t s2_page(uint64_t pa)
{
	return pa | DESC_TABLE | S2_MEMATTR_NORMAL | S2_S2AP_RW | DESC_SH_INNER | DESC_AF;
}

/* MAIR attr0 = Device-nGnRnE, attr1 = Normal WB; T0SZ = 32, 4K granule,
 * WBWA inner shareable walks, 32-bit PA. */
#define MAIR_VALUE (UINT64_C(0xff) << 8)
#define TCR_T0_4G (32u | (1u << 8) | (1u << 10) | (3u << 12))

static void el2_mmu_on(void)
{
	/* TCR_EL2 bits 31 and 23 are RES1 (non-VHE). */
	const uint64_t tcr = TCR_T0_4G | (1u << 23) | (1u << 31);
	uint64_t sctlr;

	__asm__ volatile("msr mair_el2, %0\n"
			 "msr tcr_el2, %1\n"
			 "msr ttbr0_el2, %2\n"
			 "isb\n"
			 "tlbi alle2\n"
			 "dsb nsh\n"
			 "isb" ::"r"(MAIR_VALUE), "r"(tcr), "r"((uint64_t)(uintptr_t)hyp_l1)
			 : "memory");
	__asm__ volatile("mrs %0, sctlr_el2" : "=r"(sctlr));
	sctlr |= (1u << 0) | (1u << 2) | (1u << 12); /* M, C, I */
	sctlr &= ~(uint64_t)((1u << 1) | (1u << 19)); /* no alignment check, no WXN */
	__asm__ volatile("msr sctlr_el2, %0\nisb" ::"r"(sctlr) : "memory");
}

/* Stage 2 for EL1&0: HCR_EL2.VM (stage 2 on) and RW (EL1 is AArch64); TGE
 * and E2H stay 0 (the backend's EL1 TLBIs then act on the guest regime). */
static void el2_stage2_on(uint64_t vttbr)
{
	const uint64_t hcr = (UINT64_C(1) << 31) | 1u;
	/* VTCR_EL2: T0SZ 32 (4 GiB IPA), SL0 = 1 (start at level 1), WBWA inner
	 * shareable walks, 4K, PS 32-bit, 8-bit VMID; bit 31 RES1. */
	const uint64_t vtcr = 32u | (1u << 6) | (1u << 8) | (1u << 10) | (3u << 12) | (1u << 31);

	__asm__ volatile("msr vtcr_el2, %0\n"
			 "msr vttbr_el2, %1\n"
			 "msr hcr_el2, %2\n"
			 "isb\n"
			 "tlbi alle1\n"
			 "dsb nsh\n"
			 "isb" ::"r"(vtcr), "r"(vttbr), "r"(hcr)
			 : "memory");
}

/* ---- the shared page: the hypervisor's control and the guests' reports -------------- */

enum { PH_WARMUP, PH_BATCHED, PH_RANGE, PH_PER_IPA, PH_RACE, PH_OVERFLOW, PH_STOP,
       NPHASE = PH_STOP };
static const char *const phase_name[NPHASE] = {"warmup", "batched", "range", "per-ipa", "race",
					       "overflow"};

struct reader_stats {
	uint64_t reads, ok, faults, stale_poison, stale_wrong_page, stale_old_gen, corrupt;
} __attribute__((aligned(64)));

/* Everything guests and hypervisor exchange. The guests reach it through
 * their own stage 1 and stage 2 (both identity for RAM). */
struct shared {
	volatile uint32_t phase;
	volatile uint32_t guests_online;
	volatile uint32_t guests_done;
	uint32_t unused;
	uint64_t min_gen[WIN_PAGES]; /* a read of page i older than this is stale */
	uint64_t first_bad_value, first_bad_va;
	uint64_t passes[NCPU_MAX][8]; /* [cpu][0]: full window passes, a line each */
	struct reader_stats rstats[NCPU_MAX][NPHASE];
};
static struct shared shared __attribute__((aligned(4096)));

uint8_t kstack[NCPU_MAX][STACK_SIZE] __attribute__((aligned(16)));
static uint8_t gstack[NCPU_MAX][STACK_SIZE] __attribute__((aligned(16)));

uint64_t probe_read(const volatile uint64_t *p);
void enter_guest(uint64_t entry, uint64_t sp_el1, uint64_t arg);
void secondary_entry(void);
void hyp_main(void);
void hyp_secondary(void);
void guest_main(uint64_t cpu);

static uint64_t live_word(unsigned page, uint32_t gen)
{
	return (LIVE_TAG << 48) | ((uint64_t)page << 32) | gen;
}

/* ---- the guest (EL1, CPUs 1..3) ----------------------------------------------------------- */

static void guest_mmu_on(void)
{
	/* EPD1: no TTBR1 walks. */
	const uint64_t tcr = TCR_T0_4G | (1u << 23);
	uint64_t sctlr;

	__asm__ volatile("msr mair_el1, %0\n"
			 "msr tcr_el1, %1\n"
			 "msr ttbr0_el1, %2\n"
			 "isb\n"
			 "tlbi vmalle1\n"
			 "dsb nsh\n"
			 "isb" ::"r"(MAIR_VALUE), "r"(tcr), "r"((uint64_t)(uintptr_t)g_l1)
			 : "memory");
	__asm__ volatile("mrs %0, sctlr_el1" : "=r"(sctlr));
	sctlr |= (1u << 0) | (1u << 2) | (1u << 12); /* M, C, I */
	sctlr &= ~(uint64_t)((1u << 1) | (1u << 19));
	__asm__ volatile("msr sctlr_el1, %0\nisb" ::"r"(sctlr) : "memory");
}

static void guest_check(struct reader_stats *st, unsigned i, uintptr_t va, uint64_t v,
			uint64_t min_gen)
{
	st->reads++;
	if (v == PROBE_FAULT) {
		st->faults++; /* stage-2 entry clear, new one not yet installed */
		return;
	}
	if ((v >> 48) == LIVE_TAG && ((v >> 32) & 0xffff) == i) {
		if ((v & 0xffffffffu) >= min_gen) {
			st->ok++;
			return;
		}
		st->stale_old_gen++; /* a frame the hypervisor had already replaced */
	} else if (v == POISON) {
		st->stale_poison++;
	} else if ((v >> 48) == LIVE_TAG) {
		st->stale_wrong_page++; /* frame already reused for another page */
	} else {
		st->corrupt++;
	}
	if (!shared.first_bad_va) {
		shared.first_bad_value = v;
		shared.first_bad_va = va;
	}
}

void guest_main(uint64_t cpu)
{
	uint64_t iter = 0;

	guest_mmu_on();
	__atomic_fetch_add(&shared.guests_online, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		uint32_t ph = __atomic_load_n(&shared.phase, __ATOMIC_ACQUIRE);
		struct reader_stats *st;

		if (ph >= PH_STOP)
			break;
		st = &shared.rstats[cpu][ph];
		for (unsigned i = 0; i < WIN_PAGES; i++) {
			/* a different word each time: the whole page must be poisoned */
			uintptr_t va = GUEST_WIN_VA + i * PAGE + (((iter * 7 + i) * 8) & (PAGE - 8));
			/* Acquire: a read issued after seeing the published generation
			 * must not go through a translation older than it. */
			uint64_t m = __atomic_load_n(&shared.min_gen[i], __ATOMIC_ACQUIRE);

			guest_check(st, i, va, probe_read((const volatile uint64_t *)va), m);
		}
		__atomic_fetch_add(&shared.passes[cpu][0], 1, __ATOMIC_RELEASE);
		iter++;
	}
	__atomic_fetch_add(&shared.guests_done, 1, __ATOMIC_SEQ_CST);
	for (;;)
		__asm__ volatile("wfe");
}

/* ---- the hypervisor: secondaries ---------------------------------------------------------- */

static struct tlbb_arm64_s2_stats bstats;
static struct tlbb_arm64_s2_config bcfg = {.stats = &bstats};
static struct tlbb_backend backend;
static struct tlbb_space vm;
/* Three more guests (VMIDs 2-4, empty stage-2 tables) whose balloon pages
 * share the overflow phase's batches: four VMIDs, one more than a batch
 * holds, so those flushes take the TLBI ALLE1IS path. */
static struct tlbb_space other_vm[3];
static struct tlbb_batch batch;
static volatile uint64_t guest_vttbr;

void hyp_secondary(void)
{
	const unsigned cpu = this_cpu();

	el2_mmu_on();
	el2_stage2_on(__atomic_load_n(&guest_vttbr, __ATOMIC_ACQUIRE));
	enter_guest((uint64_t)(uintptr_t)guest_main, (uint64_t)(uintptr_t)gstack[cpu] + STACK_SIZE,
		    cpu);
}

/* ---- the hypervisor: CPU 0, the balloon ------------------------------------------------------ */

#ifdef CONTROL_NO_VMALLE1IS
/*
 * The negative control's flush: complete the batch's IPA invalidations
 * (DSB ISH) and stop, as if combined stage 1+2 entries did not exist. The
 * adds are still the library's. Guests keep their combined entries to the
 * old frames and must read poison.
 */
static void flush_without_vmalle1is(const struct tlbb_backend *be, struct tlbb_batch *b)
{
	(void)be;
	(void)b;
	__asm__ volatile("dsb ish\nisb" ::: "memory");
	bstats.insn.dsb_ish++;
	bstats.insn.isb++;
}
#endif

static uint64_t free_ring[POOL_FRAMES];
static unsigned free_head, free_count;
static uint32_t generation;
static unsigned nguests;

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

/* Map a fresh frame at window page @i (a make: invalid -> valid needs no
 * TLBI) and publish its generation once the entry is visible to walks. */
static void install(unsigned i)
{
	uint64_t pa = free_pop();
	uint32_t gen = ++generation;

	fill(pa, live_word(i, gen));
	__asm__ volatile("dmb ishst" ::: "memory"); /* contents before the entry */
	s2_l3_win[i] = s2_page(pa);
	__asm__ volatile("dsb ishst" ::: "memory"); /* the entry before the news */
	__atomic_store_n(&shared.min_gen[i], gen, __ATOMIC_RELEASE);
}

static void guests_snapshot(uint64_t *seen)
{
	for (unsigned c = 1; c <= nguests; c++)
		seen[c] = __atomic_load_n(&shared.passes[c][0], __ATOMIC_ACQUIRE);
}

/* Every guest has made two passes since @seen: one whole pass over the
 * window lies in between. */
static void guests_wait_two(const uint64_t *seen)
{
	for (unsigned c = 1; c <= nguests; c++)
		for (unsigned spin = 0;
		     __atomic_load_n(&shared.passes[c][0], __ATOMIC_ACQUIRE) < seen[c] + 2; spin++)
			if (spin > 400000000u) {
				puts_("VERDICT: FAIL (a guest stopped reading)\n");
				power_off();
			}
}

enum mode { MODE_BATCHED, MODE_RANGE, MODE_PER_IPA, MODE_RACE, MODE_OVERFLOW };

/*
 * Retarget all window pages: the balloon's reclaim sequence. Clear each
 * stage-2 entry and queue its invalidation; complete the batch once; only
 * then may the old frames be reused (poisoned) and new ones mapped.
 */
static void retarget_window(enum mode mode)
{
	uint64_t old[WIN_PAGES], seen[NCPU_MAX];

	for (unsigned i = 0; i < WIN_PAGES; i++) {
		const uint64_t ipa = WIN_IPA + i * PAGE;

		old[i] = s2_l3_win[i] & DESC_ADDR_MASK;
		s2_l3_win[i] = 0; /* under the (here implicit) stage-2 lock */
		if (mode == MODE_PER_IPA) /* unbatched: KVM's per-IPA sequence */
			tlbb_flush_range_sync(&vm, ipa, ipa + PAGE, TLBB_ADD_LEAF_ONLY);
		else if (mode != MODE_RANGE)
			tlbb_add_page(&batch, &vm, ipa, TLBB_ADD_LEAF_ONLY | TLBB_ADD_WRITABLE);
	}
	/* One add for the window: RIPAS2LE1IS with FEAT_TLBIRANGE, else one
	 * IPAS2LE1IS per page. */
	if (mode == MODE_RANGE)
		tlbb_add_range(&batch, &vm, WIN_IPA, WIN_IPA + WIN_PAGES * PAGE,
			       TLBB_ADD_LEAF_ONLY | TLBB_ADD_WRITABLE);
	if (mode == MODE_OVERFLOW)
		for (unsigned g = 0; g < 3; g++)
			tlbb_add_page(&batch, &other_vm[g], WIN_IPA, TLBB_ADD_LEAF_ONLY);
	if (mode == MODE_RACE) {
		/*
		 * The racing changer: another hypervisor path (here on CPU 0,
		 * between the balloon's adds and its flush) takes the window's
		 * lock, runs the race check BEFORE looking at the entries, finds
		 * them clear, maps fresh frames and tells the guest. Without the
		 * race check the guests' combined entries to the old frames are
		 * still alive: they read the old generation after the news.
		 */
#ifndef CONTROL_NO_RACE_CHECK
		tlbb_flush_pending(&vm);
#endif
		for (unsigned i = 0; i < WIN_PAGES; i++)
			if (!(s2_l3_win[i] & DESC_VALID))
				install(i);
		guests_snapshot(seen);
		guests_wait_two(seen);
	}
#ifndef CONTROL_NO_FLUSH
	tlbb_flush(&batch); /* nothing batched in per-IPA mode: a no-op there */
#endif
	/* From here on no CPU may still reach the old frames: poison them. */
	for (unsigned i = 0; i < WIN_PAGES; i++) {
		fill(old[i], POISON);
		free_push(old[i]);
	}
	if (mode != MODE_RACE)
		for (unsigned i = 0; i < WIN_PAGES; i++)
			install(i);
}

static void run_phase(uint32_t ph, uint32_t retargets, enum mode mode)
{
	struct tlbb_arm64_s2_stats before = bstats;
	struct reader_stats tot = {0};
	uint32_t done = 0;

	uint64_t seen[NCPU_MAX];

	__atomic_store_n(&shared.phase, ph, __ATOMIC_RELEASE);
	/* Every guest is reading in this phase before the first retarget and
	 * still reading after the last (with 4 vCPUs on few host CPUs a guest
	 * may otherwise sleep through a short phase, proving nothing). */
	guests_snapshot(seen);
	guests_wait_two(seen);
	while (done < retargets) {
		retarget_window(mode);
		done += BATCH_PAGES;
	}
	guests_snapshot(seen);
	guests_wait_two(seen);
	for (unsigned c = 1; c <= nguests; c++) {
		const struct reader_stats *r = &shared.rstats[c][ph];
		tot.reads += r->reads;
		tot.ok += r->ok;
		tot.faults += r->faults;
		tot.stale_poison += r->stale_poison;
		tot.stale_wrong_page += r->stale_wrong_page;
		tot.stale_old_gen += r->stale_old_gen;
		tot.corrupt += r->corrupt;
	}
	puts_("{\"phase\":\"");
	puts_(phase_name[ph]);
	puts_("\",");
	kv("retargets", done, 0);
	kv("batch_pages", mode == MODE_PER_IPA ? 1 : BATCH_PAGES, 0);
	kv("range_ops", bcfg.range_ops, 0);
	kv("tlbi", bstats.insn.tlbi - before.insn.tlbi, 0);
	kv("tlbi_whole", bstats.insn.tlbi_asid - before.insn.tlbi_asid, 0);
	kv("dsb_ishst", bstats.insn.dsb_ishst - before.insn.dsb_ishst, 0);
	kv("dsb_ish", bstats.insn.dsb_ish - before.insn.dsb_ish, 0);
	kv("isb", bstats.insn.isb - before.insn.isb, 0);
	kv("vttbr_writes", bstats.vttbr_writes - before.vttbr_writes, 0);
	kv("alle1is", bstats.alle1is - before.alle1is, 0);
	kv("reads", tot.reads, 0);
	kv("reads_ok", tot.ok, 0);
	kv("faults", tot.faults, 0);
	kv("stale_poison", tot.stale_poison, 0);
	kv("stale_wrong_page", tot.stale_wrong_page, 0);
	kv("stale_old_gen", tot.stale_old_gen, 0);
	kv("corrupt", tot.corrupt, 1);
	puts_("}\n");
}

/* DSB ISH per retargeted page, in thousandths, from a phase's counters. */
static void print_ratio(const char *what, uint64_t dsb_ish, uint64_t pages)
{
	puts_(what);
	putu(dsb_ish * 1000 / pages / 1000);
	puts_(".");
	putu(dsb_ish * 1000 / pages % 1000 / 100);
	putu(dsb_ish * 1000 / pages % 100 / 10);
	putu(dsb_ish * 1000 / pages % 10);
	puts_(" DSB ISH per page\n");
}

void hyp_main(void)
{
	uint64_t el, isar0, stale = 0, corrupt = 0, min_ok = UINT64_MAX, retargets;
	uint64_t dsb_batched, dsb_per_ipa;
	struct tlbb_arm64_s2_stats mark;

	puts_("hyp-arm64: tlbbatch stage-2 poison test"
#ifdef CONTROL_NO_VMALLE1IS
	      " (NEGATIVE CONTROL: no TLBI VMALLE1IS after the IPA invalidations)"
#endif
#ifdef CONTROL_NO_FLUSH
	      " (NEGATIVE CONTROL: no batch flush)"
#endif
#ifdef CONTROL_NO_RACE_CHECK
	      " (NEGATIVE CONTROL: racing changer without the race check)"
#endif
	      "\n");
	__asm__ volatile("mrs %0, CurrentEL" : "=r"(el));
	puts_("CurrentEL: ");
	putu((el >> 2) & 3);
	puts_("\n");
	if (((el >> 2) & 3) != 2) {
		puts_("VERDICT: FAIL (not started at EL2: run with -M virt,virtualization=on)\n");
		power_off();
	}
	build_tables();
	el2_mmu_on();
	for (unsigned f = 0; f < POOL_FRAMES; f++)
		free_push((uint64_t)(uintptr_t)frames[f]);
	for (unsigned i = 0; i < WIN_PAGES; i++)
		install(i);

	/* FEAT_TLBIRANGE: ID_AA64ISAR0_EL1.TLB (bits 59:56) == 0b0010. */
	__asm__ volatile("mrs %0, id_aa64isar0_el1" : "=r"(isar0));
	bcfg.range_ops = ((isar0 >> 56) & 0xf) == 2;
	tlbb_arm64_s2_backend_init(&backend, &bcfg);
#ifdef CONTROL_NO_VMALLE1IS
	backend.flush = flush_without_vmalle1is;
#endif
	tlbb_arm64_s2_space_init(&vm, &backend, VMID, (uint64_t)(uintptr_t)s2_l1, NULL);
	for (unsigned g = 0; g < 3; g++)
		tlbb_arm64_s2_space_init(&other_vm[g], &backend, (uint16_t)(VMID + 1 + g),
					 (uint64_t)(uintptr_t)s2_idle_l1, NULL);
	tlbb_batch_init(&batch);
	__atomic_store_n(&guest_vttbr, tlbb_arm64_s2_vttbr(&vm), __ATOMIC_RELEASE);
	/* CPU 0 runs no guest: VMID 0 with an empty stage-2 table. */
	el2_stage2_on((uint64_t)(uintptr_t)s2_idle_l1);
	puts_("FEAT_TLBIRANGE: ");
	puts_(bcfg.range_ops ? "yes (range ops on)\n" : "no\n");

	for (unsigned c = 1; c < NCPU_MAX; c++) {
		uint64_t stack_top = (uint64_t)(uintptr_t)kstack[c] + STACK_SIZE;
		if (psci(PSCI_CPU_ON, c, (uint64_t)(uintptr_t)secondary_entry, stack_top) == 0)
			nguests++;
	}
	for (unsigned spin = 0; shared.guests_online < nguests && spin < 100000000u; spin++)
		;
	puts_("guest vCPUs online at EL1: ");
	putu(shared.guests_online);
	puts_("\n");
	if (shared.guests_online == 0 || shared.guests_online != nguests) {
		puts_("VERDICT: FAIL (guests did not start)\n");
		power_off();
	}

	mark = bstats;
	run_phase(PH_BATCHED, RETARGETS_BATCHED, MODE_BATCHED);
	dsb_batched = bstats.insn.dsb_ish - mark.insn.dsb_ish;
	run_phase(PH_RANGE, RETARGETS_RANGE, MODE_RANGE);
	mark = bstats;
	run_phase(PH_PER_IPA, RETARGETS_PER_IPA, MODE_PER_IPA);
	dsb_per_ipa = bstats.insn.dsb_ish - mark.insn.dsb_ish;
	run_phase(PH_RACE, RETARGETS_RACE, MODE_RACE);
	run_phase(PH_OVERFLOW, RETARGETS_OVERFLOW, MODE_OVERFLOW);
	__atomic_store_n(&shared.phase, PH_STOP, __ATOMIC_RELEASE);
	for (unsigned spin = 0; shared.guests_done < nguests && spin < 100000000u; spin++)
		;

	print_ratio("completions batched (16 pages): ", dsb_batched, RETARGETS_BATCHED);
	print_ratio("completions per-IPA (KVM sequence): ", dsb_per_ipa, RETARGETS_PER_IPA);
	for (unsigned c = 1; c <= nguests; c++) {
		for (unsigned ph = PH_BATCHED; ph < PH_STOP; ph++) {
			const struct reader_stats *r = &shared.rstats[c][ph];
			stale += r->stale_poison + r->stale_wrong_page + r->stale_old_gen;
			corrupt += r->corrupt;
			if (r->ok < min_ok)
				min_ok = r->ok;
		}
	}
	retargets = RETARGETS_BATCHED + RETARGETS_RANGE + RETARGETS_PER_IPA + RETARGETS_RACE +
		    RETARGETS_OVERFLOW;
	puts_("total retargets: ");
	putu(retargets);
	puts_("\nstale reads: ");
	putu(stale);
	puts_("\n");
	if (stale) {
		puts_("first stale value ");
		putx(shared.first_bad_value);
		puts_(" at guest va ");
		putx(shared.first_bad_va);
		puts_("\n");
	}
	if (corrupt)
		puts_("VERDICT: FAIL (corrupt reads)\n");
	else if (stale) {
		puts_("VERDICT: STALE stale_reads=");
		putu(stale);
		puts_("\n");
	} else if (min_ok == 0) {
		puts_("VERDICT: FAIL (a guest made no valid reads in some phase)\n");
	} else {
		puts_("VERDICT: CLEAN stale_reads=0\n");
	}
	power_off();
}
