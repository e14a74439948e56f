
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_redis.h"
#include "ngx_http_tune_shm.h"
#include "ngx_http_tune_herd.h"

#include <tune_hiredis.h>


/*
 * hiredis's callbacks only feed the machine and post t->drive: it is run
 * from nginx's own events only, so a context is never freed inside hiredis.
 */


static ngx_int_t ngx_http_tune_redis_literal(const char *host);
static void ngx_http_tune_redis_connect(ngx_http_tune_refresher_t *t,
    tune_action_t *act, int64_t now);
static void ngx_http_tune_redis_herd(ngx_http_tune_refresher_t *t);
static void ngx_http_tune_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_tune_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_tune_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);


/*
 * The machine's clock: ngx_current_msec widened to 64 bits step by step
 * (32 bits on a 32-bit system, it wraps every 49.7 days; the machine's
 * times must not)
 */

int64_t
ngx_http_tune_redis_now(ngx_http_tune_refresher_t *t)
{
    t->now += (ngx_msec_int_t) (ngx_current_msec - t->msec);
    t->msec = ngx_current_msec;

    return t->now;
}


/* The machine's timer, and the event hiredis's callbacks post */

void
ngx_http_tune_redis_event(ngx_event_t *ev)
{
    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_tune_refresher_stop((ngx_cycle_t *) ngx_cycle);
        return;
    }

    ngx_http_tune_redis_drive(ev->data);
}


void
ngx_http_tune_redis_drive(ngx_http_tune_refresher_t *t)
{
    int64_t        now;
    ngx_int_t      rc;
    tune_action_t  act;

    /* by tune_log_level_t; debug lines go by ngx_log_debug */
    static const ngx_uint_t  levels[] = {
        NGX_LOG_ERR, NGX_LOG_WARN, NGX_LOG_NOTICE, NGX_LOG_INFO
    };

    now = ngx_http_tune_redis_now(t);

    for ( ;; ) {

        switch (tune_refresh_next(&t->rf, now, &act)) {

        case TUNE_DO_CONNECT:
            ngx_http_tune_redis_connect(t, &act, now);
            break;

        case TUNE_DO_SEND:
            if (t->ac == NULL
                || redisAsyncCommandArgv(t->ac, ngx_http_tune_redis_reply, t,
                                         act.argc, act.argv, act.argvlen)
                   != REDIS_OK)
            {
                ngx_http_tune_redis_close(t);
                tune_refresh_dropped(&t->rf, now, "cannot queue a command");
            }
            break;

        case TUNE_DO_CLOSE:
            ngx_http_tune_redis_close(t);
            break;

        case TUNE_DO_LOG:
            if (act.level == TUNE_LOG_DEBUG) {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, t->log, 0, "tune: %s",
                               act.msg);

            } else {
                ngx_log_error(levels[act.level], t->log, 0, "tune: %s",
                              act.msg);
            }
            break;

        case TUNE_DO_STATE:
            ngx_http_tune_shm_contact(t->zone, act.ready,
                                      act.ok ? NULL : act.msg);
            break;

        case TUNE_DO_INSTALL:
            rc = ngx_http_tune_shm_install(t->zone, act.image, act.size);
            tune_refresh_installed(&t->rf, now, rc == NGX_OK);
            break;

        case TUNE_DO_HERD:
            ngx_http_tune_redis_herd(t);
            break;

        default: /* TUNE_DO_WAIT */

            /* not ngx_add_timer() alone: it keeps a timer < 300 ms off */
            if (t->timer.timer_set) {
                ngx_del_timer(&t->timer);
            }

            if (act.at != TUNE_NEVER) {
                ngx_add_timer(&t->timer,
                              (ngx_msec_t) (act.at > now ? act.at - now : 1));
            }

            return;
        }
    }
}


/*
 * An IPv4 or IPv6 address as text, which connecting resolves without DNS.
 * inet_pton(), not ngx_inet_addr(): the resolver hiredis calls reads
 * "1.2.3.08" as no address (08 is no octal number) and would ask DNS.
 */

static ngx_int_t
ngx_http_tune_redis_literal(const char *host)
{
    u_char  addr[16];

    return inet_pton(AF_INET, host, addr) == 1
           || inet_pton(AF_INET6, host, addr) == 1;
}


static void
ngx_http_tune_redis_connect(ngx_http_tune_refresher_t *t, tune_action_t *act,
    int64_t now)
{
    redisAsyncContext  *ac;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, t->log, 0,
                   "tune: connecting to redis at %V", &t->tmcf->redis_text);

    if (act->port && !ngx_http_tune_redis_literal(act->host)) {
        /* a Sentinel's answer: hiredis would block this worker on DNS */
        tune_refresh_dropped(&t->rf, now, "the Sentinels gave a host name, "
                             "not an address (set their resolve-hostnames "
                             "and announce-hostnames to no)");
        return;
    }

    if (act->port) {
        ac = redisAsyncConnect(act->host, (int) act->port);

    } else {
        ac = redisAsyncConnectUnix(act->path);
    }

    if (ac == NULL) {
        tune_refresh_dropped(&t->rf, now, "cannot allocate a redis context");
        return;
    }

    if (ac->err) {
        tune_refresh_dropped(&t->rf, now, tune_hiredis_error(ac->errstr));
        redisAsyncFree(ac);
        return;
    }

    if (ngx_http_tune_hiredis_attach(ac, t->log) != NGX_OK) {
        tune_refresh_dropped(&t->rf, now, "no free connection");
        redisAsyncFree(ac);
        return;
    }

    ac->data = t;
    t->ac = ac;

    /* the connect callback is set last: setting it asks for a write event */
    redisAsyncSetDisconnectCallback(ac, ngx_http_tune_redis_disconnected);
    redisAsyncSetConnectCallback(ac, ngx_http_tune_redis_connected);
}


/* Frees the context: its callbacks see it is no longer t->ac */

void
ngx_http_tune_redis_close(ngx_http_tune_refresher_t *t)
{
    redisAsyncContext  *ac;

    ac = t->ac;
    t->ac = NULL;

    if (ac) {
        redisAsyncFree(ac);
    }
}


/*
 * The herd table is the zone's, under its mutex.  A worker whose lease was
 * taken (a reload) touches it no more: that is the new holder's.
 */

static void
ngx_http_tune_redis_herd(ngx_http_tune_refresher_t *t)
{
    ngx_uint_t           leading;
    ngx_http_tune_sh_t  *sh;

    sh = t->zone->sh;

    ngx_shmtx_lock(&t->zone->shpool->mutex);

    leading = (sh->refresher == ngx_pid);

    tune_refresh_herd(&t->rf, leading ? sh->herd : NULL,
                      tune_image_get(sh->image, sh->image_cap),
                      ngx_http_tune_herd_now());

    ngx_shmtx_unlock(&t->zone->shpool->mutex);

    if (!leading) {
        tune_refresh_resign(&t->rf);
    }
}


/* ---- hiredis's callbacks: they feed the machine and post the drive ---- */

static void
ngx_http_tune_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_tune_refresher_t  *t;

    t = ac->data;

    if (status == REDIS_OK) {
        tune_refresh_connected(&t->rf, ngx_http_tune_redis_now(t));

    } else {
        /* hiredis frees the context when this returns */
        t->ac = NULL;
        tune_refresh_dropped(&t->rf, ngx_http_tune_redis_now(t),
                             tune_hiredis_error(ac->errstr));
    }

    ngx_post_event(&t->drive, &ngx_posted_events);
}


static void
ngx_http_tune_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_tune_refresher_t  *t;

    t = ac->data;

    if (t->ac != ac) {
        /* freed by ngx_http_tune_redis_close() */
        return;
    }

    /* hiredis frees the context when this returns */
    t->ac = NULL;

    tune_refresh_dropped(&t->rf, ngx_http_tune_redis_now(t),
                         status == REDIS_OK
                         ? NULL : tune_hiredis_error(ac->errstr));

    ngx_post_event(&t->drive, &ngx_posted_events);
}


static void
ngx_http_tune_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_http_tune_refresher_t  *t = privdata;

    tune_reply_t  reply, elements[TUNE_REPLY_ELEMENTS_MAX];

    if (r == NULL) {
        /* the context is being freed: nothing more will be answered */
        return;
    }

    tune_hiredis_reply(r, &reply, elements, TUNE_REPLY_ELEMENTS_MAX);
    tune_refresh_reply(&t->rf, ngx_http_tune_redis_now(t), &reply);

    ngx_post_event(&t->drive, &ngx_posted_events);
}
