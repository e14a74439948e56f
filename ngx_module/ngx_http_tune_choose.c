
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_choose.h"
#include "ngx_http_tune_shm.h"
#include "ngx_http_tune_herd.h"

#include <tune_choose.h>


static void ngx_http_tune_choice_req(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx, ngx_str_t *region, tune_choice_req_t *req,
    tune_choice_name_t *tried);
static ngx_int_t ngx_http_tune_copy(ngx_http_request_t *r, ngx_str_t *dst,
    const tune_image_t *img, tune_str_t src);
static uint32_t ngx_http_tune_random(void);
static tune_choice_memo_t *ngx_http_tune_choice_memo(ngx_http_request_t *r,
    ngx_http_tune_main_conf_t *tmcf, const tune_image_t *img);


/*
 * The choice itself is the core's (tune_choose.h); here: the region, the
 * zone's lock, memory from the request's pool, the copies out of the zone,
 * and the answers.
 */

ngx_int_t
ngx_http_tune_choose(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx,
    ngx_array_t *ranked, ngx_uint_t *retry_after)
{
    void                       *work;
    size_t                      k;
    ngx_int_t                   rc;
    ngx_str_t                   region;
    tune_choice_t               ch;
    tune_choice_req_t           req;
    tune_choice_name_t          tried[NGX_HTTP_TUNE_MAX_TRIES];
    const tune_image_t         *img;
    const tune_image_slot_t    *slots;
    ngx_http_tune_zone_t       *zone;
    ngx_http_tune_entry_t      *entry;
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

    ngx_http_tune_choice_req(r, ctx, &region, &req, tried);

    req.rank = (ranked != NULL);

    ngx_shmtx_lock(&zone->shpool->mutex);

    img = tune_image_get(zone->sh->image, zone->sh->image_cap);

    req.herd = zone->sh->herd;
    req.age_ms = img ? (int64_t) ngx_http_tune_snapshot_age(zone, img) : 0;

    if (img && req.herd && req.window) {
        req.memo = ngx_http_tune_choice_memo(r, tmcf, img);
    }

    (void) tune_choose_begin(img, &req, &ch);

    /* the name is the snapshot's: it may be a metric's label */
    ctx->known = (ch.stream != NULL);

    *retry_after = ch.retry_after;

    if (ch.outcome == TUNE_CHOICE_OK) {

        /* the pool is this process's memory: allocating under the lock is
         * fine */
        work = ngx_palloc(r->pool, ch.work_size);
        if (work == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        (void) tune_choose_pick(img, &req, &ch, work);
    }

    switch (ch.outcome) {

    case TUNE_CHOICE_OK:
        break;

    case TUNE_CHOICE_NOT_FOUND:
        rc = NGX_HTTP_NOT_FOUND;
        goto done;

    case TUNE_CHOICE_FULL:
        rc = NGX_HTTP_TUNE_FULL;
        goto done;

    case TUNE_CHOICE_OTHER_SCHEME:
        rc = NGX_HTTP_TUNE_OTHER_SCHEME;
        goto done;

    case TUNE_CHOICE_STALE:
        ngx_str_set(&ctx->outcome, "stale");
        rc = NGX_HTTP_SERVICE_UNAVAILABLE;
        goto done;

    default: /* TUNE_CHOICE_NO_SNAPSHOT, TUNE_CHOICE_NO_SLOT */
        rc = NGX_HTTP_SERVICE_UNAVAILABLE;
        goto done;
    }

    slots = tune_image_slots(img);

    if (ngx_http_tune_copy(r, &ctx->backend, img, slots[ch.slot].backend)
        != NGX_OK
        || ngx_http_tune_copy(r, &ctx->url, img, slots[ch.slot].url)
           != NGX_OK)
    {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    rc = NGX_OK;

    for (k = 0; k < ch.nranked; k++) {
        entry = ngx_array_push(ranked);
        if (entry == NULL
            || ngx_http_tune_copy(r, &entry->backend, img,
                                  slots[ch.ranked[k]].backend)
               != NGX_OK
            || ngx_http_tune_copy(r, &entry->url, img,
                                  slots[ch.ranked[k]].url)
               != NGX_OK)
        {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }
    }

done:

    ngx_shmtx_unlock(&zone->shpool->mutex);

    /* the proxy fallback may still give an https:// listener a slot */
    if (ch.reason
        && !(ctx->fallback && ch.outcome == TUNE_CHOICE_OTHER_SCHEME))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "tune: \"%V\" not answered with a slot: %s",
                      &ctx->stream, ch.reason);
    }

    return rc;
}


/* what the core needs of the request, all but the zone's parts */

static void
ngx_http_tune_choice_req(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx,
    ngx_str_t *region, tune_choice_req_t *req, tune_choice_name_t *tried)
{
    ngx_uint_t                  i;
    ngx_http_tune_loc_conf_t   *tlcf;
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tune_module);
    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tune_module);

    ngx_memzero(req, sizeof(tune_choice_req_t));

    req->stream = (const char *) ctx->stream.data;
    req->stream_len = ctx->stream.len;
    req->region = (const char *) region->data;
    req->region_len = region->len;

    req->stale_ms = (int64_t) tlcf->stale;
    req->window = (uint32_t) tmcf->herd_window;
    req->now_ms = ngx_http_tune_herd_now();

    for (i = 0; i < ctx->ntried; i++) {
        tried[i].data = (const char *) ctx->tried[i].data;
        tried[i].len = ctx->tried[i].len;
    }

    req->tried = tried;
    req->ntried = ctx->ntried;

    req->schemes = ctx->schemes;
    req->peek = ctx->peek;
    req->rnd = ngx_http_tune_random();
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


/*
 * This worker's memory of the herd's counts, grown when an image outgrew
 * it; NULL when the heap has no room (then every tune-in reads the table,
 * as without one).  Called with the zone locked: the image cannot change.
 */

static tune_choice_memo_t *
ngx_http_tune_choice_memo(ngx_http_request_t *r,
    ngx_http_tune_main_conf_t *tmcf, const tune_image_t *img)
{
    void                *buf;
    uint32_t             nstreams, nslots;
    tune_choice_memo_t  *memo;

    if (tune_choice_memo_fits(tmcf->choice_memo, img)) {
        return tmcf->choice_memo;
    }

    /* ngx_alloc() logs its failure: once a second, not once a tune-in */
    if (tmcf->choice_memo_retry
        && (ngx_msec_int_t) (ngx_current_msec - tmcf->choice_memo_retry) < 0)
    {
        return NULL;
    }

    /* room to grow by half, so a fleet that grows slowly is not a
     * reallocation a round */
    nstreams = img->nstreams + img->nstreams / 2;
    nslots = img->nslots + img->nslots / 2;

    buf = ngx_alloc(tune_choice_memo_size(nstreams, nslots),
                    r->connection->log);
    if (buf == NULL) {
        tmcf->choice_memo_retry = ngx_current_msec + 1000;
        return NULL;
    }

    memo = tune_choice_memo_init(buf, nstreams, nslots);
    if (memo == NULL) {
        ngx_free(buf);
        return NULL;
    }

    if (tmcf->choice_memo) {
        ngx_free(tmcf->choice_memo);
    }

    tmcf->choice_memo = memo;

    return memo;
}


/* ngx_random() gives 31 bits; selection wants 32 */

static uint32_t
ngx_http_tune_random(void)
{
    return ((uint32_t) ngx_random() << 16) ^ (uint32_t) ngx_random();
}
