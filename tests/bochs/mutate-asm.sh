#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: mutate-asm.sh INSN BACKEND.C X86_INSN.H OUT.C OUT.H
# Writes the mutant tools/mutate makes of arch/x86_64/x86_insn.h's asm
# statement for INSN (invpcid, invept): that one statement replaced by ";"
# (line numbers kept), so the instruction's wrapper does nothing. OUT.C is
# BACKEND.C (x86_64.c, ept.c) including OUT.H instead of x86_insn.h. The
# Bochs negative controls build their image from these and must see stale
# reads.
#
# If the asm is not there, the copy is written unchanged, with a warning, and
# the build goes on: under tools/mutate the source itself may already lack
# it (failing here would turn that mutant into "stillborn" instead of letting
# the positive test kill it). Nothing turns vacuous: an image that still
# executes the instruction shows no stale reads, and the control then fails.
set -eu
insn=$1; src_c=$2; src_h=$3; out_c=$4; out_h=$5
asm_re="^[[:space:]]*__asm__ volatile(\"$insn "
inc_re='^#include "x86_insn.h"'
[ "$(grep -c "$inc_re" "$src_c")" = 1 ] || { echo "$0: no single x86_insn.h include in $src_c" >&2; exit 1; }
[ "$(grep -c "$asm_re" "$src_h")" = 1 ] || echo "$0: warning: no single $insn asm in $src_h, copied as is" >&2
sed "s/$asm_re.*/\t; \/* mutant: the $insn asm statement deleted *\//" "$src_h" > "$out_h"
sed "s/$inc_re/#include \"$(basename "$out_h")\"/" "$src_c" > "$out_c"
