/* SPDX-License-Identifier: MIT */
/*
 * Found as <cmocka.h> only by builds that have no cmocka for the host
 * machine (tests/meson.build): the tests include <cmocka.h> unchanged.
 */
#include "../tlbb_cmocka.h"
