// SPDX-License-Identifier: MIT
/*
 * tlbbatch's port hooks (tlbbatch/port.h) for Linux/x86-64.
 *
 *   CPU id     raw_smp_processor_id(): the backend asks with preemption
 *              disabled (its callers' rule), or from its IPI handler.
 *   IPI round  smp_call_function_many(wait=true) on the targets, which runs
 *              the handler in hardirq context on each and returns once all
 *              have; the backend does the local part itself. Offline CPUs
 *              are left out by smp_call_function_many, which is what the
 *              backend asks of a hotplug-aware port (tlbbatch/x86_64.h).
 *   debug      WARN(): a broken rule is a kernel bug, reported with a trace;
 *              the backend's fallback for it still runs.
 *
 * Rules checked on every round, as the backend states them: called with
 * preemption disabled (the CPU number must hold) and interrupts enabled
 * (two CPUs flushing at once must take each other's IPIs).
 */
#include <linux/atomic.h>
#include <linux/bug.h>
#include <linux/cpumask.h>
#include <linux/preempt.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <asm/cpufeature.h>

#include <tlbbatch/port.h>

#include "tlbb_linux.h"

/* One scratch kernel cpumask per CPU: NR_CPUS (8192 on Debian) is too
 * large for the stack, and a round runs with preemption off. */
static cpumask_var_t *scratch;
static atomic64_t rounds;
static tlbb_cpumask_t kernel_space_cpus; /* the kernel space's mask */

unsigned tlbb_port_cpu_id(void)
{
	return raw_smp_processor_id();
}

void tlbb_port_ipi_send_and_wait(const tlbb_cpumask_t *targets, void (*fn)(void *), void *arg)
{
	struct cpumask *m;
	unsigned c;

	WARN_ONCE(preemptible(), "tlbbatch: flush with preemption enabled");
	WARN_ONCE(irqs_disabled(), "tlbbatch: flush with interrupts disabled");
	atomic64_inc(&rounds);
	if (!targets) { /* every CPU: smp_call_function_many() leaves us out */
		smp_call_function_many(cpu_online_mask, fn, arg, true);
		return;
	}
	/* A snapshot of the live mask; smp_call_function_many() skips us. */
	m = scratch[smp_processor_id()];
	cpumask_clear(m);
	for (c = tlbb_cpumask_next(targets, 0); c < TLBB_MAX_CPUS; c = tlbb_cpumask_next(targets, c + 1))
		if (c < nr_cpu_ids)
			cpumask_set_cpu(c, m);
	smp_call_function_many(m, fn, arg, true);
}

void tlbb_port_debug_fail(const char *what)
{
	WARN(1, "tlbbatch: %s\n", what);
}

int tlbb_linux_init(struct tlbb_x86 *x)
{
	struct tlbb_x86_config cfg = { 0 };
	struct tlbb_x86_cpu *pc;
	unsigned c;
	int ret;

	if (nr_cpu_ids > TLBB_MAX_CPUS) {
		pr_err("tlbbatch: this kernel can number %u CPUs, the library was built for %u: "
		       "rebuild with TLBBATCH_MAX_CPUS=%u (or more)\n",
		       nr_cpu_ids, TLBB_MAX_CPUS, nr_cpu_ids);
		return -EINVAL;
	}
	scratch = kcalloc(nr_cpu_ids, sizeof(*scratch), GFP_KERNEL);
	pc = kcalloc(nr_cpu_ids, sizeof(*pc), GFP_KERNEL);
	if (!scratch || !pc)
		goto nomem;
	for_each_possible_cpu(c)
		if (!zalloc_cpumask_var(&scratch[c], GFP_KERNEL))
			goto nomem;
	/* Global kernel entries are all this port flushes: PCIDs play no part. */
	if (boot_cpu_has(X86_FEATURE_INVPCID))
		cfg.features |= TLBB_X86_INVPCID;
	/* LA57 is left to the backend, which reads CR4 itself. */
	ret = tlbb_x86_init(x, &cfg, pc, nr_cpu_ids);
	if (ret != TLBB_OK) {
		pr_err("tlbbatch: tlbb_x86_init: %s\n", tlbb_strerror(ret));
		kfree(pc);
		tlbb_linux_fini(NULL);
		return -EINVAL;
	}
	atomic64_set(&rounds, 0);
	return 0;
nomem:
	kfree(pc);
	tlbb_linux_fini(NULL);
	return -ENOMEM;
}

void tlbb_linux_fini(struct tlbb_x86 *x)
{
	unsigned c;

	if (scratch) {
		for_each_possible_cpu(c)
			free_cpumask_var(scratch[c]);
		kfree(scratch);
		scratch = NULL;
	}
	if (x)
		kfree(x->mg.cpu);
}

int tlbb_linux_kernel_space(struct tlbb_x86 *x, struct tlbb_space *s)
{
	unsigned c;
	int ret;

	ret = tlbb_space_init(s, tlbb_x86_backend(x), 0, NULL);
	if (ret == TLBB_OK)
		ret = tlbb_space_set_global(s, true);
	if (ret == TLBB_OK)
		ret = tlbb_space_set_cpumask(s, &kernel_space_cpus);
	if (ret != TLBB_OK)
		return -EINVAL;
	/*
	 * Possible, not online: a CPU brought online later needs no callback,
	 * and an offline one costs nothing (no round reaches it).
	 */
	for_each_possible_cpu(c)
		tlbb_space_cpu_enter(s, c);
	return 0;
}

u64 tlbb_linux_rounds(void)
{
	return atomic64_read(&rounds);
}

void tlbb_linux_stats(const struct tlbb_x86 *x, struct tlbb_x86_cpu_stats *sum)
{
	unsigned c;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(c) {
		const struct tlbb_x86_cpu_stats *st = &x->mg.cpu[c].st;

		sum->ipis += READ_ONCE(st->ipis);
		sum->local += READ_ONCE(st->local);
		sum->skipped += READ_ONCE(st->skipped);
		sum->invlpg += READ_ONCE(st->invlpg);
		sum->full += READ_ONCE(st->full);
	}
}
