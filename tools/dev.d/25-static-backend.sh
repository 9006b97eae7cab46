#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The static binding (-Dstatic_backend=true, docs/hotpath.md): the core calls
# one backend's hooks directly, with no hook table. Every configuration that
# binds a single hardware backend is built and tested in that mode here (the
# other steps test the hook table):
#   1. build-fs-static: the freestanding x86-64 archive, release, bound to
#      x86_64: its symbol checks and the objdump check that no indirect
#      call/jump is reachable from the hot paths (negative control: the
#      hook-table archive of the same sources must fail it).
#   2. build-aarch64-fs-static: the same for bare-metal aarch64 and the
#      arm64 backend (cross/aarch64-none-elf.ini).
#   3. build-static: a host build with -Dstatic_backend=true. Its x86-64
#      recorder tests, corpus replay and checker controls, its arm64 recorder
#      tests (release and TLBB_DEBUG), and the x86-64 and arm64 unikernel
#      images (QEMU, Bochs) are bound to their backend; the x86 fuzz mutants
#      and the hosted library (sim, vcpu, the unit suite's recorder backend)
#      keep the hook table, as they must (several backends in one program).
# Needs the same packages as steps 10, 30 and the images (tools/dev installs
# them); a missing one fails.
set -euo pipefail
cd "$TOP"
. tools/lib.sh
tlbb_need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
rc=0

log "static binding: freestanding x86-64 archive (build-fs-static)"
if tlbb_setup_build build-fs-static -Dfreestanding=true -Dhw_backend=x86_64 \
    -Dstatic_backend=true --buildtype=release; then
  tlbb_shown meson test -C build-fs-static --print-errorlogs || rc=1
else
  rc=1
fi

log "static binding: freestanding aarch64 archive (build-aarch64-fs-static)"
if tlbb_setup_build build-aarch64-fs-static --cross-file cross/aarch64-none-elf.ini \
    -Dfreestanding=true -Dhw_backend=arm64 -Dstatic_backend=true --buildtype=release; then
  tlbb_shown meson test -C build-aarch64-fs-static --print-errorlogs || rc=1
else
  rc=1
fi

log "static binding: backend recorder tests and unikernel images (build-static)"
if tlbb_setup_build build-static -Dstatic_backend=true --buildtype=debugoptimized; then
  tlbb_shown meson test -C build-static --print-errorlogs --num-processes 2 \
    --suite x86_64 --suite arm64 --suite riscv64 --suite qemu || rc=1
else
  rc=1
fi
exit $rc
