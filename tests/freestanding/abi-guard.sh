#!/bin/sh
# SPDX-License-Identifier: MIT
# tlbbatch.h's ABI guard: an object compiled with the library's own
# TLBB_MAX_CPUS links against the archive; one compiled with another value
# (or other TLBB_ARCH_*_WORDS) fails at link time, naming the guard symbol.
#   abi-guard.sh CC INCLUDE_DIR ARCHIVE MAX_CPUS SOURCE
set -u
cc=$1 inc=$2 lib=$3 cpus=$4 src=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
link() { # $1: extra flags; output in $tmp/log
  $cc -I"$inc" $1 -c "$src" -o "$tmp/c.o" >"$tmp/log" 2>&1 &&
    $cc "$tmp/c.o" "$lib" -o "$tmp/a.out" >>"$tmp/log" 2>&1
}
if ! link "-DTLBB_MAX_CPUS=$cpus"; then
  echo "FAIL: the library's own layout (TLBB_MAX_CPUS=$cpus) does not link:"; cat "$tmp/log"; exit 1
fi
echo "ok: TLBB_MAX_CPUS=$cpus links"
for other in "-DTLBB_MAX_CPUS=$((cpus * 2))" "-DTLBB_MAX_CPUS=$cpus -DTLBB_ARCH_BATCH_WORDS=16"; do
  if link "$other"; then
    echo "FAIL: an object built with $other linked against a library built with TLBB_MAX_CPUS=$cpus"
    exit 1
  fi
  if ! grep -q "tlbb_abi_" "$tmp/log"; then
    echo "FAIL: $other failed to build, but not on the ABI guard:"; cat "$tmp/log"; exit 1
  fi
  echo "ok: $other is refused at link time: $(grep -o 'tlbb_abi_[a-z0-9_]*' "$tmp/log" | head -1)"
done
