/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 poison test: tlbbatch on real (emulated) hardware, with real
 * flush IPIs between real CPUs, under qemu-system-x86_64 -smp 4.
 *
 *   - The bootstrap CPU (BSP) maps NPAGES test pages at TEST_VA with 4 KiB
 *     PTEs. Each page rotates through NFRAMES physical frames. A frame holds
 *     a "live" marker while a PTE may lead to it; once retired it holds
 *     POISON. A CPU that reads POISON read through a translation the
 *     library should have shot down: a STALE read.
 *   - Two flushers, the BSP and CPU 1, each own half of the pages and
 *     retarget them in batches: for each page, fill the next frame, point
 *     the PTE at it, tlbb_add_page(); then tlbb_flush() (one round of real
 *     IPIs), and only then poison the frames it left. Their rounds cross:
 *     each interrupts the other, also in the middle of its own flush.
 *   - The other CPUs read one half each in a loop; the flushers read their
 *     own half and the other's before each batch.
 *   - Then the BSP alone does 2,000 retargets with one flush per page, to
 *     count the IPIs batching saves.
 *
 * Command line (qemu -append): "negative" makes the port drop every IPI
 * round (the negative control: stale reads MUST appear, which also shows
 * that TCG keeps per-vCPU translations without INVLPG on that vCPU);
 * "single" keeps CPU 1 a reader (one flusher); "retargets=N" and
 * "perpage=N" change the counts; "cpus=N" replaces QEMU's fw_cfg CPU count
 * (Bochs has none: tests/bochs boots this image from a disk through
 * bochs-boot.S, with the command line in the disk's second sector);
 * "noinvpcid" and "nopcid" ignore those CPUID bits (whole-PCID flushes then
 * reload CR3), to tell a fault of one flush method from the others;
 * "global" makes the test pages global, in a TLBB_SPACE_GLOBAL space (see
 * gspace below); "trim" adds the trim phase (run_trim()): the readers
 * switch to another space part-way and the IPIs per flush are counted
 * before, right after and after they left, and after they came back.
 *
 * Verdict on the serial port; exit through isa-debug-exit: 0x10 (QEMU
 * status 33) = pass, 0x11 (status 35) = fail; without that device (Bochs),
 * power-off through port 0x8900.
 */
#include <tlbbatch/x86_64.h>

#include "machine.h"

#define NPAGES 128
#define HALF (NPAGES / 2) /* flusher f retargets pages [f*HALF, (f+1)*HALF) */
#define NFRAMES 4 /* a left frame stays poisoned for NFRAMES-1 retargets */
#define TEST_VA 0x100000000ull /* 4 GiB: PDPT[4], outside the identity map */
#define PAGE 4096u
#define POISON 0xdeadbeefu
#define LIVE_TAG 0x600d0000u
#define READER_PERIOD 20000 /* LAPIC timer counts (QEMU: 1 GHz bus, divide by 1) */

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_G 0x100ull /* global: survives CR3 writes and INVPCID single-context */
#define CR4_PGE (1ull << 7)

static bool negative; /* the port drops IPI rounds (port_drop_rounds) */

/* ---- the address space ------------------------------------------------------- */

static struct tlbb_x86 x86;
static struct tlbb_x86_cpu percpu[NCPUS_MAX];
static struct tlbb_space kspace;
/*
 * "global": the test pages are global (G bit, CR4.PGE on) and belong to
 * gspace, a TLBB_SPACE_GLOBAL space, as kernel mappings would. Their
 * whole-space flushes must then drop global entries: INVPCID type 2 (or a
 * CR4.PGE toggle without INVPCID), never type 1 or a CR3 write, which keep
 * them. kspace stays the space in CR3.
 */
static struct tlbb_space gspace;
static bool global_mode;
/*
 * "trim": the readers' other space. Same page tables, another PCID; a
 * reader in it reads no test page. The backend sees a CPU that left kspace.
 */
static struct tlbb_space aspace;
static tlbb_cpumask_t kspace_cpus, gspace_cpus, aspace_cpus; /* the port's masks */
static bool trim_mode;
static volatile unsigned readers_away; /* the BSP asks: 1 = be in aspace */
static volatile unsigned readers_moved; /* switches the readers made */
static struct tlbb_space *tspace = &kspace; /* the space of the test pages */
static uint64_t test_pte_flags = PTE_P | PTE_RW;
static uint64_t test_pd[512] __attribute__((aligned(4096)));
static uint64_t test_pt[512] __attribute__((aligned(4096)));
static uint32_t frames[NPAGES][NFRAMES][PAGE / 4] __attribute__((aligned(4096)));
static unsigned cur_frame[NPAGES];

static uint64_t frame_pa(unsigned page, unsigned f)
{
	return (uint64_t)(uintptr_t)frames[page][f]; /* identity map */
}

static uint32_t live_tag(unsigned page, unsigned f)
{
	return LIVE_TAG | (page << 4) | f;
}

/* ---- application processors --------------------------------------------- */

static volatile bool stop_readers;
static volatile bool readers_go;
static volatile unsigned readers_stopped;

struct reader_stats {
	uint64_t reads, stale, torn, ipis;
} __attribute__((aligned(64)));
static struct reader_stats rstats[NCPUS_MAX];

static struct tlbb_x86_config cfg;

/* Periodic LAPIC timer: wakes a halted CPU every READER_PERIOD. */
static void timer_start(void)
{
	lapic_write(LAPIC_TIMER_DIV, 0xb); /* divide by 1 */
	lapic_write(LAPIC_LVT_TIMER, (1u << 17) | TIMER_VECTOR); /* periodic */
	lapic_write(LAPIC_TIMER_INIT, READER_PERIOD);
}

static void install_cpu_state(void)
{
	idt_load();
	lapic_enable();
	if (cfg.features & TLBB_X86_PCID) {
		uint64_t cr4;

		/* CR4.PCIDE; CR3[11:0] is still 0 here, as setting it requires. */
		__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1ull << 17)));
	}
	if (global_mode) {
		uint64_t cr4;

		__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_PGE));
		/* Nothing switches to a global space: this CPU may cache it now. */
		tlbb_space_cpu_enter(&gspace, tlbb_port_cpu_id());
	}
	/* Interrupts are still off: the switch must not be interrupted. */
	tlbb_x86_switch_space(&x86, &kspace, (uint64_t)(uintptr_t)pml4);
}

/* Read pages [first, first+count) once; count poison (stale) and junk. */
static void sweep(unsigned first, unsigned count, struct reader_stats *st)
{
	uint64_t stale = 0, torn = 0;

	for (unsigned p = first; p < first + count; p++) {
		uint32_t v = *(volatile uint32_t *)(uintptr_t)(TEST_VA + (uint64_t)p * PAGE);

		if (v == POISON)
			stale++;
		else if ((v & 0xffff0000u) != LIVE_TAG || ((v >> 4) & 0xfff) != p)
			torn++;
	}
	/* Published every sweep: the BSP reads them once everyone stopped. */
	__atomic_store_n(&st->reads, st->reads + count, __ATOMIC_RELAXED);
	__atomic_store_n(&st->stale, st->stale + stale, __ATOMIC_RELAXED);
	__atomic_store_n(&st->torn, st->torn + torn, __ATOMIC_RELAXED);
}

static bool dual;                      /* CPU 1 is a second flusher */
static uint64_t flusher1_total;
static volatile bool flusher1_done;
struct phase;
static void run_batched(unsigned f, uint64_t total, struct phase *ph);
static struct phase *phase1;

void ap_main(void)
{
	unsigned cpu;
	struct reader_stats *st;

	install_cpu_state();
	cpu = tlbb_port_cpu_id();
	st = &rstats[cpu];
	/*
	 * Sweep, then halt until the periodic timer (or a flush IPI) wakes us.
	 * Halting matters under TCG: with 4 vCPUs on 2 host cores, busy readers
	 * would make every IPI wait for a host time slice.
	 */
	timer_start();
	__atomic_fetch_add(&ap_online, 1, __ATOMIC_SEQ_CST);
	__asm__ volatile("sti");
	while (!readers_go)
		__asm__ volatile("hlt");
	if (cpu == 1 && dual) {
		/* Interrupts stay enabled: the BSP's rounds reach us mid-flush. */
		run_batched(1, flusher1_total, phase1);
		flusher1_done = true;
	}
	/*
	 * One half each, never all NPAGES: QEMU shrinks an idle vCPU's softmmu
	 * TLB to 64 direct-mapped entries, and a sweep larger than that evicts
	 * its own entries, refetching fresh translations that can never be
	 * stale. 64 consecutive pages keep most entries (the negative control
	 * then sees ~80 % stale reads; with 128 it saw none).
	 */
	for (unsigned away = 0; !stop_readers;) {
		unsigned want = __atomic_load_n(&readers_away, __ATOMIC_ACQUIRE);

		if (want != away) {
			/* A context switch: interrupts off, as the backend requires. */
			__asm__ volatile("cli" ::: "memory");
			tlbb_x86_switch_space(&x86, want ? &aspace : &kspace,
					      (uint64_t)(uintptr_t)pml4);
			__asm__ volatile("sti" ::: "memory");
			away = want;
			__atomic_fetch_add(&readers_moved, 1, __ATOMIC_RELEASE);
		}
		if (!away)
			sweep(dual ? (cpu % 2) * HALF : 0, HALF, st);
		__asm__ volatile("hlt");
	}
	__atomic_fetch_add(&readers_stopped, 1, __ATOMIC_RELEASE);
	lapic_write(LAPIC_TIMER_INIT, 0);
	__asm__ volatile("cli");
	for (;;)
		__asm__ volatile("hlt");
}


/* ---- the test ------------------------------------------------------------------ */

/* Move @page to its next frame; returns the frame it left (to poison). */
static unsigned retarget(unsigned page)
{
	unsigned old = cur_frame[page], nf = (old + 1) % NFRAMES;

	frames[page][nf][0] = live_tag(page, nf); /* filled before any PTE leads here */
	__atomic_store_n(&test_pt[page], frame_pa(page, nf) | test_pte_flags, __ATOMIC_SEQ_CST);
	cur_frame[page] = nf;
	return old;
}

struct phase {
	uint64_t retargets, batches, race_checks, ipi_rounds, ipis, cycles;
};

struct left_list {
	unsigned n;
	struct {
		unsigned page, frame;
	} e[NPAGES];
};

static void retarget_into(struct tlbb_batch *b, struct left_list *l, unsigned p)
{
	l->e[l->n].page = p;
	l->e[l->n++].frame = retarget(p);
	tlbb_add_page(b, tspace, (uintptr_t)(TEST_VA + (uint64_t)p * PAGE), 0);
}

/* The batch's flush has returned: only now may the frames it left be reused. */
static void poison_left(struct left_list *l)
{
	for (unsigned j = 0; j < l->n; j++)
		__atomic_store_n(&frames[l->e[j].page][l->e[j].frame][0], POISON,
				 __ATOMIC_SEQ_CST);
	l->n = 0;
}

/*
 * Batches of 8..63 pages, so both INVLPG (<= 33) and whole-PCID flushes
 * run. Every 8th batch has a one-page "straggler" batch, added before it
 * and flushed after it: when the big batch did a whole-PCID flush, every
 * CPU is already past the straggler's generation and skips it; when it
 * did INVLPGs, the straggler's number sits before the big batch's, so no
 * CPU may claim it and the straggler does its own INVLPG.
 */
static void run_batched(unsigned f, uint64_t total, struct phase *ph)
{
	unsigned cursor = 0, base = f * HALF;
	uint64_t t0 = rdtsc();
	static struct left_list left[2], sleft[2];

	for (uint64_t done = 0, k = 0; done < total; k++) {
		unsigned n = 8 + (unsigned)((k * 37) % 56);
		struct tlbb_batch b, straggler;
		bool has_straggler = k % 8 == 0 && total - done > n + 1;

		if (n > total - done)
			n = (unsigned)(total - done);
		/*
		 * Cache pages that must then be flushed here: our own (the local
		 * part of our flush) and, alternately, the other flusher's (its
		 * rounds must reach us). One half at a time, see ap_main().
		 */
		sweep((dual && k % 2) ? (1 - f) * HALF : base, HALF, &rstats[f]);
		if (!tlbb_should_defer(tspace)) {
			puts_serial("should_defer said no with APs running\n");
			qemu_exit(false);
		}
		tlbb_batch_init(&b);
		tlbb_batch_init(&straggler);
		if (has_straggler) {
			retarget_into(&straggler, &sleft[f], base + cursor++ % HALF);
			done++;
		}
		for (unsigned j = 0; j < n; j++)
			retarget_into(&b, &left[f], base + cursor++ % HALF);
		tlbb_flush(&b);
		poison_left(&left[f]);
		ph->batches++;
		if (has_straggler) {
			tlbb_flush(&straggler);
			poison_left(&sleft[f]);
			ph->batches++;
		}
		/* Now and then the race check, as an mprotect would call it. */
		if (k % 64 == 63 && tlbb_flush_pending(tspace))
			ph->race_checks++;
		done += n;
	}
	ph->retargets = total;
	ph->cycles = rdtsc() - t0;
}

/* Retarget page @p, flush it alone, then poison the frame it left. */
static void retarget_one_flushed(unsigned p)
{
	struct tlbb_batch b;
	unsigned old;

	tlbb_batch_init(&b);
	old = retarget(p);
	tlbb_add_page(&b, tspace, (uintptr_t)(TEST_VA + (uint64_t)p * PAGE), 0);
	tlbb_flush(&b);
	__atomic_store_n(&frames[p][old][0], POISON, __ATOMIC_SEQ_CST);
}

static void run_per_page(uint64_t total, struct phase *ph)
{
	uint64_t r0 = ipi_rounds, i0 = ipis_sent, t0 = rdtsc();

	for (uint64_t done = 0; done < total; done++) {
		retarget_one_flushed((unsigned)(done % NPAGES));
		ph->batches++;
	}
	ph->retargets = total;
	ph->cycles = rdtsc() - t0;
	ph->ipi_rounds = ipi_rounds - r0;
	ph->ipis = ipis_sent - i0;
}

/*
 * The trim phase: single-page flushes of kspace, TRIM_FLUSHES in each step.
 *   before  readers on kspace: every flush interrupts each of them;
 *   first   readers switched to aspace: their bits are still set, so the
 *           first flush interrupts them, and each leaves kspace's mask;
 *   after   no flush interrupts them any more;
 *   back    readers switched back (each switch-in flushed PCID 1): every
 *           flush interrupts them again, and they read no stale page.
 */
#define TRIM_FLUSHES 64u

struct trim_fig {
	uint64_t readers, before, first, after, back, switch_back_flushes, trimmed;
};

static uint64_t trim_flushes(unsigned n, unsigned *page)
{
	uint64_t i0 = ipis_sent;

	for (unsigned k = 0; k < n; k++)
		retarget_one_flushed((*page)++ % NPAGES);
	return ipis_sent - i0;
}

static void readers_move(unsigned away, unsigned moves)
{
	__atomic_store_n(&readers_away, away, __ATOMIC_RELEASE);
	while (__atomic_load_n(&readers_moved, __ATOMIC_ACQUIRE) != moves)
		cpu_relax();
}

static void run_trim(struct trim_fig *t)
{
	unsigned page = 0, readers = ncpus - 1;
	uint64_t sf[NCPUS_MAX];

	t->readers = readers;
	t->before = trim_flushes(TRIM_FLUSHES, &page);
	readers_move(1, readers);
	t->first = trim_flushes(1, &page);
	t->after = trim_flushes(TRIM_FLUSHES, &page);
	for (unsigned c = 1; c < ncpus; c++)
		sf[c] = __atomic_load_n(&percpu[c].st.switch_flushes, __ATOMIC_RELAXED);
	readers_move(0, 2 * readers);
	for (unsigned c = 1; c < ncpus; c++)
		if (__atomic_load_n(&percpu[c].st.switch_flushes, __ATOMIC_RELAXED) > sf[c])
			t->switch_back_flushes++;
	t->back = trim_flushes(TRIM_FLUSHES, &page);
	for (unsigned c = 0; c < ncpus; c++)
		t->trimmed += __atomic_load_n(&percpu[c].st.trimmed, __ATOMIC_RELAXED);
}

static void put_phase(const char *name, const struct phase *ph, bool last)
{
	puts_serial("\"");
	puts_serial(name);
	puts_serial("\": {");
	kv("retargets", ph->retargets, false);
	kv("flushes", ph->batches, false);
	kv("race_checks", ph->race_checks, false);
	kv("ipi_rounds", ph->ipi_rounds, false);
	kv("ipis", ph->ipis, false);
	kv("tsc_per_retarget", ph->retargets ? ph->cycles / ph->retargets : 0, true);
	puts_serial(last ? "}" : "}, ");
}

void kmain(void)
{
	uint64_t retargets = 100000, per_page = 2000;
	struct phase batched = { 0 }, b1 = { 0 }, pp = { 0 };
	struct trim_fig trim = { 0 };
	uint64_t r0, i0, during = 0, rounds_main, ipis_main;
	bool single = false;
	unsigned mask_features = 0; /* "nopcid", "noinvpcid": CPUID bits to ignore */
	const char *cmdline = "";
	uint32_t r[4];
	uint64_t stale = 0, torn = 0, reads = 0;
	bool pass;

	serial_init();
	puts_serial("tlbbatch x86-64 poison test\n");
	cmdline = machine_cmdline();
	for (const char *s = cmdline; *s; s++) {
		if (str_starts(s, "negative"))
			negative = true;
		if (str_starts(s, "retargets="))
			retargets = parse_u64(s + 10);
		if (str_starts(s, "perpage="))
			per_page = parse_u64(s + 8);
		if (str_starts(s, "single"))
			single = true;
		if (str_starts(s, "cpus="))
			cmdline_cpus = (unsigned)parse_u64(s + 5);
		if (str_starts(s, "nopcid"))
			mask_features |= TLBB_X86_PCID | TLBB_X86_INVPCID;
		if (str_starts(s, "noinvpcid"))
			mask_features |= TLBB_X86_INVPCID;
		if (str_starts(s, "global"))
			global_mode = true;
		if (str_starts(s, "trim"))
			trim_mode = true;
	}

	idt_init();
	port_drop_rounds = negative;

	/* PCID (CPUID.1:ECX[17]) and INVPCID (CPUID.7.0:EBX[10]). */
	cpuid(1, 0, r);
	if (r[2] & (1u << 17))
		cfg.features |= TLBB_X86_PCID; /* enabled per CPU in install_cpu_state() */
	cpuid(0, 0, r);
	if (r[0] >= 7) {
		cpuid(7, 0, r);
		if (r[1] & (1u << 10))
			cfg.features |= TLBB_X86_INVPCID;
	}
	cfg.features &= ~mask_features;
	puts_serial("features: pcid=");
	put_u64(!!(cfg.features & TLBB_X86_PCID));
	puts_serial(" invpcid=");
	put_u64(!!(cfg.features & TLBB_X86_INVPCID));
	puts_serial(negative ? " mode=negative-control\n" : " mode=positive\n");

	/* Test pages: PDPT[4] -> test_pd -> test_pt, 4 KiB PTEs. */
	if (global_mode)
		test_pte_flags |= PTE_G;
	for (unsigned p = 0; p < NPAGES; p++) {
		for (unsigned f = 0; f < NFRAMES; f++)
			frames[p][f][0] = POISON;
		frames[p][0][0] = live_tag(p, 0);
		test_pt[p] = frame_pa(p, 0) | test_pte_flags;
	}
	test_pd[0] = (uint64_t)(uintptr_t)test_pt | PTE_P | PTE_RW;
	pdpt[4] = (uint64_t)(uintptr_t)test_pd | PTE_P | PTE_RW;

	if (tlbb_x86_init(&x86, &cfg, percpu, NCPUS_MAX) != TLBB_OK ||
	    tlbb_space_init(&kspace, tlbb_x86_backend(&x86), 1, NULL) != TLBB_OK ||
	    tlbb_space_init(&gspace, tlbb_x86_backend(&x86), 2, NULL) != TLBB_OK ||
	    tlbb_space_init(&aspace, tlbb_x86_backend(&x86), 3, NULL) != TLBB_OK) {
		puts_serial("init failed\n");
		qemu_exit(false);
	}
	tlbb_space_set_global(&gspace, true);
	tlbb_space_set_cpumask(&kspace, &kspace_cpus);
	tlbb_space_set_cpumask(&gspace, &gspace_cpus);
	tlbb_space_set_cpumask(&aspace, &aspace_cpus);
	if (global_mode)
		tspace = &gspace;
	/* PCID 1 from now on; the first switch flushes. */
	install_cpu_state();
	start_aps();
	puts_serial("cpus online: ");
	put_u64(ncpus);
	puts_serial("\n");
	if (ncpus < 2) {
		puts_serial("need at least 2 CPUs (-smp 4)\n");
		qemu_exit(false);
	}
	/*
	 * With 3+ CPUs, CPU 1 flushes too, concurrently, on its own half of the
	 * pages: two senders whose rounds interrupt each other mid-flush, and
	 * adds of two batches interleaving in one space's generation.
	 */
	dual = ncpus >= 3 && !single;
	flusher1_total = dual ? retargets / 2 : 0;
	phase1 = &b1;
	timer_start();
	__asm__ volatile("sti");
	for (unsigned c = 2; c < ncpus; c++)
		during -= __atomic_load_n(&rstats[c].reads, __ATOMIC_RELAXED);
	r0 = ipi_rounds;
	i0 = ipis_sent;
	readers_go = true;

	run_batched(0, retargets - flusher1_total, &batched);
	while (dual && !flusher1_done)
		cpu_relax();
	/* Reads by pure readers while the flushers ran: the test looked. */
	for (unsigned c = 2; c < ncpus; c++)
		during += __atomic_load_n(&rstats[c].reads, __ATOMIC_RELAXED);
	batched.retargets += b1.retargets;
	batched.batches += b1.batches;
	batched.race_checks += b1.race_checks;
	if (b1.cycles > batched.cycles)
		batched.cycles = b1.cycles; /* they ran side by side */
	batched.ipi_rounds = ipi_rounds - r0;
	batched.ipis = ipis_sent - i0;
	if (per_page)
		run_per_page(per_page, &pp);
	rounds_main = ipi_rounds;
	ipis_main = ipis_sent;
	/* Trimming needs delivered rounds and a user space (global ones never trim). */
	if (trim_mode && (negative || global_mode)) {
		puts_serial("trim: needs a positive, non-global run\n");
		qemu_exit(false);
	}
	if (trim_mode)
		run_trim(&trim);
	stop_readers = true;
	while (readers_stopped != ncpus - 1)
		cpu_relax();

	for (unsigned c = 0; c < ncpus; c++) {
		reads += rstats[c].reads;
		stale += rstats[c].stale;
		torn += rstats[c].torn;
	}
	puts_serial("{\"mode\": \"");
	puts_serial(negative ? "negative-control" : "positive");
	puts_serial("\", ");
	kv("cpus", ncpus, false);
	kv("flushers", dual ? 2 : 1, false);
	kv("pcid", !!(cfg.features & TLBB_X86_PCID), false);
	kv("invpcid", !!(cfg.features & TLBB_X86_INVPCID), false);
	kv("global", global_mode, false);
	kv("reads", reads, false);
	kv("stale_reads", stale, false);
	kv("torn_reads", torn, false);
	kv("reader_reads_during_batched", during, false);
	kv("ipi_rounds_dropped", ipi_rounds_dropped, false);
	put_phase("batched", &batched, false);
	put_phase("per_page", &pp, false);
	if (trim_mode) {
		puts_serial("\"trim\": {");
		kv("readers", trim.readers, false);
		kv("flushes_per_step", TRIM_FLUSHES, false);
		kv("ipis_per_flush_before", trim.before / TRIM_FLUSHES, false);
		kv("ipis_first_flush_after_switch", trim.first, false);
		kv("ipis_per_flush_after", trim.after / TRIM_FLUSHES, false);
		kv("ipis_after_total", trim.after, false);
		kv("ipis_per_flush_back", trim.back / TRIM_FLUSHES, false);
		kv("switch_back_flushes", trim.switch_back_flushes, false);
		kv("trimmed", trim.trimmed, true);
		puts_serial("}, ");
	}
	puts_serial("\"per_cpu\": [");
	for (unsigned c = 0; c < ncpus; c++) {
		const struct tlbb_x86_cpu_stats *st = &percpu[c].st;

		puts_serial("{");
		kv("cpu", c, false);
		kv("reads", rstats[c].reads, false);
		kv("stale", rstats[c].stale, false);
		kv("handled_ipi", st->ipis, false);
		kv("handled_local", st->local, false);
		kv("skipped", st->skipped, false);
		kv("invlpg", st->invlpg, false);
		kv("full_flushes", st->full, false);
		kv("trimmed", st->trimmed, true);
		puts_serial(c + 1 < ncpus ? "}, " : "}");
	}
	puts_serial("]}\n");

	if (ncpus >= 3 && !during) {
		puts_serial("the readers did not read while the flushers ran\n");
		qemu_exit(false);
	}
	if (negative) {
		/* The control must see what the library prevents. */
		pass = stale > 0;
		puts_serial(pass ? "negative control: stale reads observed, as they must be\n"
				 : "negative control: NO stale read without IPIs: the test cannot "
				   "detect a missing shootdown\n");
	} else {
		/* One IPI round per flush, whatever its size; ncpus-1 IPIs per round. */
		uint64_t want = batched.batches + batched.race_checks + pp.batches;

		pass = stale == 0 && torn == 0 && reads > 0;
		if (rounds_main != want || ipis_main != want * (ncpus - 1)) {
			puts_serial("IPI rounds do not match flushes\n");
			pass = false;
		}
		/* The trim, exactly: every reader until it left, once more, then none. */
		if (trim_mode &&
		    (trim.before != TRIM_FLUSHES * trim.readers || trim.first != trim.readers ||
		     trim.after != 0 || trim.back != TRIM_FLUSHES * trim.readers ||
		     trim.switch_back_flushes != trim.readers || trim.trimmed < trim.readers)) {
			puts_serial("trim: IPIs per flush not as expected\n");
			pass = false;
		}
		for (unsigned c = 1; c < ncpus; c++)
			if (!rstats[c].reads)
				pass = false;
		if (!rstats[0].reads)
			pass = false;
	}
	qemu_exit(pass);
}
