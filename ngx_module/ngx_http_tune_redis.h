
/*
 * Copyright (C) tuneslot developers
 */


#ifndef _NGX_HTTP_TUNE_REDIS_H_INCLUDED_
#define _NGX_HTTP_TUNE_REDIS_H_INCLUDED_


#include "ngx_http_tune_module.h"


/*
 * The refresher keeps the zone's snapshot current.  Every worker arms a
 * refresh timer; the worker holding the zone's lease polls Redis over a
 * non-blocking hiredis connection on its own event loop, so one connection
 * serves a whole nginx and no request ever waits for Redis.  Owned by the
 * worker process that created it; lives in cycle->pool.
 */
ngx_int_t ngx_http_tune_refresher_start(ngx_cycle_t *cycle,
    ngx_http_tune_main_conf_t *tmcf);

/* Closes the Redis connection and gives up the lease; at worker exit */
void ngx_http_tune_refresher_stop(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_TUNE_REDIS_H_INCLUDED_ */
