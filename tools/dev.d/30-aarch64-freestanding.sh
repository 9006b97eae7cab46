#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The freestanding library for bare-metal aarch64 (cross/aarch64-none-elf.ini):
# core + arm64 backend with its real TLBI/DSB asm, release and debug-checks
# builds, each with the symbol check (nothing but tlbb_port_* may be needed).
# Needs gcc-aarch64-linux-gnu (tools/dev installs it; its absence fails).
set -euo pipefail
cd "$TOP"
. tools/lib.sh
tlbb_need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
rc=0
for dbg in false true; do
  dir=build-aarch64-freestanding$([ $dbg = true ] && echo -debug || true)
  tlbb_setup_build "$dir" --cross-file cross/aarch64-none-elf.ini \
    -Dfreestanding=true -Dhw_backend=arm64 -Ddebug_checks=$dbg || { rc=1; continue; }
  tlbb_shown meson test -C "$dir" --print-errorlogs || rc=1
done
exit $rc
