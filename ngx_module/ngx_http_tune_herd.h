
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
 * window is tune_herd_window; the refresher (core's tune_refresh.h, run
 * by ngx_http_tune_redis.c) claims credits for all workers.
 */


/* the herd table takes this part of tune_zone_size */
#define NGX_HTTP_TUNE_HERD_SHARE       4


/* ---- the request path: call with the zone's mutex held ---------------- */

/* tune_herd_avail(): avail[i] for the i-th slot of the stream */
void ngx_http_tune_herd_avail(ngx_http_tune_zone_t *zone,
    const tune_image_t *img, const tune_image_stream_t *stream,
    uint32_t *avail);

/* records one tune-in sent to slot (index into tune_image_slots(img)) */
void ngx_http_tune_herd_take(ngx_http_tune_zone_t *zone,
    const tune_image_t *img, const tune_image_stream_t *stream,
    uint32_t slot);

/* for tune_status: this nginx's pending reservations and credits held for
 * the slot */
void ngx_http_tune_herd_slot_state(ngx_http_tune_zone_t *zone,
    const tune_image_t *img, const tune_image_stream_t *stream,
    uint32_t slot, uint32_t *pending, uint32_t *credits);

/* for tune_status: credits from Redis are in use (1), or this nginx counts
 * only its own tune-ins (0) */
ngx_uint_t ngx_http_tune_herd_global_locked(ngx_http_tune_zone_t *zone);


/* ---- the zone --------------------------------------------------------- */

/* Carves the herd table from a fresh zone; NULL when out of memory */
tune_herd_t *ngx_http_tune_herd_create(ngx_slab_pool_t *shpool,
    size_t zone_size);


/* Wall clock in ms, from nginx's cached time */
int64_t ngx_http_tune_herd_now(void);


#endif /* _NGX_HTTP_TUNE_HERD_H_INCLUDED_ */
