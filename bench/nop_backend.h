/* SPDX-License-Identifier: MIT */
/*
 * A backend whose hooks do nothing: what the core alone costs (variant
 * "noop" of both benchmark programs).
 */
#ifndef BENCH_NOP_BACKEND_H
#define BENCH_NOP_BACKEND_H

#include <tlbbatch/backend.h>

static void nop_add(const struct tlbb_backend *be, struct tlbb_batch *b, struct tlbb_space *s,
		    uint64_t start, uint64_t end, unsigned flags)
{
}

static void nop_flush(const struct tlbb_backend *be, struct tlbb_batch *b)
{
}

static void nop_flush_space(const struct tlbb_backend *be, struct tlbb_space *s)
{
}

static const struct tlbb_backend nop_backend = {
	.name = "noop", .add = nop_add, .flush = nop_flush, .flush_space = nop_flush_space,
};

#endif
