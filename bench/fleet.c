/*
 * tune_fleet: the herd bound at fleet scale (issue 17), on the real code.
 *
 * F front-ends, each with its own herd table (its workers share it, as
 * nginx's workers share a zone) and a choice memory per worker, answer
 * tune-ins with tune_choose_begin() and tune_choose_pick(), the functions
 * the modules call.  Each claims credits as the modules' refresher does
 * (tune_herd_claims(), at most TUNE_REFRESH_CLAIM_MAX slots a call, every
 * TUNE_HERD_TICK_MS, one claim in flight) by EVALSHA of
 * redis/herd_claim.lua in a real Redis (hiredis), and applies the reply
 * with tune_herd_granted() a modelled round trip after sending it, while
 * its tune-ins go on; a failed claim is tune_herd_local().  A poller
 * writes real snapshots (tune_snapshot_format_*()) every interval, which
 * each front-end decodes (tune_snapshot_decode()) and installs a little
 * later.
 *
 * Simulated: time (1 ms steps; the herd functions and the script take the
 * time from the caller), the backends (capacities from a mix of many small
 * relays and a few large ones; a listener sent at t connects after a delay,
 * some never), the arrivals (a show-start curve and a reconnect storm when
 * the largest backend dies) and the round trip (the reply is real, applied
 * rtt ms of simulated time after the claim was sent).
 *
 * Prints one JSON object of figures on stdout; bench/fleet.py runs it.
 * --trace 1 adds a line every 100 ms on stderr (tune-ins, refusals, the
 * true room, the fleet's credits and pending, Redis's pending summed over
 * the herd keys), --trace 2 each front-end's credits per slot as well,
 * --trace-slot N one slot's state and herd key.
 */

#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "tune_choose.h"
#include "tune_herd.h"
#include "tune_snapshot.h"


#define T0              1763712000000LL     /* a bucket starts here */
#define CLAIM_MAX       256                 /* TUNE_REFRESH_CLAIM_MAX */
#define RING_MS         4096                /* connects scheduled ahead */
#define STREAM          "live"
#define MAX_FE          64
#define MAX_WORKERS     8
#define IMAGES          4


typedef struct {
    int         fronts;         /* F */
    int         backends;       /* B */
    int         workers;        /* per front-end, each its own memo */
    double      peak;           /* tune-ins/s at the peak of the show */
    uint32_t    window;         /* W, ms; 0: herd control off */
    int         interval;       /* poll interval, ms */
    int         rtt;            /* claim round trip, ms */
    int         warmup;         /* ms of polls and claims before the show */
    int         show;           /* ms of arrivals */
    int         ramp;           /* ms to the peak */
    int         hold;           /* ms at the peak */
    int         storm_at;       /* ms into the show the largest dies; <0 */
    int         delay_min;      /* ms from tune-in to connect */
    int         delay_max;
    double      never;          /* share of listeners that never connect */
    double      free_share;     /* free at the show's start over its
                                   demand (the rest connected already) */
    uint64_t    seed;
    const char *host;
    int         port;
    int         outage_at;      /* ms into the show Redis goes away, <0 */
    int         outage_len;     /* ms it stays away */
    int         trace;          /* a line a 100 ms on stderr */
    int         trace_slot;     /* and this slot's state, -1: none */
    const char *script;         /* path of herd_claim.lua, or NULL */
} conf_t;


typedef struct {
    uint32_t    capacity;
    uint32_t    connected;
    uint32_t    committed;      /* connected and on their way */
    uint32_t    polled;         /* listeners at the last poll */
    uint32_t    polled_free;    /* free at the last poll */
    uint32_t    worst;          /* worst overshoot of a poll window */
    int         alive;
} backend_t;


typedef struct {
    uint32_t   *v;
    size_t      n, cap;
} vec_t;


typedef struct {
    tune_herd_t         *herd;
    void                *herd_buf;
    tune_choice_memo_t  *memo[MAX_WORKERS];
    int                  image;         /* index in images, -1: none */
    int                  pending;       /* image to install, -1: none */
    int64_t              install_at;
    int64_t              next_claim;
    int                  inflight;
    int64_t              due;
    int64_t              sent_ms;
    size_t               nclaims;
    int                  failed;
    tune_herd_claim_t    claims[CLAIM_MAX];
    int64_t              reply[2 * CLAIM_MAX];
    char                 id[TUNE_HERD_ID_MAX];
    size_t               id_len;
} front_t;


typedef struct {
    uint64_t    tuneins, sent, refused, refused_room, failed_connect;
    uint64_t    never, storm, sent_full, claims, claim_keys, claim_errors;
    uint64_t    claim_bytes, reply_bytes, granted;
    uint64_t    overshoot_total, windows_over;
    int64_t     room_start, room_end;
    uint64_t    trace_in, trace_refused, claims_away;
    uint32_t    worst, worst_cap;
    double      worst_share, worst_share50;
    uint32_t    worst50, worst50_cap;
} stats_t;


static conf_t     conf;
static stats_t    st;
static backend_t *be;
static vec_t      ring[RING_MS];
static uint32_t   with_room;     /* alive slots with room */
static int64_t    room;          /* their room, summed */
static uint64_t   rng_state;

static _Alignas(8) unsigned char *images[IMAGES];
static size_t     image_cap;
static char      *text;
static size_t     text_cap;

static front_t   *fe;
static redisContext *redis;
static char       sha[41];


static double rate(int64_t t);


static uint64_t
rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}


static double
unit(void)
{
    return (double) (rnd() >> 11) / (double) (1ULL << 53);
}


static void
die(const char *what)
{
    fprintf(stderr, "tune_fleet: %s\n", what);
    exit(1);
}


static void
push(vec_t *vec, uint32_t x)
{
    if (vec->n == vec->cap) {
        vec->cap = vec->cap ? 2 * vec->cap : 64;
        vec->v = realloc(vec->v, vec->cap * sizeof(uint32_t));
        if (vec->v == NULL) {
            die("out of memory");
        }
    }
    vec->v[vec->n++] = x;
}


static void
set_committed(uint32_t b, uint32_t committed)
{
    int  had = be[b].alive && be[b].committed < be[b].capacity;
    int  has;

    if (had) {
        room -= be[b].capacity - be[b].committed;
    }
    be[b].committed = committed;
    has = be[b].alive && be[b].committed < be[b].capacity;
    with_room += has - had;
    if (has) {
        room += be[b].capacity - be[b].committed;
    }
}


/*
 * Capacities: many small relays (85%, 25..200), some medium (12%,
 * 300..1,500) and a few large (3%, 2,000..10,000; at least one), shuffled
 */
static void
make_backends(void)
{
    int       i, j, nlarge, nmedium;
    int64_t   t;
    double    demand = 0, prefill;
    uint64_t  total = 0;
    backend_t tmp;

    be = calloc((size_t) conf.backends, sizeof(backend_t));
    if (be == NULL) {
        die("out of memory");
    }

    nlarge = conf.backends * 3 / 100;
    nlarge = nlarge ? nlarge : 1;
    nmedium = conf.backends * 12 / 100;

    for (i = 0; i < conf.backends; i++) {
        if (i < nlarge) {
            be[i].capacity = 2000 + (uint32_t) (rnd() % 8001);
        } else if (i < nlarge + nmedium) {
            be[i].capacity = 300 + (uint32_t) (rnd() % 1201);
        } else {
            be[i].capacity = 25 + (uint32_t) (rnd() % 176);
        }
    }

    for (i = conf.backends - 1; i > 0; i--) {
        j = (int) (rnd() % (uint64_t) (i + 1));
        tmp = be[i];
        be[i] = be[j];
        be[j] = tmp;
    }

    /* connected at the start: so that the free count is free_share of
     * the show's demand (none connected when the show wants more than
     * all of it), spread 0.7..1.3 around that share */
    for (i = 0; i < conf.backends; i++) {
        total += be[i].capacity;
    }
    for (t = 0; t < conf.show; t++) {
        demand += rate(t) / 1000.0;
    }
    prefill = 1.0 - conf.free_share * demand / (double) total;
    prefill = prefill > 0 ? prefill : 0;

    for (i = 0; i < conf.backends; i++) {
        be[i].alive = 1;
        be[i].connected = (uint32_t) (be[i].capacity * prefill
                                      * (0.7 + 0.6 * unit()));
        if (be[i].connected > be[i].capacity) {
            be[i].connected = be[i].capacity;
        }
        be[i].committed = be[i].connected;
        be[i].polled = be[i].connected;
        be[i].polled_free = be[i].capacity - be[i].connected;
        with_room += be[i].committed < be[i].capacity;
        room += be[i].capacity - be[i].committed;
    }
}


static void
append(size_t n)
{
    if (n == 0 || n >= text_cap) {
        die("snapshot line");
    }
}


/* The poller's round at tp: counts the windows' overshoot, writes the
 * snapshot and decodes it into images[idx] */
static void
poll_round(int64_t tp, int idx, uint64_t generation, int count)
{
    int                 i;
    char                name[32], url[96];
    size_t              used, n;
    uint32_t            arrived, over, listeners;
    double              share;
    tune_rc_t           rc;
    tune_decode_err_t   err;
    tune_slot_fields_t  s;

    used = tune_snapshot_format_header(text, text_cap, tp, conf.interval);
    append(used);

    for (i = 0; i < conf.backends; i++) {
        listeners = be[i].connected;

        if (count && be[i].alive) {
            /* listeners connected in the window over the free it began
             * with */
            arrived = listeners - be[i].polled;
            if (listeners < be[i].polled) {
                arrived = 0;
            }
            over = arrived > be[i].polled_free
                   ? arrived - be[i].polled_free : 0;
            if (over) {
                st.windows_over++;
                st.overshoot_total += over;
            }
            if (over > be[i].worst) {
                be[i].worst = over;
            }
            share = (double) over / be[i].capacity;
            if (over > st.worst
                || (over == st.worst && share > st.worst_share))
            {
                st.worst = over;
                st.worst_cap = be[i].capacity;
            }
            if (share > st.worst_share) {
                st.worst_share = share;
            }
            if (be[i].capacity >= 50 && share > st.worst_share50) {
                st.worst_share50 = share;
                st.worst50 = over;
                st.worst50_cap = be[i].capacity;
            }
        }

        be[i].polled = listeners;
        be[i].polled_free = listeners < be[i].capacity
                            ? be[i].capacity - listeners : 0;

        snprintf(name, sizeof(name), "relay%04d", i);
        snprintf(url, sizeof(url), "http://relay%04d.example.net:8000/"
                 STREAM, i);

        memset(&s, 0, sizeof(s));
        s.stream = STREAM;
        s.stream_len = sizeof(STREAM) - 1;
        s.backend = name;
        s.backend_len = strlen(name);
        s.health = be[i].alive ? TUNE_HEALTH_UP : TUNE_HEALTH_DOWN;
        s.listeners = be[i].alive ? listeners : 0;
        s.capacity = be[i].capacity;
        s.free = be[i].alive ? be[i].polled_free : 0;
        s.weight = 100;
        s.region = "";
        s.polled_ms = tp;
        s.url = url;
        s.url_len = strlen(url);

        n = tune_snapshot_format_slot(text + used, text_cap - used, &s, &rc);
        append(n);
        used += n;
    }

    if (conf.trace && count) {
        fprintf(stderr, "poll %.1f: %" PRIu64 " over in %" PRIu64
                " windows so far\n", (double) (tp - T0 - conf.warmup) / 1000,
                st.overshoot_total, st.windows_over);
    }

    n = tune_snapshot_format_end(text + used, text_cap - used);
    append(n);
    used += n;

    if (tune_snapshot_decode(text, used, generation, images[idx], image_cap,
                             &err) == 0)
    {
        fprintf(stderr, "tune_fleet: decode: %s at line %u\n", err.reason,
                err.line);
        exit(1);
    }
}


/* bytes of a RESP request of argc arguments */
static size_t
resp_size(int argc, const size_t *argvlen)
{
    int     i;
    size_t  n;
    char    num[24];

    n = (size_t) snprintf(num, sizeof(num), "*%d\r\n", argc);
    for (i = 0; i < argc; i++) {
        n += (size_t) snprintf(num, sizeof(num), "$%zu\r\n", argvlen[i]);
        n += argvlen[i] + 2;
    }
    return n;
}


static int64_t  show0;


/* Redis is away (no claim answered, no snapshot fetched) */
static int
away(int64_t now)
{
    return conf.outage_at >= 0 && now >= show0 + conf.outage_at
           && now < show0 + conf.outage_at + conf.outage_len;
}


/* One front-end's claim at now, as the refresher sends it: the reply is
 * kept and applied conf.rtt ms later; while Redis is away it fails then,
 * and the front-end counts its own tune-ins (tune_herd_local()) */
static void
claim(front_t *f, int64_t now)
{
    size_t          i, n, argc;
    static const char *argv[2 + TUNE_HERD_ARGC(CLAIM_MAX)];
    static size_t   argvlen[2 + TUNE_HERD_ARGC(CLAIM_MAX)];
    static char     buf[TUNE_HERD_ARGS_BUF(CLAIM_MAX)];
    redisReply     *r;
    const tune_image_t *img;

    img = tune_image_get(images[f->image], image_cap);
    n = tune_herd_claims(f->herd, img, now, conf.window, f->claims,
                         CLAIM_MAX);
    if (n == 0) {
        return;
    }

    argc = tune_herd_args(f->claims, n, now, conf.window, f->id, f->id_len,
                          buf, sizeof(buf), argv + 2, argvlen + 2);
    if (argc == 0) {
        die("tune_herd_args");
    }
    if (away(now)) {
        st.claims_away++;
        f->inflight = 1;
        f->due = now + conf.rtt;
        f->failed = 1;
        return;
    }

    argv[0] = "EVALSHA";
    argvlen[0] = 7;
    argv[1] = sha;
    argvlen[1] = 40;

    st.claims++;
    st.claim_keys += n;
    st.claim_bytes += resp_size((int) argc + 2, argvlen);

    r = redisCommandArgv(redis, (int) argc + 2, argv, argvlen);
    if (r == NULL) {
        die("redis went away");
    }

    f->inflight = 1;
    f->due = now + conf.rtt;
    f->sent_ms = now;
    f->nclaims = n;
    f->failed = 0;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 * n) {
        fprintf(stderr, "tune_fleet: claim: %s\n",
                r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        f->failed = 1;
        st.claim_errors++;
    } else {
        st.reply_bytes += (size_t) snprintf(buf, 24, "*%zu\r\n", 2 * n);
        for (i = 0; i < 2 * n; i++) {
            f->reply[i] = r->element[i]->integer;
            st.reply_bytes += (size_t) snprintf(buf, 24, ":%lld\r\n",
                                                r->element[i]->integer);
            if (i % 2 == 0) {
                st.granted += (uint64_t) r->element[i]->integer;
            }
        }
    }

    freeReplyObject(r);
}


static void
apply(front_t *f)
{
    f->inflight = 0;

    if (f->failed) {
        tune_herd_local(f->herd);
        return;
    }

    if (tune_herd_granted(f->herd, f->claims, f->nclaims, conf.window,
                          f->sent_ms, f->reply) != TUNE_OK)
    {
        die("tune_herd_granted");
    }
}


/* one listener's tune-in at now through front-end f */
static void
tunein(int64_t now)
{
    int                   w;
    void                 *work;
    uint32_t              b, delay;
    front_t              *f;
    tune_choice_t         ch;
    tune_choice_req_t     req;
    const tune_image_t   *img;
    static void          *work_buf;
    static size_t         work_cap;

    f = &fe[rnd() % (uint64_t) conf.fronts];
    w = (int) (rnd() % (uint64_t) conf.workers);

    st.tuneins++;
    st.trace_in++;

    if (f->image < 0) {
        st.refused++;
        st.trace_refused++;
        st.refused_room += with_room > 0;
        return;
    }
    img = tune_image_get(images[f->image], image_cap);

    memset(&req, 0, sizeof(req));
    req.stream = STREAM;
    req.stream_len = sizeof(STREAM) - 1;
    req.age_ms = now - img->written_ms;
    req.herd = f->herd;
    req.window = conf.window;
    req.now_ms = now;
    req.memo = f->memo[w];
    req.rnd = (uint32_t) rnd();

    if (tune_choose_begin(img, &req, &ch) != TUNE_CHOICE_OK) {
        die("tune_choose_begin");
    }

    if (ch.work_size > work_cap) {
        work_cap = ch.work_size;
        free(work_buf);
        work_buf = malloc(work_cap);
        if (work_buf == NULL) {
            die("out of memory");
        }
    }
    work = work_buf;

    if (tune_choose_pick(img, &req, &ch, work) != TUNE_CHOICE_OK) {
        st.refused++;
        st.trace_refused++;
        st.refused_room += with_room > 0;
        return;
    }

    st.sent++;

    if (tune_image_slots(img)[ch.slot].free == 0) {
        st.sent_full++;
    }

    /* one stream: slot i is backend i, in text order */
    b = ch.slot;

    if (unit() < conf.never) {
        st.never++;
        return;
    }

    delay = (uint32_t) conf.delay_min
            + (uint32_t) (rnd() % (uint64_t) (conf.delay_max
                                              - conf.delay_min + 1));
    if (be[b].alive) {
        set_committed(b, be[b].committed + 1);
    }
    push(&ring[(now + delay) % RING_MS], b);
}


/* the arrival rate of the show at ms t of it, tune-ins/s */
static double
rate(int64_t t)
{
    if (t < 0 || t >= conf.show) {
        return 0;
    }
    if (t < conf.ramp) {
        return conf.peak * (double) t / conf.ramp;
    }
    if (t < conf.ramp + conf.hold) {
        return conf.peak;
    }
    return conf.peak * exp(-(double) (t - conf.ramp - conf.hold) / 2000.0);
}


static void
load_script(void)
{
    size_t      len;
    const char *body;
    redisReply *r;
    FILE       *fp;
    char       *file = NULL;

    if (conf.script) {
        fp = fopen(conf.script, "rb");
        if (fp == NULL) {
            die("cannot open the script");
        }
        file = malloc(1 << 20);
        len = fread(file, 1, (1 << 20) - 1, fp);
        fclose(fp);
        body = file;
    } else {
        body = tune_herd_script(&len);
    }

    r = redisCommand(redis, "SCRIPT LOAD %b", body, len);
    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40) {
        die("SCRIPT LOAD failed");
    }
    memcpy(sha, r->str, 40);
    sha[40] = '\0';
    freeReplyObject(r);
    free(file);
}


static void
usage(void)
{
    fprintf(stderr,
        "usage: tune_fleet --fronts F --backends B --peak R [--window W]\n"
        "  [--workers N] [--interval MS] [--rtt MS] [--show MS] [--ramp MS]\n"
        "  [--hold MS] [--storm-at MS|-1] [--delay MIN,MAX] [--never P]\n"
        "  [--free-share X] [--seed N] [--port P] [--host H] [--script PATH]\n"
        "  [--outage AT,MS] [--trace 1|2] [--trace-slot N]\n");
    exit(2);
}


static void
parse(int argc, char **argv)
{
    int  i;

    conf = (conf_t) {
        .fronts = 2, .backends = 20, .workers = 2, .peak = 5000,
        .window = 2000, .interval = 1000, .rtt = 2, .warmup = 3000,
        .show = 8000, .ramp = 1000, .hold = 1000, .storm_at = 4000,
        .delay_min = 100, .delay_max = 900, .never = 0.05, .free_share = 0.6,
        .seed = 1, .trace_slot = -1, .outage_at = -1, .host = "127.0.0.1", .port = 6379,
        .script = NULL,
    };

    for (i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];

        if (!strcmp(k, "--fronts")) conf.fronts = atoi(v);
        else if (!strcmp(k, "--backends")) conf.backends = atoi(v);
        else if (!strcmp(k, "--workers")) conf.workers = atoi(v);
        else if (!strcmp(k, "--peak")) conf.peak = atof(v);
        else if (!strcmp(k, "--window")) conf.window = (uint32_t) atoi(v);
        else if (!strcmp(k, "--interval")) conf.interval = atoi(v);
        else if (!strcmp(k, "--rtt")) conf.rtt = atoi(v);
        else if (!strcmp(k, "--warmup")) conf.warmup = atoi(v);
        else if (!strcmp(k, "--show")) conf.show = atoi(v);
        else if (!strcmp(k, "--ramp")) conf.ramp = atoi(v);
        else if (!strcmp(k, "--hold")) conf.hold = atoi(v);
        else if (!strcmp(k, "--storm-at")) conf.storm_at = atoi(v);
        else if (!strcmp(k, "--delay")) {
            if (sscanf(v, "%d,%d", &conf.delay_min, &conf.delay_max) != 2) {
                usage();
            }
        }
        else if (!strcmp(k, "--never")) conf.never = atof(v);
        else if (!strcmp(k, "--free-share")) conf.free_share = atof(v);
        else if (!strcmp(k, "--seed")) conf.seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--port")) conf.port = atoi(v);
        else if (!strcmp(k, "--host")) conf.host = v;
        else if (!strcmp(k, "--script")) conf.script = v;
        else if (!strcmp(k, "--outage")) {
            if (sscanf(v, "%d,%d", &conf.outage_at, &conf.outage_len) != 2) {
                usage();
            }
        }
        else if (!strcmp(k, "--trace")) conf.trace = atoi(v);
        else if (!strcmp(k, "--trace-slot")) conf.trace_slot = atoi(v);
        else usage();
    }

    if (i != argc || conf.fronts < 1 || conf.fronts > MAX_FE
        || conf.backends < 1 || conf.backends > 9999
        || conf.workers < 1 || conf.workers > MAX_WORKERS
        || conf.interval < 100 || conf.rtt < 0 || conf.rtt >= 1000
        || conf.delay_min < 0 || conf.delay_max < conf.delay_min
        || conf.delay_max >= RING_MS - 1000 || conf.ramp < 1
        || conf.trace_slot >= conf.backends
        || (conf.window != 0 && (conf.window < TUNE_HERD_WINDOW_MIN
                                 || conf.window > TUNE_HERD_WINDOW_MAX)))
    {
        usage();
    }
}


static int
cmp_u32(const void *a, const void *b)
{
    uint32_t  x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return (x > y) - (x < y);
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


int
main(int argc, char **argv)
{
    int              i, k, next_image, dead;
    size_t           j, entries;
    int64_t          now, end, next_poll;
    uint64_t         generation;
    double           acc;
    uint32_t        *worst, p99;
    double          *shares, p99_share;
    struct timespec  t0, t1;
    vec_t           *v;
    redisReply      *r;

    parse(argc, argv);
    rng_state = conf.seed * 0x9E3779B97F4A7C15ULL + 1;

    clock_gettime(CLOCK_MONOTONIC, &t0);

    make_backends();

    text_cap = (size_t) conf.backends * 256 + 4096;
    text = malloc(text_cap);
    image_cap = TUNE_IMAGE_SIZE_MAX(text_cap);
    image_cap = (image_cap + 7) & ~(size_t) 7;
    for (k = 0; k < IMAGES; k++) {
        images[k] = aligned_alloc(8, image_cap);
        if (images[k] == NULL) {
            die("out of memory");
        }
    }

    if (conf.window) {
        redis = redisConnect(conf.host, conf.port);
        if (redis == NULL || redis->err) {
            die("cannot connect to redis");
        }
        r = redisCommand(redis, "FLUSHALL");
        freeReplyObject(r);
        load_script();
    }

    fe = calloc((size_t) conf.fronts, sizeof(front_t));
    entries = (size_t) conf.backends * 2 + 64;
    for (i = 0; i < conf.fronts; i++) {
        fe[i].herd_buf = aligned_alloc(8, (tune_herd_size(entries) + 7)
                                          & ~(size_t) 7);
        fe[i].herd = tune_herd_init(fe[i].herd_buf, tune_herd_size(entries));
        if (fe[i].herd == NULL) {
            die("tune_herd_init");
        }
        for (k = 0; k < conf.workers; k++) {
            size_t  sz = tune_choice_memo_size(1, (uint32_t) conf.backends);

            fe[i].memo[k] = tune_choice_memo_init(
                aligned_alloc(8, (sz + 7) & ~(size_t) 7), 1,
                (uint32_t) conf.backends);
        }
        fe[i].image = -1;
        fe[i].pending = -1;
        fe[i].next_claim = T0 + i * 7 % TUNE_HERD_TICK_MS;
        fe[i].id_len = tune_herd_id(fe[i].id, "fe", 2, "sim", 1000 + i);
    }

    show0 = T0 + conf.warmup;
    end = show0 + conf.show + conf.delay_max + 2 * conf.interval
          + (conf.window > (uint32_t) conf.interval
             ? conf.window : (uint32_t) conf.interval);
    next_poll = T0;
    next_image = 0;
    generation = 1;
    acc = 0;
    dead = -1;

    for (now = T0; now < end; now++) {

        /* the poller's round, installed by each front-end 20..120 ms
         * later (its refresh tick and the fetch) */
        if (now == next_poll) {
            poll_round(now, next_image, generation++, now > show0);
            for (i = 0; i < conf.fronts; i++) {
                fe[i].pending = next_image;
                fe[i].install_at = now + 20 + (int64_t) (rnd() % 101);
            }
            next_image = (next_image + 1) % IMAGES;
            next_poll += conf.interval;
        }

        /* listeners connecting now */
        v = &ring[now % RING_MS];
        for (j = 0; j < v->n; j++) {
            uint32_t  b = v->v[j];

            if (b == UINT32_MAX) {
                continue;
            }
            if (be[b].alive) {
                be[b].connected++;
            } else {
                /* the backend died meanwhile: the player tries again */
                st.failed_connect++;
                push(&ring[(now + 500) % RING_MS], UINT32_MAX);
            }
        }
        for (j = 0; j < v->n; j++) {
            if (v->v[j] == UINT32_MAX) {
                tunein(now);
            }
        }
        v->n = 0;

        for (i = 0; i < conf.fronts; i++) {
            front_t  *f = &fe[i];

            if (f->pending >= 0 && now >= f->install_at && !away(now)) {
                f->image = f->pending;
                f->pending = -1;
            }
            if (f->inflight && now >= f->due) {
                apply(f);
            }
            if (conf.window && f->image >= 0 && !f->inflight
                && now >= f->next_claim)
            {
                f->next_claim = now + TUNE_HERD_TICK_MS;
                claim(f, now);
            }
        }

        /* the reconnect storm: every listener of the largest backend tunes
         * in again within 50 ms */
        if (conf.storm_at >= 0 && now == show0 + conf.storm_at) {
            uint32_t  n;

            dead = 0;
            for (i = 1; i < conf.backends; i++) {
                if (be[i].capacity > be[dead].capacity) {
                    dead = i;
                }
            }
            n = be[dead].connected;
            if (be[dead].committed < be[dead].capacity) {
                with_room--;
                room -= be[dead].capacity - be[dead].committed;
            }
            be[dead].alive = 0;
            be[dead].committed = 0;
            be[dead].connected = 0;
            st.storm = n;
            for (; n; n--) {
                push(&ring[(now + 1 + (int64_t) (rnd() % 50)) % RING_MS],
                     UINT32_MAX);
            }
        }

        if (now == show0) {
            st.room_start = room;
        }
        if (now == show0 + conf.show) {
            st.room_end = room;
        }
        if (conf.trace && now % 100 == 0) {
            uint64_t  credits = 0, pending = 0, snap_free = 0;
            int       global = 0;

            for (i = 0; i < conf.fronts; i++) {
                const tune_image_t  *img;
                uint32_t             p, c, s;

                if (fe[i].image < 0) {
                    continue;
                }
                img = tune_image_get(images[fe[i].image], image_cap);
                global += tune_herd_global(fe[i].herd, now);
                for (s = 0; s < img->nslots; s++) {
                    tune_herd_slot_state(fe[i].herd, img, NULL, s, now,
                                         conf.window, &p, &c);
                    credits += c;
                    pending += p;
                    if (conf.trace == 2 && c) {
                        fprintf(stderr, "fe%d:%u:%u ", i, s, c);
                    }
                    if (i == 0) {
                        snap_free += tune_image_slots(img)[s].free;
                    }
                }
            }
            int64_t  redis_pending = 0, redis_left = 0;

            for (i = 0; conf.window && i < conf.backends; i++) {
                redisReply  *h;
                int64_t      p = 0, f = 0, sum = 0, first;
                size_t       e;

                h = redisCommand(redis, "HGETALL {tuneslot:v1}:herd:"
                                 STREAM ":relay%04d", i);
                if (h == NULL) {
                    die("redis went away");
                }
                for (e = 0; e + 1 < h->elements; e += 2) {
                    const char  *nm = h->element[e]->str;

                    if (!strcmp(nm, "p")) {
                        p = atoll(h->element[e + 1]->str);
                    } else if (!strcmp(nm, "f")) {
                        f = atoll(h->element[e + 1]->str);
                    }
                }
                first = (p - conf.window - 99) / 100 + 1;
                for (e = 0; e + 1 < h->elements; e += 2) {
                    const char  *nm = h->element[e]->str;

                    if (nm[0] == 'b' && atoll(nm + 1) >= first) {
                        sum += atoll(h->element[e + 1]->str);
                    }
                }
                freeReplyObject(h);
                redis_pending += sum;
                redis_left += f > sum ? f - sum : 0;
            }
            if (conf.trace_slot >= 0 && conf.window && fe[0].image >= 0) {
                redisReply  *h;
                size_t       e;
                uint32_t     p, c;
                const tune_image_t  *img;

                img = tune_image_get(images[fe[0].image], image_cap);
                tune_herd_slot_state(fe[0].herd, img, NULL,
                                     (uint32_t) conf.trace_slot, now,
                                     conf.window, &p, &c);
                fprintf(stderr, "slot %d cap %u committed %u img_free %u "
                        "polled %lld fe0 pending %u credits %u redis:",
                        conf.trace_slot, be[conf.trace_slot].capacity,
                        be[conf.trace_slot].committed,
                        tune_image_slots(img)[conf.trace_slot].free,
                        (long long) (tune_image_slots(img)[conf.trace_slot]
                                     .polled_ms - show0),
                        p, c);
                h = redisCommand(redis, "HGETALL {tuneslot:v1}:herd:"
                                 STREAM ":relay%04d", conf.trace_slot);
                for (e = 0; h && e + 1 < h->elements; e += 2) {
                    if (h->element[e]->str[0] != 'n') {
                        fprintf(stderr, " %s=%s", h->element[e]->str,
                                h->element[e + 1]->str);
                    }
                }
                fprintf(stderr, "\n");
                freeReplyObject(h);
            }
            fprintf(stderr, "t=%6.1f redis_pending=%" PRId64
                    " redis_left=%" PRId64 " ", (double) (now - show0)
                    / 1000.0, redis_pending, redis_left);
            fprintf(stderr, "t=%6.1f in=%6" PRIu64 " refused=%6" PRIu64
                    " room=%8" PRId64 " slots_with_room=%u"
                    " fe0_snapshot_free=%" PRIu64 " fleet_pending=%" PRIu64
                    " fleet_credits=%" PRIu64 " global=%d\n",
                    (double) (now - show0) / 1000.0, st.trace_in,
                    st.trace_refused, room, with_room, snap_free, pending,
                    credits, global);
            st.trace_in = st.trace_refused = 0;
        }

        acc += rate(now - show0) / 1000.0;
        while (acc >= 1.0) {
            acc -= 1.0;
            tunein(now);
        }
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);

    /* p99 over the slots of each slot's worst poll window */
    worst = malloc(sizeof(uint32_t) * (size_t) conf.backends);
    shares = malloc(sizeof(double) * (size_t) conf.backends);
    for (i = 0; i < conf.backends; i++) {
        worst[i] = be[i].worst;
    }
    qsort(worst, (size_t) conf.backends, sizeof(uint32_t), cmp_u32);
    p99 = worst[(size_t) ((conf.backends - 1) * 0.99)];
    for (i = 0; i < conf.backends; i++) {
        shares[i] = (double) be[i].worst / be[i].capacity;
    }
    qsort(shares, (size_t) conf.backends, sizeof(double), cmp_double);
    p99_share = shares[(size_t) ((conf.backends - 1) * 0.99)];

    {
        uint64_t  cap = 0;
        unsigned  over_slots = 0;

        for (i = 0; i < conf.backends; i++) {
            cap += be[i].capacity;
            over_slots += be[i].worst > 0;
        }

        printf("{\"fronts\": %d, \"backends\": %d, \"workers\": %d, "
               "\"peak\": %.0f, \"window\": %u, \"rtt_ms\": %d, "
               "\"capacity\": %" PRIu64 ", \"sim_s\": %.3f, "
               "\"real_s\": %.3f, \"show_s\": %.3f, "
               "\"tuneins\": %" PRIu64 ", \"sent\": %" PRIu64 ", "
               "\"refused\": %" PRIu64 ", \"refused_room\": %" PRIu64 ", "
               "\"room_start\": %" PRId64 ", \"room_end\": %" PRId64 ", "
               "\"storm\": %" PRIu64 ", \"dead_capacity\": %u, "
               "\"failed_connect\": %" PRIu64 ", \"never\": %" PRIu64 ", "
               "\"sent_full\": %" PRIu64 ", "
               "\"worst\": %u, \"worst_cap\": %u, \"worst_share\": %.5f, "
               "\"worst50\": %u, \"worst50_cap\": %u, "
               "\"worst_share50\": %.5f, \"p99\": %u, "
               "\"p99_share\": %.5f, \"slots_over\": %u, "
               "\"windows_over\": %" PRIu64 ", "
               "\"overshoot_total\": %" PRIu64 ", "
               "\"claims\": %" PRIu64 ", \"claim_keys\": %" PRIu64 ", "
               "\"claim_errors\": %" PRIu64 ", \"claims_away\": %" PRIu64 ", "
               "\"granted\": %" PRIu64 ", "
               "\"claim_bytes\": %" PRIu64 ", \"reply_bytes\": %" PRIu64
               "}\n",
               conf.fronts, conf.backends, conf.workers, conf.peak,
               conf.window, conf.rtt, cap,
               (double) (end - T0) / 1000.0,
               (double) (t1.tv_sec - t0.tv_sec)
               + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9,
               (double) conf.show / 1000.0,
               st.tuneins, st.sent, st.refused, st.refused_room,
               st.room_start, st.room_end, st.storm,
               dead >= 0 ? be[dead].capacity : 0, st.failed_connect,
               st.never, st.sent_full, st.worst, st.worst_cap,
               st.worst_share, st.worst50, st.worst50_cap,
               st.worst_share50, p99, p99_share, over_slots,
               st.windows_over, st.overshoot_total, st.claims,
               st.claim_keys, st.claim_errors, st.claims_away, st.granted,
               st.claim_bytes,
               st.reply_bytes);
    }

    if (redis) {
        redisFree(redis);
    }

    return 0;
}
