// C functions Swift cannot call as glibc declares them. Header only: nothing to link but glibc.
#ifndef QUAIL_SYSTEM_SHIMS_H
#define QUAIL_SYSTEM_SHIMS_H

// Declared only under _GNU_SOURCE, which Swift's Glibc module is not built with.
extern int pipe2(int fds[2], int flags);

#endif
