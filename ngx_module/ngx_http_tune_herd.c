
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_herd.h"


static uint32_t ngx_http_tune_herd_window(void);


int64_t
ngx_http_tune_herd_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


tune_herd_t *
ngx_http_tune_herd_create(ngx_slab_pool_t *shpool, size_t zone_size)
{
    void    *buf;
    size_t   cap;

    /* one flat buffer: tune_herd_init() lays the table out in it */
    cap = zone_size / NGX_HTTP_TUNE_HERD_SHARE;

    buf = ngx_slab_alloc(shpool, cap);
    if (buf == NULL) {
        return NULL;
    }

    return tune_herd_init(buf, cap);
}


/* ---- the request path ---------------------------------------------- */

void
ngx_http_tune_herd_avail(ngx_http_tune_zone_t *zone, const tune_image_t *img,
    const tune_image_stream_t *stream, uint32_t *avail)
{
    tune_herd_avail(zone->sh->herd, img, stream, ngx_http_tune_herd_now(),
                    ngx_http_tune_herd_window(), avail);
}


void
ngx_http_tune_herd_take(ngx_http_tune_zone_t *zone, const tune_image_t *img,
    const tune_image_stream_t *stream, uint32_t slot)
{
    tune_herd_take(zone->sh->herd, img, stream, slot,
                   ngx_http_tune_herd_now(), ngx_http_tune_herd_window());
}


void
ngx_http_tune_herd_slot_state(ngx_http_tune_zone_t *zone,
    const tune_image_t *img, const tune_image_stream_t *stream,
    uint32_t slot, uint32_t *pending, uint32_t *credits)
{
    tune_herd_slot_state(zone->sh->herd, img, stream, slot,
                         ngx_http_tune_herd_now(),
                         ngx_http_tune_herd_window(), pending, credits);
}


ngx_uint_t
ngx_http_tune_herd_global_locked(ngx_http_tune_zone_t *zone)
{
    return tune_herd_global(zone->sh->herd, ngx_http_tune_herd_now());
}


/* tune_herd_window, 0 when herd control is off */

static uint32_t
ngx_http_tune_herd_window(void)
{
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_tune_module);

    return (uint32_t) tmcf->herd_window;
}
