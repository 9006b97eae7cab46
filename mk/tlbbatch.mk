# SPDX-License-Identifier: MIT
# tlbbatch for GNU make builds (Unikraft, Bao, Xen and other make-based
# kernels). It only defines variables; compile the sources with your own
# rules and flags.
#
#   TLBBATCH_DIR := path/to/tlbbatch        # before the include; default: here/..
#   include $(TLBBATCH_DIR)/mk/tlbbatch.mk
#   OBJS += $(patsubst %.c,%.o,$(TLBBATCH_SRCS) $(TLBBATCH_SRCS_x86_64))
#   CFLAGS += $(TLBBATCH_CFLAGS)
#
# Inputs (all optional):
#   TLBBATCH_TYPES_HEADER  a header providing the types (include/tlbbatch/
#                          config.h lists them), written as it goes after
#                          #include: '<mykernel/tlbb_types.h>' or '"types.h"'.
#                          Unset: <stdint.h>, <stdbool.h>, <stddef.h>.
#   TLBBATCH_MAX_CPUS      TLBB_MAX_CPUS (default 64): above your highest CPU id
#   TLBBATCH_DEBUG=y       TLBB_DEBUG: the port-checked rules, calling
#                          tlbb_port_debug_fail()
#
# Outputs:
#   TLBBATCH_SRCS          the portable core and the maskgen engine (no port hooks needed)
#   TLBBATCH_SRCS_x86_64   the x86-64 backends, stage 1 and EPT (port.h hooks)
#   TLBBATCH_SRCS_arm64    the arm64 backend (aarch64 compilers only)
#   TLBBATCH_SRCS_arm64_s2 the arm64 stage-2 backend, for hypervisors at EL2
#                          (aarch64 compilers only; the hook-table binding)
#   TLBBATCH_SRCS_riscv64  the riscv64 backend (riscv64 compilers only; needs the port hooks)
#   TLBBATCH_BACKENDS      the names above, for $(TLBBATCH_SRCS_$(name))
#   TLBBATCH_INCLUDES      -I flags
#   TLBBATCH_DEFINES       -D flags from the inputs
#   TLBBATCH_CFLAGS        both; the sources also need C11 (or gnu11) and a
#                          GCC or Clang (__atomic builtins)

TLBBATCH_DIR ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/..

TLBBATCH_SRCS := $(TLBBATCH_DIR)/lib/tlbbatch.c $(TLBBATCH_DIR)/lib/maskgen.c
TLBBATCH_SRCS_x86_64 := $(TLBBATCH_DIR)/arch/x86_64/x86_64.c $(TLBBATCH_DIR)/arch/x86_64/ept.c
TLBBATCH_SRCS_arm64 := $(TLBBATCH_DIR)/arch/arm64/arm64.c
TLBBATCH_SRCS_arm64_s2 := $(TLBBATCH_DIR)/arch/arm64/stage2.c
TLBBATCH_SRCS_riscv64 := $(TLBBATCH_DIR)/arch/riscv64/riscv64.c
TLBBATCH_BACKENDS := x86_64 arm64 arm64_s2 riscv64

TLBBATCH_INCLUDES := -I$(TLBBATCH_DIR)/include

TLBBATCH_DEFINES :=
ifneq ($(TLBBATCH_TYPES_HEADER),)
TLBBATCH_DEFINES += '-DTLBB_TYPES_HEADER=$(TLBBATCH_TYPES_HEADER)'
endif
ifneq ($(TLBBATCH_MAX_CPUS),)
TLBBATCH_DEFINES += -DTLBB_MAX_CPUS=$(TLBBATCH_MAX_CPUS)
endif
ifeq ($(TLBBATCH_DEBUG),y)
TLBBATCH_DEFINES += -DTLBB_DEBUG=1
endif

TLBBATCH_CFLAGS := $(TLBBATCH_INCLUDES) $(TLBBATCH_DEFINES)
