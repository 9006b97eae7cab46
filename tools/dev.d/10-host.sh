#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host build: every suite (unit, model, freestanding, install, qemu, ...).
set -euo pipefail
cd "$TOP"
. tools/lib.sh
# -Dvcpu=enabled: without liburcu-qsbr configure fails, the vcpu suites are never lost.
tlbb_setup_build build --buildtype=debugoptimized -Dvcpu=enabled
tlbb_shown meson test -C build --print-errorlogs --num-processes 2 --verbose
