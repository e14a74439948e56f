
/*
 * Copyright (C) tuneslot developers
 */


#ifndef _NGX_HTTP_TUNE_REDIS_H_INCLUDED_
#define _NGX_HTTP_TUNE_REDIS_H_INCLUDED_


#include "ngx_http_tune_module.h"
#include "ngx_http_tune_hiredis.h"

#include <tune_refresh.h>


/*
 * The refresher keeps the zone's snapshot current.  It is core's machine
 * (tune_refresh.h: the hello, the reads, install or reject, herd claims,
 * backoff and every log line) run on nginx's loop:
 *
 *   ngx_http_tune_refresh.c  every worker's tick, the lease in the zone:
 *                            the holder leads the machine, a worker that
 *                            lost the lease resigns;
 *   ngx_http_tune_redis.c    the transport: carries out what the machine
 *                            asks (hiredis, the zone, the log, a timer).
 *
 * One connection serves a whole nginx and no request ever waits for
 * Redis.  Owned by the worker process that created it; in cycle->pool.
 */
typedef struct {
    tune_refresh_t              rf;              /* the machine */
    ngx_http_tune_main_conf_t  *tmcf;
    ngx_http_tune_zone_t       *zone;
    ngx_log_t                  *log;

    redisAsyncContext          *ac;              /* NULL: none open */

    int64_t                     now;             /* the machine's clock */
    ngx_msec_t                  msec;            /* ... ngx_current_msec */

    ngx_event_t                 tick;            /* every tune_refresh */
    ngx_event_t                 timer;           /* what the machine awaits */
    ngx_event_t                 drive;           /* posted by callbacks */

    void                       *mem;             /* the leader's */

    char                        herd_id[TUNE_HERD_ID_MAX];
} ngx_http_tune_refresher_t;


/* Every worker, at its start: the tick that looks at the lease */
ngx_int_t ngx_http_tune_refresher_start(ngx_cycle_t *cycle,
    ngx_http_tune_main_conf_t *tmcf);

/* Closes the Redis connection and gives up the lease; at worker exit */
void ngx_http_tune_refresher_stop(ngx_cycle_t *cycle);


/* ---- the transport ------------------------------------------------------ */

/* Carries out what the machine asks until it waits; not from hiredis */
void ngx_http_tune_redis_drive(ngx_http_tune_refresher_t *t);

/* The handler of t->timer and t->drive: drives the machine */
void ngx_http_tune_redis_event(ngx_event_t *ev);

/* The machine's clock, ms: monotonic, 64 bits */
int64_t ngx_http_tune_redis_now(ngx_http_tune_refresher_t *t);

/* Frees the connection, if any; not from hiredis */
void ngx_http_tune_redis_close(ngx_http_tune_refresher_t *t);


#endif /* _NGX_HTTP_TUNE_REDIS_H_INCLUDED_ */
