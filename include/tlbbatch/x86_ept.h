/* SPDX-License-Identifier: MIT */
/*
 * tlbbatch x86-64 EPT backend: stage-2 (guest-physical) invalidation for a
 * VMX hypervisor, on the shared mask + IPI round + generation engine
 * (tlbbatch/maskgen.h), beside the stage-1 backend (x86_64.h).
 *
 * A space is one EPT hierarchy, named by its EPTP (a VM's guest-physical
 * space). The hypervisor clears or retargets EPT entries, queues them, and
 * flushes before it reuses the old frames:
 *
 *   add     records the EPTP. No shared write (the core's pending bump
 *           aside), no mask read, no IPI, no instruction (INVEPT has no
 *           per-address type: every flush of an EPTP is whole, so ranges
 *           are not even merged).
 *   flush   takes the space's next generation number, after every change
 *           of the batch, then ONE send-and-wait round to the CPUs in the
 *           space's mask (those that entered the VM and have not trimmed
 *           themselves since), read after that number. The port's flush IPI makes a
 *           CPU in guest mode exit (an external-interrupt VM exit); its
 *           handler runs the library's handler in VMX root operation, which
 *           executes INVEPT single-context for the EPTP (all-context where
 *           single-context is not supported or fails), then the port
 *           resumes the guest. A CPU already at the flush's number does
 *           nothing.
 *   VM entry (tlbb_ept_vm_enter)
 *           the engine's switch-in: sets this CPU's bit in the space's
 *           mask, then reads the generation, and executes INVEPT for the
 *           EPTP unless this CPU's slot for it is current. A CPU that was
 *           not in the VM when the flush ran (it trimmed itself out of the
 *           mask, or entered another VM since) flushes here instead.
 *   race check (tlbb_flush_pending -> flush_space)
 *           bumps the generation and INVEPTs the whole EPTP on every CPU
 *           in its mask.
 *   fini / set_id
 *           nothing, no IPI: the space's context number dies with it, and
 *           the next entry with that EPTP (a new VM whose EPT root reuses
 *           the page) finds no slot and flushes.
 *
 * VPID. No INVVPID is needed when EPT entries change. While EPT is in use
 * the processor caches guest-physical mappings (tagged by EP4TA, EPTP bits
 * 51:12) and combined mappings (tagged by VPID, PCID and EP4TA), and uses
 * no linear mappings (Intel SDM vol. 3C, 28.3.1 "Information That May Be
 * Cached" and 28.3.2 "Creating and Using Cached Translation Information").
 * INVEPT invalidates guest-physical mappings and combined mappings; single-
 * context invalidates those associated with the EP4TA of the descriptor's
 * EPTP, for every VPID and every PCID (28.3.3.1 "Operations that
 * Invalidate Cached Mappings"; 30.3 INVEPT: "regardless of the VPID and
 * PCID values with which those mappings may be associated"). Linear
 * mappings, which only INVVPID reaches, are created only with EPT off and
 * never derived from EPT entries. tests/x86_64/test_ept_recorder.c checks
 * this in its model: combined mappings of several VPIDs are gone after the
 * flush, and no INVVPID is executed. (A guest's own page-table changes
 * still need the guest's INVLPG, or INVVPID from a hypervisor emulating
 * it: that is stage 1, not this backend.)
 *
 * PORT DUTIES
 *
 *   - Link-time hooks (tlbbatch/port.h): tlbb_port_cpu_id(),
 *     tlbb_port_ipi_send_and_wait(), tlbb_port_debug_fail() in TLBB_DEBUG
 *     builds. The flush IPI's vector calls the `fn(arg)` it was given (the
 *     library's handler, also tlbb_ept_ipi_handler()), in VMX root
 *     operation, with interrupts disabled.
 *   - Exit on IPI: a CPU in guest mode must leave it to take the flush IPI
 *     ("external-interrupt exiting" pin-based control set, or a posted
 *     interrupt vector that is NOT the flush vector). The exit handler runs
 *     the handler before the next VM entry, then resumes the guest.
 *     send_and_wait returns only once each target has run it: until then
 *     that CPU is outside the guest or executing the handler.
 *   - VM entry hook: every VM entry (VMLAUNCH/VMRESUME) of a space is
 *     preceded by tlbb_ept_vm_enter() with interrupts disabled, after the
 *     last point where the port may still take interrupts and before the
 *     instruction; the VMCS's EPTP field holds that space's EPTP. Its
 *     first call on a CPU for a VM, and any call after the CPU ran another
 *     VM, sets the mask bit and may INVEPT; a re-entry of the VM the CPU
 *     entered last costs a few loads.
 *   - One struct tlbb_ept_cpu (= struct tlbb_mg_cpu) per CPU number,
 *     caller-owned, to tlbb_ept_init(); each is touched only by its own CPU.
 *   - Every space gets a CPU mask (tlbb_space_set_cpumask(); NULL: every
 *     CPU is reached) and its EPTP (tlbb_ept_space_set_eptp()) after
 *     tlbb_space_init() and after tlbb_space_set_id(), before its first VM
 *     entry. The port never clears mask bits: the backend trims a CPU that
 *     the flush finds in another VM.
 *   - Lifecycle and EPTP recycling (the rules of tlbb_space_fini() and
 *     tlbb_space_set_id()): end a space's life or change its EPTP only
 *     once no CPU will enter it again (every vCPU of the VM stopped) and no
 *     CPU has it as the last VM entered, or that CPU has entered another
 *     space since; the core runs the race check first. Then the EPT root
 *     page (its EP4TA) may be reused for a new space at once: the new
 *     space has a new context number, so each CPU's first entry of it
 *     misses the slot table and INVEPTs that EPTP. Two live spaces must not
 *     share an EP4TA.
 *   - tlbb_flush() and tlbb_flush_pending() run in VMX root operation with
 *     preemption disabled and interrupts ENABLED (two CPUs flushing at
 *     once must take each other's IPIs). INVEPT is executed in VMX root
 *     operation only: the library's handler, VM entry hook and flush.
 *   - CPU numbers below the ncpus given to tlbb_ept_init(), itself
 *     <= TLBB_MAX_CPUS.
 *
 * The static binding (-Dstatic_backend=true) binds one backend: a kernel
 * that binds the stage-1 x86-64 backend uses this one through its struct
 * tlbb_backend in the hook-table build only.
 */
#ifndef TLBBATCH_X86_EPT_H
#define TLBBATCH_X86_EPT_H

#include <tlbbatch/maskgen.h>

#ifdef __cplusplus
extern "C" {
#endif

/* INVEPT types the CPU supports (IA32_VMX_EPT_VPID_CAP, MSR 0x48c). */
#define TLBB_EPT_INVEPT_SINGLE 0x1u /* bit 25: single-context */
#define TLBB_EPT_INVEPT_ALL 0x2u    /* bit 26: all-context; required */

/* The capability MSR's bits, for ports that pass it as it is. */
#define TLBB_EPT_CAP_INVEPT (1ull << 20)
#define TLBB_EPT_CAP_INVEPT_SINGLE (1ull << 25)
#define TLBB_EPT_CAP_INVEPT_ALL (1ull << 26)

struct tlbb_ept_config {
	unsigned features; /* TLBB_EPT_INVEPT_* */
};

#define tlbb_ept_cpu tlbb_mg_cpu

/* One backend instance. Caller-owned; contents private to the backend. */
struct tlbb_ept {
	struct tlbb_backend be;
	struct tlbb_ept_config cfg;
	struct tlbb_mg mg;
};

/* The features of a raw IA32_VMX_EPT_VPID_CAP value. */
static inline unsigned tlbb_ept_features_from_cap(uint64_t cap)
{
	if (!(cap & TLBB_EPT_CAP_INVEPT))
		return 0;
	return ((cap & TLBB_EPT_CAP_INVEPT_SINGLE) ? TLBB_EPT_INVEPT_SINGLE : 0) |
	       ((cap & TLBB_EPT_CAP_INVEPT_ALL) ? TLBB_EPT_INVEPT_ALL : 0);
}

/*
 * Set up @e with @ncpus per-CPU structures in @percpu (indexed by
 * tlbb_port_cpu_id()). TLBB_EINVAL for NULL @e/@cfg/@percpu, @ncpus == 0,
 * @ncpus > TLBB_MAX_CPUS, or a CPU without all-context INVEPT (the only
 * flush that reaches every EPTP: a CPU the backend cannot track, global
 * requests, and any single-context INVEPT that fails fall back to it).
 * Without single-context, every flush is all-context. Call once, before
 * any space is initialised on it.
 */
enum tlbb_status tlbb_ept_init(struct tlbb_ept *e, const struct tlbb_ept_config *cfg,
		  struct tlbb_ept_cpu *percpu, unsigned ncpus);

static inline const struct tlbb_backend *tlbb_ept_backend(const struct tlbb_ept *e)
{
	return &e->be;
}

/*
 * The EPTP of @s (as written to the VMCS: EP4TA, walk length, memory
 * type, A/D enable), after tlbb_space_init()/tlbb_space_set_id() and
 * before the space's first VM entry. TLBB_EINVAL for NULL @s, a space of
 * another backend, or @eptp with no EP4TA.
 */
enum tlbb_status tlbb_ept_space_set_eptp(struct tlbb_space *s, uint64_t eptp);

/* The EPTP of @s (0: not set). */
uint64_t tlbb_ept_space_eptp(const struct tlbb_space *s);

/*
 * VM entry on this CPU into @s, interrupts disabled, just before
 * VMLAUNCH/VMRESUME. Returns true if it executed INVEPT (the CPU's cached
 * mappings for the EPTP could be older than the space's generation).
 */
bool tlbb_ept_vm_enter(struct tlbb_ept *e, struct tlbb_space *s);

/* The flush-IPI handler (what the backend's `fn` runs). */
void tlbb_ept_ipi_handler(void *request);

#ifdef __cplusplus
}
#endif

#endif /* TLBBATCH_X86_EPT_H */
