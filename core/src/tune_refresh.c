/*
 * The front-end's refresher (tune_refresh.h): the machine's turns, the
 * read of the snapshot, install or reject.  The herd claims are in
 * tune_refresh_claim.c.
 */

#include "tune_refresh.h"
#include "tune_refresh_claim.h"
#include "tune_contract.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>


/* the read's steps */
enum {
    TUNE_READ_IDLE = 0,
    TUNE_READ_GET,               /* GET generation sent */
    TUNE_READ_STRLEN_OWED,
    TUNE_READ_STRLEN,
    TUNE_READ_MGET_OWED,
    TUNE_READ_MGET
};

/* the same slots refused are told again this often, ms */
#define TUNE_REFUSED_AGAIN      (3600 * 1000)


static void tune_refresh_lost(tune_refresh_t *rf);
static void tune_refresh_push(tune_refresh_t *rf, tune_refresh_for_t what,
    int64_t now);
static int tune_refresh_awaits(const tune_refresh_t *rf,
    tune_refresh_for_t what);
static tune_do_t tune_refresh_send(tune_refresh_t *rf, int64_t now,
    tune_action_t *act, int argc, const char **argv, const size_t *argvlen,
    tune_refresh_for_t what);
static void tune_refresh_read(tune_refresh_t *rf, int64_t now,
    const tune_reply_t *reply);
static int tune_refresh_too_large(tune_refresh_t *rf, uint64_t generation,
    long long len);
static void tune_refresh_install(tune_refresh_t *rf, int64_t now,
    const tune_reply_t *gen, const tune_reply_t *text);
static void tune_refresh_reject(tune_refresh_t *rf, uint64_t generation,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void tune_refresh_refused(tune_refresh_t *rf, int64_t now);
static uint64_t tune_refresh_generation(const tune_reply_t *reply);
static void tune_refresh_still(tune_refresh_t *rf, int64_t now,
    uint64_t generation);


void
tune_refresh_init(tune_refresh_t *rf, const tune_refresh_conf_t *conf)
{
    memset(rf, 0, sizeof(tune_refresh_t));

    rf->conf = *conf;

    rf->conf.link.backoff_min_ms = conf->refresh_ms;
    rf->conf.link.backoff_max_ms = conf->refresh_ms > TUNE_REFRESH_BACKOFF_MAX
                                   ? conf->refresh_ms
                                   : TUNE_REFRESH_BACKOFF_MAX;
    rf->conf.link.effect = "tune-ins are answered from the last snapshot";

    if (conf->herd_window_ms) {
        rf->conf.link.script = tune_herd_script(&rf->conf.link.script_len);

    } else {
        rf->conf.link.script = NULL;
        rf->conf.link.script_len = 0;
    }

    /* no generation seen yet: none equals it */
    rf->seen = UINT64_MAX;

    tune_link_init(&rf->link, &rf->conf.link);
}


size_t
tune_refresh_memory(const tune_refresh_t *rf, size_t image_cap)
{
    /* the claim's first: its size keeps the image 8-byte aligned */
    return (rf->conf.herd_window_ms ? sizeof(tune_refresh_work_t) : 0)
           + image_cap;
}


void
tune_refresh_lead(tune_refresh_t *rf, int64_t now, uint64_t held, void *mem,
    size_t image_cap)
{
    if (rf->leading) {
        return;
    }

    rf->leading = 1;
    rf->held = held;
    rf->work = rf->conf.herd_window_ms ? mem : NULL;
    rf->scratch = (char *) mem + tune_refresh_memory(rf, 0);
    rf->scratch_cap = image_cap;

    rf->refetch = 1;
    rf->next_read = now;
    rf->next_claim = now;

    /* a generation seen before resigning says nothing of how long it has
     * stood still now */
    rf->seen = UINT64_MAX;

    /* the claims a last holder had in flight will never be answered;
     * without herd control there is no table to settle */
    rf->herd_ops = rf->conf.herd_window_ms ? TUNE_HERD_OP_TAKEOVER : 0;

    tune_link_start(&rf->link, now);

    rf->connects = rf->link.connects;
    rf->drops = rf->link.drops;
}


void
tune_refresh_resign(tune_refresh_t *rf)
{
    if (!rf->leading) {
        return;
    }

    tune_link_stop(&rf->link);

    rf->leading = 0;
    rf->scratch = NULL;
    rf->scratch_cap = 0;
    rf->work = NULL;

    /* the next holder's takeover settles the claims in flight */
    rf->herd_ops = 0;
    rf->claim = TUNE_CLAIM_IDLE;
    rf->read = TUNE_READ_IDLE;
    rf->nfifo = 0;
    rf->install_owed = 0;
    rf->installing = 0;
    rf->reload_script = 0;

    rf->empty_logged = 0;
    rf->reject_logged = 0;
    rf->herd_logged = 0;

    rf->drops = rf->link.drops;
}


int
tune_refresh_leading(const tune_refresh_t *rf)
{
    return rf->leading;
}


/*
 * The connection is gone (dropped, timed out, closed after refused
 * credentials): nothing in flight will be answered.  Whether a claim in
 * flight ran is not known, so the credits returned and granted are both
 * lost: fewer tune-ins, never more than the free slots.
 */

static void
tune_refresh_lost(tune_refresh_t *rf)
{
    rf->drops = rf->link.drops;
    rf->read = TUNE_READ_IDLE;
    rf->nfifo = 0;
    rf->reload_script = 0;

    if (rf->claim != TUNE_CLAIM_IDLE) {
        rf->claim = TUNE_CLAIM_IDLE;
        rf->herd_ops &= ~(TUNE_HERD_OP_GRANTED | TUNE_HERD_OP_UNCLAIMED
                          | TUNE_HERD_OP_COLLECT);
    }

    /* no claim can renew the credits: count this front-end's own now */
    if (rf->leading && rf->conf.herd_window_ms) {
        rf->herd_ops |= TUNE_HERD_OP_LOCAL;
    }
}


tune_do_t
tune_refresh_next(tune_refresh_t *rf, int64_t now, tune_action_t *act)
{
    int64_t      at;
    tune_do_t    what;
    const char  *sha;

    if (rf->drops != rf->link.drops) {
        tune_refresh_lost(rf);
    }

    what = tune_link_next(&rf->link, now, act);

    if (rf->drops != rf->link.drops) {
        /* it timed out just now */
        tune_refresh_lost(rf);
    }

    if (what != TUNE_DO_WAIT) {
        return what;
    }

    if (rf->herd_ops) {
        memset(act, 0, sizeof(tune_action_t));
        act->what = TUNE_DO_HERD;
        return TUNE_DO_HERD;
    }

    if (rf->install_owed) {
        rf->install_owed = 0;
        rf->installing = 1;

        memset(act, 0, sizeof(tune_action_t));
        act->what = TUNE_DO_INSTALL;
        act->image = rf->scratch;
        act->size = rf->install_size;
        act->generation = rf->install_generation;

        return TUNE_DO_INSTALL;
    }

    if (!rf->leading || !tune_link_ready(&rf->link) || rf->installing) {
        return TUNE_DO_WAIT;
    }

    at = act->at;

    if (rf->connects != rf->link.connects) {
        /*
         * A new connection may be to a restarted Redis whose keys were
         * written again: fetch the snapshot whatever its generation, and
         * at once rather than at the next interval.
         */
        rf->connects = rf->link.connects;
        rf->refetch = 1;
        rf->next_read = now;
        rf->next_claim = now;
    }

    /* the claim first: the credits of a new holder run out soonest */

    if (rf->claim == TUNE_CLAIM_OWED) {
        sha = tune_link_sha(&rf->link);

        if (sha[0]) {
            rf->work->argv[0] = "EVALSHA";
            rf->work->argvlen[0] = 7;
            rf->work->argv[1] = sha;
            rf->work->argvlen[1] = 40;

        } else {
            rf->work->argv[0] = "EVAL";
            rf->work->argvlen[0] = 4;
            rf->work->argv[1] = tune_herd_script(&rf->work->argvlen[1]);
        }

        rf->claim = TUNE_CLAIM_SENT;

        return tune_refresh_send(rf, now, act, (int) rf->claim_argc + 2,
                                 rf->work->argv, rf->work->argvlen,
                                 TUNE_REFRESH_FOR_CLAIM);
    }

    if (rf->reload_script) {
        rf->reload_script = 0;

        rf->argv[0] = "SCRIPT";
        rf->argvlen[0] = 6;
        rf->argv[1] = "LOAD";
        rf->argvlen[1] = 4;
        rf->argv[2] = tune_herd_script(&rf->argvlen[2]);

        return tune_refresh_send(rf, now, act, 3, rf->argv, rf->argvlen,
                                 TUNE_REFRESH_FOR_SCRIPT);
    }

    /*
     * A SCRIPT LOAD after NOSCRIPT counts as the claim in flight: the next
     * claim goes by the SHA1 it answers.  A read's next step owed goes
     * before a new claim: a host that carries out one command at a time
     * (mod_tune's blocking thread) would else make the read wait for a
     * claim at each of its steps, and a slow Redis for each of them.
     */
    if (rf->conf.herd_window_ms && rf->work && rf->claim == TUNE_CLAIM_IDLE
        && !tune_refresh_awaits(rf, TUNE_REFRESH_FOR_SCRIPT)
        && rf->read != TUNE_READ_STRLEN_OWED
        && rf->read != TUNE_READ_MGET_OWED)
    {

        if (now >= rf->next_claim) {
            rf->next_claim = now + TUNE_HERD_TICK_MS;
            rf->claim = TUNE_CLAIM_COLLECT;
            rf->herd_ops |= TUNE_HERD_OP_COLLECT;

            memset(act, 0, sizeof(tune_action_t));
            act->what = TUNE_DO_HERD;
            return TUNE_DO_HERD;
        }

        if (rf->next_claim < at) {
            at = rf->next_claim;
        }
    }

    switch (rf->read) {

    case TUNE_READ_IDLE:

        if (now >= rf->next_read) {
            rf->next_read = now + rf->conf.refresh_ms;
            rf->read = TUNE_READ_GET;

            rf->argv[0] = "GET";
            rf->argvlen[0] = 3;
            rf->argv[1] = TUNE_KEY_GENERATION;
            rf->argvlen[1] = sizeof(TUNE_KEY_GENERATION) - 1;

            return tune_refresh_send(rf, now, act, 2, rf->argv, rf->argvlen,
                                     TUNE_REFRESH_FOR_READ);
        }

        if (rf->next_read < at) {
            at = rf->next_read;
        }

        break;

    case TUNE_READ_STRLEN_OWED:
        /* the size first: a hostile or runaway key is never fetched */
        rf->read = TUNE_READ_STRLEN;

        rf->argv[0] = "STRLEN";
        rf->argvlen[0] = 6;
        rf->argv[1] = TUNE_KEY_SNAPSHOT;
        rf->argvlen[1] = sizeof(TUNE_KEY_SNAPSHOT) - 1;

        return tune_refresh_send(rf, now, act, 2, rf->argv, rf->argvlen,
                                 TUNE_REFRESH_FOR_READ);

    case TUNE_READ_MGET_OWED:
        /* both keys in one command: a text never comes with another's
         * generation */
        rf->read = TUNE_READ_MGET;

        rf->argv[0] = "MGET";
        rf->argvlen[0] = 4;
        rf->argv[1] = TUNE_KEY_GENERATION;
        rf->argvlen[1] = sizeof(TUNE_KEY_GENERATION) - 1;
        rf->argv[2] = TUNE_KEY_SNAPSHOT;
        rf->argvlen[2] = sizeof(TUNE_KEY_SNAPSHOT) - 1;

        return tune_refresh_send(rf, now, act, 3, rf->argv, rf->argvlen,
                                 TUNE_REFRESH_FOR_READ);

    default:
        break;
    }

    act->at = at;

    return TUNE_DO_WAIT;
}


static tune_do_t
tune_refresh_send(tune_refresh_t *rf, int64_t now, tune_action_t *act,
    int argc, const char **argv, const size_t *argvlen,
    tune_refresh_for_t what)
{
    tune_refresh_push(rf, what, now);

    memset(act, 0, sizeof(tune_action_t));
    act->what = TUNE_DO_SEND;
    act->argc = argc;
    act->argv = argv;
    act->argvlen = argvlen;

    return TUNE_DO_SEND;
}


static void
tune_refresh_push(tune_refresh_t *rf, tune_refresh_for_t what, int64_t now)
{
    /* one read and one claim (or script) at most: never more than two */
    rf->fifo[rf->nfifo++] = what;

    tune_link_sent(&rf->link, now);
}


/* 1 when a reply of this kind is awaited */
static int
tune_refresh_awaits(const tune_refresh_t *rf, tune_refresh_for_t what)
{
    unsigned  i;

    for (i = 0; i < rf->nfifo; i++) {
        if (rf->fifo[i] == what) {
            return 1;
        }
    }

    return 0;
}


void
tune_refresh_connected(tune_refresh_t *rf, int64_t now)
{
    tune_link_connected(&rf->link, now);
}


void
tune_refresh_dropped(tune_refresh_t *rf, int64_t now, const char *reason)
{
    tune_link_dropped(&rf->link, now, reason);

    if (rf->drops != rf->link.drops) {
        tune_refresh_lost(rf);
    }
}


void
tune_refresh_reply(tune_refresh_t *rf, int64_t now, const tune_reply_t *reply)
{
    unsigned            i;
    tune_refresh_for_t  what;

    if (tune_link_reply(&rf->link, now, reply)) {
        /* the hello's, or nothing asked for it (the link closes) */
        if (rf->drops != rf->link.drops) {
            tune_refresh_lost(rf);
        }

        return;
    }

    if (rf->nfifo == 0) {
        /* the link counted a command the refresher did not send */
        tune_link_failed(&rf->link, now, "a reply to no command");
        return;
    }

    what = rf->fifo[0];

    for (i = 1; i < rf->nfifo; i++) {
        rf->fifo[i - 1] = rf->fifo[i];
    }

    rf->nfifo--;

    switch (what) {

    case TUNE_REFRESH_FOR_READ:
        tune_refresh_read(rf, now, reply);
        break;

    case TUNE_REFRESH_FOR_CLAIM:
        tune_refresh_claimed(rf, now, reply);
        break;

    case TUNE_REFRESH_FOR_SCRIPT:
        tune_link_script_loaded(&rf->link, reply);
        break;
    }
}


/* A reply of the read: GET, STRLEN or MGET */

static void
tune_refresh_read(tune_refresh_t *rf, int64_t now, const tune_reply_t *reply)
{
    unsigned  step;
    uint64_t  generation;
    char      why[256];

    step = rf->read;
    rf->read = TUNE_READ_IDLE;

    if (reply->type == TUNE_REPLY_ERROR) {
        /* an error is a failed contact; the connection stays.  Its text
         * is len bytes, not a C string */
        (void) snprintf(why, sizeof(why), "%.*s",
                        (int) (reply->len < sizeof(why) ? reply->len
                                                        : sizeof(why)),
                        reply->str && reply->len ? reply->str : "");

        tune_link_failed(&rf->link, now, why[0] ? why : "error");
        return;
    }

    switch (step) {

    case TUNE_READ_GET:

        if (reply->type == TUNE_REPLY_NIL) {
            /* nothing written yet, or Redis lost it: serve what is held */
            tune_link_answered(&rf->link, now);
            rf->refetch = 1;
            tune_refresh_still(rf, now, 0);

            if (!rf->empty_logged) {
                tune_link_log(&rf->link, TUNE_LOG_WARN,
                              "redis at %s holds no snapshot yet; is "
                              "tuneslotd running?", rf->conf.link.display);
                rf->empty_logged = 1;
            }

            return;
        }

        generation = tune_refresh_generation(reply);

        if (generation == 0) {
            tune_link_failed(&rf->link, now, "invalid generation key");
            return;
        }

        tune_link_answered(&rf->link, now);
        rf->empty_logged = 0;
        tune_refresh_still(rf, now, generation);

        if (!rf->refetch
            && (generation == rf->bad_generation || generation == rf->held))
        {
            return;
        }

        rf->fetching = generation;
        rf->read = TUNE_READ_STRLEN_OWED;
        return;

    case TUNE_READ_STRLEN:

        if (reply->type != TUNE_REPLY_INTEGER) {
            tune_link_failed(&rf->link, now, "unexpected reply to STRLEN");
            return;
        }

        if (tune_refresh_too_large(rf, rf->fetching, reply->integer)) {
            return;
        }

        rf->read = TUNE_READ_MGET_OWED;
        return;

    case TUNE_READ_MGET:

        if (reply->type != TUNE_REPLY_ARRAY || reply->elements != 2
            || reply->element == NULL)
        {
            tune_link_failed(&rf->link, now, "unexpected reply to MGET");
            return;
        }

        tune_link_answered(&rf->link, now);

        if (reply->element[1].type != TUNE_REPLY_STRING) {
            /* flushed between the two commands: look again next time */
            return;
        }

        tune_refresh_install(rf, now, &reply->element[0], &reply->element[1]);
        return;

    default:
        return;
    }
}


static void
tune_refresh_install(tune_refresh_t *rf, int64_t now, const tune_reply_t *gen,
    const tune_reply_t *text)
{
    char                where[32];
    size_t              size;
    uint64_t            generation;
    tune_decode_err_t   err;

    where[0] = '\0';
    generation = tune_refresh_generation(gen);

    if (generation == 0) {
        tune_link_failed(&rf->link, now, "invalid generation key");
        return;
    }

    if (!rf->refetch
        && (generation == rf->held || generation == rf->bad_generation))
    {
        /* GET saw a newer one, MGET brings what is held or was refused
         * (a failover to a replica behind): nothing new */
        return;
    }

    rf->refetch = 0;

    /*
     * STRLEN measured the text before a newer, larger one may have been
     * written: the size rule holds for what MGET brought as well.
     */
    if (text->len > (size_t) LLONG_MAX
        || tune_refresh_too_large(rf, generation, (long long) text->len))
    {
        return;
    }

    size = tune_snapshot_decode(text->str, text->len, generation,
                                rf->scratch, rf->scratch_cap, &err);

    if (size == 0) {
        if (err.line) {
            (void) snprintf(where, sizeof(where), "line %u: ",
                            (unsigned) err.line);
        }

        tune_refresh_reject(rf, generation, "%s%s%s%s%s", where, err.reason,
                            err.rc == TUNE_ERR_NO_SPACE ? " (increase " : "",
                            err.rc == TUNE_ERR_NO_SPACE
                                ? rf->conf.zone_directive : "",
                            err.rc == TUNE_ERR_NO_SPACE ? ")" : "");
        return;
    }

    rf->interval_ms = (int64_t) ((const tune_image_t *) rf->scratch)
                                                    ->interval_ms;

    /* hostile or not, a URL outside the allowlist is never offered */
    rf->refused = tune_image_allow(rf->scratch, size, rf->conf.allow,
                                   rf->conf.nallow, &rf->refused_first);

    rf->install_owed = 1;
    rf->install_generation = generation;
    rf->install_size = size;
}


/*
 * A text larger than TUNE_TEXT_PER_IMAGE times the image space is not
 * fetched (or, fetched already, not decoded): rejected, 1.
 */

static int
tune_refresh_too_large(tune_refresh_t *rf, uint64_t generation,
    long long len)
{
    size_t  limit;

    limit = TUNE_TEXT_PER_IMAGE * rf->scratch_cap;

    /* a negative length is no length Redis gives: as good as too large */
    if (len >= 0 && (unsigned long long) len <= limit) {
        return 0;
    }

    tune_refresh_reject(rf, generation, "snapshot of %lld bytes is larger "
                        "than %zu bytes (increase %s)", len, limit,
                        rf->conf.zone_directive);

    return 1;
}


void
tune_refresh_installed(tune_refresh_t *rf, int64_t now, int ok)
{
    if (!rf->installing) {
        return;
    }

    rf->installing = 0;

    if (!ok) {
        tune_link_log(&rf->link, TUNE_LOG_DEBUG,
                      "lease lost, generation %llu not installed",
                      (unsigned long long) rf->install_generation);
        return;
    }

    rf->held = rf->install_generation;
    rf->reject_logged = 0;

    if (rf->refused) {
        tune_refresh_refused(rf, now);

    } else {
        rf->refused_digest = 0;
    }

    tune_link_log(&rf->link, TUNE_LOG_DEBUG,
                  "installed snapshot generation %llu, %zu bytes",
                  (unsigned long long) rf->install_generation,
                  rf->install_size);
}


/*
 * How many slots the allowlist refused, and the first of them, its URL
 * escaped (a valid snapshot holds no control byte, but a log line must not
 * depend on that).  Told when the refused slots change and again every
 * TUNE_REFUSED_AGAIN while they do not: a misconfiguration that lasts is
 * not a line per round.
 */

static void
tune_refresh_refused(tune_refresh_t *rf, int64_t now)
{
    size_t                    len;
    uint64_t                  digest;
    const tune_image_t       *img;
    const tune_image_slot_t  *s;
    char                      url[512], backend[128];

    img = tune_image_get(rf->scratch, rf->scratch_cap);

    if (img == NULL || rf->refused_first >= img->nslots) {
        return;
    }

    digest = tune_image_refused_digest(img);

    if (digest == rf->refused_digest
        && now - rf->refused_at < TUNE_REFUSED_AGAIN)
    {
        return;
    }

    rf->refused_digest = digest;
    rf->refused_at = now;

    s = &tune_image_slots(img)[rf->refused_first];

    len = tune_log_escape(url, sizeof(url), tune_image_str(img, s->url),
                          s->url.len);
    (void) tune_log_escape(backend, sizeof(backend),
                           tune_image_str(img, s->backend), s->backend.len);

    tune_link_log(&rf->link, TUNE_LOG_WARN,
                  "snapshot generation %llu: %u of %u slots refused by %s, "
                  "the first of backend \"%s\": \"%.*s\"",
                  (unsigned long long) img->generation,
                  (unsigned) rf->refused, (unsigned) img->nslots,
                  rf->conf.allow_directive, backend, (int) len, url);
}


/*
 * A snapshot this front-end will not install.  It is not fetched again;
 * the error is logged once until a snapshot is installed again, not once
 * per round of a scheduler that keeps writing such snapshots.
 */

static void
tune_refresh_reject(tune_refresh_t *rf, uint64_t generation,
    const char *fmt, ...)
{
    va_list  args;
    char     reason[512];

    rf->bad_generation = generation;
    rf->refetch = 0;

    if (rf->reject_logged) {
        return;
    }

    rf->reject_logged = 1;

    va_start(args, fmt);
    (void) vsnprintf(reason, sizeof(reason), fmt, args);
    va_end(args);

    tune_link_log(&rf->link, TUNE_LOG_ERR,
                  "snapshot generation %llu from redis at %s rejected: %s; "
                  "keeping generation %llu",
                  (unsigned long long) generation, rf->conf.link.display,
                  reason, (unsigned long long) rf->held);
}


/*
 * Redis gave generation (0: none): with Sentinels, one that has not moved
 * for TUNE_REFRESH_STILL intervals may come from a master that is no
 * longer the master (partitioned away, its Sentinels promoted a replica,
 * and nothing closed this connection): the link asks them again.  Not
 * again for as long: a fleet whose writer stopped asks every few
 * intervals, not at every read.
 */

static void
tune_refresh_still(tune_refresh_t *rf, int64_t now, uint64_t generation)
{
    int64_t  interval;

    if (generation != rf->seen) {
        rf->seen = generation;
        rf->seen_since = now;
        return;
    }

    /*
     * Counted in the writer's intervals, as a decoded snapshot states
     * them: none decoded yet, and a refresh far shorter than the writer's
     * interval would take every round for a failover.  (Without Sentinels
     * tune_link_rediscover() does nothing.)
     */
    if (rf->interval_ms == 0) {
        return;
    }

    interval = rf->interval_ms > rf->conf.refresh_ms ? rf->interval_ms
                                                     : rf->conf.refresh_ms;

    if (now - rf->seen_since < TUNE_REFRESH_STILL * interval) {
        return;
    }

    rf->seen_since = now;
    tune_link_rediscover(&rf->link, now);
}


/* 0 when the reply is not a generation (tune_generation_parse()) */

static uint64_t
tune_refresh_generation(const tune_reply_t *reply)
{
    if (reply->type != TUNE_REPLY_STRING) {
        return 0;
    }

    return tune_generation_parse(reply->str, reply->len);
}
