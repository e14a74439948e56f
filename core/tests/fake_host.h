/*
 * A scripted host for the protocol machines of tune_link.h and
 * tune_refresh.h, shared by their tests: it runs a machine until it waits,
 * records every action it was asked for, and makes the replies a test
 * feeds back as a Redis would.  Time is the test's (host->now, ms); the
 * host has no socket, a test says what the network did.
 *
 * Every run checks what any host may rely on: the machine waits within a
 * bounded number of actions (no busy loop), never until a time already
 * come, and no LOG or STATE line carries the secret (the password).
 */

#ifndef TUNE_FAKE_HOST_H
#define TUNE_FAKE_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tune_link.h"


/* actions a test may look back over */
#define HOST_RECS       4096

/* actions of one run before it counts as a busy loop */
#define HOST_STEPS      64


/* One action as the host saw it, its strings copied */
typedef struct {
    tune_do_t           what;
    int64_t             now;            /* when it was asked for */
    int64_t             at;             /* WAIT */
    char                addr[64];       /* CONNECT: host:port or path */
    int                 argc;           /* SEND */
    char                cmd[256];       /* ... argv joined by spaces */
    size_t              arglen[8];
    tune_log_level_t    level;          /* LOG */
    int                 has_msg;        /* LOG, STATE */
    char                msg[TUNE_NOTE_MAX];
    int                 ok;             /* STATE */
    int                 ready;
    uint64_t            generation;     /* INSTALL */
    size_t              size;
} host_rec_t;


typedef struct host_s  host_t;

struct host_s {
    int64_t             now;
    int64_t             at;             /* the last WAIT's */

    /* the machine's next(), and what the host does with an action */
    tune_do_t         (*next)(host_t *h, tune_action_t *act);
    void              (*carry)(host_t *h, const tune_action_t *act);

    /* never in a LOG or STATE line (NULL: none) */
    const char         *secret;

    size_t              n;
    host_rec_t          rec[HOST_RECS];
};


static inline void
host_init(host_t *h, tune_do_t (*next)(host_t *, tune_action_t *),
    void (*carry)(host_t *, const tune_action_t *))
{
    memset(h, 0, sizeof(host_t));

    h->next = next;
    h->carry = carry;
    h->at = TUNE_NEVER;
}


/* bytes as printable text: the commands are compared as strings */
static inline void
host_text(char *dst, size_t cap, size_t *used, const char *src, size_t len)
{
    size_t  i;

    for (i = 0; i < len && *used + 1 < cap; i++) {
        dst[(*used)++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    }

    dst[*used] = '\0';
}


static inline void
host_record(host_t *h, const tune_action_t *act)
{
    int          i;
    size_t       used;
    host_rec_t  *r;

    assert_true(h->n < HOST_RECS);
    r = &h->rec[h->n++];
    memset(r, 0, sizeof(host_rec_t));

    r->what = act->what;
    r->now = h->now;
    r->at = act->at;
    r->level = act->level;
    r->ok = act->ok;
    r->ready = act->ready;
    r->generation = act->generation;
    r->size = act->size;

    switch (act->what) {

    case TUNE_DO_CONNECT:
        if (act->port) {
            (void) snprintf(r->addr, sizeof(r->addr), "%s:%u", act->host,
                            act->port);
        } else {
            (void) snprintf(r->addr, sizeof(r->addr), "%s", act->path);
        }
        break;

    case TUNE_DO_SEND:
        assert_true(act->argc > 0);
        r->argc = act->argc;
        used = 0;

        for (i = 0; i < act->argc; i++) {
            assert_non_null(act->argv[i]);

            if (i < 8) {
                r->arglen[i] = act->argvlen[i];
            }

            if (i > 0) {
                host_text(r->cmd, sizeof(r->cmd), &used, " ", 1);
            }

            host_text(r->cmd, sizeof(r->cmd), &used, act->argv[i],
                      act->argvlen[i]);
        }
        break;

    case TUNE_DO_LOG:
    case TUNE_DO_STATE:
        if (act->msg) {
            r->has_msg = 1;
            (void) snprintf(r->msg, sizeof(r->msg), "%s", act->msg);

            if (h->secret) {
                assert_null(strstr(act->msg, h->secret));
            }

            /* a line of one line: no byte of Redis's forges another */
            for (used = 0; act->msg[used]; used++) {
                assert_true(act->msg[used] >= 0x20 && act->msg[used] < 0x7f);
            }
        }

        assert_true(act->what != TUNE_DO_LOG || act->msg != NULL);
        break;

    default:
        break;
    }
}


/* The machine's actions until it waits; returns the first one's index */
static inline size_t
host_run(host_t *h)
{
    int            steps;
    size_t         first;
    tune_action_t  act;

    first = h->n;

    for (steps = 0; steps < HOST_STEPS; steps++) {
        h->next(h, &act);
        host_record(h, &act);

        if (act.what == TUNE_DO_WAIT) {
            if (act.at <= h->now) {
                fail_msg("WAIT until %lld at %lld: a busy loop",
                         (long long) act.at, (long long) h->now);
            }

            h->at = act.at;
            return first;
        }

        if (h->carry) {
            h->carry(h, &act);
        }
    }

    fail_msg("no WAIT after %d actions", HOST_STEPS);

    return first;
}


/* The clock runs to t, the machine woken at every time it asked for */
static inline size_t
host_advance(host_t *h, int64_t t)
{
    size_t  first;

    first = h->n;

    while (h->at <= t) {
        h->now = h->at;
        (void) host_run(h);
    }

    h->now = t;
    (void) host_run(h);

    return first;
}


/* ---- looking back -------------------------------------------------- */

static inline size_t
host_count(const host_t *h, size_t from, tune_do_t what)
{
    size_t  i, n;

    for (n = 0, i = from; i < h->n; i++) {
        n += (h->rec[i].what == what);
    }

    return n;
}


/* LOG lines at level (any level: -1) holding needle (NULL: any) */
static inline size_t
host_logs(const host_t *h, size_t from, int level, const char *needle)
{
    size_t  i, n;

    for (n = 0, i = from; i < h->n; i++) {
        n += h->rec[i].what == TUNE_DO_LOG
             && (level < 0 || (int) h->rec[i].level == level)
             && (needle == NULL || strstr(h->rec[i].msg, needle) != NULL);
    }

    return n;
}


/* commands sent that start with prefix (NULL: any) */
static inline size_t
host_sends(const host_t *h, size_t from, const char *prefix)
{
    size_t  i, n;

    for (n = 0, i = from; i < h->n; i++) {
        n += h->rec[i].what == TUNE_DO_SEND
             && (prefix == NULL
                 || strncmp(h->rec[i].cmd, prefix, strlen(prefix)) == 0);
    }

    return n;
}


/* the first action what at or after from; fails when there is none */
static inline const host_rec_t *
host_find(const host_t *h, size_t from, tune_do_t what)
{
    size_t  i;

    for (i = from; i < h->n; i++) {
        if (h->rec[i].what == what) {
            return &h->rec[i];
        }
    }

    fail_msg("no action %d among the last %zu", (int) what, h->n - from);

    return NULL;
}


/* the index of the first action what at or after from, or h->n */
static inline size_t
host_index(const host_t *h, size_t from, tune_do_t what)
{
    size_t  i;

    for (i = from; i < h->n && h->rec[i].what != what; i++) {
        /* void */
    }

    return i;
}


/* the one command sent since from; fails unless exactly one was */
static inline const char *
host_sent(const host_t *h, size_t from)
{
    assert_int_equal(host_sends(h, from, NULL), 1);

    return host_find(h, from, TUNE_DO_SEND)->cmd;
}


/* ---- replies ------------------------------------------------------- */

static inline tune_reply_t
reply_bytes(tune_reply_type_t type, const char *s, size_t len)
{
    tune_reply_t  r;

    memset(&r, 0, sizeof(tune_reply_t));
    r.type = type;
    r.str = s;
    r.len = len;

    return r;
}


static inline tune_reply_t
reply_str(const char *s)
{
    return reply_bytes(TUNE_REPLY_STRING, s, strlen(s));
}


static inline tune_reply_t
reply_status(const char *s)
{
    return reply_bytes(TUNE_REPLY_STATUS, s, strlen(s));
}


static inline tune_reply_t
reply_err(const char *s)
{
    return reply_bytes(TUNE_REPLY_ERROR, s, strlen(s));
}


static inline tune_reply_t
reply_int(long long v)
{
    tune_reply_t  r;

    memset(&r, 0, sizeof(tune_reply_t));
    r.type = TUNE_REPLY_INTEGER;
    r.integer = v;

    return r;
}


static inline tune_reply_t
reply_nil(void)
{
    tune_reply_t  r;

    memset(&r, 0, sizeof(tune_reply_t));
    r.type = TUNE_REPLY_NIL;

    return r;
}


static inline tune_reply_t
reply_array(const tune_reply_t *element, size_t n)
{
    tune_reply_t  r;

    memset(&r, 0, sizeof(tune_reply_t));
    r.type = TUNE_REPLY_ARRAY;
    r.elements = n;
    r.element = element;

    return r;
}


#endif /* TUNE_FAKE_HOST_H */
