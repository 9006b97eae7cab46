#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The instruction words of arch/riscv64/riscv_insn.h (printed by
# print_words, one "WORD MNEMONIC" per line) must be what GNU as makes of
# the mnemonics: the header's fields and the assembler's tables are two
# readings of the privileged spec, and they must agree.
# Usage: check-encodings.sh PRINT_WORDS AS OBJDUMP
set -euo pipefail
words=$1 as=$2 objdump=$3
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
"$words" >"$d/want"
cut -d' ' -f2- "$d/want" >"$d/x.S"
"$as" -march=rv64gc_svinval -o "$d/x.o" "$d/x.S"
"$objdump" -d "$d/x.o" | awk '/^ *[0-9a-f]+:/ {print $2}' >"$d/got"
paste -d' ' <(cut -d' ' -f1 "$d/want") "$d/got" "$d/x.S" | while read -r want got mn; do
  if [ "$want" != "$got" ]; then
    echo "FAIL: $mn: header $want, GNU as $got"
    exit 1
  fi
  echo "ok $want $mn"
done
[ "$(wc -l <"$d/got")" = "$(wc -l <"$d/want")" ] || { echo "FAIL: word count differs"; exit 1; }
