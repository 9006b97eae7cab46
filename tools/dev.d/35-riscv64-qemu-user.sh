#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The host test suites built for riscv64 Linux (cross/riscv64-linux-gnu.ini)
# and run under qemu-riscv64 on a weakly ordered (RVWMO) target: the unit
# and model suites, the riscv64 recorder tests with their controls, the
# riscv64 backend fuzzer's replay with its eight controls (tests/riscv64/
# fuzz_riscv64.c), and the core's sequence fuzzer replay with its controls
# (tests/meson.build leaves the arm64 and x86-64 recorder tests and fuzzers
# to the host and aarch64 builds: minutes more of building for this step).
# Debian 12 has no riscv64 architecture, so no libcmocka-dev:riscv64: the
# cmocka programs run on tlbb_cmocka (tests/support), whose own controls
# (suite harness) run here and in the host build, where they are also
# checked against cmocka.
# Not here: suite qemu (system images) runs in the host build; so does spin,
# which runs the host's spin on the model, nothing built for riscv64.
# -Dvcpu=disabled, said rather than found: there is no riscv64 liburcu.
# Needs gcc-riscv64-linux-gnu, g++-riscv64-linux-gnu, libc6-dev-riscv64-cross,
# qemu-user with libc6-riscv64-cross; tools/dev installs them, a missing one fails.
set -euo pipefail
cd "$TOP"
. tools/lib.sh
tlbb_need riscv64-linux-gnu-gcc gcc-riscv64-linux-gnu
tlbb_need riscv64-linux-gnu-g++ g++-riscv64-linux-gnu
tlbb_need qemu-riscv64 qemu-user
tlbb_setup_build build-riscv64 --cross-file cross/riscv64-linux-gnu.ini --buildtype=debugoptimized \
  -Dvcpu=disabled
tlbb_shown meson test -C build-riscv64 --print-errorlogs --num-processes 2 \
  --no-suite qemu --no-suite stress --no-suite bench --no-suite spin \
  --timeout-multiplier 3
