#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The freestanding library for bare-metal aarch64 (cross/aarch64-none-elf.ini):
# core + arm64 backend with its real TLBI/DSB asm, release and debug-checks
# builds, each with the symbol check (nothing but tlbb_port_* may be needed).
# Skips (exit 0) without the aarch64 cross compiler.
set -euo pipefail
cd "$TOP"
command -v aarch64-linux-gnu-gcc >/dev/null || { echo "SKIP: aarch64-linux-gnu-gcc not installed"; exit 0; }
for dbg in false true; do
  dir=build-aarch64-freestanding$([ $dbg = true ] && echo -debug || true)
  # Not tools/dev's setup_build: a cross file can only be given at setup time.
  [ -f "$dir/build.ninja" ] || meson setup "$dir" --cross-file cross/aarch64-none-elf.ini \
    -Dfreestanding=true -Dhw_backend=arm64 -Ddebug_checks=$dbg >/dev/null
  ninja -C "$dir" >/dev/null
  meson test -C "$dir" --print-errorlogs
done
