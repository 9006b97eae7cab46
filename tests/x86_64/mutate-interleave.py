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

If the fix's lines are not found exactly once the source is copied
unchanged (with a note on stderr) rather than failing the build: tools/mutate
deletes those very lines in some of its mutants, and a build failure would
report them stillborn. A copy of the fixed backend makes the meson test fail
("no violation although one was expected"), so a refactored backend cannot
silently turn the control into a copy of the fixed code.
"""
import re
import sys

src = open(sys.argv[1]).read()
pattern = re.compile(r"\n[ \t]*if \(g != xb->gen_last \+ 1\)\n[ \t]*f \|= X86B_NONCONTIG;")
found = pattern.findall(src)
if len(found) != 1:
    sys.stderr.write("mutate-interleave.py: the interleaving check was found %d times, "
                     "not once: source copied unchanged\n" % len(found))
    out = src
else:
    out = pattern.sub("", src)
with open(sys.argv[2], "w") as f:
    f.write(out)
