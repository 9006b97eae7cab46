# SPDX-License-Identifier: MIT
# tlbbatch source lists for CMake builds (Zephyr and other CMake kernels).
#   include(path/to/tlbbatch/mk/tlbbatch.cmake)
#   target_sources(app PRIVATE ${TLBBATCH_SRCS} ${TLBBATCH_SRCS_x86_64})
#   target_include_directories(app PRIVATE ${TLBBATCH_INCLUDES})
#   target_compile_definitions(app PRIVATE ${TLBBATCH_DEFINES})
# or, for a ready-made `tlbbatch` static library target, add_subdirectory()
# the tree (its CMakeLists.txt uses this file).
#
# Inputs (cache variables, all optional):
#   TLBBATCH_TYPES_HEADER  a header providing the types (include/tlbbatch/
#                          config.h lists them), as it goes after #include:
#                          <zephyr/types.h>-style or "types.h"-style.
#                          Empty: <stdint.h>, <stdbool.h>, <stddef.h>.
#   TLBBATCH_MAX_CPUS      TLBB_MAX_CPUS (empty: the header's 64)
#   TLBBATCH_DEBUG         ON: TLBB_DEBUG, the port-checked rules
# Outputs: TLBBATCH_SRCS (core), TLBBATCH_SRCS_x86_64, TLBBATCH_SRCS_arm64,
# TLBBATCH_SRCS_arm64_s2 (the stage-2 backend, EL2 hypervisors), TLBBATCH_SRCS_riscv64,
# TLBBATCH_BACKENDS, TLBBATCH_INCLUDES, TLBBATCH_DEFINES. The sources need
# C11 and GCC or Clang (__atomic builtins).

get_filename_component(TLBBATCH_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

set(TLBBATCH_TYPES_HEADER "" CACHE STRING "tlbbatch: header providing the C99 integer types")
set(TLBBATCH_MAX_CPUS "" CACHE STRING "tlbbatch: TLBB_MAX_CPUS (empty: 64)")
option(TLBBATCH_DEBUG "tlbbatch: TLBB_DEBUG port-checked rules" OFF)

set(TLBBATCH_SRCS ${TLBBATCH_DIR}/lib/tlbbatch.c ${TLBBATCH_DIR}/lib/maskgen.c)
set(TLBBATCH_SRCS_x86_64 ${TLBBATCH_DIR}/arch/x86_64/x86_64.c ${TLBBATCH_DIR}/arch/x86_64/ept.c)
set(TLBBATCH_SRCS_arm64 ${TLBBATCH_DIR}/arch/arm64/arm64.c)
set(TLBBATCH_SRCS_arm64_s2 ${TLBBATCH_DIR}/arch/arm64/stage2.c)
set(TLBBATCH_SRCS_riscv64 ${TLBBATCH_DIR}/arch/riscv64/riscv64.c)
set(TLBBATCH_BACKENDS x86_64 arm64 arm64_s2 riscv64)
set(TLBBATCH_INCLUDES ${TLBBATCH_DIR}/include)

set(TLBBATCH_DEFINES "")
if(NOT TLBBATCH_TYPES_HEADER STREQUAL "")
  list(APPEND TLBBATCH_DEFINES "TLBB_TYPES_HEADER=${TLBBATCH_TYPES_HEADER}")
endif()
if(NOT TLBBATCH_MAX_CPUS STREQUAL "")
  list(APPEND TLBBATCH_DEFINES "TLBB_MAX_CPUS=${TLBBATCH_MAX_CPUS}")
endif()
if(TLBBATCH_DEBUG)
  list(APPEND TLBBATCH_DEFINES "TLBB_DEBUG=1")
endif()
