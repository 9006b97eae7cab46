/* SPDX-License-Identifier: MIT */
/*
 * Negative control of tools/check-stack: a public function that copies a
 * CPU mask onto its stack, as the x86-64 flush once did. At
 * TLBB_MAX_CPUS=4096 that is 512 bytes: the check must reject it.
 */
#include <tlbbatch/tlbbatch.h>

void tlbb_test_mask_sink(const tlbb_cpumask_t *m);

void tlbb_test_stack_hog(const tlbb_cpumask_t *live)
{
	tlbb_cpumask_t copy;

	tlbb_cpumask_clear(&copy);
	tlbb_cpumask_or(&copy, live);
	tlbb_test_mask_sink(&copy);
}
