#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the stage-2 fuzzer's seed corpus (tests/arm64/corpus-s2/): random
programs from fixed seeds, so the corpus can be regenerated exactly.

    gen-s2-corpus.py DIR [N]

Byte 0 (config) and byte 1 (each CPU's loaded VM) are random; then
operations of three bytes (fuzz_stage2.c: do_op), with guest accesses,
adds and flushes weighted up so that most programs cache, retire and
discharge something.
"""
import os
import random
import sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 48
os.makedirs(out, exist_ok=True)
# op weights: access, add, range add, flush, race check, make, sync, migrate, add space
weights = [30, 16, 6, 10, 6, 12, 4, 3, 2]
for i in range(n):
    rnd = random.Random(0x5702 + i)
    data = bytearray([rnd.randrange(32), rnd.randrange(256)])
    for _ in range(rnd.randrange(40, 250)):
        op = rnd.choices(range(9), weights)[0]
        data += bytes([op + 9 * rnd.randrange(28), rnd.randrange(256), rnd.randrange(256)])
    with open(os.path.join(out, "seed-random-%02d" % i), "wb") as f:
        f.write(bytes(data))
