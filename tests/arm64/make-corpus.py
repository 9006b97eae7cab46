#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the arm64 sequence fuzzer's crafted inputs and hand-made seeds.

The byte format is decoded by tests/arm64/fuzz_arm64.c (setup() and
do_op()); the helpers below spell it out. Run from anywhere:

    tests/arm64/make-corpus.py

It (re)writes crafted/* and corpus/seed-*; inputs libFuzzer kept (named by
their SHA-1) are left alone.
"""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))

RANGE, KPTI, KSPACE, THREE, ERRATUM, MAXOPS8, THRESH16, LPA2 = (1 << i for i in range(8))
U0, U1, U2 = 0, 1, 2
IDLE = 3
SYNC = 3  # batch number 3: the synchronous path (NULL batch / flush_range_sync)


def header(cfg, loads, k_low=False):
    """loads: the user space each of CPUs 0..3 runs (IDLE: none);
    k_low: the global space K in the TTBR0 half (range ops reach it)."""
    b = 0
    for c, s in enumerate(loads):
        b |= s << (2 * c)
    return bytes([cfg, b, 1 if k_low else 0])


def a(cpu, batch=0, remap=0, wr=0, leaf=0):
    return cpu | batch << 2 | remap << 4 | wr << 5 | leaf << 6


def read(cpu, page, kernel=False, khalf=False):
    """CPU reads a page of its space (or of K): the table walk, then the leaf."""
    return bytes([0, cpu | (4 if kernel else 0) | (8 if khalf else 0), page])


def read8(cpu, page):
    return bytes([9, cpu, page])


# Batched operations run on the CPU of the batch's task (batch b starts on CPU b).
def add_page(batch, s, page, cpu=0, remap=0, wr=0, leaf=0):
    return bytes([1, a(cpu, batch, remap, wr, leaf), s, page])


def add_range(batch, s, page, n, cpu=0, remap=0, wr=0, leaf=0):
    return bytes([2, a(cpu, batch, remap, wr, leaf), s, page, n - 1])


def add_space(batch, s, mask, cpu=0, remap=0, wr=0):
    return bytes([3, a(cpu, batch, remap, wr), s, mask])


def flush(batch, dirty=0):
    return bytes([4, a(0, batch, dirty)])


def flush_pending(cpu, s):
    return bytes([5, cpu, s])


def switch(cpu, s):
    return bytes([6, cpu, s])


def migrate(task, to, tracked=True):
    """Task (batch) moves to CPU @to through its CPU's context switch."""
    return bytes([7, 0, task | to << 2 | (0 if tracked else 16)])


def arm(cpu, nth, nested):
    """At CPU @cpu's @nth next interleaving point (before/after each
    instruction), run @nested (up to two operations)."""
    return bytes([8, cpu, nth - 1]) + (nested + bytes(8))[:8]


def table(batch, s, region, cpu=0, remap=0):
    """A page table (8 pages) freed or replaced, then added (never leaf-only)."""
    return bytes([10, a(cpu, batch, remap), s, region])


def death(cpu, s):
    return bytes([11, cpu, s])


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def crafted():
    d = os.path.join(HERE, "crafted")
    c = os.path.join(HERE, "corpus")
    os.makedirs(d, exist_ok=True)
    os.makedirs(c, exist_ok=True)

    def both(name, p):
        write(os.path.join(d, name), p)
        write(os.path.join(c, "seed-" + name), p)

    # One page batched by task 0 on CPU 0 while CPU 1 caches it, then
    # flushed: stale if TLBIs remove nothing, if the DSB completes nothing,
    # if the flush has no DSB, or if the TLBI names another ASID.
    p = header(0, [U0, U0, U0, U0]) + read(1, 5) + add_page(0, U0, 5) + flush(0)
    both("drop-tlbi", p)
    both("dsb-completes-nothing", p)
    both("no-batch-dsb", p)
    both("wrong-asid", p)
    # The race check from CPU 2 while task 0's TLBI is still pending on CPU 0:
    # a bare DSB on CPU 2 completes nothing.
    p = header(0, [U0, U0, U0, U0]) + read(1, 5) + add_page(0, U0, 5) + flush_pending(2, U0)
    both("bare-dsb", p)
    # Task 0 migrates from CPU 0 to CPU 2 between its add and its flush: the
    # flush's DSB on CPU 2 completes nothing of CPU 0's TLBI unless the
    # switch barrier did.
    p = header(0, [U0, U0, U0, U0]) + read(1, 5) + add_page(0, U0, 5)
    p += migrate(0, 2) + flush(0)
    both("no-switch-barrier", p)
    # Range ops: 4 pages = one RVAE1IS with SCALE 0, NUM 1 (NUM 0 covers 2).
    p = header(RANGE, [U0, U0, U0, U0]) + read8(1, 0) + add_range(0, U0, 0, 4) + flush(0)
    both("range-num", p)
    # LPA2: U1 starts 12 KiB past 64 KiB; pages 0..3 are planned from the
    # aligned base as 7 pages: RVAE1IS SCALE 0 NUM 2 (6 pages), then one VAE1IS.
    p = header(RANGE | LPA2, [U0, U1, U0, U0]) + read8(1, 0) + add_range(0, U1, 0, 4) + flush(0)
    both("range-num-lpa2", p)
    # 64 pages = one RVAE1IS with SCALE 1, NUM 0 (SCALE 0 covers 2 pages).
    p = header(RANGE, [U0, U0, U0, U0]) + read8(1, 8) + add_range(0, U0, 0, 64) + flush(0)
    both("range-scale", p)
    # A freed page table: its walk-cache entry on CPU 1 must go (VAE1IS, not VALE1IS).
    p = header(0, [U0, U0, U0, U0]) + read(1, 5) + table(0, U0, 0) + flush(0)
    both("leaf-always", p)
    # The walker on CPU 1 refills page 5 right after CPU 0's TLBI: without the
    # DSB ISHST before it, the cleared PTE is not yet visible and the old
    # translation survives the TLBI. (Interleaving point 2 is after the TLBI
    # in the mutant, after the DSB ISHST in the backend.)
    p = header(0, [U0, U0, U0, U0]) + read(1, 5)
    p += arm(0, 2, read(1, 5)) + add_page(0, U0, 5) + flush(0)
    both("no-ishst", p)


def seeds():
    d = os.path.join(HERE, "corpus")
    # Migration through the unconditional barrier, KPTI pairs, a global space.
    p = header(KPTI | KSPACE, [U0, U0, U1, U0])
    for c in range(4):
        p += read(c, 3, kernel=True) + read(c, 7) + read(c, 7, khalf=True)
    p += add_page(0, U0, 7, wr=1) + add_page(1, 2, 3) + migrate(0, 3, tracked=False)
    p += flush_pending(2, U0) + flush(0, dirty=1) + flush(1)
    write(os.path.join(d, "seed-kpti-global-migrate"), p)
    # Range ops over many sizes, LPA2, leaf-only, interleaved batches.
    p = header(RANGE | LPA2 | THREE, [U0, U1, U2, U0])
    for c in range(4):
        p += read8(c, 0) + read8(c, 32) + read8(c, 64)
    p += add_range(0, U1, 1, 70, leaf=1) + add_range(1, U0, 3, 33) + add_range(0, U2, 0, 66)
    p += arm(2, 3, read8(1, 0) + flush_pending(3, U1)) + add_range(2, U0, 40, 9, cpu=2)
    p += flush(1) + flush(0) + flush(2)
    write(os.path.join(d, "seed-range-interleaved"), p)
    # Erratum, small op limit, threshold 16, tables, deaths.
    p = header(ERRATUM | MAXOPS8 | THRESH16, [U0, U1, U0, U1])
    for c in range(4):
        p += read8(c, 0) + read8(c, 16)
    p += table(0, U0, 1, remap=1) + add_range(1, U1, 0, 12) + table(SYNC, U1, 2)
    p += death(3, U0) + read8(0, 8) + add_space(2, U0, 0x0f) + flush(2)
    p += flush_pending(1, U1) + flush(1)
    write(os.path.join(d, "seed-erratum-tables-death"), p)
    # Interrupts in the middle of adds and flushes: walks, race checks, migrations.
    p = header(KSPACE, [U0, U0, U0, U0])
    for c in range(4):
        p += read8(c, 0)
    p += arm(0, 2, read(2, 1) + flush_pending(3, U1)) + add_range(0, U0, 0, 6)
    p += arm(1, 1, migrate(2, 3) + read(0, 2, kernel=True)) + add_page(1, 2, 2)
    p += arm(0, 1, add_page(2, U0, 4)) + flush(0) + flush(1) + flush(2)
    write(os.path.join(d, "seed-interrupts"), p)
    # Range ops on a global space in the TTBR0 half (RVAAE1IS, RVAALE1IS),
    # odd counts (a single VAE1IS first, then ranges from the next page).
    p = header(RANGE | KSPACE, [U0, U1, U0, U1], k_low=True)
    for c in range(4):
        p += read8(c, 0) + read(c, 1, kernel=True) + read(c, 9, kernel=True)
        p += read(c, 40, kernel=True) + read(c, 70, kernel=True)
    p += add_range(0, 2, 1, 9) + add_range(1, 2, 40, 33, leaf=1) + add_range(2, U0, 0, 5, cpu=2)
    p += add_range(SYNC, U1, 3, 7, cpu=3) + flush(0) + flush(1) + flush(2)
    write(os.path.join(d, "seed-range-global-odd"), p)
    # Leaf-only adds through the general path (KPTI pairs: VALE1IS twice per
    # page; several pages at once), cached under both halves of the pair.
    p = header(KPTI, [U0, U0, U1, U1])
    for c in range(4):
        p += read8(c, 0) + read8(c, 0) + bytes([9, c | 8, 0])
    p += add_page(0, U0, 3, leaf=1) + add_range(1, U0, 4, 3, leaf=1, cpu=1)
    p += add_range(2, U1, 0, 2, leaf=1, cpu=2) + flush(0) + flush(1) + flush(2)
    write(os.path.join(d, "seed-leaf-kpti"), p)
    # Leaf-only single pages on the plain configuration (the backend's common
    # add: VALE1IS, and VAALE1IS for a global space), cached on every CPU.
    p = header(KSPACE, [U0, U0, U0, U0])
    for c in range(4):
        p += read(c, 6) + read(c, 6, kernel=True)
    p += add_page(0, U0, 6, leaf=1) + add_page(1, 2, 6, leaf=1, cpu=1) + flush(0) + flush(1)
    write(os.path.join(d, "seed-leaf-single"), p)
    # A walker on CPU 1 right after the synchronous path's TLBI on CPU 0
    # (point 2: after its DSB ISHST, which must have made the clear visible).
    p = header(0, [U0, U0, U0, U0]) + read(1, 5) + read(0, 5)
    p += arm(0, 2, read(1, 5)) + add_page(SYNC, U0, 5)
    p += arm(0, 2, read(1, 9)) + read(1, 9) + add_range(SYNC, U0, 9, 2)
    write(os.path.join(d, "seed-sync-walker"), p)
    rng = random.Random(20261201)
    for k in range(32):
        cfg = rng.randrange(256)
        p = header(cfg, [rng.randrange(4) for _ in range(4)], k_low=rng.randrange(2))
        for _ in range(rng.randrange(30, 160)):
            op = rng.randrange(12)
            cpu = rng.randrange(4)
            if op in (0, 9):
                p += bytes([op, cpu | rng.randrange(4) << 2, rng.randrange(72)])
            elif op == 8:
                p += bytes([8, cpu, rng.randrange(8)]) + bytes(rng.randrange(256) for _ in range(8))
            else:
                p += bytes([op]) + bytes(rng.randrange(256) for _ in range(4))
        write(os.path.join(d, "seed-random-%02d" % k), p)


if __name__ == "__main__":
    crafted()
    seeds()
