/*
 * Milliseconds from the two clocks the parts use: monotonic for timeouts
 * and intervals, real time for what is shown to people (shm, logs).
 */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ms(void);
uint64_t clock_unix_ms(void);

#endif
