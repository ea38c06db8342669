/* Fuzzes the unixsock client's reply reading (vs_unixsock_command(): the
 * reply line "STATUS MESSAGE", the STATUS extra lines it announces, lines
 * split or over-long): the input is what collectd sends back, queued on a
 * socketpair whose far end then closes. Commands are sent until the client
 * gives the connection up; each result must agree with the reply (accepted:
 * status >= 0; refused: status < 0, connection kept; otherwise closed). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vs_start_unixsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Discard what the client sent, so its sends never block. */
static void drain(int fd) {
  char buf[4096];
  while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
    ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) <
      0)
    abort();
  /* What does not fit in the socket buffer is left out. */
  size_t off = 0;
  while (off < size) {
    ssize_t n = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    off += (size_t)n;
  }
  shutdown(sv[1], SHUT_WR);

  vs_unixsock_t c = {.fd = sv[0], .timeout_ns = 5000000000ULL};
  const char *line = "PUTVAL \"h/virtscale_start/duration-ready\" "
                     "interval=86400.000 1700000000.000:1.500000";
  for (unsigned i = 0; c.fd >= 0; i++) {
    if (i > size + 1)
      abort(); /* every command takes a line or closes */
    vs_unixsock_reply_t reply = {.status = 0x7fffffff};
    vs_error_t err = {0};
    int r = vs_unixsock_command(&c, line, &reply, &err);
    drain(sv[1]);
    if (r != err.code)
      abort();
    if (r == 0 && (reply.status < 0 || c.fd < 0))
      abort();
    if (r == -EPROTO && (reply.status >= 0 || c.fd < 0))
      abort();
    if (r < 0 && r != -EPROTO && c.fd >= 0)
      abort();
  }
  vs_unixsock_close(&c);
  close(sv[1]);
  return 0;
}
