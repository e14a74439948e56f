
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_choose.h"
#include "ngx_http_tune_shm.h"
#include "ngx_http_tune_herd.h"

#include <tune_select.h>


static ngx_int_t ngx_http_tune_copy(ngx_http_request_t *r, ngx_str_t *dst,
    const tune_image_t *img, tune_str_t src);
static uint32_t ngx_http_tune_random(void);


ngx_int_t
ngx_http_tune_choose(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx,
    ngx_array_t *ranked, ngx_uint_t *retry_after)
{
    size_t                      nslots;
    uint8_t                    *skip;
    uint32_t                    slot, i, k, n, *avail, *order;
    ngx_int_t                   rc;
    ngx_str_t                   region, backend;
    tune_rc_t                   trc;
    ngx_uint_t                  j;
    ngx_msec_t                  age;
    const char                 *why;
    const tune_image_t         *img;
    const tune_image_slot_t    *slots;
    ngx_http_tune_zone_t       *zone;
    ngx_http_tune_entry_t      *entry;
    tune_select_opts_t          opts;
    const tune_image_stream_t  *stream;
    ngx_http_tune_loc_conf_t   *tlcf;
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tune_module);
    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tune_module);

    zone = tmcf->shm_zone->data;

    ngx_str_null(&region);

    if (tlcf->region
        && ngx_http_complex_value(r, tlcf->region, &region) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&opts, sizeof(tune_select_opts_t));

    opts.region = (const char *) region.data;
    opts.region_len = region.len;

    *retry_after = 1;
    why = NULL;

    ngx_shmtx_lock(&zone->shpool->mutex);

    img = tune_image_get(zone->sh->image, zone->sh->image_cap);

    if (img == NULL) {
        why = "no snapshot received yet";
        rc = NGX_HTTP_SERVICE_UNAVAILABLE;
        goto done;
    }

    *retry_after = ngx_max(1, (img->interval_ms + 999) / 1000);

    stream = tune_image_find_stream(img, (const char *) ctx->stream.data,
                                    ctx->stream.len);
    if (stream == NULL) {
        rc = NGX_HTTP_NOT_FOUND;
        goto done;
    }

    age = ngx_http_tune_snapshot_age(zone, img);

    if (tlcf->stale && age > tlcf->stale) {
        ngx_str_set(&ctx->outcome, "stale");
        why = "the snapshot is stale";
        rc = NGX_HTTP_SERVICE_UNAVAILABLE;
        goto done;
    }

    nslots = stream->nslots;
    slots = tune_image_slots(img) + stream->first_slot;

    /* the pool is this process's memory: allocating under the lock is fine */
    avail = ngx_palloc(r->pool, (nslots + 1) * sizeof(uint32_t));
    if (avail == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    ngx_http_tune_herd_avail(zone, img, stream, avail);
    opts.avail = avail;

    if (ctx->ntried) {
        skip = ngx_pcalloc(r->pool, nslots + 1);
        if (skip == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        for (i = 0; i < nslots; i++) {
            backend.data = (u_char *) tune_image_str(img, slots[i].backend);
            backend.len = slots[i].backend.len;

            for (j = 0; j < ctx->ntried; j++) {
                if (backend.len == ctx->tried[j].len
                    && ngx_strncmp(backend.data, ctx->tried[j].data,
                                   backend.len) == 0)
                {
                    skip[i] = 1;
                }
            }
        }

        opts.skip = skip;
    }

    trc = tune_select_slot(img, stream, &opts, ngx_http_tune_random(), &slot);

    if (trc == TUNE_ERR_FULL) {
        why = "every slot is full";
        rc = NGX_HTTP_TUNE_FULL;
        goto done;
    }

    if (trc != TUNE_OK) {
        why = "no slot is up";
        rc = NGX_HTTP_SERVICE_UNAVAILABLE;
        goto done;
    }

    if (!ctx->peek) {
        ngx_http_tune_herd_take(zone, img, stream, slot);
    }

    if (ngx_http_tune_copy(r, &ctx->backend, img,
                           tune_image_slots(img)[slot].backend) != NGX_OK
        || ngx_http_tune_copy(r, &ctx->url, img,
                              tune_image_slots(img)[slot].url) != NGX_OK)
    {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    rc = NGX_OK;

    if (ranked == NULL) {
        goto done;
    }

    order = ngx_palloc(r->pool, (nslots + 1) * sizeof(uint32_t));
    if (order == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    n = tune_rank_slots(img, stream, &opts, slot, order, nslots);

    for (k = 0; k < n; k++) {
        entry = ngx_array_push(ranked);
        if (entry == NULL
            || ngx_http_tune_copy(r, &entry->backend, img,
                                  tune_image_slots(img)[order[k]].backend)
               != NGX_OK
            || ngx_http_tune_copy(r, &entry->url, img,
                                  tune_image_slots(img)[order[k]].url)
               != NGX_OK)
        {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }
    }

done:

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (why) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "tune: \"%V\" not answered with a slot: %s",
                      &ctx->stream, why);
    }

    return rc;
}


static ngx_int_t
ngx_http_tune_copy(ngx_http_request_t *r, ngx_str_t *dst,
    const tune_image_t *img, tune_str_t src)
{
    dst->len = src.len;
    dst->data = ngx_pnalloc(r->pool, src.len);

    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, tune_image_str(img, src), src.len);

    return NGX_OK;
}


/* ngx_random() gives 31 bits; selection wants 32 */

static uint32_t
ngx_http_tune_random(void)
{
    return ((uint32_t) ngx_random() << 16) ^ (uint32_t) ngx_random();
}


/*
 * How long the snapshot held has gone unchanged, by this nginx's monotonic
 * clock: the refresher notes when a new generation is installed (and sets
 * the first one after a start back by its age).  Called with the zone
 * locked.
 */

ngx_msec_t
ngx_http_tune_snapshot_age(ngx_http_tune_zone_t *zone,
    const tune_image_t *img)
{
    ngx_msec_int_t  age;

    age = (ngx_msec_int_t) (ngx_current_msec
                            - zone->sh->state.installed_msec);

    return age > 0 ? (ngx_msec_t) age : 0;
}
