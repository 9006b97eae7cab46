// SPDX-License-Identifier: MIT
/*
 * tlbb_poison: tlbbatch's x86-64 backend in a Linux kernel, checked the way
 * the bare-metal images check it (examples/unikernel-x86_64).
 *
 * A window of kernel virtual memory (a vmap() of `slots` pages) is one
 * global tlbbatch space. A writer kthread on CPU 0 retargets its pages in
 * batches: for each page it points the PTE at a fresh frame and queues
 * tlbb_add_page(); after `batch` pages it calls tlbb_flush() and only then
 * writes POISON into the frames the batch unmapped and puts them back in the
 * pool. Reader kthreads pinned to the other CPUs read every page of the
 * window without pause. A reader that sees POISON read through a stale TLB
 * entry after the flush returned: the library under-flushed.
 *
 * With control=1 the writer skips tlbb_flush(): the readers must then see
 * POISON (the TLB entries really survive the PTE change), or the test
 * proves nothing.
 *
 * Why this mapping can be retargeted from a module: vmap() builds ordinary
 * 4 KiB kernel PTEs, lookup_address() (exported) finds them, and the PTE
 * write is set_pte(). No kernel code looks at these PTEs again until the
 * closing vunmap(), which clears whatever is there; the pages the module
 * allocated are freed by the module.
 *
 * Result: one line "tlbb_poison: RESULT {json}" on the console.
 */
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/gfp.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <asm/pgtable.h>
#include <asm/processor-flags.h>
#include <asm/special_insns.h>

#include <tlbbatch/tlbbatch.h>

#include "tlbb_linux.h"

static bool control;
module_param(control, bool, 0444);
MODULE_PARM_DESC(control, "skip tlbb_flush(): the readers must see stale translations");
static unsigned retargets = 12000;
module_param(retargets, uint, 0444);
static unsigned batch = 16;
module_param(batch, uint, 0444);
MODULE_PARM_DESC(batch, "pages per tlbb_flush() (consecutive pages: INVLPG up to 33)");
static unsigned slots = 64;
module_param(slots, uint, 0444);
static unsigned readers = 3;
module_param(readers, uint, 0444);

#define POISON 0xdeadbeefdeadbeefULL
#define GOOD(n) (0x600d000000000000ULL | (u64)(n))
#define MAX_READERS 16

static struct tlbb_x86 x86;
static struct tlbb_space space;
static u8 *window;
static pte_t **ptes;
static struct page **mapped; /* the frame each slot maps now */
static struct page **pool;   /* frames mapped nowhere, poisoned */
static unsigned npool;
static DEFINE_SPINLOCK(ptl);

static bool stop;
static atomic64_t stale, reads;
static unsigned nreaders;
static struct task_struct *reader_task[MAX_READERS];
static struct completion writer_done;
static u64 done_retargets, done_flushes;
static ktime_t t_start, t_end;

static void frame_write(struct page *p, u64 v)
{
	WRITE_ONCE(*(u64 *)page_address(p), v);
}

static int reader(void *unused)
{
	unsigned long n = 0;

	while (!READ_ONCE(stop)) {
		for (unsigned i = 0; i < slots; i++)
			if (READ_ONCE(*(u64 *)(window + (size_t)i * PAGE_SIZE)) == POISON)
				atomic64_inc(&stale);
		atomic64_add(slots, &reads);
		/* Kernel-thread switches keep the TLB (lazy mm): yielding is free. */
		if (++n % 256 == 0)
			cond_resched();
	}
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/*
 * The control runs without IPI rounds, so its writer would finish before
 * the readers looked at anything: give every reader @n full passes over
 * the window while the dropped batch's frames hold POISON.
 */
static void wait_for_reader_passes(unsigned n)
{
	s64 target = atomic64_read(&reads) + (s64)n * nreaders * slots;

	while (nreaders && atomic64_read(&reads) < target)
		cpu_relax();
}

/* Point slot @i at @p; the caller holds ptl and queues the invalidation. */
static void retarget(unsigned i, struct page *p)
{
	pte_t old = READ_ONCE(*ptes[i]);

	set_pte(ptes[i], pfn_pte(page_to_pfn(p), pte_pgprot(old)));
}

static int writer(void *unused)
{
	struct tlbb_batch b;
	struct page **unmapped;
	unsigned nun = 0;

	unmapped = kcalloc(batch, sizeof(*unmapped), GFP_KERNEL);
	if (!unmapped)
		goto out;
	tlbb_batch_init(&b);
	msleep(20); /* let the readers fill their TLBs */
	t_start = ktime_get();
	for (unsigned r = 0; r < retargets; r++) {
		unsigned i = r % slots;
		struct page *fresh = pool[--npool];

		frame_write(fresh, GOOD(r));
		spin_lock(&ptl);
		unmapped[nun++] = mapped[i];
		mapped[i] = fresh;
		retarget(i, fresh);
		tlbb_add_page(&b, &space, (u64)(uintptr_t)(window + (size_t)i * PAGE_SIZE),
			      TLBB_ADD_WRITABLE);
		spin_unlock(&ptl);
		if (nun < batch)
			continue;
		preempt_disable();
		if (!control)
			tlbb_flush(&b);
		else
			tlbb_batch_init(&b); /* the control: the batch is dropped */
		preempt_enable();
		done_flushes++;
		/* Only now may the old frames be reused: poison them first. */
		while (nun) {
			struct page *p = unmapped[--nun];

			frame_write(p, POISON);
			pool[npool++] = p;
		}
		done_retargets = r + 1;
		if (control)
			wait_for_reader_passes(2);
		cond_resched(); /* RCU needs this CPU to pass through the scheduler */
	}
	t_end = ktime_get();
	kfree(unmapped);
out:
	complete(&writer_done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

static void free_frames(void)
{
	for (unsigned i = 0; i < slots; i++)
		if (mapped && mapped[i])
			__free_page(mapped[i]);
	for (unsigned i = 0; i < npool; i++)
		__free_page(pool[i]);
	kfree(mapped);
	kfree(pool);
	kfree(ptes);
}

static int setup_window(void)
{
	unsigned npages = 2 * slots + batch;

	mapped = kcalloc(slots, sizeof(*mapped), GFP_KERNEL);
	pool = kcalloc(npages, sizeof(*pool), GFP_KERNEL);
	ptes = kcalloc(slots, sizeof(*ptes), GFP_KERNEL);
	if (!mapped || !pool || !ptes)
		return -ENOMEM;
	for (unsigned i = 0; i < slots; i++) {
		mapped[i] = alloc_page(GFP_KERNEL);
		if (!mapped[i])
			return -ENOMEM;
		frame_write(mapped[i], GOOD(i));
	}
	for (npool = 0; npool < npages - slots; npool++) {
		pool[npool] = alloc_page(GFP_KERNEL);
		if (!pool[npool])
			return -ENOMEM;
		frame_write(pool[npool], POISON);
	}
	window = vmap(mapped, slots, VM_MAP, PAGE_KERNEL);
	if (!window)
		return -ENOMEM;
	for (unsigned i = 0; i < slots; i++) {
		unsigned level;

		ptes[i] = lookup_address((unsigned long)window + i * PAGE_SIZE, &level);
		if (!ptes[i] || level != PG_LEVEL_4K) {
			pr_err("tlbb_poison: slot %u is not a 4 KiB PTE\n", i);
			return -EINVAL;
		}
	}
	return 0;
}

static int __init tlbb_poison_init(void)
{
	struct tlbb_x86_cpu_stats st;
	struct task_struct *w;
	unsigned cpu;
	int ret;

	if (!batch || !slots || slots % batch || readers > MAX_READERS)
		return -EINVAL;
	ret = tlbb_linux_init(&x86);
	if (ret)
		return ret;
	ret = tlbb_linux_kernel_space(&x86, &space);
	if (ret)
		goto fail_port;
	ret = setup_window();
	if (ret)
		goto fail_window;

	stop = false;
	atomic64_set(&stale, 0);
	atomic64_set(&reads, 0);
	init_completion(&writer_done);
	nreaders = 0;
	for_each_online_cpu(cpu) {
		struct task_struct *t;

		if (cpu == 0 || nreaders == readers)
			continue;
		t = kthread_create_on_cpu(reader, NULL, cpu, "tlbb-reader/%u");
		if (IS_ERR(t))
			break;
		reader_task[nreaders++] = t;
		wake_up_process(t);
	}
	w = kthread_create_on_cpu(writer, NULL, 0, "tlbb-writer/%u");
	if (IS_ERR(w)) {
		ret = PTR_ERR(w);
		WRITE_ONCE(stop, true);
		goto stop_readers;
	}
	wake_up_process(w);
	wait_for_completion(&writer_done);
	WRITE_ONCE(stop, true);
	kthread_stop(w);
stop_readers:
	for (unsigned i = 0; i < nreaders; i++)
		kthread_stop(reader_task[i]);

	tlbb_linux_stats(&x86, &st);
	pr_info("tlbb_poison: RESULT {\"control\": %d, \"cpus\": %u, \"readers\": %u, "
		"\"la57\": %d, \"backend_la57\": %d, \"retargets\": %llu, \"batch\": %u, "
		"\"flushes\": %llu, \"ipi_rounds\": %llu, \"ipis_handled\": %llu, "
		"\"invlpg\": %llu, \"full\": %llu, \"reads\": %lld, \"stale\": %lld, "
		"\"ms\": %lld}\n",
		control, num_online_cpus(), nreaders, !!(__read_cr4() & X86_CR4_LA57),
		!!(x86.cfg.features & TLBB_X86_LA57), done_retargets, batch, done_flushes,
		tlbb_linux_rounds(), st.ipis, st.invlpg, st.full,
		(long long)atomic64_read(&reads), (long long)atomic64_read(&stale),
		(long long)ktime_ms_delta(t_end, t_start));

	/* The control left translations behind: drop them before the frames go. */
	preempt_disable();
	tlbb_flush_pending(&space);
	tlbb_space_fini(&space);
	preempt_enable();
	vunmap(window);
	free_frames();
	tlbb_linux_fini(&x86);
	/* The test's work is done at load; unload is a formality (rmmod). */
	return ret;

fail_window:
	if (window)
		vunmap(window);
	free_frames();
	tlbb_space_fini(&space);
fail_port:
	tlbb_linux_fini(&x86);
	return ret;
}

static void __exit tlbb_poison_exit(void)
{
}

module_init(tlbb_poison_init);
module_exit(tlbb_poison_exit);
MODULE_DESCRIPTION("tlbbatch x86-64 backend poison test");
MODULE_LICENSE("Dual MIT/GPL");
