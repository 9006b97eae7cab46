/* SPDX-License-Identifier: MIT */
/* The Linux port of tlbbatch's x86-64 backend (port.c). */
#ifndef TLBB_LINUX_H
#define TLBB_LINUX_H

#include <tlbbatch/x86_64.h>

/* Set up @x for every CPU id the kernel can hand out. 0 or -errno. */
int tlbb_linux_init(struct tlbb_x86 *x);
void tlbb_linux_fini(struct tlbb_x86 *x);

/*
 * Make @s the kernel's own (global) space: every possible CPU may cache
 * it, and no context switch names it, so all their bits are set now.
 */
int tlbb_linux_kernel_space(struct tlbb_x86 *x, struct tlbb_space *s);

/* Send-and-wait rounds so far (one per flush that reached another CPU). */
u64 tlbb_linux_rounds(void);

/* The backend's per-CPU counters, summed over the possible CPUs. */
void tlbb_linux_stats(const struct tlbb_x86 *x, struct tlbb_x86_cpu_stats *sum);

#endif /* TLBB_LINUX_H */
