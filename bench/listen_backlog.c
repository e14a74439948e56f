/*
 * A preload for bench/proxy.py's Icecast: every listen() asks for a backlog
 * of at least TUNESLOT_BENCH_LISTEN_BACKLOG (the kernel caps it at
 * net.core.somaxconn).
 *
 * Icecast 2.4 listens with a backlog of 5, fixed in its source.  A burst of
 * listeners proxied through a front end arrives at Icecast as a burst of
 * connects: when more than 6 wait for Icecast's accept thread, the kernel
 * drops the SYN or, with syncookies, the handshake's last ACK, and the
 * proxied connection waits for TCP's retransmissions (up to ~100 s) or is
 * reset when its cookie expires.  The benchmark measures the front end,
 * not that queue: it gives its Icecast the queue the burst needs.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>


int
listen(int fd, int backlog)
{
    long          want;
    const char   *v;
    static int  (*real_listen)(int, int);

    if (real_listen == NULL) {
        real_listen = (int (*)(int, int)) dlsym(RTLD_NEXT, "listen");
    }

    v = getenv("TUNESLOT_BENCH_LISTEN_BACKLOG");

    if (v != NULL) {
        want = strtol(v, NULL, 10);

        if (want > backlog && want <= 65535) {
            backlog = (int) want;
        }
    }

    return real_listen(fd, backlog);
}
