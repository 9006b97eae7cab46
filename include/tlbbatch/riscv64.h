/* SPDX-License-Identifier: MIT */
/*
 * tlbbatch riscv64 backend (Sv39/Sv48/Sv57, ASIDs in satp).
 *
 * RISC-V has no broadcast invalidation: SFENCE.VMA acts on the hart that
 * executes it, so other harts are reached by interrupting them (the x86
 * shape). The backend is built on the mask + IPI round + generation engine
 * shared with x86-64 (tlbbatch/maskgen.h); what is its own is the fence
 * instructions (arch/riscv64/riscv_insn.h) and the choice, made by the port
 * at init, of how the remote part travels:
 *
 *   IPI path  (default) ONE tlbb_port_ipi_send_and_wait() round per flush to
 *             the harts in the space's mask but this one; each runs the
 *             engine's request: skip when its generation is current,
 *             otherwise SFENCE.VMA rs1 = page, rs2 = ASID per page up to
 *             `ceiling` (default 33) pages, above it SFENCE.VMA x0, ASID.
 *             With TLBB_RISCV_SVINVAL the page loop is SINVAL.VMA per page
 *             between one SFENCE.W.INVAL and one SFENCE.INVAL.IR.
 *   SBI path  (TLBB_RISCV_SBI_RFENCE) ONE SBI call per flush (per 64-hart
 *             window of the mask): sbi_remote_sfence_vma_asid(hart_mask,
 *             hart_mask_base, start, size, ASID) for the batch's range, or
 *             start = 0, size = 2^XLEN - 1 (the whole ASID) above the
 *             ceiling. The firmware interrupts the harts and returns once
 *             they have fenced. The local part runs inline, as on the IPI
 *             path, through the engine (its generation skip included).
 *
 *   add     widens the batch's range: no instruction, no mask read, no
 *           shared write (the flush takes the space's generation number).
 *   race check (tlbb_flush_pending -> flush_space)
 *           the whole ASID on the space's mask (a fresh generation).
 *   global  spaces with TLBB_SPACE_GLOBAL (G-bit mappings, every ASID) are
 *           fenced without an ASID: SFENCE.VMA rs1 = page, rs2 = x0, or
 *           x0, x0 for all; on the SBI path sbi_remote_sfence_vma (FID 1).
 *   switch-in (tlbb_riscv_switch_space)
 *           as x86-64: mask bit first, generation second; satp is written
 *           with the space's ASID and the ASID is fenced (SFENCE.VMA x0,
 *           ASID) unless this hart's slot for it is current.
 *
 * THE SBI CALLING CONVENTION (SBI v1.0+, what the backend's ecall does)
 *   a7 = EID 0x52464E43 ("RFNC"), a6 = FID 2 (remote_sfence_vma_asid) or
 *   FID 1 (remote_sfence_vma, global spaces), a0 = hart_mask (bit i: hart
 *   hart_mask_base + i), a1 = hart_mask_base, a2 = start_addr, a3 = size in
 *   bytes, a4 = ASID; returns a0 = error (0 = SBI_SUCCESS), a1 = value.
 *   Only a0 and a1 are changed. Start 0 with size 2^XLEN - 1 is "the whole
 *   address space" (of the ASID). The backend never passes hart_mask_base
 *   = -1 ("every hart"): it names the harts of the mask. An error return
 *   is answered by the whole flush again over port IPIs when the port has
 *   them (never silently dropped): see tlbb_riscv_cpu_stats::sbi_errors.
 *
 * PORT DUTIES
 *   - Those of the engine (tlbbatch/maskgen.h): tlbb_port_cpu_id(); on the
 *     IPI path tlbb_port_ipi_send_and_wait() whose vector (the supervisor
 *     software interrupt the port sends with SBI sPI, clearing sip.SSIP)
 *     calls the `fn(arg)` it was given (also exported as
 *     tlbb_riscv_ipi_handler()); one struct tlbb_mg_cpu per CPU number; a
 *     CPU mask per space (tlbb_space_set_cpumask(), the mm_cpumask);
 *     tlbb_space_fini() / tlbb_space_set_id() only once no hart has the
 *     space loaded; tlbb_port_debug_fail() in TLBB_DEBUG builds.
 *   - Every satp load of a space goes through tlbb_riscv_switch_space(),
 *     interrupts off (sstatus.SIE clear), the first one on each hart too.
 *   - s->id is the ASID (the low ASIDLEN bits the hart implements; the port
 *     hands out only ASIDs that fit). On the SBI path the port gives the
 *     hart ID of every CPU number (tlbb_riscv_config::hartid, NULL: the CPU
 *     number is the hart ID).
 *   - tlbb_flush() and tlbb_flush_pending() run with preemption disabled
 *     and interrupts ENABLED (two harts flushing at once take each other's
 *     rounds), in S-mode (the ecall must reach the SBI firmware).
 *   - Spaces with TLBB_SPACE_GLOBAL hold G-bit entries and are never
 *     switched to: the port marks every hart in their mask itself
 *     (tlbb_space_cpu_enter()).
 *   - The port sets tlbb_riscv_config::features from what the harts
 *     implement: TLBB_RISCV_SVINVAL only when every hart has Svinval
 *     (SINVAL.VMA is an illegal instruction otherwise); the paging mode
 *     (Sv39 unless TLBB_RISCV_SV48 / TLBB_RISCV_SV57), which decides which
 *     addresses are valid: an SFENCE.VMA of an invalid address has no
 *     effect, so such a range becomes a whole-ASID fence.
 */
#ifndef TLBBATCH_RISCV64_H
#define TLBBATCH_RISCV64_H

#include <tlbbatch/maskgen.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Linux's tlb_flush_all_threshold is 64 on RISC-V; x86's 33 keeps the two alike. */
#define TLBB_RISCV_DEFAULT_CEILING 33u

#define TLBB_RISCV_SBI_RFENCE 0x1u /* remote part through SBI RFENCE, not port IPIs */
#define TLBB_RISCV_SVINVAL 0x2u    /* every hart implements Svinval */
#define TLBB_RISCV_SV48 0x4u       /* satp.MODE is Sv48: 48-bit virtual addresses */
#define TLBB_RISCV_SV57 0x8u       /* satp.MODE is Sv57: 57-bit virtual addresses */

struct tlbb_riscv_config {
	unsigned features;      /* TLBB_RISCV_* */
	unsigned ceiling;       /* max per-page fences per request; 0 = default */
	const uint32_t *hartid; /* SBI path: hart ID of each CPU number; NULL = identity */
};

/* Counted by the flushing CPU, one atomic step each. */
struct tlbb_riscv_stats {
	uint64_t sbi_calls;  /* RFENCE ecalls (one per round per 64-hart window) */
	uint64_t sbi_errors; /* ... that returned an error (then redone over IPIs) */
	uint64_t sbi_pages;  /* pages asked of the firmware by range (not whole-ASID) */
	uint64_t sbi_whole;  /* whole-ASID / whole-space requests */
};

/* One backend instance. Caller-owned; contents private to the backend. */
struct tlbb_riscv {
	struct tlbb_backend be;
	struct tlbb_riscv_config cfg;
	struct tlbb_mg mg;
	struct tlbb_riscv_stats st;
};

/*
 * Set up @rv with @ncpus per-CPU structures in @percpu (indexed by
 * tlbb_port_cpu_id()). @cfg may be NULL (IPI path, no Svinval, Sv39,
 * ceiling 33). TLBB_EINVAL for NULL @rv/@percpu, @ncpus == 0 or above
 * TLBB_MAX_CPUS, Sv48 and Sv57 both set, or the SBI path with a hart ID
 * table holding an ID >= TLBB_RISCV_MAX_HARTID. Call once, before any space
 * is initialised on it.
 */
#define TLBB_RISCV_MAX_HARTID (1u << 20)
int tlbb_riscv_init(struct tlbb_riscv *rv, const struct tlbb_riscv_config *cfg,
		    struct tlbb_mg_cpu *percpu, unsigned ncpus);

static inline const struct tlbb_backend *tlbb_riscv_backend(const struct tlbb_riscv *rv)
{
	return &rv->be;
}

/*
 * Context switch of this hart to @next, whose root page table is at
 * physical address @root (4 KiB aligned), interrupts off. Marks this CPU in
 * next->cpus, then writes satp = MODE | ASID (s->id) | PPN(@root) and
 * fences the ASID unless this hart's slot for it is current. Returns true
 * if it fenced.
 */
bool tlbb_riscv_switch_space(struct tlbb_riscv *rv, struct tlbb_space *next, uint64_t root);

/* The flush-IPI handler (IPI path): what the `fn` of a round runs. */
void tlbb_riscv_ipi_handler(void *request);

#ifdef __cplusplus
}
#endif

#endif /* TLBBATCH_RISCV64_H */
