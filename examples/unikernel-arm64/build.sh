#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the arm64 unikernel the way a kernel would consume tlbbatch:
#   1. the freestanding library, through the project's own meson build with
#      the bare-metal cross file (-Dfreestanding=true -Dhw_backend=arm64,
#      debug checks on so the issuing-CPU rule is checked live);
#   2. the kernel's own objects, linked against that libtlbbatch.a.
# Usage: build.sh SRCROOT OUTDIR [table|static]
#   -> OUTDIR/unikernel-arm64{,-nc,-noswitch,-rangeshift,-globalskip,-reuseskip}.elf
# static: the library binds the arm64 backend at compile time
# (-Dstatic_backend=true: direct hook calls, no hook table); table (default):
# the hook table.
set -euo pipefail
src=$(cd "$1" && pwd); out=$(mkdir -p "$2" && cd "$2" && pwd)
binding=${3:-table}
case "$binding" in
  table) static=false ;;
  static) static=true ;;
  *) echo "build.sh: binding must be table or static, not $binding" >&2; exit 2 ;;
esac
here=$src/examples/unikernel-arm64
cc=${CROSS_CC:-aarch64-linux-gnu-gcc}
lib=$out/libtlbbatch-fs-$binding

# Meson variables of an enclosing meson test run must not leak into ours.
unset MESON_BUILD_ROOT MESON_SOURCE_ROOT MESON_SUBDIR MESONINTROSPECT
. "$src/tools/lib.sh"
if [ ! -f "$lib/build.ninja" ]; then
  rm -rf "$lib"
  tlbb_quiet meson setup "$lib" "$src" --cross-file "$src/cross/aarch64-none-elf.ini" \
    -Dfreestanding=true -Dhw_backend=arm64 -Ddebug_checks=true -Dmax_cpus=8 \
    -Dstatic_backend=$static -Dtests=false -Dexamples=false --buildtype=release
fi
tlbb_quiet ninja -C "$lib"

# Same flags as the library's cross file, and the same TLBB_* configuration.
cflags=(-std=c11 -O2 -g -Wall -Wextra -ffreestanding -fno-builtin -nostdlib
  -fno-tree-loop-distribute-patterns -mgeneral-regs-only -mno-outline-atomics
  -mstrict-align -fno-pic -fno-stack-protector
  -DTLBB_MAX_CPUS=8 -DTLBB_DEBUG=1 -I"$src/include")
# "": the real thing; -nc: no TLB maintenance (negative control);
# -noswitch: hands a batch to another CPU without the context-switch barrier;
# -rangeshift: range adds start one page late (range-phase sensitivity control);
# -globalskip: the global phase alone does no TLB maintenance (its control);
# -reuseskip: the reuse phase gives the ASID to a new space without
# tlbb_space_fini() (its control)
for variant in "" "-nc" "-noswitch" "-rangeshift" "-globalskip" "-reuseskip"; do
  defs=()
  [ "$variant" = "-nc" ] && defs=(-DNEGATIVE_CONTROL)
  [ "$variant" = "-noswitch" ] && defs=(-DMIGRATE_WITHOUT_SWITCH)
  [ "$variant" = "-rangeshift" ] && defs=(-DRANGE_SHIFT_CONTROL)
  [ "$variant" = "-globalskip" ] && defs=(-DGLOBAL_SKIP_FLUSH)
  [ "$variant" = "-reuseskip" ] && defs=(-DREUSE_SKIP_FINI)
  "$cc" "${cflags[@]}" "${defs[@]}" -c "$here/start.S" -o "$out/start$variant.o"
  "$cc" "${cflags[@]}" "${defs[@]}" -c "$here/kernel.c" -o "$out/kernel$variant.o"
  "$cc" -static -nostdlib -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments -T "$here/link.ld" \
    -o "$out/unikernel-arm64$variant.elf" \
    "$out/start$variant.o" "$out/kernel$variant.o" "$lib/lib/libtlbbatch.a"
done
