#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write arch/x86_64/x86_64.c with the 4cf5afc fix taken out.

The fix marks a batch NONCONTIG when another batch's add took a number
between two of its own, so that its flush claims no catch-up over numbers
that are not its own. Without it the pre-fix bug is back (a CPU raised
into the batch's range by a whole flush skips the other batch's page).
The x86 sequence fuzzer must report the crafted input crafted/interleave
against this mutant (meson test x86-fuzz-detects-interleave-mutant).

    mutate-interleave.py IN OUT

Fails if the fix's lines are not found exactly once: a changed backend
must not silently turn the control into a copy of the fixed code.
"""
import re
import sys

src = open(sys.argv[1]).read()
pattern = re.compile(r"\n[ \t]*if \(g != xb->gen_last \+ 1\)\n[ \t]*f \|= X86B_NONCONTIG;")
found = pattern.findall(src)
if len(found) != 1:
    sys.exit("mutate-interleave.py: the interleaving check was found %d times, not once"
             % len(found))
open(sys.argv[2], "w").write(pattern.sub("", src))
