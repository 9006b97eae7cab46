/* SPDX-License-Identifier: MIT */
/* The sequence fuzzer's entry points, shared by libFuzzer and the replay driver. */
#ifndef TLBB_SEQFUZZ_H
#define TLBB_SEQFUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* TLBB_SIM_FAULT_* mask handed to the sim (0: the protocol is intact). */
extern unsigned seqfuzz_faults;
/* Called with the message on a violation; may not return (replay longjmps).
 * If it returns, or is NULL, the fuzzer aborts (what libFuzzer wants). */
extern void (*seqfuzz_violation_hook)(const char *msg);
/* Free the sim of an input abandoned by the hook. */
void seqfuzz_cleanup(void);

#endif
