#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the riscv64 S-mode image the way a kernel that compiles the sources
# itself would (README "Porting"): the core, the engine and the riscv64
# backend with the kernel's own flags, linked with start.S and kernel.c.
# Usage: build.sh SRCROOT OUTDIR [table|static]
#   static: the core binds the riscv64 backend at compile time (it includes
#   the backend's source: direct hook calls, no hook table), as
#   -Dstatic_backend=true does; the two mutants keep the hook table (their
#   backend is a rewritten copy the core cannot include).
#   -> OUTDIR/unikernel-riscv64{,-droprounds,-noracecheck,-localonly,-wrongasid}.elf
#   ""            the real thing
#   -droprounds   the port drops every IPI round (control)
#   -noracecheck  the changer skips tlbb_flush_pending() (control)
#   -localonly    the backend with its remote part deleted: local fences only
#                 (control; tests/riscv64/mutate-riscv64.sh)
#   -wrongasid    the backend fencing ASID+1 instead of the space's ASID: what
#                 QEMU 7.2 shows of it (its SFENCE.VMA ignores the operands)
set -euo pipefail
src=$(cd "$1" && pwd); out=$(mkdir -p "$2" && cd "$2" && pwd)
binding=${3:-table}
case "$binding" in
  table | static) ;;
  *) echo "build.sh: binding must be table or static, not $binding" >&2; exit 2 ;;
esac
here=$src/examples/unikernel-riscv64
cc=${CROSS_CC:-riscv64-linux-gnu-gcc}
cflags=(-std=c11 -O2 -g -Wall -Wextra -ffreestanding -fno-builtin -nostdlib
  -fno-tree-loop-distribute-patterns -march=rv64imac_zicsr_zifencei -mabi=lp64
  -mcmodel=medany -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables
  -DTLBB_MAX_CPUS=8 -DTLBB_DEBUG=1 -I"$src/include" -I"$src/arch/riscv64")
for m in localonly wrongasid; do
  "$src/tests/riscv64/mutate-riscv64.sh" "$m" "$src/arch/riscv64/riscv64.c" "$out/riscv64-$m.c"
done
build() { # VARIANT BACKEND-SOURCE|static DEFINES...
  local v=$1 be=$2 o=$out/obj$1 objs=()
  shift 2
  mkdir -p "$o"
  "$cc" "${cflags[@]}" "$@" -c "$here/start.S" -o "$o/start.o"
  "$cc" "${cflags[@]}" "$@" -c "$here/kernel.c" -o "$o/kernel.o"
  "$cc" "${cflags[@]}" "$@" -c "$src/lib/maskgen.c" -o "$o/maskgen.o"
  if [ "$be" = static ]; then
    "$cc" "${cflags[@]}" "$@" -DTLBB_STATIC_RISCV64 -c "$src/lib/tlbbatch.c" -o "$o/tlbbatch.o"
  else
    "$cc" "${cflags[@]}" "$@" -c "$src/lib/tlbbatch.c" -o "$o/tlbbatch.o"
    "$cc" "${cflags[@]}" "$@" -c "$be" -o "$o/riscv64.o"
    objs=("$o/riscv64.o")
  fi
  "$cc" -static -nostdlib -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
    -T "$here/link.ld" -o "$out/unikernel-riscv64$v.elf" \
    "$o/start.o" "$o/kernel.o" "$o/tlbbatch.o" "$o/maskgen.o" "${objs[@]}"
}
real=$src/arch/riscv64/riscv64.c
[ "$binding" = static ] && real=static
build "" "$real"
build -droprounds "$real" -DNC_DROP_ROUNDS
build -noracecheck "$real" -DNC_NO_RACE_CHECK
build -localonly "$out/riscv64-localonly.c"
build -wrongasid "$out/riscv64-wrongasid.c"
