/* SPDX-License-Identifier: MIT */
/*
 * The backend interface: what an architecture (or a simulator, or a vCPU
 * runtime) supplies. The core in lib/ owns the generation word, the batch
 * flags, range rounding and all bad-input answers; it calls these hooks and
 * contains no arch code at all.
 *
 * A backend is a caller-owned, usually const, struct of hooks plus a context
 * pointer. Several backends can coexist in one program (a hypervisor may run
 * stage-1 spaces on one and stage-2 VMIDs on another); one batch only ever
 * holds spaces of one backend.
 *
 * What each hook must guarantee:
 *
 *   should_defer(be, s)
 *       May the invalidation of @s be left incomplete until a later flush?
 *       Returning false is always safe.
 *
 *   add(be, b, s, start, end, flags)
 *       Queue (start the invalidation of) [start, end) in @s, or all of @s
 *       when TLBB_RANGE_ALL is in @flags (then start == end == 0). The core
 *       guarantees start < end, both granule-aligned, and the range no
 *       longer than s->full_flush_pages. Must not wait for completion.
 *       Must make the caller's PTE stores visible to other walkers before
 *       any remote CPU could act on the queued invalidation (arm64: DSB
 *       ISHST). Backend state goes in b->arch / b->cpus / s->arch.
 *
 *   flush(be, b)
 *       Complete every invalidation queued in @b since its last flush, on
 *       every CPU, before returning. The core zeroes b->arch and b->cpus
 *       afterwards. Called only when b->flush_required.
 *
 *   flush_space(be, s)
 *       Invalidate all of @s on every CPU that may cache it and complete it
 *       before returning, from whatever CPU the caller runs on. Used by the
 *       race check: it must not rely on being on the CPU that queued work
 *       (on arm64 a bare DSB here is WRONG: only the issuing CPU's DSB
 *       completes its TLBIs).
 *
 *   space_init(be, s)        optional: set up s->arch (also after an id change).
 *
 *   space_fini(be, s)        optional: @s is ending its life with s->id, or
 *       leaving s->id for another (tlbb_space_fini(), tlbb_space_set_id()).
 *       No CPU runs @s and no batch holds work for it; nothing batched is
 *       outstanding (the core ran the race check first). Afterwards s->id
 *       must be safe to hand to a new space at once: whatever the TLBs still
 *       hold under it must be unusable by that space (arm64: invalidate the
 *       ASID and complete it; x86-64: nothing, its per-CPU slots know spaces
 *       by a number never reused, so the next load of the PCID flushes it).
 *       Without this hook the core calls flush_space(be, s) instead.
 *
 * Hooks are called with no library lock held; the core calls add() before
 * bumping the pending generation, so a racing tlbb_flush_pending() that sees
 * the bump also sees (through the PTL) an invalidation already started.
 */
#ifndef TLBBATCH_BACKEND_H
#define TLBBATCH_BACKEND_H

#include <tlbbatch/tlbbatch.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flag passed to backend add(): invalidate the whole space. */
#define TLBB_RANGE_ALL 0x80000000u
/*
 * Flag passed to backend add(): @s is the space of the batch's previous add
 * since its last flush (the core tracks it in b->last). A backend may use it
 * instead of comparing its own record; ignoring it is always correct.
 */
#define TLBB_RANGE_SAME 0x40000000u

struct tlbb_backend {
	const char *name;
	void *ctx; /* backend instance data */
	bool (*should_defer)(const struct tlbb_backend *be, const struct tlbb_space *s);
	void (*add)(const struct tlbb_backend *be, struct tlbb_batch *b, struct tlbb_space *s,
		    uint64_t start, uint64_t end, unsigned flags);
	void (*flush)(const struct tlbb_backend *be, struct tlbb_batch *b);
	void (*flush_space)(const struct tlbb_backend *be, struct tlbb_space *s);
	void (*space_init)(const struct tlbb_backend *be, struct tlbb_space *s);
	void (*space_fini)(const struct tlbb_backend *be, struct tlbb_space *s);
};

/*
 * Backend-private storage. A backend declares its own struct with
 * TLBB_ARCH_STRUCT, checks once at file scope that it fits, and reaches it
 * through the cast:
 *     TLBB_ARCH_STRUCT(my_batch) { uint64_t a, b; };
 *     TLBB_ARCH_FITS(struct my_batch, struct tlbb_batch);
 *     struct my_batch *mb = TLBB_ARCH(b, struct my_batch);
 *
 * Why the attribute: the storage is declared uint64_t arch[], the core
 * writes it as uint64_t (zeroing it after a flush, at init), and the
 * backend reads and writes it as its own struct. Without may_alias that is
 * an access of a uint64_t object through an lvalue of another type, which
 * C's aliasing rule lets the compiler assume never happens; with LTO the
 * core's zeroing and the backend's accesses meet in one optimisation unit
 * and may be reordered. An lvalue of a may_alias type is treated like a
 * character type: it may alias anything, so every such access is ordered
 * with the core's. TLBB_ARCH_STRUCT is the only supported way to declare a
 * backend's private struct (GCC and Clang ignore the attribute on a struct
 * already defined, so it must be on the definition).
 */
#define TLBB_ARCH_STRUCT(name) struct __attribute__((__may_alias__)) name
#define TLBB_ARCH(obj, type) ((type *)(void *)(obj)->arch)
#ifdef __cplusplus
#define TLBB_STATIC_ASSERT_ static_assert
#define TLBB_ALIGNOF_ alignof
#else
#define TLBB_STATIC_ASSERT_ _Static_assert
#define TLBB_ALIGNOF_ _Alignof
#endif
#define TLBB_ARCH_FITS(type, owner)                                               \
	TLBB_STATIC_ASSERT_(sizeof(type) <= sizeof(((owner *)0)->arch) &&          \
				    TLBB_ALIGNOF_(type) <= TLBB_ALIGNOF_(uint64_t),        \
			    #type " does not fit in " #owner "::arch")

#ifdef __cplusplus
}
#endif

#endif /* TLBBATCH_BACKEND_H */
