/*
 * A preload for tests: the first poll() that waits (a timeout other than 0)
 * on one descriptor, not a socket, for input (tuneslotd's wait between two
 * rounds without a metrics listener, on its signalfd: libcurl's polls look
 * otherwise, Redis's is a socket, and the look between two Redis calls does
 * not wait) after the file named by
 * TUNESLOT_TEST_FAIL_POLL appears fails with ENOMEM, once (the file is
 * removed).  So a test can make the daemon's loop fail as poll() can.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>


int
poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    struct stat   st;
    const char   *trigger;
    static int  (*real_poll)(struct pollfd *, nfds_t, int);

    trigger = getenv("TUNESLOT_TEST_FAIL_POLL");

    if (trigger != NULL && nfds == 1 && fds[0].events == POLLIN
        && timeout != 0 && fstat(fds[0].fd, &st) == 0 && !S_ISSOCK(st.st_mode)
        && unlink(trigger) == 0)
    {
        errno = ENOMEM;
        return -1;
    }

    if (real_poll == NULL) {
        real_poll = (int (*)(struct pollfd *, nfds_t, int))
                        dlsym(RTLD_NEXT, "poll");
    }

    return real_poll(fds, nfds, timeout);
}
