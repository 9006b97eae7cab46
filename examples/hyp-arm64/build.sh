#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the EL2 hypervisor image the way a hypervisor would consume tlbbatch:
#   1. the freestanding library, through the project's own meson build with
#      the bare-metal cross file (-Dfreestanding=true -Dhw_backend=arm64: the
#      core, the arm64 backend and the stage-2 backend; debug checks on; the
#      hook-table binding, which the stage-2 backend needs);
#   2. the hypervisor's own objects, linked against that libtlbbatch.a.
# Usage: build.sh SRCROOT OUTDIR
#   -> OUTDIR/hyp-arm64{,-novmalle1is,-noflush,-noracecheck}.elf
set -euo pipefail
src=$(cd "$1" && pwd); out=$(mkdir -p "$2" && cd "$2" && pwd)
here=$src/examples/hyp-arm64
cc=${CROSS_CC:-aarch64-linux-gnu-gcc}
lib=$out/libtlbbatch-fs-hyp

unset MESON_BUILD_ROOT MESON_SOURCE_ROOT MESON_SUBDIR MESONINTROSPECT
. "$src/tools/lib.sh"
if [ ! -f "$lib/build.ninja" ]; then
  rm -rf "$lib"
  tlbb_quiet meson setup "$lib" "$src" --cross-file "$src/cross/aarch64-none-elf.ini" \
    -Dfreestanding=true -Dhw_backend=arm64 -Ddebug_checks=true -Dmax_cpus=8 \
    -Dstatic_backend=false -Dtests=false -Dexamples=false --buildtype=release
fi
tlbb_quiet ninja -C "$lib"

cflags=(-std=c11 -O2 -g -Wall -Wextra -ffreestanding -fno-builtin -nostdlib
  -fno-tree-loop-distribute-patterns -mgeneral-regs-only -mno-outline-atomics
  -mstrict-align -fno-pic -fno-stack-protector
  -DTLBB_MAX_CPUS=8 -DTLBB_DEBUG=1 -I"$src/include")
# The negative controls need no 100,000 retargets to show stale reads.
small=(-DRETARGETS_BATCHED=8000u -DRETARGETS_RANGE=1600u -DRETARGETS_PER_IPA=1600u
  -DRETARGETS_RACE=1600u -DRETARGETS_OVERFLOW=800u)
for variant in "" "-novmalle1is" "-noflush" "-noracecheck"; do
  defs=()
  case "$variant" in
    -novmalle1is) defs=(-DCONTROL_NO_VMALLE1IS "${small[@]}") ;;
    -noflush) defs=(-DCONTROL_NO_FLUSH "${small[@]}") ;;
    -noracecheck) defs=(-DCONTROL_NO_RACE_CHECK "${small[@]}") ;;
  esac
  "$cc" "${cflags[@]}" "${defs[@]}" -c "$here/start.S" -o "$out/hyp-start$variant.o"
  "$cc" "${cflags[@]}" "${defs[@]}" -c "$here/hyp.c" -o "$out/hyp$variant.o"
  "$cc" -static -nostdlib -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments -T "$here/link.ld" \
    -o "$out/hyp-arm64$variant.elf" \
    "$out/hyp-start$variant.o" "$out/hyp$variant.o" "$lib/lib/libtlbbatch.a"
done
