
/*
 * Copyright (C) tuneslot developers
 */


#ifndef _NGX_HTTP_TUNE_HERD_H_INCLUDED_
#define _NGX_HTTP_TUNE_HERD_H_INCLUDED_


#include "ngx_http_tune_shm.h"

#include <tune_herd.h>


/*
 * Herd control (redis/SCHEMA.md, "Herd control"), as the shared core
 * implements it (tune_herd.h), on nginx: the table is carved from the zone
 * and locked with its mutex, times are nginx's cached wall clock, the
 * window is tune_herd_window.  The choice (ngx_http_tune_choose.c) and
 * tune_status read it through core; the refresher (core's tune_refresh.h,
 * run by ngx_http_tune_redis.c) claims credits for all workers.
 */


/* the herd table takes this part of tune_zone_size */
#define NGX_HTTP_TUNE_HERD_SHARE       4


/* ---- the zone --------------------------------------------------------- */

/* Carves the herd table from a fresh zone; NULL when out of memory */
tune_herd_t *ngx_http_tune_herd_create(ngx_slab_pool_t *shpool,
    size_t zone_size);





#endif /* _NGX_HTTP_TUNE_HERD_H_INCLUDED_ */
