#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host build: every suite (unit, model, freestanding, install, qemu, ...).
set -euo pipefail
cd "$TOP"
. tools/lib.sh
tlbb_setup_build build --buildtype=debugoptimized
tlbb_shown meson test -C build --print-errorlogs --num-processes 2 --verbose
