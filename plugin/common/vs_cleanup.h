/* virtscale - scope-bound release of memory, descriptors and streams
 * (GCC/Clang's cleanup attribute, as in systemd and libvirt's g_auto). */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void vs_freep(void *p) { free(*(void **)p); }
static inline void vs_closep(int *fd) {
  if (*fd >= 0)
    close(*fd);
}
static inline void vs_fclosep(FILE **f) {
  if (*f)
    fclose(*f);
}

#define _cleanup_free_ __attribute__((cleanup(vs_freep)))
#define _cleanup_fd_ __attribute__((cleanup(vs_closep)))
#define _cleanup_file_ __attribute__((cleanup(vs_fclosep)))
