
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_redis.h"
#include "ngx_http_tune_hiredis.h"
#include "ngx_http_tune_shm.h"
#include "ngx_http_tune_herd.h"

#include <tune_allow.h>


/* reconnect delays grow from tune_refresh up to this */
#define NGX_HTTP_TUNE_BACKOFF_MAX  5000

/*
 * A snapshot text larger than this many times the zone's image capacity is
 * not fetched: its image would not fit (an image is rarely larger than its
 * text, and never more than three times), and fetching it would cost the
 * worker that much memory every round.
 */
#define NGX_HTTP_TUNE_TEXT_PER_IMAGE  4

/* slots in one claim; more wait for the next tick */
#define NGX_HTTP_TUNE_HERD_CLAIM_MAX  256


/* what a new connection sends before anything else */
typedef enum {
    NGX_HTTP_TUNE_HELLO_AUTH = 0,
    NGX_HTTP_TUNE_HELLO_SELECT,
    NGX_HTTP_TUNE_HELLO_SCRIPT,
    NGX_HTTP_TUNE_HELLO_DONE
} ngx_http_tune_hello_e;


typedef struct {
    ngx_http_tune_main_conf_t  *tmcf;
    ngx_http_tune_zone_t       *zone;
    ngx_log_t                  *log;

    redisAsyncContext          *ac;
    unsigned                    connected:1;
    unsigned                    ready:1;         /* hello done */
    unsigned                    busy:1;          /* a command in flight */
    unsigned                    leader:1;        /* holds the lease */
    unsigned                    claiming:1;      /* a herd claim in flight */
    unsigned                    herd_logged:1;
    unsigned                    down_logged:1;
    unsigned                    empty_logged:1;
    unsigned                    reject_logged:1; /* since the last install */
    unsigned                    refetch:1;       /* Redis may have lost data */

    ngx_event_t                 tick;            /* every tune_refresh */
    ngx_event_t                 herd;            /* every herd tick */
    ngx_event_t                 deadline;        /* connect or reply */

    ngx_uint_t                  hello;           /* ngx_http_tune_hello_e */
    ngx_uint_t                  inflight;        /* commands sent */

    /* the herd claim in flight, in its own pool */
    ngx_pool_t                 *claim_pool;
    tune_herd_claim_t          *claims;
    ngx_uint_t                  nclaims;
    int64_t                     claim_sent_ms;
    u_char                      sha[41];         /* of the script, "" */

    ngx_msec_t                  retry_at;
    ngx_msec_t                  backoff;

    uint64_t                    bad_generation;  /* rejected, not refetched */
    uint64_t                    refused_digest;  /* of the last warned */
    ngx_msec_t                  refused_at;      /* when it was warned */
    uint64_t                    fetching;        /* generation being fetched */
    u_char                     *scratch;         /* image_cap bytes */
} ngx_http_tune_refresher_t;


static void ngx_http_tune_refresh_tick(ngx_event_t *ev);
static void ngx_http_tune_refresh_step(ngx_http_tune_refresher_t *rf);
static void ngx_http_tune_redis_connect(ngx_http_tune_refresher_t *rf);
static void ngx_http_tune_redis_close(ngx_http_tune_refresher_t *rf);
static void ngx_http_tune_redis_send(ngx_http_tune_refresher_t *rf,
    redisCallbackFn *fn, const char *format);
static ngx_int_t ngx_http_tune_redis_sent(ngx_http_tune_refresher_t *rf,
    int rc);
static void ngx_http_tune_redis_got(ngx_http_tune_refresher_t *rf);
static void ngx_http_tune_redis_hello(ngx_http_tune_refresher_t *rf);
static void ngx_http_tune_redis_helloed(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_tune_redis_drop(ngx_http_tune_refresher_t *rf,
    redisAsyncContext *ac);
static void ngx_http_tune_redis_forget(ngx_http_tune_refresher_t *rf);
static void ngx_http_tune_herd_tick(ngx_event_t *ev);
static void ngx_http_tune_redis_claim(ngx_http_tune_refresher_t *rf);
static void ngx_http_tune_redis_claimed(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_tune_redis_claim_failed(ngx_http_tune_refresher_t *rf,
    const char *reason);
static void ngx_http_tune_redis_claim_done(ngx_http_tune_refresher_t *rf);
static void ngx_http_tune_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_tune_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_tune_redis_deadline(ngx_event_t *ev);
static void ngx_http_tune_redis_generation(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_tune_redis_length(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_tune_redis_snapshot(redisAsyncContext *ac, void *r,
    void *privdata);
static uint64_t ngx_http_tune_parse_generation(redisReply *reply);
static ngx_int_t ngx_http_tune_redis_reply_done(ngx_http_tune_refresher_t *rf,
    redisReply *reply);
static void ngx_http_tune_refused(ngx_http_tune_refresher_t *rf,
    uint32_t refused, uint32_t first);
static void ngx_http_tune_install(ngx_http_tune_refresher_t *rf,
    redisReply *gen, redisReply *text);
static void ngx_http_tune_reject(ngx_http_tune_refresher_t *rf,
    uint64_t generation, const char *fmt, ...);
static void ngx_http_tune_redis_failed(ngx_http_tune_refresher_t *rf,
    const char *reason);
static void ngx_http_tune_redis_answered(ngx_http_tune_refresher_t *rf);


/*
 * The refresher of this worker process, for exit_process: a worker must
 * close its Redis socket itself before it exits, or nginx reports the
 * socket as left open.
 */
static ngx_http_tune_refresher_t  *ngx_http_tune_refresher;


/* the same slots refused are told again this often, ms */
#define NGX_HTTP_TUNE_REFUSED_AGAIN  (3600 * 1000)


ngx_int_t
ngx_http_tune_refresher_start(ngx_cycle_t *cycle,
    ngx_http_tune_main_conf_t *tmcf)
{
    ngx_http_tune_refresher_t  *rf;

    rf = ngx_pcalloc(cycle->pool, sizeof(ngx_http_tune_refresher_t));
    if (rf == NULL) {
        return NGX_ERROR;
    }

    rf->tmcf = tmcf;
    rf->zone = tmcf->shm_zone->data;
    rf->log = cycle->log;
    rf->backoff = tmcf->refresh;

    rf->tick.handler = ngx_http_tune_refresh_tick;
    rf->tick.data = rf;
    rf->tick.log = cycle->log;
    rf->tick.cancelable = 1;

    rf->herd.handler = ngx_http_tune_herd_tick;
    rf->herd.data = rf;
    rf->herd.log = cycle->log;
    rf->herd.cancelable = 1;

    rf->deadline.handler = ngx_http_tune_redis_deadline;
    rf->deadline.data = rf;
    rf->deadline.log = cycle->log;
    rf->deadline.cancelable = 1;

    /* workers start together: spread their first look at the lease */
    ngx_add_timer(&rf->tick, 1 + ngx_random() % 50);
    ngx_add_timer(&rf->herd, TUNE_HERD_TICK_MS);

    ngx_http_tune_refresher = rf;

    return NGX_OK;
}


void
ngx_http_tune_refresher_stop(ngx_cycle_t *cycle)
{
    ngx_http_tune_refresher_t  *rf;

    rf = ngx_http_tune_refresher;

    if (rf == NULL) {
        return;
    }

    ngx_http_tune_refresher = NULL;

    /* the next holder's herd state is not this worker's to reset */
    rf->leader = 0;

    if (rf->tick.timer_set) {
        ngx_del_timer(&rf->tick);
    }

    if (rf->herd.timer_set) {
        ngx_del_timer(&rf->herd);
    }

    ngx_http_tune_redis_close(rf);
    ngx_http_tune_shm_release(rf->zone);
}


static void
ngx_http_tune_refresh_tick(ngx_event_t *ev)
{
    ngx_msec_t                  lease;
    ngx_http_tune_refresher_t  *rf;

    rf = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_tune_refresher_stop((ngx_cycle_t *) ngx_cycle);
        return;
    }

    /*
     * The lease outlives a few missed ticks and one slow reply, so a busy
     * holder keeps it, and a worker that died loses it soon.
     */
    lease = 3 * rf->tmcf->refresh + rf->tmcf->redis_timeout;

    if (ngx_http_tune_shm_lease(rf->zone, lease) == NGX_OK) {

        if (!rf->leader) {
            /*
             * A new holder (after a reload, or a worker that died): the
             * claims the last one had in flight will never be answered.
             */
            ngx_http_tune_herd_takeover(rf->zone);
        }

        rf->leader = 1;
        ngx_http_tune_refresh_step(rf);

    } else if (rf->ac) {
        /*
         * Another worker took over while this one was stuck.  Its outage
         * and backoff state is not ours to carry on with.
         */
        rf->leader = 0;
        ngx_http_tune_redis_close(rf);
        rf->down_logged = 0;
        rf->backoff = rf->tmcf->refresh;
    }

    ngx_add_timer(ev, rf->tmcf->refresh);
}


static void
ngx_http_tune_refresh_step(ngx_http_tune_refresher_t *rf)
{
    if (rf->busy) {
        return;
    }

    if (rf->ac == NULL) {
        if ((ngx_msec_int_t) (ngx_current_msec - rf->retry_at) >= 0) {
            ngx_http_tune_redis_connect(rf);
        }

        return;
    }

    if (rf->ready) {
        ngx_http_tune_redis_send(rf, ngx_http_tune_redis_generation,
                                 "GET " NGX_HTTP_TUNE_KEY_GENERATION);
    }
}


static void
ngx_http_tune_redis_connect(ngx_http_tune_refresher_t *rf)
{
    redisAsyncContext          *ac;
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = rf->tmcf;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rf->log, 0,
                   "tune: connecting to redis at %V", &tmcf->redis_text);

    if (tmcf->redis_port) {
        ac = redisAsyncConnect((char *) tmcf->redis_addr.data,
                               (int) tmcf->redis_port);
    } else {
        ac = redisAsyncConnectUnix((char *) tmcf->redis_addr.data);
    }

    if (ac == NULL) {
        ngx_http_tune_redis_failed(rf, "cannot allocate a redis context");
        return;
    }

    if (ac->err) {
        ngx_http_tune_redis_failed(rf, ac->errstr);
        redisAsyncFree(ac);
        return;
    }

    if (ngx_http_tune_hiredis_attach(ac, rf->log) != NGX_OK) {
        ngx_http_tune_redis_failed(rf, "no free connection");
        redisAsyncFree(ac);
        return;
    }

    ac->data = rf;
    rf->ac = ac;
    rf->connected = 0;

    /* the connect callback is set last: setting it asks for a write event */
    redisAsyncSetDisconnectCallback(ac, ngx_http_tune_redis_disconnected);
    redisAsyncSetConnectCallback(ac, ngx_http_tune_redis_connected);

    ngx_add_timer(&rf->deadline, tmcf->redis_timeout);
}


static void
ngx_http_tune_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_tune_refresher_t  *rf;

    rf = ac->data;

    if (rf->deadline.timer_set) {
        ngx_del_timer(&rf->deadline);
    }

    if (status != REDIS_OK) {
        /* hiredis frees the context when this returns */
        rf->ac = NULL;
        ngx_http_tune_redis_failed(rf, ac->errstr);
        return;
    }

    rf->connected = 1;
    rf->hello = NGX_HTTP_TUNE_HELLO_AUTH;

    ngx_http_tune_redis_hello(rf);
}


/*
 * Sends the next command a new connection owes before any other: AUTH,
 * SELECT, SCRIPT LOAD of the herd script; then starts reading.  One at a
 * time, so that a refused password closes the connection before anything
 * else was sent on it.  Arguments go as a vector: a password may hold any
 * byte.
 */

static void
ngx_http_tune_redis_hello(ngx_http_tune_refresher_t *rf)
{
    int                         n;
    u_char                      db[NGX_INT_T_LEN];
    size_t                      len[3];
    const char                 *argv[3];
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = rf->tmcf;
    n = 0;

    switch (rf->hello) {

    case NGX_HTTP_TUNE_HELLO_AUTH:

        if (tmcf->redis_password.len) {
            argv[n] = "AUTH";
            len[n++] = 4;

            if (tmcf->redis_user.len) {
                argv[n] = (const char *) tmcf->redis_user.data;
                len[n++] = tmcf->redis_user.len;
            }

            argv[n] = (const char *) tmcf->redis_password.data;
            len[n++] = tmcf->redis_password.len;
            break;
        }

        rf->hello++;

        /* fall through */

    case NGX_HTTP_TUNE_HELLO_SELECT:

        if (tmcf->redis_db) {
            argv[n] = "SELECT";
            len[n++] = 6;
            argv[n] = (const char *) db;
            len[n++] = ngx_sprintf(db, "%ui", tmcf->redis_db) - db;
            break;
        }

        rf->hello++;

        /* fall through */

    case NGX_HTTP_TUNE_HELLO_SCRIPT:

        argv[n] = "SCRIPT";
        len[n++] = 6;
        argv[n] = "LOAD";
        len[n++] = 4;
        argv[n] = tune_herd_script(&len[n]);
        n++;
        break;

    default:

        rf->ready = 1;

        /*
         * A new connection may be to a restarted Redis whose counter
         * started again: fetch the snapshot whatever its generation.  At
         * once, rather than at the next tick.
         */
        rf->refetch = 1;

        ngx_http_tune_redis_send(rf, ngx_http_tune_redis_generation,
                                 "GET " NGX_HTTP_TUNE_KEY_GENERATION);
        return;
    }

    if (ngx_http_tune_redis_sent(rf,
            redisAsyncCommandArgv(rf->ac, ngx_http_tune_redis_helloed, rf,
                                  n, argv, len))
        == NGX_OK)
    {
        rf->busy = 1;
    }
}


static void
ngx_http_tune_redis_helloed(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_tune_refresher_t  *rf = privdata;

    if (reply == NULL) {
        return;
    }

    rf->busy = 0;
    ngx_http_tune_redis_got(rf);

    if (reply->type == REDIS_REPLY_ERROR) {

        switch (rf->hello) {

        case NGX_HTTP_TUNE_HELLO_AUTH:
            /*
             * Redis's error text never holds the password; ours neither.
             * Logged once per outage, instead of the warning.
             */
            if (!rf->down_logged) {
                ngx_log_error(NGX_LOG_ERR, rf->log, 0,
                              "tune: redis at %V refused the credentials "
                              "of \"tune_redis\": %s",
                              &rf->tmcf->redis_text, reply->str);
                rf->down_logged = 1;
            }

            ngx_http_tune_redis_drop(rf, ac);
            ngx_http_tune_redis_failed(rf, "authentication failed");
            return;

        case NGX_HTTP_TUNE_HELLO_SELECT:
            ngx_http_tune_redis_drop(rf, ac);
            ngx_http_tune_redis_failed(rf, reply->str);
            return;

        default:
            /*
             * An ACL user without scripting: the snapshot is still read,
             * herd claims (sent as EVAL) will fail and say so.
             */
            rf->sha[0] = '\0';
            break;
        }

    } else if (rf->hello == NGX_HTTP_TUNE_HELLO_SCRIPT) {

        if (reply->type == REDIS_REPLY_STRING && reply->len == 40) {
            ngx_memcpy(rf->sha, reply->str, 40);
            rf->sha[40] = '\0';
        }
    }

    rf->hello++;
    ngx_http_tune_redis_hello(rf);
}


/*
 * Gives up a connection from inside one of its callbacks: hiredis closes it
 * once the callback returns.  Its disconnect callback sees rf->ac changed.
 */

static void
ngx_http_tune_redis_drop(ngx_http_tune_refresher_t *rf,
    redisAsyncContext *ac)
{
    ngx_http_tune_redis_forget(rf);
    redisAsyncDisconnect(ac);
}


/* The refresher no longer has a connection (hiredis may still, briefly) */

static void
ngx_http_tune_redis_forget(ngx_http_tune_refresher_t *rf)
{
    rf->ac = NULL;
    rf->connected = 0;
    rf->ready = 0;
    rf->busy = 0;
    rf->inflight = 0;

    if (rf->deadline.timer_set) {
        ngx_del_timer(&rf->deadline);
    }
}


static void
ngx_http_tune_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_tune_refresher_t  *rf;

    rf = ac->data;

    if (rf->ac != ac) {
        /* closed on purpose by ngx_http_tune_redis_close() */
        return;
    }

    ngx_http_tune_redis_forget(rf);

    /* no claim can renew the credits: count this nginx's tune-ins now */
    if (rf->leader) {
        ngx_http_tune_herd_local(rf->zone);
    }

    ngx_http_tune_redis_failed(rf, (status == REDIS_OK || ac->errstr[0] == '\0')
                                   ? "connection closed" : ac->errstr);
}


/* Not to be called from a hiredis callback: it frees the context. */

static void
ngx_http_tune_redis_close(ngx_http_tune_refresher_t *rf)
{
    redisAsyncContext  *ac;

    ac = rf->ac;

    ngx_http_tune_redis_forget(rf);

    if (ac) {
        redisAsyncFree(ac);
    }
}


static void
ngx_http_tune_redis_deadline(ngx_event_t *ev)
{
    ngx_http_tune_refresher_t  *rf;

    rf = ev->data;

    ngx_http_tune_redis_failed(rf, rf->connected
                                   ? "timed out waiting for a reply"
                                   : "timed out connecting");

    if (rf->leader) {
        ngx_http_tune_herd_local(rf->zone);
    }

    ngx_http_tune_redis_close(rf);
}


/* A command of the refresh: one at a time, it sets busy */

static void
ngx_http_tune_redis_send(ngx_http_tune_refresher_t *rf, redisCallbackFn *fn,
    const char *format)
{
    if (ngx_http_tune_redis_sent(rf, redisAsyncCommand(rf->ac, fn, rf,
                                                       format))
        == NGX_OK)
    {
        rf->busy = 1;
    }
}


/*
 * Every command sent, refresh or herd claim, keeps the deadline armed
 * until its reply: a reply to any of them shows that Redis answers.
 */

static ngx_int_t
ngx_http_tune_redis_sent(ngx_http_tune_refresher_t *rf, int rc)
{
    if (rc != REDIS_OK) {
        ngx_http_tune_redis_failed(rf, "cannot queue a command");
        return NGX_ERROR;
    }

    rf->inflight++;

    if (rf->deadline.timer_set) {
        ngx_del_timer(&rf->deadline);
    }

    ngx_add_timer(&rf->deadline, rf->tmcf->redis_timeout);

    return NGX_OK;
}


static void
ngx_http_tune_redis_got(ngx_http_tune_refresher_t *rf)
{
    if (rf->inflight) {
        rf->inflight--;
    }

    if (rf->deadline.timer_set) {
        ngx_del_timer(&rf->deadline);
    }

    if (rf->inflight) {
        ngx_add_timer(&rf->deadline, rf->tmcf->redis_timeout);
    }
}


static void
ngx_http_tune_redis_generation(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_tune_refresher_t  *rf = privdata;

    uint64_t  generation;

    if (ngx_http_tune_redis_reply_done(rf, reply) != NGX_OK) {
        return;
    }

    if (reply->type == REDIS_REPLY_NIL) {
        ngx_http_tune_redis_answered(rf);
        rf->refetch = 1;

        if (!rf->empty_logged) {
            ngx_log_error(NGX_LOG_WARN, rf->log, 0,
                          "tune: redis at %V holds no snapshot yet; "
                          "is tuneslotd running?", &rf->tmcf->redis_text);
            rf->empty_logged = 1;
        }

        return;
    }

    generation = ngx_http_tune_parse_generation(reply);

    if (generation == 0) {
        ngx_http_tune_redis_failed(rf, "invalid generation key");
        return;
    }

    ngx_http_tune_redis_answered(rf);
    rf->empty_logged = 0;

    if (!rf->refetch
        && (generation == rf->bad_generation
            || generation == ngx_http_tune_shm_generation(rf->zone)))
    {
        return;
    }

    rf->fetching = generation;

    ngx_http_tune_redis_send(rf, ngx_http_tune_redis_length,
                             "STRLEN " NGX_HTTP_TUNE_KEY_SNAPSHOT);
}


/* Looks at the snapshot's size before fetching it. */

static void
ngx_http_tune_redis_length(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_tune_refresher_t  *rf = privdata;

    size_t  limit;

    if (ngx_http_tune_redis_reply_done(rf, reply) != NGX_OK) {
        return;
    }

    if (reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_tune_redis_failed(rf, "unexpected reply to STRLEN");
        return;
    }

    limit = NGX_HTTP_TUNE_TEXT_PER_IMAGE * rf->zone->sh->image_cap;

    if (reply->integer < 0 || (unsigned long long) reply->integer > limit) {
        ngx_http_tune_reject(rf, rf->fetching,
                             "snapshot of %L bytes is larger than %uz bytes "
                             "(increase tune_zone_size)",
                             reply->integer, limit);
        return;
    }

    ngx_http_tune_redis_send(rf, ngx_http_tune_redis_snapshot,
                             "MGET " NGX_HTTP_TUNE_KEY_GENERATION
                             " " NGX_HTTP_TUNE_KEY_SNAPSHOT);
}


static void
ngx_http_tune_redis_snapshot(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_tune_refresher_t  *rf = privdata;

    if (ngx_http_tune_redis_reply_done(rf, reply) != NGX_OK) {
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        ngx_http_tune_redis_failed(rf, "unexpected reply to MGET");
        return;
    }

    ngx_http_tune_redis_answered(rf);

    if (reply->element[1]->type != REDIS_REPLY_STRING) {
        /* flushed between the two commands: look again next tick */
        return;
    }
    rf->refetch = 0;
    ngx_http_tune_install(rf, reply->element[0], reply->element[1]);
}


/*
 * Common to every reply: NULL means the context is going away (its pending
 * callbacks are run with NULL), an error reply is a failed contact.
 */

static ngx_int_t
ngx_http_tune_redis_reply_done(ngx_http_tune_refresher_t *rf,
    redisReply *reply)
{
    if (reply == NULL) {
        return NGX_DECLINED;
    }

    rf->busy = 0;
    ngx_http_tune_redis_got(rf);

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_http_tune_redis_failed(rf, reply->str);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_tune_install(ngx_http_tune_refresher_t *rf, redisReply *gen,
    redisReply *text)
{
    size_t              size, cap;
    uint32_t            refused, first;
    uint64_t            generation;
    ngx_array_t        *allow;
    tune_decode_err_t   err;

    generation = ngx_http_tune_parse_generation(gen);

    if (generation == 0) {
        ngx_http_tune_redis_failed(rf, "invalid generation key");
        return;
    }

    cap = rf->zone->sh->image_cap;

    if (rf->scratch == NULL) {
        rf->scratch = ngx_alloc(cap, rf->log);
        if (rf->scratch == NULL) {
            return;
        }
    }

    size = tune_snapshot_decode(text->str, text->len, generation,
                                rf->scratch, cap, &err);

    if (size == 0) {
        if (err.line) {
            ngx_http_tune_reject(rf, generation, "line %ui: %s%s",
                                 (ngx_uint_t) err.line, err.reason,
                                 err.rc == TUNE_ERR_NO_SPACE
                                     ? " (increase tune_zone_size)" : "");
        } else {
            ngx_http_tune_reject(rf, generation, "%s%s", err.reason,
                                 err.rc == TUNE_ERR_NO_SPACE
                                     ? " (increase tune_zone_size)" : "");
        }

        return;
    }

    /* hostile or not, a URL outside tune_allow is never offered */
    allow = rf->tmcf->allow;

    refused = tune_image_allow(rf->scratch, size,
                               allow ? allow->elts : NULL,
                               allow ? allow->nelts : 0, &first);

    if (ngx_http_tune_shm_install(rf->zone, rf->scratch, size) != NGX_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rf->log, 0,
                       "tune: lease lost, generation %uL not installed",
                       generation);
        return;
    }

    rf->reject_logged = 0;

    if (refused) {
        ngx_http_tune_refused(rf, refused, first);

    } else {
        rf->refused_digest = 0;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, rf->log, 0,
                   "tune: installed snapshot generation %uL, %uz bytes",
                   generation, size);
}


/*
 * How many slots tune_allow refused, and the first of them, its URL escaped
 * (a valid snapshot holds no control byte, but a log line must not depend on
 * that).  Told when the refused slots change and again every
 * NGX_HTTP_TUNE_REFUSED_AGAIN while they do not: a misconfiguration that
 * lasts is not a line per round.
 */

static void
ngx_http_tune_refused(ngx_http_tune_refresher_t *rf, uint32_t refused,
    uint32_t first)
{
    size_t                    len;
    uint64_t                  digest;
    const tune_image_t       *img;
    const tune_image_slot_t  *s;
    char                      url[512], backend[128];

    img = tune_image_get(rf->scratch, rf->zone->sh->image_cap);
    if (img == NULL || first >= img->nslots) {
        return;
    }

    digest = tune_image_refused_digest(img);

    if (digest == rf->refused_digest
        && ngx_current_msec - rf->refused_at < NGX_HTTP_TUNE_REFUSED_AGAIN)
    {
        return;
    }

    rf->refused_digest = digest;
    rf->refused_at = ngx_current_msec;

    s = &tune_image_slots(img)[first];

    len = tune_log_escape(url, sizeof(url), tune_image_str(img, s->url),
                          s->url.len);
    (void) tune_log_escape(backend, sizeof(backend),
                           tune_image_str(img, s->backend), s->backend.len);

    ngx_log_error(NGX_LOG_WARN, rf->log, 0,
                  "tune: snapshot generation %uL: %uD of %uD slots refused "
                  "by tune_allow, the first of backend \"%s\": \"%*s\"",
                  img->generation, refused, img->nslots, backend, len, url);
}


/*
 * A snapshot this module will not install.  It is not fetched again; the
 * error is logged once until a snapshot is installed again, not once per
 * round of a scheduler that keeps writing such snapshots.
 */

static void
ngx_http_tune_reject(ngx_http_tune_refresher_t *rf, uint64_t generation,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    reason[NGX_MAX_ERROR_STR];

    rf->bad_generation = generation;

    if (rf->reject_logged) {
        return;
    }

    rf->reject_logged = 1;

    va_start(args, fmt);
    p = ngx_vslprintf(reason, reason + sizeof(reason), fmt, args);
    va_end(args);

    ngx_log_error(NGX_LOG_ERR, rf->log, 0,
                  "tune: snapshot generation %uL from redis at %V rejected: "
                  "%*s; keeping generation %uL",
                  generation, &rf->tmcf->redis_text, p - reason, reason,
                  ngx_http_tune_shm_generation(rf->zone));
}


/* 0 when the reply is not a generation (tune_generation_parse()) */

static uint64_t
ngx_http_tune_parse_generation(redisReply *reply)
{
    if (reply->type != REDIS_REPLY_STRING) {
        return 0;
    }

    return tune_generation_parse(reply->str, reply->len);
}


static void
ngx_http_tune_redis_failed(ngx_http_tune_refresher_t *rf, const char *reason)
{
    /* once per outage, not once per retry */
    if (!rf->down_logged) {
        ngx_log_error(NGX_LOG_WARN, rf->log, 0,
                      "tune: redis at %V: %s; "
                      "tune-ins are answered from the last snapshot",
                      &rf->tmcf->redis_text, reason);
        rf->down_logged = 1;
    }

    ngx_http_tune_shm_contact(rf->zone, rf->ready, reason);

    rf->retry_at = ngx_current_msec + rf->backoff;
    rf->backoff = ngx_min(rf->backoff * 2,
                          ngx_max(NGX_HTTP_TUNE_BACKOFF_MAX,
                                  rf->tmcf->refresh));
}


static void
ngx_http_tune_redis_answered(ngx_http_tune_refresher_t *rf)
{
    if (rf->down_logged) {
        ngx_log_error(NGX_LOG_NOTICE, rf->log, 0,
                      "tune: redis at %V answers again",
                      &rf->tmcf->redis_text);
        rf->down_logged = 0;
    }

    rf->backoff = rf->tmcf->refresh;

    ngx_http_tune_shm_contact(rf->zone, rf->ready, NULL);
}


static void
ngx_http_tune_herd_tick(ngx_event_t *ev)
{
    ngx_http_tune_refresher_t  *rf;

    rf = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    /*
     * An idle tick costs a walk over the slots, no command.  A worker whose
     * lease was taken (a reload) claims no more: its next refresh tick
     * stops it.
     */
    if (rf->leader && rf->ready && !rf->claiming
        && ngx_http_tune_shm_leading(rf->zone))
    {
        ngx_http_tune_redis_claim(rf);
    }

    ngx_add_timer(ev, TUNE_HERD_TICK_MS);
}


/* One EVALSHA for every slot that needs credits now */

static void
ngx_http_tune_redis_claim(ngx_http_tune_refresher_t *rf)
{
    int                 argc;
    size_t             *argvlen;
    int64_t             now;
    ngx_int_t           rc;
    ngx_str_t           sha;
    ngx_uint_t          n;
    ngx_pool_t         *pool;
    const char        **argv;
    tune_herd_claim_t  *claims;

    pool = ngx_create_pool(4096, rf->log);
    if (pool == NULL) {
        return;
    }

    claims = ngx_palloc(pool, NGX_HTTP_TUNE_HERD_CLAIM_MAX
                              * sizeof(tune_herd_claim_t));
    if (claims == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    n = ngx_http_tune_herd_claims(rf->zone, rf->tmcf->herd_window, claims,
                                  NGX_HTTP_TUNE_HERD_CLAIM_MAX);
    if (n == 0) {
        ngx_destroy_pool(pool);
        return;
    }

    now = ngx_http_tune_herd_now();

    rf->claim_pool = pool;
    rf->claims = claims;
    rf->nclaims = n;
    rf->claim_sent_ms = now;

    sha.data = rf->sha;
    sha.len = ngx_strlen(rf->sha);

    rc = ngx_http_tune_herd_argv(claims, n, &sha, rf->tmcf->herd_window, now,
                                 pool, &argc, &argv, &argvlen);

    if (rc == NGX_DECLINED) {
        /* the script would refuse it just the same */
        ngx_http_tune_redis_claim_failed(rf, "the host name makes no valid "
                                             "front-end id");
        return;
    }

    if (rc != NGX_OK
        || ngx_http_tune_redis_sent(rf,
               redisAsyncCommandArgv(rf->ac, ngx_http_tune_redis_claimed,
                                     rf, argc, argv, argvlen))
           != NGX_OK)
    {
        ngx_http_tune_herd_unclaimed(rf->zone, claims, n);
        ngx_http_tune_redis_claim_done(rf);
        return;
    }

    rf->claiming = 1;
}


static void
ngx_http_tune_redis_claimed(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_tune_refresher_t  *rf = privdata;

    if (reply == NULL) {
        /*
         * The connection is going away; whether the script ran is not
         * known, so the credits returned and granted are both lost: fewer
         * tune-ins, never more than the free slots.
         */
        if (rf->leader) {
            ngx_http_tune_herd_local(rf->zone);
        }

        ngx_http_tune_redis_claim_done(rf);
        return;
    }

    ngx_http_tune_redis_got(rf);

    if (reply->type == REDIS_REPLY_ERROR) {

        if (ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0) {
            /* SCRIPT FLUSH or a failover: EVAL next tick, nothing ran */
            rf->sha[0] = '\0';
            ngx_http_tune_herd_unclaimed(rf->zone, rf->claims, rf->nclaims);
            ngx_http_tune_redis_claim_done(rf);
            return;
        }

        ngx_http_tune_redis_claim_failed(rf, reply->str);
        return;
    }

    if (ngx_http_tune_herd_granted(rf->zone, rf->claims, rf->nclaims,
                                   rf->tmcf->herd_window, rf->claim_sent_ms,
                                   reply, rf->claim_pool)
        != NGX_OK)
    {
        ngx_http_tune_redis_claim_failed(rf, "unexpected reply");
        return;
    }

    if (rf->herd_logged) {
        ngx_log_error(NGX_LOG_NOTICE, rf->log, 0,
                      "tune: herd claims at redis at %V work again",
                      &rf->tmcf->redis_text);
        rf->herd_logged = 0;
    }

    ngx_http_tune_redis_claim_done(rf);
}


/* The claim failed: this nginx counts its own tune-ins only, and says so */

static void
ngx_http_tune_redis_claim_failed(ngx_http_tune_refresher_t *rf,
    const char *reason)
{
    ngx_http_tune_herd_local(rf->zone);

    if (!rf->herd_logged) {
        ngx_log_error(NGX_LOG_WARN, rf->log, 0,
                      "tune: herd claim at redis at %V failed: %s; "
                      "counting this nginx's tune-ins only",
                      &rf->tmcf->redis_text, reason);
        rf->herd_logged = 1;
    }

    ngx_http_tune_redis_claim_done(rf);
}


static void
ngx_http_tune_redis_claim_done(ngx_http_tune_refresher_t *rf)
{
    rf->claiming = 0;
    rf->claims = NULL;
    rf->nclaims = 0;

    if (rf->claim_pool) {
        ngx_destroy_pool(rf->claim_pool);
        rf->claim_pool = NULL;
    }
}
