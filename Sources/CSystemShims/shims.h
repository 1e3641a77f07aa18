// C functions Swift cannot call as glibc declares them. Header only: nothing to link but glibc.
#ifndef QUAIL_SYSTEM_SHIMS_H
#define QUAIL_SYSTEM_SHIMS_H

#include <stddef.h>

// glibc declares it only under _GNU_SOURCE, and variadic, which Swift does not import.
extern void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...);

/// Moves the mapping of `length` bytes at `from` to exactly `to`, replacing what was there:
/// mremap with MREMAP_MAYMOVE (1) | MREMAP_FIXED (2), Linux's values. Returns (void *)-1 on failure.
static inline void *quail_mremap_fixed(void *from, size_t length, void *to) {
    return mremap(from, length, length, 1 | 2, to);
}

// Declared only under _GNU_SOURCE, which Swift's Glibc module is not built with.
extern int pipe2(int fds[2], int flags);

#endif
