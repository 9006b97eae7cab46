/* SPDX-License-Identifier: MIT */
/*
 * tlbbatch x86-64 backend: the IPI model.
 *
 * x86 has no broadcast invalidation. A CPU's TLB changes only when that CPU
 * executes INVLPG / INVPCID / a flushing CR3 write, so a remote CPU flushes
 * only when interrupted. The backend therefore:
 *
 *   add     widens the batch's range. No shared write (the core's pending
 *           bump aside), no mask read, no IPI, no instruction.
 *   flush   takes the space's next generation number (after every change
 *           of the batch), then ONE send-and-wait round
 *           (tlbb_port_ipi_send_and_wait) to the CPUs in the space's mask
 *           (read after that number),
 *           other than this one, whatever the batch size (several spaces:
 *           the union gathered in the port's batch mask, or every CPU); the
 *           local part inline. Each CPU keeps, per PCID it may hold, the
 *           generation it has flushed up to; a CPU already at the flush's
 *           number does nothing. Up to `ceiling` pages (default 33) are
 *           invalidated one by one with INVLPG, more become one whole-PCID
 *           flush: INVPCID single-context when available, else a CR3 reload.
 *   race check (tlbb_flush_pending -> flush_space)
 *           bumps the generation and flushes the whole space on its CPU mask.
 *   should_defer
 *           only when a CPU other than this one may cache the space.
 *   switch-in (tlbb_x86_switch_space)
 *           sets this CPU's bit in s->cpus, then reads the generation, and
 *           loads CR3 with the no-flush bit only if this CPU's slot for the
 *           space is at that generation. Slots name spaces by a 64-bit
 *           context number given at space init (and at an id change) and
 *           never given again, not by address: a space re-initialised in
 *           the memory of a dead one, with the same recycled PCID, matches
 *           none of the dead one's slots, so its first load flushes.
 *   trim    a CPU handling a flush of a (non-global) space it does not have
 *           loaded clears its own bit in s->cpus (Linux's lazy mm_cpumask
 *           trim): later flushes of that space do not interrupt it. Its
 *           next switch-in sets the bit again before reading the
 *           generation, so it sees every change it was not interrupted
 *           for, finds its slot behind and flushes the PCID.
 *   fini / set_id
 *           nothing, no IPI: the context number dies with the space (or
 *           the old id), and the next load of the PCID flushes it.
 *
 * PORT DUTIES
 *
 *   - Link-time hooks (tlbbatch/port.h): tlbb_port_cpu_id(),
 *     tlbb_port_ipi_send_and_wait(), and tlbb_port_debug_fail() in
 *     TLBB_DEBUG builds. The port's flush-IPI vector calls the `fn(arg)` it
 *     was given by send_and_wait: the library's IPI handler (the same code
 *     as tlbb_x86_ipi_handler(), for ports that dispatch by name).
 *   - One struct tlbb_x86_cpu per CPU number, caller-owned, handed to
 *     tlbb_x86_init(). Each is touched only by its own CPU.
 *   - Every space gets the port's CPU mask (tlbb_space_set_cpumask(), its
 *     mm_cpumask) before first use; a space without one is flushed on
 *     every CPU. Batches that span several spaces get the port's batch
 *     mask (tlbb_batch_set_cpumask()) to keep their round to those CPUs.
 *   - Every CR3 load of a space goes through tlbb_x86_switch_space(), with
 *     interrupts disabled, including the first one on each CPU. It sets the
 *     CPU's bit in s->cpus, then decides whether the PCID must be flushed.
 *   - The port never clears a bit in s->cpus of a space a CPU may hold
 *     entries of, nor needs to: the backend clears a CPU's bit itself when
 *     a flush reaches a CPU not running the space, where it is safe.
 *   - tlbb_space_fini() and tlbb_space_set_id() only once no CPU has the
 *     space loaded: every CPU that ran it has switched to another space
 *     (the port's idle or kernel space will do). The backend follows the
 *     loaded slot's space pointer in a flush of several spaces; a dead
 *     space must never be the loaded one. Neither call sends an IPI.
 *   - tlbb_flush() and tlbb_flush_pending() run with preemption disabled
 *     (the CPU number must stay valid) and with interrupts ENABLED: two
 *     CPUs flushing at once must be able to take each other's IPIs.
 *   - tlbb_should_defer() answers "a CPU other than THIS one may cache the
 *     space": call it with preemption disabled, and keep it disabled until
 *     the tlbb_flush_range_sync() that a false answer leads to has returned
 *     (a task moved in between could leave a CPU that caches the space
 *     unflushed). A held PTL spinlock already disables preemption in most
 *     kernels.
 *   - s->id is the PCID (low 12 bits used when TLBB_X86_PCID is set). A PCID
 *     released by tlbb_space_fini() / tlbb_space_set_id() may be given to
 *     a new space (in new or the same memory) or another live space at
 *     once: its first switch-in on each CPU flushes the PCID (slots are
 *     keyed by PCID and the never-reused context number). Two live spaces
 *     may even share a PCID; each switch between them flushes.
 *   - Whole flushes without INVPCID toggle CR4.PGE twice; the backend does
 *     that with interrupts disabled (RFLAGS saved and restored), so an
 *     interrupt handler of the port that writes CR4 is never undone. (The
 *     RFLAGS save steps over the red zone, so it is safe in any build; a
 *     kernel needs -mno-red-zone for its own interrupt handlers anyway.)
 *   - CPU numbers: tlbb_port_cpu_id() < the ncpus given to tlbb_x86_init(),
 *     itself <= TLBB_MAX_CPUS (init refuses more). Hotplug: an offlined CPU
 *     first switches to the port's idle/kernel space (so it has no dead
 *     space loaded), keeps its bit in the masks and its per-CPU structure;
 *     send_and_wait treats it as done (an offline CPU runs nothing, and
 *     comes back through a CPU reset with an empty TLB), and its slots are
 *     then at worst behind, so its first switch-in to a space flushes.
 *     Nothing is reinitialised at online time.
 *   - Spaces with TLBB_SPACE_GLOBAL hold global (G-bit) kernel entries: they
 *     are live under every PCID, so they are never "not loaded", never
 *     skipped by generation, and their full flush drops global entries too
 *     (INVPCID all-contexts, else a CR4.PGE toggle). Nothing switches to
 *     such a space, so the port marks every CPU in its mask itself
 *     (tlbb_space_cpu_enter()).
 */
#ifndef TLBBATCH_X86_64_H
#define TLBBATCH_X86_64_H

#include <tlbbatch/maskgen.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Linux's tlb_single_page_flush_ceiling. */
#define TLBB_X86_DEFAULT_CEILING 33u

/* CPU features the port found (CPUID) and enabled (LA57: also read from CR4). */
#define TLBB_X86_PCID 0x1u    /* CR4.PCIDE is set: CR3[11:0] is the PCID */
#define TLBB_X86_INVPCID 0x2u /* the INVPCID instruction exists */
#define TLBB_X86_LA57 0x4u    /* 5-level paging: 57-bit canonical addresses */
/*
 * The port states the paging mode itself (TLBB_X86_LA57 set or not) and
 * init must not read CR4: a paravirtualised kernel whose CR4 read traps, or
 * code running the backend outside ring 0 (the benchmarks).
 */
#define TLBB_X86_PAGING_FROM_PORT 0x8u

struct tlbb_x86_config {
	unsigned features; /* TLBB_X86_* */
	unsigned ceiling;  /* max INVLPGs per request; 0 = TLBB_X86_DEFAULT_CEILING */
};

/*
 * The per-CPU state is the shared engine's (tlbbatch/maskgen.h): slots
 * tagged by the PCID, each keyed by the space's context number and holding
 * the generation this CPU flushed the PCID up to.
 */
#define TLBB_X86_SLOTS TLBB_MG_SLOTS
#define tlbb_x86_slot tlbb_mg_slot
#define tlbb_x86_cpu_stats tlbb_mg_cpu_stats
#define tlbb_x86_cpu tlbb_mg_cpu

/* One backend instance. Caller-owned; contents private to the backend. */
struct tlbb_x86 {
	struct tlbb_backend be;
	struct tlbb_x86_config cfg;
	struct tlbb_mg mg; /* per-CPU state (mg.cpu[], mg.ncpus), context numbers */
};

/*
 * Set up @x with @ncpus per-CPU structures in @percpu (indexed by
 * tlbb_port_cpu_id()). @cfg may be NULL (no PCID, no INVPCID, ceiling 33).
 * TLBB_X86_LA57 is also taken from CR4.LA57, read here on the calling CPU
 * (so init runs in ring 0): under 5-level paging a port that forgot it
 * would see every kernel address as non-canonical and every batch become a
 * whole flush. With TLBB_X86_PAGING_FROM_PORT, CR4 is not read and the
 * port's TLBB_X86_LA57 is taken as it is.
 *
 * @ncpus is the number of CPU ids the port can ever hand out (Linux:
 * nr_cpu_ids, not the online count), and must be <= TLBB_MAX_CPUS: a CPU
 * above the mask size has no bit, so no flush round could ever reach it.
 * Returns TLBB_EINVAL for NULL @x/@percpu, @ncpus == 0 or
 * @ncpus > TLBB_MAX_CPUS (build with -DTLBB_MAX_CPUS=<n> for more: a
 * distribution kernel's NR_CPUS of 8192 costs 1 KiB per mask). Call it
 * once, before any space is initialised on it: it restarts the context
 * numbers.
 */
enum tlbb_status tlbb_x86_init(struct tlbb_x86 *x, const struct tlbb_x86_config *cfg,
		  struct tlbb_x86_cpu *percpu, unsigned ncpus);

static inline const struct tlbb_backend *tlbb_x86_backend(const struct tlbb_x86 *x)
{
	return &x->be;
}

/*
 * Context switch on this CPU to @next, whose top-level table is at physical
 * address @pml4 (4 KiB aligned). Interrupts disabled. Marks this CPU in
 * next->cpus, then writes CR3 = @pml4 | PCID, with the no-flush bit when
 * this CPU's slot for the PCID is current. Returns true if the write flushed.
 * A CPU number >= the ncpus given to init breaks the port's contract: it is
 * reported (tlbb_port_debug_fail() in TLBB_DEBUG builds) and its CR3 write
 * always flushes; below TLBB_MAX_CPUS every flush still reaches it and
 * flushes everything there, at or above it none can while it runs @next.
 */
bool tlbb_x86_switch_space(struct tlbb_x86 *x, struct tlbb_space *next, uint64_t pml4);

/*
 * The flush-IPI handler: what the `fn` the backend passes to
 * tlbb_port_ipi_send_and_wait() runs. A port may call either.
 */
void tlbb_x86_ipi_handler(void *request);

/* The generation of @s (number of adds and whole-space flushes so far). */
uint64_t tlbb_x86_space_gen(const struct tlbb_space *s);

/*
 * The context number of @s: given at tlbb_space_init() and again at
 * tlbb_space_set_id(), unique for the backend's lifetime (0: not yet given).
 */
uint64_t tlbb_x86_space_ctx(const struct tlbb_space *s);

#ifdef __cplusplus
}
#endif

#endif /* TLBBATCH_X86_64_H */
