/* SPDX-License-Identifier: MIT */
/*
 * consumer — the smallest program built against the INSTALLED library:
 *     cc consumer.c $(pkg-config --cflags --libs tlbbatch)
 * One CPU caches a translation, another reclaims the page through a batch;
 * after the flush the frame is freed and the sim confirms no stale access.
 */
#include <stdio.h>

#include <tlbbatch/sim.h>

int main(void)
{
	struct tlbb_sim_config cfg = { .ncpus = 2, .model = TLBB_SIM_ARM64 };
	struct tlbb_sim *sim = tlbb_sim_create(&cfg);
	struct tlbb_sim_space ss;
	struct tlbb_batch batch;
	struct tlbb_sim_stats st;
	int frame;

	if (!sim || tlbb_sim_space_init(sim, &ss, 1, 4) != TLBB_OK)
		return 1;
	frame = tlbb_sim_frame_alloc(sim);
	tlbb_sim_pte_set(&ss, 1, (unsigned)frame, true);
	tlbb_sim_switch_to(sim, 1, &ss);
	tlbb_sim_access(sim, 1, 0x1000, false); /* CPU1 caches the translation */

	tlbb_sim_cpu_enter(sim, 0);             /* CPU0 reclaims */
	tlbb_batch_init(&batch);
	tlbb_sim_pte_clear(&ss, 1);
	tlbb_add_page(&batch, &ss.space, 0x1000, 0);
	tlbb_flush(&batch);
	tlbb_sim_frame_set_state(sim, (unsigned)frame, TLBB_SIM_FRAME_RETIRED);
	tlbb_sim_access(sim, 1, 0x1000, false); /* must fault, not read the freed frame */

	tlbb_sim_get_stats(sim, &st);
	printf("consumer: backend %s, %llu TLBI, %llu DSB, %llu stale\n",
	       tlbb_sim_backend(sim)->name, (unsigned long long)st.tlbi_ops,
	       (unsigned long long)st.dsb, (unsigned long long)st.stale);
	tlbb_sim_space_fini(&ss);
	tlbb_sim_destroy(sim);
	return st.stale == 0 && st.dsb == 1 ? 0 : 1;
}
