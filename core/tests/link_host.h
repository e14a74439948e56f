/*
 * One connection's machine (tune_link.h) run by the scripted host of
 * fake_host.h, for the tests of the machine (test_link.c, test_sentinel.c):
 * the host's state, and what the network did.  A test fills in t.conf,
 * calls host_init(&t.host, link_next, NULL) and start().
 */

#ifndef TUNE_LINK_HOST_H
#define TUNE_LINK_HOST_H

#include "fake_host.h"


typedef struct {
    host_t              host;           /* first: the host's callbacks */
    tune_link_conf_t    conf;
    tune_link_t         ln;
    int                 taken;          /* the last tune_link_reply() */
} lhost_t;


static lhost_t  t;


static inline tune_do_t
link_next(host_t *h, tune_action_t *act)
{
    lhost_t  *l = (lhost_t *) h;

    return tune_link_next(&l->ln, h->now, act);
}


/* ---- what the network did ----------------------------------------- */

static inline size_t
start(void)
{
    tune_link_init(&t.ln, &t.conf);
    tune_link_start(&t.ln, t.host.now);

    return host_run(&t.host);
}


static inline size_t
connected(void)
{
    tune_link_connected(&t.ln, t.host.now);

    return host_run(&t.host);
}


static inline size_t
dropped(const char *reason)
{
    tune_link_dropped(&t.ln, t.host.now, reason);

    return host_run(&t.host);
}


static inline size_t
reply(tune_reply_t r)
{
    t.taken = tune_link_reply(&t.ln, t.host.now, &r);

    return host_run(&t.host);
}

#endif /* TUNE_LINK_HOST_H */
