// SPDX-License-Identifier: MIT
// A C++ translation unit writing a backend: backend.h's TLBB_ARCH_STRUCT,
// TLBB_ARCH_FITS (static_assert under C++, which rejects _Static_assert)
// and TLBB_ARCH must compile as C++ and work against the C library.
#include <tlbbatch/backend.h>

namespace {

TLBB_ARCH_STRUCT(cxx_batch) {
	uint64_t adds;
	uint64_t pages;
};
TLBB_ARCH_FITS(struct cxx_batch, struct tlbb_batch);

unsigned flushes, space_flushes;

void cxx_add(const struct tlbb_backend *, struct tlbb_batch *b, struct tlbb_space *s,
	     uint64_t start, uint64_t end, unsigned)
{
	struct cxx_batch *cb = TLBB_ARCH(b, struct cxx_batch);

	cb->adds++;
	cb->pages += (end - start) >> s->page_shift;
}

void cxx_flush(const struct tlbb_backend *, struct tlbb_batch *b)
{
	struct cxx_batch *cb = TLBB_ARCH(b, struct cxx_batch);

	if (cb->adds == 3 && cb->pages == 3)
		flushes++;
}

void cxx_flush_space(const struct tlbb_backend *, struct tlbb_space *)
{
	space_flushes++;
}

unsigned released;

void cxx_release(struct tlbb_release *)
{
	released++;
}

} // namespace

int main()
{
	struct tlbb_backend be = {};
	struct tlbb_space s;
	struct tlbb_batch b;

	be.name = "c++";
	be.add = cxx_add;
	be.flush = cxx_flush;
	be.flush_space = cxx_flush_space;
	if (tlbb_space_init(&s, &be, 1, nullptr) != TLBB_OK)
		return 1;
	tlbb_batch_init(&b);
	for (uint64_t va = 0x1000; va < 0x4000; va += 0x1000)
		if (tlbb_add_page(&b, &s, va, 0) != TLBB_OK)
			return 2;
	tlbb_flush(&b);
	// The core zeroed the storage after the flush, through uint64_t.
	if (flushes != 1 || TLBB_ARCH(&b, struct cxx_batch)->adds != 0)
		return 3;
	if (!tlbb_flush_pending(&s) || space_flushes != 1 || tlbb_flush_pending(&s))
		return 4;
	// The status enum and the invalidation flags as C++ sees them: the enum
	// converts to int (old callers), the flags OR as unsigned constants.
	enum tlbb_status st = tlbb_add_page(&b, &s, 0x1000, TLBB_INV_WRITABLE | TLBB_INV_LEAF_ONLY);
	int rc = tlbb_add_range(&b, &s, 0x3000, 0x2000, TLBB_ADD_WRITABLE);
	if (st != TLBB_OK || rc != TLBB_ERANGE || tlbb_strerror(st)[0] == '\0')
		return 6;
	if (tlbb_flush_range_sync(&s, 0x1000, 0x2000, TLBB_INV_LEAF_ONLY) != TLBB_OK)
		return 7;
	struct tlbb_release node;
	if (tlbb_batch_release(&b, &node, cxx_release) != TLBB_OK || released != 0)
		return 8;
	tlbb_flush(&b);
	if (released != 1)
		return 9;
	return tlbb_space_fini(&s) == TLBB_OK ? 0 : 5;
}
