#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The freestanding library for bare-metal riscv64 (cross/riscv64-none-elf.ini):
# core + engine + riscv64 backend with its real SFENCE.VMA/ecall, release and
# debug-checks builds, each with the symbol check (nothing but tlbb_port_*
# may be needed), the no-indirect-call check of the static binding, the
# stack check and the ABI guard. (The S-mode image and the recorder tests run
# in the host build, step 10-host.)
# Needs gcc-riscv64-linux-gnu and binutils-riscv64-linux-gnu (tools/dev
# installs them; their absence fails).
set -euo pipefail
cd "$TOP"
. tools/lib.sh
tlbb_need riscv64-linux-gnu-gcc gcc-riscv64-linux-gnu
rc=0
for dbg in false true; do
  dir=build-riscv64-freestanding$([ $dbg = true ] && echo -debug || true)
  tlbb_setup_build "$dir" --cross-file cross/riscv64-none-elf.ini \
    -Dfreestanding=true -Dhw_backend=riscv64 -Ddebug_checks=$dbg || { rc=1; continue; }
  tlbb_shown meson test -C "$dir" --print-errorlogs || rc=1
done
exit $rc
