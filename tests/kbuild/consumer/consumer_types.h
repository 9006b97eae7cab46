/* SPDX-License-Identifier: MIT */
/* The consumer's TLBB_TYPES_HEADER: the standard headers, and a mark. */
#ifndef CONSUMER_TYPES_H
#define CONSUMER_TYPES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#define CONSUMER_TYPES_HEADER_USED 1
#endif
