#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The host test suites built for riscv64 Linux (cross/riscv64-linux-gnu.ini)
# and run under qemu-riscv64 on a weakly ordered (RVWMO) target. Debian 12
# has no riscv64 architecture, so no libcmocka-dev:riscv64: only the suites
# without cmocka are built there (tests/meson.build): the sequence fuzzer's
# corpus replay and its four controls on the core and the sim model, the
# riscv64 backend fuzzer's replay and its eight controls (tests/riscv64/
# fuzz_riscv64.c), the freestanding checks and the riscv64 encoding check. The riscv64 recorder
# tests (cmocka) run in the host build (10-host), like every recorder test;
# suite 'qemu' (system images) runs there too.
# Needs gcc-riscv64-linux-gnu, g++-riscv64-linux-gnu, libc6-dev-riscv64-cross,
# qemu-user with libc6-riscv64-cross; tools/dev installs them, a missing one fails.
set -euo pipefail
cd "$TOP"
. tools/lib.sh
tlbb_need riscv64-linux-gnu-gcc gcc-riscv64-linux-gnu
tlbb_need riscv64-linux-gnu-g++ g++-riscv64-linux-gnu
tlbb_need qemu-riscv64 qemu-user
tlbb_setup_build build-riscv64 --cross-file cross/riscv64-linux-gnu.ini --buildtype=debugoptimized
tlbb_shown meson test -C build-riscv64 --print-errorlogs --num-processes 2 \
  --no-suite qemu --no-suite stress --no-suite bench --timeout-multiplier 3
