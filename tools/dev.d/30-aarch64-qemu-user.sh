#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The host test suites built for aarch64 Linux (cross/aarch64-linux-gnu.ini)
# and run under qemu-user: the library, the sim model and the arm64 recorder
# tests on a weakly ordered 64-bit Arm target. Suite 'qemu' (system images)
# runs in the host build already and is left out here, and so is 'stress':
# its threads spin-wait on each other, which qemu-user (one host thread per
# guest thread, 2 host cores) slows ~100x, past any sane timeout (measured:
# 3.3 s native, killed at 360 s under qemu-aarch64). It runs natively in 10-host.
# Skips (exit 0) when the cross compiler, qemu-user or the arm64 cmocka
# (dpkg --add-architecture arm64; apt-get install libcmocka-dev:arm64) is missing.
set -euo pipefail
cd "$TOP"
for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 0; }
done
if ! dpkg-query -W -f='${Status}' libcmocka-dev:arm64 2>/dev/null | grep -q "install ok installed"; then
  echo "SKIP: libcmocka-dev:arm64 not installed (multiarch arm64, see tools/dev)"
  exit 0
fi
# Not tools/dev's setup_build: a cross file can only be given at setup time.
[ -f build-aarch64/build.ninja ] ||
  meson setup build-aarch64 --cross-file cross/aarch64-linux-gnu.ini --buildtype=debugoptimized >/dev/null
ninja -C build-aarch64 >/dev/null
meson test -C build-aarch64 --print-errorlogs --num-processes 2 --no-suite qemu --no-suite stress --no-suite bench \
  --timeout-multiplier 3
