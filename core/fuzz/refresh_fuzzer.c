/*
 * libFuzzer target: the front-end's refresher (tune_refresh.h, on its
 * tune_link.h) run by a host whose network, clock and lease are the
 * input's.  The first bytes configure the host (herd control, credentials,
 * SELECT, an allowlist, installs answered at once or later, backoff,
 * deadlines, image space); then each byte picks an event: time passes,
 * the connection asked for opens, it drops, Redis answers the oldest
 * command in flight (of the right shape mostly, of any other sometimes:
 * generations, integers, nil, arrays of two, errors with NOSCRIPT and
 * WRONGPASS among them, snapshot texts valid and broken), a reply comes
 * to no command, an install is answered, a tune-in spends a herd credit,
 * the lease is taken or lost.  After every event the host runs the
 * machine until it waits and carries out every action as a front-end
 * would (INSTALL into its own memory, TUNE_DO_HERD on a real herd table).
 *
 * Replies are in buffers of their exact sizes, without a NUL, so ASan sees
 * a read of a reply's text past its length.  Against a model the host
 * keeps, it checks what tune_refresh.h and tune_link.h promise:
 *
 *   - a CONNECT only while leading and with no connection open; a SEND
 *     only on an open connection and while leading; while the hello runs,
 *     only its own commands (AUTH, SELECT, SCRIPT LOAD as configured, in
 *     that order), each after the last one's reply; a CLOSE only of a
 *     connection there is, and one after refused credentials or SELECT;
 *   - at most one read (GET, STRLEN, MGET) and one claim or SCRIPT LOAD in
 *     flight, the commands spelled as the contract's keys say; no claim
 *     nor TUNE_DO_HERD with herd control off;
 *   - every INSTALL carries the generation of the MGET reply just given,
 *     an image tune_image_get() takes, and never the generation held
 *     unless a refetch was due (led anew, a new connection, or GET
 *     answered nil since the last install);
 *   - the last STATE before a WAIT says "ready" exactly when a
 *     connection is open and past its hello;
 *   - WAIT is never until a time already come and comes within 64
 *     actions; no command is left in flight past its deadline, no connect
 *     past its own; a CONNECT comes within the backoff's bound of the
 *     connection going away (the host waking at every WAIT's time);
 *   - a claim in flight is answered, or settled by a TUNE_DO_HERD once
 *     the connection is gone, or left behind by resigning;
 *   - no line carries the password; the herd table stays one.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tune_refresh.h"
#include "tune_contract.h"


#define NOW0            1000
#define WALL0           INT64_C(1763712001000)
#define STEPS_MAX       64
#define QUEUE_MAX       8
#define HERD_ENTRIES    64
#define PASSWORD        "s3cret-pw"
#define SHA_A           "0123456789abcdef0123456789abcdef01234567"
#define SHA_B           "fedcba9876543210fedcba9876543210fedcba98"


typedef enum {
    CMD_AUTH = 1,
    CMD_SELECT,
    CMD_HELLO_SCRIPT,
    CMD_GET,
    CMD_STRLEN,
    CMD_MGET,
    CMD_CLAIM,
    CMD_SCRIPT
} cmd_t;


typedef enum {
    CONN_NONE = 0,
    CONN_CONNECTING,
    CONN_OPEN
} conn_t;


typedef struct {
    const uint8_t          *p;
    size_t                  left;
} input_t;


typedef struct {
    /* the host */
    tune_refresh_conf_t     conf;
    tune_refresh_t          rf;
    void                   *mem;
    tune_allow_t            allow;
    void                   *scratch;
    size_t                  scratch_cap;
    void                   *image;          /* installed, scratch_cap bytes */
    uint64_t                held;
    void                   *pending;        /* an install not yet answered */
    uint64_t                pending_gen;
    size_t                  pending_size;
    void                   *table;
    size_t                  table_cap;
    tune_herd_t            *herd;
    int64_t                 now;
    int64_t                 at;             /* the last WAIT's */
    int                     deferred;       /* installs answered later */
    int                     install_ok;
    int                     install_pending;

    /* replies' buffers, freed after each reply */
    void                   *bufs[8];
    unsigned                nbufs;

    /* the model */
    int                     leading;
    conn_t                  conn;
    int64_t                 connect_at;
    int64_t                 last_io;
    int64_t                 down_since;
    int64_t                 backoff_bound;
    cmd_t                   queue[QUEUE_MAX];
    size_t                  keys[QUEUE_MAX];    /* a claim's slots */
    unsigned                nqueue;
    cmd_t                   hello[3];
    unsigned                nhello;
    unsigned                hello_next;
    int                     close_due;
    int                     refetch_due;
    uint64_t                mget_gen;
    int                     claim_out;
    int                     settle_owed;
    int                     state_told;     /* a STATE in this run */
    int                     state_ready;    /* ... its ready */
} st_t;


static const char  *gens[] = {
    "1", "2", "3", "4", "5", "0", "abc", "99999999999999999999", "6", "7"
};

static const char  text_good[] =
    "tuneslot-snapshot\t1\n"
    "written_ms\t1763712000500\n"
    "interval_ms\t1000\n"
    "backend\ta\tup\t1763712000400\n"
    "backend\tb\tup\t1763712000400\n"
    "slot\tdemo\ta\tup\t0\t100\t100\t100\teu\t1763712000400\t"
    "http://a.example.net/demo\n"
    "slot\tdemo\tb\tup\t0\t10\t3\t100\teu\t1763712000400\t"
    "http://b.example.net/demo\n"
    "slot\tnews\ta\tup\t0\t5\t5\t100\t\t1763712000400\t"
    "http://a.example.net/news\n"
    "end\n";

static const char  text_refused[] =
    "tuneslot-snapshot\t1\n"
    "written_ms\t1763712000500\n"
    "interval_ms\t1000\n"
    "slot\tdemo\ta\tup\t0\t100\t100\t100\teu\t1763712000400\t"
    "http://a.example.net/demo\n"
    "slot\tdemo\tc\tup\t0\t100\t100\t100\teu\t1763712000400\t"
    "http://c.example.net/demo\n"
    "end\n";

static const char  text_bad[] =
    "tuneslot-snapshot\t1\n"
    "written_ms\t1763712000500\n"
    "interval_ms\t1000\n"
    "slot\tdemo\ta\tup\tmany\t100\t100\t100\teu\t1763712000400\t"
    "http://a.example.net/demo\n"
    "end\n";

static const char  text_cut[] =
    "tuneslot-snapshot\t1\n"
    "written_ms\t1763712000500\n"
    "interval_ms\t1000\n"
    "slot\tdemo\ta\tup\t0\t100\t100\t100\teu\t1763712000400\t"
    "http://a.example.net/de";

static const char  text_junk[] = "\0\r\n\tend\n\xff";

/* many slots: an image larger than the smaller image spaces */
static char        text_big[16384];
static size_t      text_big_len;

static const char  *errors[] = {
    "NOSCRIPT No matching script. Please use EVAL.",
    "WRONGPASS invalid username-password pair or user is disabled.",
    "NOAUTH Authentication required.",
    "ERR DB index is out of range",
    "LOADING Redis is loading the dataset in memory",
    "NOPERM this user has no permissions to run the 'script|load' command",
    "ERR user_script:1: Script attempted to access a non local key",
    ""
};

#define NELTS(a)  (sizeof(a) / sizeof((a)[0]))


static uint64_t
next(input_t *in, size_t n)
{
    uint64_t  v;

    v = 0;

    while (n-- > 0 && in->left > 0) {
        v = (v << 8) | *in->p++;
        in->left--;
    }

    return v;
}


/* len bytes of s in a buffer of exactly that size, freed after the reply */
static const char *
bytes(st_t *st, const char *s, size_t len)
{
    void  *b;

    if (st->nbufs == NELTS(st->bufs)) {
        abort();
    }

    b = malloc(len ? len : 1);
    if (b == NULL) {
        abort();
    }

    memcpy(b, s, len);
    st->bufs[st->nbufs++] = b;

    return b;
}


static void
release(st_t *st)
{
    while (st->nbufs) {
        free(st->bufs[--st->nbufs]);
    }
}


static void
text_of(unsigned k, const char **text, size_t *len)
{
    switch (k % 6) {
    case 0:
        *text = text_good;
        *len = sizeof(text_good) - 1;
        break;
    case 1:
        *text = text_refused;
        *len = sizeof(text_refused) - 1;
        break;
    case 2:
        *text = text_bad;
        *len = sizeof(text_bad) - 1;
        break;
    case 3:
        *text = text_cut;
        *len = sizeof(text_cut) - 1;
        break;
    case 4:
        *text = text_junk;
        *len = sizeof(text_junk) - 1;
        break;
    default:
        *text = text_big;
        *len = text_big_len;
        break;
    }
}


/* ---- the model ----------------------------------------------------- */

static int
arg_is(const tune_action_t *act, int i, const char *s)
{
    return i < act->argc && act->argvlen[i] == strlen(s)
           && memcmp(act->argv[i], s, act->argvlen[i]) == 0;
}


static int
has_password(const char *msg)
{
    return msg != NULL && strstr(msg, PASSWORD) != NULL;
}


/* the connection is gone (closed by the machine or dropped) */
static void
conn_lost(st_t *st)
{
    st->conn = CONN_NONE;
    st->nqueue = 0;
    st->close_due = 0;
    st->down_since = st->now;

    if (st->claim_out && st->leading) {
        st->settle_owed = 1;
    }

    st->claim_out = 0;
}


static void
check_claim(st_t *st, const tune_action_t *act, size_t *keys)
{
    size_t       len, n, i;
    const char  *script;

    if (st->conf.herd_window_ms == 0 || act->argc < 3) {
        abort();
    }

    if (arg_is(act, 0, "EVALSHA")) {
        if (act->argvlen[1] != 40) {
            abort();
        }

    } else {
        script = tune_herd_script(&len);

        if (act->argvlen[1] != len || memcmp(act->argv[1], script, len) != 0)
        {
            abort();
        }
    }

    n = 0;

    for (i = 0; i < act->argvlen[2]; i++) {
        if (act->argv[2][i] < '0' || act->argv[2][i] > '9' || i > 4) {
            abort();
        }
        n = n * 10 + (size_t) (act->argv[2][i] - '0');
    }

    if (n == 0 || n > TUNE_REFRESH_CLAIM_MAX
        || (size_t) act->argc != 2 + TUNE_HERD_ARGC(n))
    {
        abort();
    }

    for (i = 0; i < n; i++) {
        if (act->argvlen[3 + i] < sizeof(TUNE_KEY_HERD_PREFIX) - 1
            || memcmp(act->argv[3 + i], TUNE_KEY_HERD_PREFIX,
                      sizeof(TUNE_KEY_HERD_PREFIX) - 1) != 0)
        {
            abort();
        }
    }

    *keys = n;
}


static void
on_send(st_t *st, const tune_action_t *act)
{
    cmd_t     cmd;
    size_t    keys;
    unsigned  i, reads, lane;

    if (!st->leading || st->conn != CONN_OPEN || act->argc < 1
        || st->nqueue == QUEUE_MAX)
    {
        abort();
    }

    for (i = 0; i < (unsigned) act->argc; i++) {
        if (act->argv[i] == NULL) {
            abort();
        }
    }

    keys = 0;

    if (arg_is(act, 0, "AUTH")) {
        cmd = CMD_AUTH;
        if (act->argc != 2 + (st->conf.link.user_len > 0)
            || !arg_is(act, act->argc - 1, PASSWORD))
        {
            abort();
        }

    } else if (arg_is(act, 0, "SELECT")) {
        cmd = CMD_SELECT;
        if (act->argc != 2 || !arg_is(act, 1, "3")) {
            abort();
        }

    } else if (arg_is(act, 0, "SCRIPT") && arg_is(act, 1, "LOAD")
               && act->argc == 3)
    {
        cmd = (st->hello_next < st->nhello) ? CMD_HELLO_SCRIPT : CMD_SCRIPT;

    } else if (arg_is(act, 0, "GET") && act->argc == 2
               && arg_is(act, 1, TUNE_KEY_GENERATION))
    {
        cmd = CMD_GET;

    } else if (arg_is(act, 0, "STRLEN") && act->argc == 2
               && arg_is(act, 1, TUNE_KEY_SNAPSHOT))
    {
        cmd = CMD_STRLEN;

    } else if (arg_is(act, 0, "MGET") && act->argc == 3
               && arg_is(act, 1, TUNE_KEY_GENERATION)
               && arg_is(act, 2, TUNE_KEY_SNAPSHOT))
    {
        cmd = CMD_MGET;

    } else if (arg_is(act, 0, "EVALSHA") || arg_is(act, 0, "EVAL")) {
        cmd = CMD_CLAIM;
        check_claim(st, act, &keys);

    } else {
        abort();
    }

    if (st->hello_next < st->nhello) {
        /* the hello: its next command, after the last one's reply */
        if (cmd != st->hello[st->hello_next] || st->nqueue != 0) {
            abort();
        }

    } else if (cmd == CMD_AUTH || cmd == CMD_SELECT) {
        abort();
    }

    st->queue[st->nqueue] = cmd;
    st->keys[st->nqueue] = keys;
    st->nqueue++;
    st->last_io = st->now;

    reads = 0;
    lane = 0;

    for (i = 0; i < st->nqueue; i++) {
        reads += (st->queue[i] == CMD_GET || st->queue[i] == CMD_STRLEN
                  || st->queue[i] == CMD_MGET);
        lane += (st->queue[i] == CMD_CLAIM || st->queue[i] == CMD_SCRIPT);
    }

    if (reads > 1 || lane > 1) {
        abort();
    }

    if (cmd == CMD_CLAIM) {
        st->claim_out = 1;
    }
}


/* The host installs the image it copied, or fails to (the lease lost) */
static void
installed(st_t *st, int ok)
{
    if (ok) {
        memcpy(st->image, st->pending, st->pending_size);
        st->held = st->pending_gen;
    }

    st->install_pending = 0;
    tune_refresh_installed(&st->rf, st->now, ok);
}


static void
on_install(st_t *st, const tune_action_t *act)
{
    const tune_image_t  *img;

    if (!st->leading || st->mget_gen == 0
        || act->generation != st->mget_gen || act->image != st->scratch
        || act->size == 0 || act->size > st->scratch_cap)
    {
        abort();
    }

    img = tune_image_get(act->image, act->size);

    if (img == NULL || img->generation != act->generation
        || img->size != act->size)
    {
        abort();
    }

    if (act->generation == st->held && !st->refetch_due) {
        abort();
    }

    st->refetch_due = 0;
    st->mget_gen = 0;

    memcpy(st->pending, act->image, act->size);
    st->pending_gen = act->generation;
    st->pending_size = act->size;
    st->install_pending = 1;

    if (!st->deferred) {
        installed(st, st->install_ok);
    }
}


/* The machine's actions until it waits, each carried out */
static void
run(st_t *st)
{
    int                  steps;
    tune_action_t        act;
    const tune_image_t  *img;

    st->state_told = 0;

    for (steps = 0; steps < STEPS_MAX; steps++) {

        switch (tune_refresh_next(&st->rf, st->now, &act)) {

        case TUNE_DO_WAIT:
            if (act.at <= st->now) {
                abort();
            }

            /* the last state told is the connection's as it is now */
            if (st->state_told
                && st->state_ready != (st->conn == CONN_OPEN
                                       && st->hello_next == st->nhello))
            {
                abort();
            }

            st->at = act.at;
            return;

        case TUNE_DO_CONNECT:
            if (!st->leading || st->conn != CONN_NONE || act.port != 6379
                || act.host == NULL || strcmp(act.host, "redis.example") != 0)
            {
                abort();
            }
            st->conn = CONN_CONNECTING;
            st->connect_at = st->now;
            break;

        case TUNE_DO_SEND:
            on_send(st, &act);
            break;

        case TUNE_DO_CLOSE:
            if (st->conn == CONN_NONE) {
                abort();
            }
            conn_lost(st);
            break;

        case TUNE_DO_LOG:
            if (act.msg == NULL || has_password(act.msg)
                || act.level > TUNE_LOG_DEBUG)
            {
                abort();
            }
            break;

        case TUNE_DO_STATE:
            if (has_password(act.msg) || (act.ok && act.msg != NULL)) {
                abort();
            }
            st->state_told = 1;
            st->state_ready = act.ready;
            break;

        case TUNE_DO_INSTALL:
            on_install(st, &act);
            break;

        case TUNE_DO_HERD:
            if (st->conf.herd_window_ms == 0) {
                abort();
            }
            img = tune_image_get(st->image, st->scratch_cap);
            tune_refresh_herd(&st->rf, st->herd, img, WALL0 + st->now);
            st->settle_owed = 0;

            if (tune_herd_get(st->table, st->table_cap) != st->herd) {
                abort();
            }
            break;

        default:
            abort();
        }
    }

    /* a busy loop */
    abort();
}


/* What must hold whenever the machine waits */
static void
check(st_t *st)
{
    int64_t  timeout;

    timeout = st->conf.link.timeout_ms;

    if (st->close_due && st->conn != CONN_NONE) {
        abort();
    }

    if (st->settle_owed && st->leading) {
        abort();
    }

    if (st->conn == CONN_OPEN && st->nqueue && st->now >= st->last_io + timeout)
    {
        abort();
    }

    if (st->conn == CONN_CONNECTING && st->now >= st->connect_at + timeout) {
        abort();
    }

    if (st->leading && st->conn == CONN_NONE
        && st->now > st->down_since + st->backoff_bound)
    {
        abort();
    }

    if (!st->leading && st->conn != CONN_NONE) {
        abort();
    }
}


/* The clock runs ms on, the machine woken at every time it asked for */
static void
advance(st_t *st, int64_t ms)
{
    int64_t  target;

    target = st->now + ms;

    while (st->at <= target) {
        st->now = st->at;
        run(st);
        check(st);
    }

    st->now = target;
    run(st);
}


/* ---- replies ------------------------------------------------------- */

static tune_reply_t
scalar(st_t *st, input_t *in, unsigned kind)
{
    size_t        len;
    const char   *s;
    tune_reply_t  r;

    memset(&r, 0, sizeof(tune_reply_t));

    switch (kind % 8) {
    case 0:
        r.type = TUNE_REPLY_NIL;
        break;
    case 1:
        r.type = TUNE_REPLY_INTEGER;
        r.integer = (long long) (int8_t) next(in, 1);
        break;
    case 2:
        r.type = TUNE_REPLY_STATUS;
        r.str = bytes(st, "OK", 2);
        r.len = 2;
        break;
    case 3:
        s = errors[next(in, 1) % NELTS(errors)];
        r.type = TUNE_REPLY_ERROR;
        r.len = strlen(s);
        r.str = bytes(st, s, r.len);
        break;
    case 4:
        s = gens[next(in, 1) % NELTS(gens)];
        r.type = TUNE_REPLY_STRING;
        r.len = strlen(s);
        r.str = bytes(st, s, r.len);
        break;
    case 5:
        text_of((unsigned) next(in, 1), &s, &len);
        r.type = TUNE_REPLY_STRING;
        r.str = bytes(st, s, len);
        r.len = len;
        break;
    case 6:
        r.type = TUNE_REPLY_ARRAY;
        r.elements = next(in, 1) % 4;
        r.element = NULL;            /* nested, or too long to convert */
        break;
    default:
        r.type = TUNE_REPLY_OTHER;
        break;
    }

    return r;
}


static tune_reply_t
sha(st_t *st, int which)
{
    tune_reply_t  r;

    memset(&r, 0, sizeof(tune_reply_t));
    r.type = TUNE_REPLY_STRING;
    r.len = 40;
    r.str = bytes(st, which ? SHA_B : SHA_A, 40);

    return r;
}


static tune_reply_t
error(st_t *st, const char *s)
{
    tune_reply_t  r;

    memset(&r, 0, sizeof(tune_reply_t));
    r.type = TUNE_REPLY_ERROR;
    r.len = strlen(s);
    r.str = bytes(st, s, r.len);

    return r;
}


/* Redis's answer to cmd, of the right shape mostly */
static tune_reply_t
answer(st_t *st, input_t *in, cmd_t cmd, size_t keys, tune_reply_t *el)
{
    size_t        i, n, limit;
    unsigned      b;
    const char   *s;
    tune_reply_t  r;

    b = (unsigned) next(in, 1);

    if (b >= 224) {
        r = scalar(st, in, b);

        if (r.type == TUNE_REPLY_ARRAY && (b & 1)) {
            /* an array of two of anything */
            el[0] = scalar(st, in, (unsigned) next(in, 1));
            el[1] = scalar(st, in, (unsigned) next(in, 1));
            r.elements = 2;
            r.element = el;
        }

        return r;
    }

    memset(&r, 0, sizeof(tune_reply_t));

    switch (cmd) {

    case CMD_AUTH:
    case CMD_SELECT:
        if (b % 4 == 3) {
            return error(st, errors[1 + b % 3]);
        }
        r.type = TUNE_REPLY_STATUS;
        r.str = bytes(st, "OK", 2);
        r.len = 2;
        return r;

    case CMD_HELLO_SCRIPT:
    case CMD_SCRIPT:
        switch (b % 4) {
        case 0:
        case 1:
            return sha(st, b % 2);
        case 2:
            return error(st, errors[5]);
        default:
            return scalar(st, in, 4);
        }

    case CMD_GET:
        switch (b % 8) {
        case 5:
            return scalar(st, in, 0);
        case 6:
            return error(st, errors[4]);
        case 7:
            return scalar(st, in, 1);
        default:
            return scalar(st, in, 4);
        }

    case CMD_STRLEN:
        limit = TUNE_TEXT_PER_IMAGE * st->scratch_cap;
        r.type = TUNE_REPLY_INTEGER;

        switch (b % 8) {
        case 0:
        case 1:
        case 2:
            text_of(b / 8, &s, &n);
            r.integer = (long long) n;
            break;
        case 3:
            r.integer = (long long) limit + (b / 8) % 2;
            break;
        case 4:
            r.integer = -1;
            break;
        case 5:
            r.integer = INT64_MAX;
            break;
        case 6:
            return scalar(st, in, 4);
        default:
            return error(st, errors[4]);
        }

        return r;

    case CMD_MGET:
        switch (b % 8) {
        case 5:
            /* not two */
            el[0] = scalar(st, in, 4);
            el[1] = scalar(st, in, 5);
            el[2] = scalar(st, in, 0);
            r.type = TUNE_REPLY_ARRAY;
            r.elements = 3;
            r.element = el;
            return r;
        case 6:
            return scalar(st, in, 6);
        case 7:
            return error(st, errors[4]);
        default:
            el[0] = scalar(st, in, (b / 8) % 8 == 0 ? 0 : 4);
            el[1] = scalar(st, in, (b / 64) == 0 ? 0 : 5);
            r.type = TUNE_REPLY_ARRAY;
            r.elements = 2;
            r.element = el;
            return r;
        }

    case CMD_CLAIM:
        switch (b % 8) {
        case 4:
            return error(st, errors[0]);
        case 5:
            return error(st, errors[6]);
        default:
            break;
        }

        n = 2 * keys;
        if (b % 8 == 7) {
            /* one element too many or too few */
            n = (b & 8) ? n + 1 : n - 1;
        }

        for (i = 0; i < n; i++) {
            memset(&el[i], 0, sizeof(tune_reply_t));
            el[i].type = TUNE_REPLY_INTEGER;
            el[i].integer = (i % 2) ? (WALL0 + st->now) / TUNE_HERD_BUCKET_MS
                                    : (long long) next(in, 1);
        }

        if (b % 8 == 6 && n > 0) {
            el[next(in, 1) % n].integer = -1;
        }

        r.type = TUNE_REPLY_ARRAY;
        r.elements = n;
        r.element = el;
        return r;
    }

    abort();
}


/* Redis answers the oldest command in flight */
static void
reply(st_t *st, input_t *in, tune_reply_t *el)
{
    cmd_t         cmd;
    size_t        keys;
    unsigned      i;
    tune_reply_t  r;

    if (st->conn != CONN_OPEN || st->nqueue == 0) {
        return;
    }

    cmd = st->queue[0];
    keys = st->keys[0];

    for (i = 1; i < st->nqueue; i++) {
        st->queue[i - 1] = st->queue[i];
        st->keys[i - 1] = st->keys[i];
    }

    st->nqueue--;

    r = answer(st, in, cmd, keys, el);

    st->last_io = st->now;

    switch (cmd) {

    case CMD_AUTH:
    case CMD_SELECT:
        st->hello_next++;
        if (r.type == TUNE_REPLY_ERROR) {
            st->close_due = 1;
        }
        break;

    case CMD_HELLO_SCRIPT:
        st->hello_next++;
        break;

    case CMD_GET:
        if (r.type == TUNE_REPLY_NIL) {
            st->refetch_due = 1;
        }
        break;

    case CMD_MGET:
        st->mget_gen = 0;

        if (r.type == TUNE_REPLY_ARRAY && r.elements == 2 && r.element
            && r.element[1].type == TUNE_REPLY_STRING)
        {
            st->mget_gen = r.element[0].type == TUNE_REPLY_STRING
                           ? tune_generation_parse(r.element[0].str,
                                                   r.element[0].len)
                           : 0;
        }
        break;

    case CMD_CLAIM:
        st->claim_out = 0;
        break;

    default:
        break;
    }

    tune_refresh_reply(&st->rf, st->now, &r);
    release(st);
}


/* ---- the host ------------------------------------------------------ */

static void
configure(st_t *st, input_t *in)
{
    unsigned     b0, b1, b2;
    const char  *reason;
    static const size_t   caps[] = { 512, 2048, 16384, 65536 };

    b0 = (unsigned) next(in, 1);
    b1 = (unsigned) next(in, 1);
    b2 = (unsigned) next(in, 1);

    st->conf.link.host = "redis.example";
    st->conf.link.port = 6379;
    st->conf.link.display = "redis.example:6379";
    st->conf.link.directive = "tune_redis_password";
    st->conf.link.timeout_ms = (b1 & 4) ? 1000 : 200;
    st->conf.link.quiet = (b1 >> 3) & 1;

    if (b0 & 2) {
        st->conf.link.password = PASSWORD;
        st->conf.link.password_len = sizeof(PASSWORD) - 1;

        if (b0 & 4) {
            st->conf.link.user = "fe";
            st->conf.link.user_len = 2;
        }
    }

    st->conf.link.db = (b0 & 8) ? 3 : 0;

    st->conf.refresh_ms = (b1 & 16) ? 1000 : 100;
    st->conf.herd_window_ms = (b0 & 1) ? ((b1 & 32) ? 5000 : 250) : 0;
    st->conf.herd_id = (b1 & 64) ? "a b" : "fuzz.host:1234";
    st->conf.herd_id_len = strlen(st->conf.herd_id);
    st->conf.zone_directive = "tune_zone";
    st->conf.allow_directive = "tune_allow";
    st->conf.host_name = "nginx";

    if (b0 & 16) {
        if (tune_allow_parse("http://a.example.net/", 21, &st->allow,
                             &reason) != TUNE_OK)
        {
            abort();
        }
        st->conf.allow = &st->allow;
        st->conf.nallow = 1;
    }

    st->deferred = (b0 >> 5) & 1;
    st->install_ok = 1;
    st->scratch_cap = caps[b2 % 4];

    /* the refresher backs off from the refresh interval up to this */
    st->backoff_bound = st->conf.refresh_ms > TUNE_REFRESH_BACKOFF_MAX
                        ? st->conf.refresh_ms : TUNE_REFRESH_BACKOFF_MAX;

    st->nhello = 0;
    if (st->conf.link.password) {
        st->hello[st->nhello++] = CMD_AUTH;
    }
    if (st->conf.link.db) {
        st->hello[st->nhello++] = CMD_SELECT;
    }
    if (st->conf.herd_window_ms) {
        st->hello[st->nhello++] = CMD_HELLO_SCRIPT;
    }

    /* leading from the start, unless the input says otherwise */
    st->leading = !(b0 & 128);
}


static void
lead(st_t *st)
{
    /* a host finishes an install of its last lease before leading */
    if (st->install_pending) {
        installed(st, 1);
    }

    tune_refresh_lead(&st->rf, st->now, st->held, st->mem, st->scratch_cap);

    st->leading = 1;
    st->refetch_due = 1;
    st->mget_gen = 0;
    st->down_since = st->now;
}


static void
take(st_t *st, input_t *in)
{
    uint32_t                    i, slot;
    const tune_image_t         *img;
    const tune_image_slot_t    *s;
    const tune_image_stream_t  *stream;

    img = tune_image_get(st->image, st->scratch_cap);
    slot = (uint32_t) next(in, 1);

    if (st->herd == NULL || img == NULL || img->nslots == 0) {
        return;
    }

    slot %= img->nslots;
    s = &tune_image_slots(img)[slot];

    if (s->health != TUNE_HEALTH_UP || s->weight == 0 || s->free == 0
        || (s->flags & TUNE_SLOT_REFUSED))
    {
        return;
    }

    stream = tune_image_streams(img);

    for (i = 0; i < img->nstreams; i++, stream++) {
        if (slot >= stream->first_slot
            && slot < stream->first_slot + stream->nslots)
        {
            tune_herd_take(st->herd, img, stream, slot, WALL0 + st->now,
                           st->conf.herd_window_ms);
            return;
        }
    }
}


static void
make_big(void)
{
    int     n;
    size_t  used;
    unsigned  i;

    used = (size_t) snprintf(text_big, sizeof(text_big),
                             "tuneslot-snapshot\t1\n"
                             "written_ms\t1763712000500\n"
                             "interval_ms\t1000\n");

    for (i = 0; i < 100; i++) {
        n = snprintf(text_big + used, sizeof(text_big) - used,
                     "slot\ts%03u\tbackend-%03u\tup\t0\t100\t100\t100\teu\t"
                     "1763712000400\thttp://a.example.net/s%03u\n",
                     i, i, i);
        if (n <= 0 || (size_t) n >= sizeof(text_big) - used) {
            abort();
        }
        used += (size_t) n;
    }

    if (used + 4 >= sizeof(text_big)) {
        abort();
    }

    memcpy(text_big + used, "end\n", 4);
    text_big_len = used + 4;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int           ok;
    size_t        claim;
    unsigned      b;
    input_t       in;
    st_t         *st;
    tune_reply_t  el[2 * TUNE_REFRESH_CLAIM_MAX + 1];
    static const char  *reasons[] = {
        NULL, "Connection refused", "timed out", "Connection reset by peer"
    };

    if (text_big_len == 0) {
        make_big();
    }

    in.p = data;
    in.left = size;

    st = calloc(1, sizeof(st_t));
    if (st == NULL) {
        return 0;
    }

    configure(st, &in);

    /* the leader's memory as the hosts allocate it, exactly its size: the
     * claim's (herd control on), then the image */
    claim = st->conf.herd_window_ms ? sizeof(tune_refresh_work_t) : 0;
    st->mem = malloc(claim + st->scratch_cap);
    st->scratch = st->mem ? (char *) st->mem + claim : NULL;
    st->image = calloc(1, st->scratch_cap);
    st->pending = malloc(st->scratch_cap);
    st->table_cap = tune_herd_size(HERD_ENTRIES);
    st->table = malloc(st->table_cap);

    if (st->mem == NULL || st->image == NULL
        || st->table == NULL || st->pending == NULL)
    {
        abort();
    }

    if (st->conf.herd_window_ms) {
        st->herd = tune_herd_init(st->table, st->table_cap);
        if (st->herd == NULL) {
            abort();
        }
    }

    st->now = NOW0;
    st->at = TUNE_NEVER;

    tune_refresh_init(&st->rf, &st->conf);

    if (st->leading) {
        lead(st);
    }

    run(st);
    check(st);

    while (in.left > 0) {
        b = (unsigned) next(&in, 1);

        switch (b % 16) {

        case 0:     /* time passes: up to 255 ms, or up to 12.75 s */
        case 1:
            advance(st, (int64_t) next(&in, 1) * ((b & 16) ? 50 : 1));
            break;

        case 2:
            if (st->conn == CONN_CONNECTING) {
                tune_refresh_connected(&st->rf, st->now);
                st->conn = CONN_OPEN;
                st->nqueue = 0;
                st->hello_next = 0;
                st->refetch_due = 1;
                st->last_io = st->now;
            }
            run(st);
            break;

        case 3:
            if (st->conn != CONN_NONE) {
                tune_refresh_dropped(&st->rf, st->now,
                                     reasons[(b >> 4) % NELTS(reasons)]);
                conn_lost(st);
            }
            run(st);
            break;

        case 4:
        case 5:
        case 6:
        case 7:
        case 8:
            reply(st, &in, el);
            run(st);
            break;

        case 9:     /* a reply to no command: the connection is not trusted */
            if (st->conn == CONN_OPEN && st->nqueue == 0 && (b & 16)) {
                el[0] = scalar(st, &in, 2);
                tune_refresh_reply(&st->rf, st->now, &el[0]);
                release(st);
                st->close_due = 1;
            }
            run(st);
            break;

        case 10:
            ok = (b >> 4) & 1;

            if (st->install_pending) {
                installed(st, ok);

            } else {
                /* how the next installs go */
                st->install_ok = ok || (b >> 5) % 4 != 0;
            }
            run(st);
            break;

        case 11:
        case 12:
            take(st, &in);
            run(st);
            break;

        case 13:
            if (!st->leading) {
                lead(st);
            }
            run(st);
            break;

        case 14:
            if (st->leading && (b & 16)) {
                tune_refresh_resign(&st->rf);
                st->leading = 0;
                st->settle_owed = 0;
                st->claim_out = 0;
                st->mget_gen = 0;
            }
            run(st);
            break;

        default:
            run(st);
            break;
        }

        check(st);
    }

    free(st->table);
    free(st->image);
    free(st->pending);
    free(st->mem);
    free(st);

    return 0;
}
