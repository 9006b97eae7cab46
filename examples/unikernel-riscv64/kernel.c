/* SPDX-License-Identifier: MIT */
/*
 * An S-mode image for qemu-system-riscv64 -M virt -smp 4 -bios default
 * (OpenSBI) that uses tlbbatch (core + riscv64 backend on the shared
 * mask/IPI/generation engine) as a kernel would, and checks it with a
 * poison test:
 *
 *   - Sv39 page tables with ASIDs; the kernel's identity map is global (G),
 *     the test window at TEST_VA is not (ASID-tagged), the global window at
 *     GTEST_VA is (G leaf PTEs, a TLBB_SPACE_GLOBAL space);
 *   - the secondaries are started with SBI HSM hart_start; they read both
 *     windows in a loop (halting on the SBI timer between sweeps), forever
 *     checking what they read;
 *   - CPU 0 (the boot hart) retargets window pages to fresh frames: write
 *     the new PTE, tlbb_add_page() it to a batch; one tlbb_flush() per
 *     batch; only then poison the frames the batch left;
 *   - a reader that reads POISON (or another page's data) used a
 *     translation that the flush had already invalidated: a stale read.
 *
 * The same phases run on each remote path, each on its own backend
 * instance and space (ASID): "sbi" (SBI RFENCE remote_sfence_vma_asid),
 * "ipi" (port IPIs: SBI sPI to the harts, the engine's request in their
 * supervisor software interrupt) and, when every hart has Svinval
 * (probed: SFENCE.W.INVAL is an illegal instruction otherwise; QEMU 7.2
 * has it with -cpu rv64,svinval=on), "svinval" (the IPI path whose page
 * loop is SINVAL.VMA between SFENCE.W.INVAL and SFENCE.INVAL.IR):
 *
 *   batched   batches of 8..63 pages (fences per page and whole-ASID fences
 *             both run), now and then the race check;
 *   per_page  one flush per retarget, to count what batching saves;
 *   race      the racing changer: CPU 0 retargets RACE_PAGES pages into a
 *             batch and does NOT flush it; CPU 1, a changer (munmap, zap)
 *             under the page-table lock, calls tlbb_flush_pending() and,
 *             as the contract allows once it returned having flushed,
 *             reuses (poisons) the frames the batch left; the readers read
 *             on; only then does CPU 0 flush its batch;
 *   global    the global window's pages retargeted in batches of a
 *             TLBB_SPACE_GLOBAL space: fences without an ASID.
 *
 * Controls (build.sh variants), each must SEE stale reads where it says:
 *   -DNC_DROP_ROUNDS    the port drops every IPI round (ipi/svinval phases);
 *   -DNC_NO_RACE_CHECK  the changer skips tlbb_flush_pending() (race phases);
 *   a backend mutant    with the remote part deleted (local fences only).
 *
 * Verdict on the UART (ns16550 at 0x10000000); QEMU exits through the
 * SiFive test device (0x100000): 0x5555 = status 0, else status 1.
 */
#include <tlbbatch/port.h>
#include <tlbbatch/riscv64.h>

#include "../common/fmt.h"

#define NCPUS_MAX 4
#define NPAGES 64
#define GPAGES 16
#define NFRAMES 4 /* a left frame stays poisoned for NFRAMES-1 retargets */
#define PAGE 4096u
#define TEST_VA 0x40000000ul  /* root[1] -> l1[0] -> l0_test */
#define GTEST_VA 0x40200000ul /* root[1] -> l1[1] -> l0_glob */
#define POISON 0xdeadbeefu
#define LIVE_TAG 0x600d0000u
#define UART_BASE 0x10000000ul
#define TEST_DEV 0x100000ul
#define READER_PERIOD 1000ul /* timer ticks (10 MHz on virt): 100 us */
#define RACE_PAGES 8

#ifndef RETARGETS
#define RETARGETS 100000ul /* batched, per path */
#endif
#ifndef PER_PAGE
#define PER_PAGE 1000ul
#endif
#ifndef RACE_ROUNDS
#define RACE_ROUNDS 200ul
#endif
#ifndef GLOBAL_RETARGETS
#define GLOBAL_RETARGETS 4000ul
#endif

#define PTE_V 0x1ul
#define PTE_R 0x2ul
#define PTE_W 0x4ul
#define PTE_X 0x8ul
#define PTE_G 0x20ul
#define PTE_A 0x40ul
#define PTE_D 0x80ul
#define SATP_SV39 (8ul << 60)
#define SIE_SSIE 0x2ul
#define SIE_STIE 0x20ul
#define SSTATUS_SIE 0x2ul

#define SBI_EXT_TIME 0x54494d45ul
#define SBI_EXT_IPI 0x735049ul
#define SBI_EXT_HSM 0x48534dul

void kmain(unsigned long hartid);
void ap_main(unsigned long hartid);
void trap(uint64_t cause, uint64_t epc, uint64_t tval);
extern char secondary_entry[];

/* The compiler may call these for struct copies and zeroing; a kernel has them. */
void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);

void *memset(void *d, int c, unsigned long n)
{
	volatile unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	volatile unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

/* ---- CSRs, SBI, UART --------------------------------------------------------- */

#define csr_read(c) ({ uint64_t v_; __asm__ volatile("csrr %0, " #c : "=r"(v_) :: "memory"); v_; })
#define csr_write(c, v) __asm__ volatile("csrw " #c ", %0" :: "r"((uint64_t)(v)) : "memory")
#define csr_set(c, v) __asm__ volatile("csrs " #c ", %0" :: "r"((uint64_t)(v)) : "memory")
#define csr_clear(c, v) __asm__ volatile("csrc " #c ", %0" :: "r"((uint64_t)(v)) : "memory")

struct sbiret {
	long error, value;
};

static struct sbiret sbi_call(unsigned long eid, unsigned long fid, unsigned long a0,
			      unsigned long a1, unsigned long a2)
{
	register unsigned long r0 __asm__("a0") = a0;
	register unsigned long r1 __asm__("a1") = a1;
	register unsigned long r2 __asm__("a2") = a2;
	register unsigned long r6 __asm__("a6") = fid;
	register unsigned long r7 __asm__("a7") = eid;

	__asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r6), "r"(r7) : "memory");
	return (struct sbiret){ (long)r0, (long)r1 };
}

static inline uint64_t rdtime(void)
{
	uint64_t t;

	__asm__ volatile("rdtime %0" : "=r"(t));
	return t;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("nop; nop; nop; nop" ::: "memory");
}

static uint32_t uart_lock;

static void putc_uart(char c)
{
	volatile uint8_t *u = (volatile uint8_t *)UART_BASE;

	while (!(u[5] & 0x20))
		;
	u[0] = (uint8_t)c;
}

static void puts_uart(const char *s)
{
	while (*s) {
		if (*s == '\n')
			putc_uart('\r');
		putc_uart(*s++);
	}
}

static void put_u64(uint64_t v)
{
	char buf[21];

	puts_uart(fmt_u64(buf, v));
}

static void put_hex(uint64_t v)
{
	char buf[19];

	puts_uart(fmt_hex(buf, v));
}

static void kv(const char *k, uint64_t v, bool last)
{
	puts_uart("\"");
	puts_uart(k);
	puts_uart("\":");
	put_u64(v);
	if (!last)
		puts_uart(",");
}

static __attribute__((noreturn)) void finish(bool pass)
{
	puts_uart(pass ? "VERDICT: PASS\n" : "VERDICT: FAIL\n");
	*(volatile uint32_t *)TEST_DEV = pass ? 0x5555u : ((1u << 16) | 0x3333u);
	for (;;)
		__asm__ volatile("wfi");
}

/* ---- CPUs ---------------------------------------------------------------------- */

static unsigned ncpus = 1;
static uint32_t hartid_of[NCPUS_MAX];
static volatile unsigned online;
static uint8_t ap_stacks[NCPUS_MAX][16384] __attribute__((aligned(16)));

/* tp holds the CPU number (set at entry; nothing else uses tp here). */
unsigned tlbb_port_cpu_id(void)
{
	unsigned long tp;

	__asm__ volatile("mv %0, tp" : "=r"(tp));
	return (unsigned)tp;
}

void tlbb_port_debug_fail(const char *what)
{
	puts_uart("tlbbatch debug check failed: ");
	puts_uart(what);
	puts_uart("\n");
	finish(false);
}

/* ---- the IPI round (port hook) ----------------------------------------------- */

static uint32_t ipi_lock;
static void (*volatile ipi_fn)(void *);
static void *volatile ipi_arg;
static uint32_t ipi_remaining;
static volatile unsigned ipi_sender;
static uint32_t ipi_pending[NCPUS_MAX];
static uint64_t ipi_rounds, ipis_sent, ipi_rounds_dropped;

static void send_ipi_cpus(uint64_t cpubits)
{
	unsigned long mask = 0;

	/* hart IDs on virt are 0..3: one window of the SBI hart mask */
	for (unsigned c = 0; c < ncpus; c++)
		if (cpubits & (1ull << c))
			mask |= 1ul << hartid_of[c];
	sbi_call(SBI_EXT_IPI, 0, mask, 0, 0);
}

void tlbb_port_ipi_send_and_wait(const tlbb_cpumask_t *targets, void (*fn)(void *), void *arg)
{
	unsigned self = tlbb_port_cpu_id(), n = 0;
	uint64_t to = 0;

#ifdef NC_DROP_ROUNDS
	(void)targets, (void)fn, (void)arg, (void)self, (void)n, (void)to, (void)ipi_lock;
	__atomic_fetch_add(&ipi_rounds_dropped, 1, __ATOMIC_RELAXED);
	return;
#else
	while (__atomic_exchange_n(&ipi_lock, 1, __ATOMIC_ACQUIRE))
		cpu_relax(); /* interrupts on: the holder's round reaches us */
	ipi_fn = fn;
	ipi_arg = arg;
	ipi_sender = self;
	for (unsigned c = 0; c < ncpus; c++)
		if (c != self && (!targets || tlbb_cpumask_test(targets, c))) {
			to |= 1ull << c;
			n++;
		}
	/*
	 * The count before any target's flag: a target may take a stray
	 * software interrupt (a late done notification of an earlier round)
	 * and run its part as soon as its flag is up, before our SBI IPI.
	 * The flags' release stores publish fn, arg and the count.
	 */
	__atomic_store_n(&ipi_remaining, n, __ATOMIC_SEQ_CST);
	for (unsigned c = 0; c < ncpus; c++)
		if (to & (1ull << c))
			__atomic_store_n(&ipi_pending[c], 1, __ATOMIC_RELEASE);
	if (n)
		send_ipi_cpus(to);
	/*
	 * Wait with wfi, not a spin: four vCPUs share two host cores. SIE off
	 * around the check, so the done IPI cannot slip in between the check
	 * and the wfi (a pending SSIP ends wfi even with SIE clear).
	 */
	for (;;) {
		csr_clear(sstatus, SSTATUS_SIE);
		if (!__atomic_load_n(&ipi_remaining, __ATOMIC_ACQUIRE))
			break;
		__asm__ volatile("wfi" ::: "memory");
		csr_set(sstatus, SSTATUS_SIE);
	}
	csr_set(sstatus, SSTATUS_SIE);
	ipi_rounds++;
	ipis_sent += n;
	__atomic_store_n(&ipi_lock, 0, __ATOMIC_RELEASE);
#endif
}

static void handle_ipi(void)
{
	unsigned self = tlbb_port_cpu_id();

	if (!__atomic_exchange_n(&ipi_pending[self], 0, __ATOMIC_ACQUIRE))
		return; /* the done notification, or a timer-less wake-up */
	ipi_fn(ipi_arg);
	if (__atomic_sub_fetch(&ipi_remaining, 1, __ATOMIC_ACQ_REL) == 0)
		send_ipi_cpus(1ull << ipi_sender);
}

/* ---- traps ------------------------------------------------------------------------ */

static volatile bool probing, probe_trapped;

void trap(uint64_t cause, uint64_t epc, uint64_t tval)
{
	if (cause >> 63) {
		switch (cause & 0xff) {
		case 1: /* supervisor software interrupt: an IPI */
			csr_clear(sip, SIE_SSIE);
			handle_ipi();
			return;
		case 5: /* supervisor timer: a reader's wake-up; disarm */
			sbi_call(SBI_EXT_TIME, 0, ~0ul, 0, 0);
			return;
		}
	}
	if (cause == 2 && probing) { /* illegal instruction under the Svinval probe */
		probe_trapped = true;
		csr_write(sepc, epc + 4);
		return;
	}
	while (__atomic_exchange_n(&uart_lock, 1, __ATOMIC_ACQUIRE))
		;
	puts_uart("EXCEPTION scause ");
	put_hex(cause);
	puts_uart(" sepc ");
	put_hex(epc);
	puts_uart(" stval ");
	put_hex(tval);
	puts_uart(" cpu ");
	put_u64(tlbb_port_cpu_id());
	puts_uart("\n");
	finish(false);
}

/* ---- page tables ------------------------------------------------------------------ */

static uint64_t root[512] __attribute__((aligned(4096)));
static uint64_t l1[512] __attribute__((aligned(4096)));
static uint64_t l0_test[512] __attribute__((aligned(4096)));
static uint64_t l0_glob[512] __attribute__((aligned(4096)));
static uint32_t frames[NPAGES][NFRAMES][PAGE / 4] __attribute__((aligned(4096)));
static uint32_t gframes[GPAGES][NFRAMES][PAGE / 4] __attribute__((aligned(4096)));
static unsigned cur_frame[NPAGES], gcur_frame[GPAGES];

static uint64_t pte(uint64_t pa, uint64_t flags)
{
	return ((pa >> 12) << 10) | flags;
}

static uint32_t live_tag(unsigned page, unsigned f)
{
	return LIVE_TAG | (page << 4) | f;
}

static void tables_init(void)
{
	/* Kernel identity map: MMIO gigapage 0 and RAM gigapage 2, global. */
	root[0] = pte(0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D | PTE_G);
	root[1] = pte((uint64_t)(uintptr_t)l1, PTE_V);
	root[2] = pte(0x80000000ul, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D | PTE_G);
	l1[0] = pte((uint64_t)(uintptr_t)l0_test, PTE_V);
	l1[1] = pte((uint64_t)(uintptr_t)l0_glob, PTE_V);
	for (unsigned p = 0; p < NPAGES; p++) {
		for (unsigned f = 0; f < NFRAMES; f++)
			frames[p][f][0] = POISON;
		frames[p][0][0] = live_tag(p, 0);
		l0_test[p] = pte((uint64_t)(uintptr_t)frames[p][0], PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
	}
	for (unsigned p = 0; p < GPAGES; p++) {
		for (unsigned f = 0; f < NFRAMES; f++)
			gframes[p][f][0] = POISON;
		gframes[p][0][0] = live_tag(0x800 | p, 0);
		l0_glob[p] = pte((uint64_t)(uintptr_t)gframes[p][0],
				 PTE_V | PTE_R | PTE_W | PTE_A | PTE_D | PTE_G);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* ---- the backends: one instance per remote path ------------------------------------ */

enum { P_SBI, P_IPI, P_SVINVAL, NPATHS };
static const char *const path_name[NPATHS] = { "sbi", "ipi", "svinval" };

struct path {
	struct tlbb_riscv rv;
	struct tlbb_mg_cpu percpu[NCPUS_MAX];
	struct tlbb_space space, gspace;
	tlbb_cpumask_t mask, gmask;
	bool ok;
};
static struct path paths[NPATHS];
static bool have_svinval;
static unsigned asid_bits;

/* The readers' current path; CPU 0 asks, each reader switches and acks. */
static volatile int want_path = -1;
static unsigned switched[NCPUS_MAX];

static void switch_to(int p)
{
	uint64_t s = csr_read(sstatus);

	csr_clear(sstatus, SSTATUS_SIE);
	tlbb_riscv_switch_space(&paths[p].rv, &paths[p].space, (uint64_t)(uintptr_t)root);
	/* Nothing switches to a global space: this hart may cache it now. */
	tlbb_space_cpu_enter(&paths[p].gspace, tlbb_port_cpu_id());
	if (s & SSTATUS_SIE)
		csr_set(sstatus, SSTATUS_SIE);
}

/* ---- readers ------------------------------------------------------------------------ */

struct rstats {
	uint64_t reads, stale, torn, sweeps;
} __attribute__((aligned(64)));
static struct rstats rstats[NCPUS_MAX];
static volatile bool stop_readers;
static volatile unsigned readers_stopped;

static void sweep(unsigned cpu)
{
	uint64_t stale = 0, torn = 0;

	for (unsigned p = 0; p < NPAGES; p++) {
		uint32_t v = *(volatile uint32_t *)(TEST_VA + (uint64_t)p * PAGE);

		if (v == POISON)
			stale++;
		else if ((v & 0xffff0000u) != LIVE_TAG || ((v >> 4) & 0xfff) != p)
			torn++;
	}
	for (unsigned p = 0; p < GPAGES; p++) {
		uint32_t v = *(volatile uint32_t *)(GTEST_VA + (uint64_t)p * PAGE);

		if (v == POISON)
			stale++;
		else if ((v & 0xffff0000u) != LIVE_TAG || ((v >> 4) & 0xfff) != (0x800 | p))
			torn++;
	}
	__atomic_store_n(&rstats[cpu].reads, rstats[cpu].reads + NPAGES + GPAGES, __ATOMIC_RELAXED);
	__atomic_store_n(&rstats[cpu].stale, rstats[cpu].stale + stale, __ATOMIC_RELAXED);
	__atomic_store_n(&rstats[cpu].torn, rstats[cpu].torn + torn, __ATOMIC_RELAXED);
	__atomic_store_n(&rstats[cpu].sweeps, rstats[cpu].sweeps + 1, __ATOMIC_RELEASE);
}

/* Halt until the next timer tick (or an IPI). SIE off across the arm-and-wfi. */
static void nap(void)
{
	csr_clear(sstatus, SSTATUS_SIE);
	sbi_call(SBI_EXT_TIME, 0, rdtime() + READER_PERIOD, 0, 0);
	__asm__ volatile("wfi" ::: "memory");
	csr_set(sstatus, SSTATUS_SIE);
}

/* Wait until every reader other than @skip finished two more sweeps. */
static void wait_sweeps(unsigned skip)
{
	uint64_t s0[NCPUS_MAX];

	for (unsigned c = 1; c < ncpus; c++)
		s0[c] = __atomic_load_n(&rstats[c].sweeps, __ATOMIC_ACQUIRE);
	for (unsigned c = 1; c < ncpus; c++)
		if (c != skip)
			while (__atomic_load_n(&rstats[c].sweeps, __ATOMIC_ACQUIRE) < s0[c] + 2)
				nap(); /* a spinning vCPU takes the host time the readers need */
}

/* ---- the racing changer (CPU 1) ------------------------------------------------------- */

static uint32_t ptl; /* the page-table lock of the test window */
static volatile unsigned race_asked, race_done;
static volatile int race_path;
static volatile bool race_flushed;
static struct {
	unsigned page, frame;
} race_left[RACE_PAGES];

static void lock_ptl(void)
{
	while (__atomic_exchange_n(&ptl, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
}

static void unlock_ptl(void)
{
	__atomic_store_n(&ptl, 0, __ATOMIC_RELEASE);
}

/*
 * A munmap/zap of the pages CPU 0's unflushed batch retargeted: under the
 * PTL, the race check first; having seen the batch's PTEs it reuses the
 * frames the batch left (tlbbatch.h: allowed once tlbb_flush_pending()
 * returned having flushed).
 */
static void changer(void)
{
	lock_ptl();
#ifdef NC_NO_RACE_CHECK
	race_flushed = true; /* the control: no race check, the frames reused anyway */
#else
	race_flushed = tlbb_flush_pending(&paths[race_path].space);
#endif
	for (unsigned j = 0; j < RACE_PAGES; j++)
		__atomic_store_n(&frames[race_left[j].page][race_left[j].frame][0], POISON,
				 __ATOMIC_SEQ_CST);
	unlock_ptl();
}

void ap_main(unsigned long hartid)
{
	unsigned cpu = 0;
	int mine = -1;

	for (unsigned c = 1; c < NCPUS_MAX && !cpu; c++)
		if (hartid_of[c] == hartid)
			cpu = c;
	__asm__ volatile("mv tp, %0" : : "r"((unsigned long)cpu));
	csr_write(sie, SIE_SSIE | SIE_STIE);
	__atomic_fetch_add(&online, 1, __ATOMIC_RELEASE);
	while (want_path < 0)
		cpu_relax();
	csr_set(sstatus, SSTATUS_SIE);
	while (!stop_readers) {
		int w = want_path;

		if (w != mine) {
			switch_to(w);
			mine = w;
			__atomic_store_n(&switched[cpu], (unsigned)w + 1, __ATOMIC_RELEASE);
		}
		if (cpu == 1 && race_asked != race_done) {
			changer();
			race_done = race_asked;
		}
		sweep(cpu);
		nap();
	}
	csr_clear(sstatus, SSTATUS_SIE);
	__atomic_fetch_add(&readers_stopped, 1, __ATOMIC_RELEASE);
	for (;;)
		__asm__ volatile("wfi");
}

/* ---- CPU 0: the phases -------------------------------------------------------------- */

struct phase {
	uint64_t retargets, flushes, race_checks, ipi_rounds, ipis, sbi_calls, sbi_pages,
		sbi_whole, page_fences, whole_fences, skipped, stale, torn, ticks;
};

struct snap {
	uint64_t ipi_rounds, ipis, sbi_calls, sbi_pages, sbi_whole, page_fences, whole_fences,
		skipped, stale, torn, t;
};

static void take(int p, struct snap *s)
{
	const struct path *pa = &paths[p];

	s->ipi_rounds = ipi_rounds;
	s->ipis = ipis_sent;
	s->sbi_calls = pa->rv.st.sbi_calls;
	s->sbi_pages = pa->rv.st.sbi_pages;
	s->sbi_whole = pa->rv.st.sbi_whole;
	s->page_fences = s->whole_fences = s->skipped = s->stale = s->torn = 0;
	for (unsigned c = 0; c < ncpus; c++) {
		s->page_fences += __atomic_load_n(&pa->percpu[c].st.invlpg, __ATOMIC_RELAXED);
		s->whole_fences += __atomic_load_n(&pa->percpu[c].st.full, __ATOMIC_RELAXED);
		s->skipped += __atomic_load_n(&pa->percpu[c].st.skipped, __ATOMIC_RELAXED);
		s->stale += __atomic_load_n(&rstats[c].stale, __ATOMIC_RELAXED);
		s->torn += __atomic_load_n(&rstats[c].torn, __ATOMIC_RELAXED);
	}
	s->t = rdtime();
}

static void diff(struct phase *ph, const struct snap *a, const struct snap *b)
{
	ph->ipi_rounds = b->ipi_rounds - a->ipi_rounds;
	ph->ipis = b->ipis - a->ipis;
	ph->sbi_calls = b->sbi_calls - a->sbi_calls;
	ph->sbi_pages = b->sbi_pages - a->sbi_pages;
	ph->sbi_whole = b->sbi_whole - a->sbi_whole;
	ph->page_fences = b->page_fences - a->page_fences;
	ph->whole_fences = b->whole_fences - a->whole_fences;
	ph->skipped = b->skipped - a->skipped;
	ph->stale = b->stale - a->stale;
	ph->torn = b->torn - a->torn;
	ph->ticks = b->t - a->t;
}

static void report(const char *name, int p, const struct phase *ph)
{
	puts_uart("{\"phase\":\"");
	puts_uart(name);
	puts_uart("\",\"path\":\"");
	puts_uart(path_name[p]);
	puts_uart("\",");
	kv("retargets", ph->retargets, false);
	kv("flushes", ph->flushes, false);
	kv("race_checks", ph->race_checks, false);
	kv("ipi_rounds", ph->ipi_rounds, false);
	kv("ipis", ph->ipis, false);
	kv("sbi_calls", ph->sbi_calls, false);
	kv("sbi_pages", ph->sbi_pages, false);
	kv("sbi_whole", ph->sbi_whole, false);
	kv("page_fences", ph->page_fences, false);
	kv("whole_fences", ph->whole_fences, false);
	kv("skipped", ph->skipped, false);
	kv("stale", ph->stale, false);
	kv("torn", ph->torn, false);
	kv("us_per_retarget", ph->retargets ? ph->ticks / 10 / ph->retargets : 0, true);
	puts_uart("}\n");
}

struct left {
	unsigned n;
	struct {
		unsigned page, frame;
		bool global;
	} e[NPAGES];
};

static unsigned retarget(unsigned page)
{
	unsigned old = cur_frame[page], nf = (old + 1) % NFRAMES;

	frames[page][nf][0] = live_tag(page, nf); /* filled before any PTE leads here */
	__atomic_store_n(&l0_test[page],
			 pte((uint64_t)(uintptr_t)frames[page][nf], PTE_V | PTE_R | PTE_W | PTE_A | PTE_D),
			 __ATOMIC_SEQ_CST);
	cur_frame[page] = nf;
	return old;
}

static unsigned gretarget(unsigned page)
{
	unsigned old = gcur_frame[page], nf = (old + 1) % NFRAMES;

	gframes[page][nf][0] = live_tag(0x800 | page, nf);
	__atomic_store_n(&l0_glob[page],
			 pte((uint64_t)(uintptr_t)gframes[page][nf],
			     PTE_V | PTE_R | PTE_W | PTE_A | PTE_D | PTE_G),
			 __ATOMIC_SEQ_CST);
	gcur_frame[page] = nf;
	return old;
}

/* The batch's flush has returned: only now may the frames it left be reused. */
static void poison_left(struct left *l)
{
	for (unsigned j = 0; j < l->n; j++) {
		uint32_t *f = l->e[j].global ? gframes[l->e[j].page][l->e[j].frame]
					     : frames[l->e[j].page][l->e[j].frame];

		__atomic_store_n(&f[0], POISON, __ATOMIC_SEQ_CST);
	}
	l->n = 0;
}

static void run_batched(int p, struct phase *ph)
{
	struct tlbb_space *s = &paths[p].space;
	static struct left left;
	unsigned cursor = 0;

	for (uint64_t done = 0, k = 0; done < RETARGETS; k++) {
		unsigned n = 8 + (unsigned)((k * 37) % 56);
		struct tlbb_batch b;

		if (n > RETARGETS - done)
			n = (unsigned)(RETARGETS - done);
		sweep(0); /* our own TLB holds the pages too: the local part */
		tlbb_batch_init(&b);
		for (unsigned j = 0; j < n; j++) {
			unsigned pg = cursor++ % NPAGES;

			left.e[left.n].page = pg;
			left.e[left.n].global = false;
			left.e[left.n++].frame = retarget(pg);
			tlbb_add_page(&b, s, TEST_VA + (uint64_t)pg * PAGE, 0);
		}
		tlbb_flush(&b);
		poison_left(&left);
		ph->flushes++;
		if (k % 64 == 63 && tlbb_flush_pending(s))
			ph->race_checks++;
		done += n;
	}
	ph->retargets = RETARGETS;
}

static void run_per_page(int p, struct phase *ph)
{
	struct tlbb_space *s = &paths[p].space;

	for (uint64_t i = 0; i < PER_PAGE; i++) {
		unsigned pg = (unsigned)(i % NPAGES), old;
		struct tlbb_batch b;

		tlbb_batch_init(&b);
		old = retarget(pg);
		tlbb_add_page(&b, s, TEST_VA + (uint64_t)pg * PAGE, 0);
		tlbb_flush(&b);
		__atomic_store_n(&frames[pg][old][0], POISON, __ATOMIC_SEQ_CST);
		ph->flushes++;
	}
	ph->retargets = PER_PAGE;
}

static bool run_race(int p, struct phase *ph)
{
	struct tlbb_space *s = &paths[p].space;
	bool ok = true;

	race_path = p;
	for (uint64_t r = 0; r < RACE_ROUNDS && ncpus >= 3; r++) {
		struct tlbb_batch b;

		wait_sweeps(0); /* every reader has the window cached */
		tlbb_batch_init(&b);
		lock_ptl();
		for (unsigned j = 0; j < RACE_PAGES; j++) {
			unsigned pg = (unsigned)((r * RACE_PAGES + j) % NPAGES);

			race_left[j].page = pg;
			race_left[j].frame = retarget(pg);
			tlbb_add_page(&b, s, TEST_VA + (uint64_t)pg * PAGE, 0);
		}
		unlock_ptl();
		race_asked = race_asked + 1;
		while (race_done != race_asked)
			nap();
		if (!race_flushed)
			ok = false; /* the check must have found the batch's work */
		ph->race_checks++;
		wait_sweeps(1); /* the readers read through whatever they hold */
		tlbb_flush(&b);
		ph->flushes++;
		ph->retargets += RACE_PAGES;
	}
	return ok;
}

static void run_global(int p, struct phase *ph)
{
	struct tlbb_space *g = &paths[p].gspace;
	static struct left left;
	unsigned cursor = 0;

	for (uint64_t done = 0, k = 0; done < GLOBAL_RETARGETS; k++) {
		unsigned n = 4 + (unsigned)(k % 13);
		struct tlbb_batch b;

		if (n > GLOBAL_RETARGETS - done)
			n = (unsigned)(GLOBAL_RETARGETS - done);
		sweep(0);
		tlbb_batch_init(&b);
		for (unsigned j = 0; j < n; j++) {
			unsigned pg = cursor++ % GPAGES;

			left.e[left.n].page = pg;
			left.e[left.n].global = true;
			left.e[left.n++].frame = gretarget(pg);
			tlbb_add_page(&b, g, GTEST_VA + (uint64_t)pg * PAGE, 0);
		}
		tlbb_flush(&b);
		poison_left(&left);
		ph->flushes++;
		done += n;
	}
	ph->retargets = GLOBAL_RETARGETS;
}

/* ---- boot ------------------------------------------------------------------------------ */

static void start_harts(unsigned long boot)
{
	/*
	 * No CPU number yet for any other hart: hart 0 must not find itself in
	 * a zeroed slot when OpenSBI's lottery made another hart the boot hart
	 * (it then took CPU 3's number too, and CPU 1 never ran).
	 */
	for (unsigned c = 1; c < NCPUS_MAX; c++)
		hartid_of[c] = ~0u;
	hartid_of[0] = (uint32_t)boot;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned long h = 0; h < 8 && ncpus < NCPUS_MAX; h++) {
		unsigned before = online;
		struct sbiret r;

		if (h == boot)
			continue;
		hartid_of[ncpus] = (uint32_t)h;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		r = sbi_call(SBI_EXT_HSM, 0, h, (unsigned long)(uintptr_t)secondary_entry,
			     (unsigned long)(uintptr_t)&ap_stacks[ncpus][sizeof(ap_stacks[0])]);
		if (r.error) {
			hartid_of[ncpus] = ~0u;
			continue; /* no such hart */
		}
		for (uint64_t t = 0; online == before; t++) {
			if (t > 200000000ul) {
				puts_uart("hart did not come up\n");
				finish(false);
			}
			cpu_relax();
		}
		ncpus++;
	}
}

static void probe(void)
{
	uint64_t satp0 = csr_read(satp);

	/* Svinval: SFENCE.W.INVAL traps as illegal without it. */
	probing = true;
	__asm__ volatile(".insn 0x18000073" ::: "memory");
	probing = false;
	have_svinval = !probe_trapped;
	/* ASIDLEN: write all ones to satp.ASID (WARL), read back. */
	csr_write(satp, SATP_SV39 | (0xfffful << 44) | ((uint64_t)(uintptr_t)root >> 12));
	for (uint64_t a = (csr_read(satp) >> 44) & 0xffff; a; a >>= 1)
		asid_bits++;
	csr_write(satp, satp0);
	__asm__ volatile("sfence.vma" ::: "memory");
}

static void path_init(int p)
{
	struct path *pa = &paths[p];
	struct tlbb_riscv_config cfg = { 0 };

	cfg.features = p == P_SBI ? TLBB_RISCV_SBI_RFENCE : p == P_SVINVAL ? TLBB_RISCV_SVINVAL : 0;
	cfg.hartid = hartid_of;
	if (tlbb_riscv_init(&pa->rv, &cfg, pa->percpu, NCPUS_MAX) != TLBB_OK ||
	    tlbb_space_init(&pa->space, tlbb_riscv_backend(&pa->rv), (uint32_t)p + 1, NULL) != TLBB_OK ||
	    tlbb_space_init(&pa->gspace, tlbb_riscv_backend(&pa->rv), 0, NULL) != TLBB_OK ||
	    tlbb_space_set_global(&pa->gspace, true) != TLBB_OK ||
	    tlbb_space_set_cpumask(&pa->space, &pa->mask) != TLBB_OK ||
	    tlbb_space_set_cpumask(&pa->gspace, &pa->gmask) != TLBB_OK) {
		puts_uart("init failed\n");
		finish(false);
	}
	pa->ok = true;
}

static void readers_to(int p)
{
	want_path = p;
	switch_to(p);
	for (unsigned c = 1; c < ncpus; c++)
		while (__atomic_load_n(&switched[c], __ATOMIC_ACQUIRE) != (unsigned)p + 1)
			cpu_relax();
}

void kmain(unsigned long hartid)
{
	uint64_t total = 0, stale = 0, torn = 0, reads = 0;
	bool pass = true;

	__asm__ volatile("mv tp, zero");
	puts_uart("tlbbatch riscv64 S-mode poison test\n");
	tables_init();
	probe();
	puts_uart("svinval=");
	put_u64(have_svinval);
	puts_uart(" asid_bits=");
	put_u64(asid_bits);
	puts_uart("\n");
	if (asid_bits < 2) {
		puts_uart("need ASIDs\n");
		finish(false);
	}
	csr_write(sie, SIE_SSIE | SIE_STIE);
	start_harts(hartid);
	puts_uart("harts online: ");
	put_u64(ncpus);
	puts_uart("\n");
	if (ncpus < 3) {
		puts_uart("need at least 3 harts (-smp 4)\n");
		finish(false);
	}
	for (int p = 0; p < NPATHS; p++)
		if (p != P_SVINVAL || have_svinval)
			path_init(p);
	csr_set(sstatus, SSTATUS_SIE);

	for (int p = 0; p < NPATHS; p++) {
		struct phase ph;
		struct snap a, b;

		if (!paths[p].ok)
			continue;
		readers_to(p);
#define PHASE(name, call)                                         \
	do {                                                      \
		ph = (struct phase){ 0 };                         \
		take(p, &a);                                      \
		call;                                             \
		wait_sweeps(0);                                   \
		take(p, &b);                                      \
		diff(&ph, &a, &b);                                \
		report(name, p, &ph);                             \
		total += ph.retargets;                            \
	} while (0)
		PHASE("batched", run_batched(p, &ph));
		PHASE("per_page", run_per_page(p, &ph));
		PHASE("race", if (!run_race(p, &ph)) {
			puts_uart("race check found no batched work\n");
			pass = false;
		});
		PHASE("global", run_global(p, &ph));
#undef PHASE
	}
	stop_readers = true;
	while (readers_stopped != ncpus - 1)
		cpu_relax();
	for (unsigned c = 0; c < ncpus; c++) {
		reads += rstats[c].reads;
		stale += rstats[c].stale;
		torn += rstats[c].torn;
	}
	puts_uart("{\"summary\":1,");
	kv("harts", ncpus, false);
	kv("svinval", have_svinval, false);
	kv("asid_bits", asid_bits, false);
	kv("reads", reads, false);
	kv("stale", stale, false);
	kv("torn", torn, false);
	kv("ipi_rounds_dropped", ipi_rounds_dropped, false);
	kv("retargets", total, true);
	puts_uart("}\n");
	puts_uart("total retargets: ");
	put_u64(total);
	puts_uart("\n");
	puts_uart(stale || torn ? "RESULT: STALE\n" : "RESULT: CLEAN\n");
	/* The runner judges the figures; the image only reports and exits 0. */
	finish(pass);
}
