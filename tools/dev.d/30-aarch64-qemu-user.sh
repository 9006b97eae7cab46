#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The host test suites built for aarch64 Linux (cross/aarch64-linux-gnu.ini)
# and run under qemu-user: the library, the sim model and the arm64 recorder
# tests on a weakly ordered 64-bit Arm target. Suite 'qemu' (system images)
# runs in the host build already and is left out here, and so is 'stress':
# its threads spin-wait on each other, which qemu-user (one host thread per
# guest thread, 2 host cores) slows ~100x, past any sane timeout (measured:
# 3.3 s native, killed at 360 s under qemu-aarch64). It runs natively in 10-host.
# Needs gcc-aarch64-linux-gnu with libc6-dev-arm64-cross (and g++-aarch64-linux-gnu:
# the cross file names a C++ compiler), qemu-user with
# libc6-arm64-cross, and the arm64 cmocka (dpkg --add-architecture arm64;
# libcmocka-dev:arm64); tools/dev installs them all, and a missing one fails.
set -euo pipefail
cd "$TOP"
. tools/lib.sh
tlbb_need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
tlbb_need aarch64-linux-gnu-g++ g++-aarch64-linux-gnu
tlbb_need qemu-aarch64 qemu-user
if ! dpkg-query -W -f='${Status}' libcmocka-dev:arm64 2>/dev/null | grep -q "install ok installed"; then
  echo "FAIL: libcmocka-dev:arm64 not installed (dpkg --add-architecture arm64; apt-get install libcmocka-dev:arm64)"
  exit 1
fi
# -Dvcpu=disabled, said rather than found: the arm64 liburcu (liburcu-dev:arm64)
# is not installed, so the vcpu suites run on the host build only.
tlbb_setup_build build-aarch64 --cross-file cross/aarch64-linux-gnu.ini --buildtype=debugoptimized \
  -Dvcpu=disabled
tlbb_shown meson test -C build-aarch64 --print-errorlogs --num-processes 2 \
  --no-suite qemu --no-suite stress --no-suite bench --timeout-multiplier 3
