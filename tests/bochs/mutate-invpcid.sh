#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: mutate-invpcid.sh X86_64.C X86_INSN.H OUT.C OUT.H
# Writes the mutant tools/mutate makes of arch/x86_64/x86_insn.h's INVPCID
# asm statement: that one statement replaced by ";" (line numbers kept), so
# x86_invpcid() does nothing. OUT.C is x86_64.c including OUT.H instead of
# x86_insn.h. The Bochs negative control builds the unikernel from these and
# must see stale reads.
#
# If the asm is not there, the copy is written unchanged, with a warning, and
# the build goes on: under tools/mutate the source itself may already lack
# it (failing here would turn that mutant into "stillborn" instead of letting
# the positive test kill it). Nothing turns vacuous: an image that still
# executes INVPCID shows no stale reads, and the control then fails.
set -eu
src_c=$1; src_h=$2; out_c=$3; out_h=$4
asm_re='^[[:space:]]*__asm__ volatile("invpcid '
inc_re='^#include "x86_insn.h"'
[ "$(grep -c "$inc_re" "$src_c")" = 1 ] || { echo "$0: no single x86_insn.h include in $src_c" >&2; exit 1; }
[ "$(grep -c "$asm_re" "$src_h")" = 1 ] || echo "$0: warning: no single invpcid asm in $src_h, copied as is" >&2
sed "s/$asm_re.*/\t; \/* mutant: the invpcid asm statement deleted *\//" "$src_h" > "$out_h"
sed "s/$inc_re/#include \"$(basename "$out_h")\"/" "$src_c" > "$out_c"
