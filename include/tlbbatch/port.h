/* SPDX-License-Identifier: MIT */
/*
 * Port hooks: the short list of functions a kernel (or unikernel, or
 * hypervisor) implements so that the hardware backends can run. They are
 * plain link-time functions, as in uACPI: no registration, no indirection.
 *
 * The portable core (lib/) calls none of them. Only the hardware backends
 * do, and each backend's header says which ones it needs:
 *
 *   hook                          arm64            x86-64
 *   tlbb_port_cpu_id()            debug builds     yes
 *   tlbb_port_ipi_send_and_wait() no               yes
 *   tlbb_port_debug_fail()        debug builds     debug builds
 *
 * Hosted backends (sim, vcpu) need none of them.
 */
#ifndef TLBBATCH_PORT_H
#define TLBBATCH_PORT_H

#include <tlbbatch/tlbbatch.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The number of the CPU executing the call, below TLBB_MAX_CPUS. Called with
 * preemption disabled by the backend's caller where the answer matters.
 */
unsigned tlbb_port_cpu_id(void);

/*
 * Run @fn(@arg) on every CPU in @targets except the calling one (the
 * backends do local work inline) in interrupt context, and return only once
 * every one of them has returned from @fn. One call is one "IPI round".
 * The port may send one multicast IPI or one per CPU; either way the batch
 * pays for one round of waiting.
 *
 * @targets is not a private copy: it is a space's live mask (the port's
 * mm_cpumask, which switch-ins set and flush handlers trim while the round
 * runs) or the batch's gathered one, so that no mask of TLBB_MAX_CPUS bits
 * is ever copied onto the stack. NULL means every online CPU. Read each
 * word once, atomically (tlbb_cpumask_next() does), as Linux's
 * smp_call_function_many() does with its mask: a CPU whose bit is set for
 * the whole call must run @fn; one whose bit appears or disappears during
 * it may run @fn or not (the backend's generations cover both). The
 * backend never calls with a mask that holds no CPU but the caller.
 */
void tlbb_port_ipi_send_and_wait(const tlbb_cpumask_t *targets, void (*fn)(void *arg),
				 void *arg);

/*
 * A debug-build check failed (TLBB_DEBUG defined): @what names the rule.
 * Should not return; a kernel panics here.
 */
void tlbb_port_debug_fail(const char *what);

#ifdef __cplusplus
}
#endif

#endif /* TLBBATCH_PORT_H */
