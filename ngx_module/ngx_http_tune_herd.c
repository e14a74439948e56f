
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


/* ---- the refresher ----------------------------------------------------- */

ngx_uint_t
ngx_http_tune_herd_claims(ngx_http_tune_zone_t *zone, ngx_msec_t window,
    tune_herd_claim_t *out, ngx_uint_t max)
{
    ngx_uint_t           n;
    const tune_image_t  *img;

    /* herd control off: not even the lock, every tick */
    if (window == 0) {
        return 0;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    img = tune_image_get(zone->sh->image, zone->sh->image_cap);

    n = img ? tune_herd_claims(zone->sh->herd, img, ngx_http_tune_herd_now(),
                               (uint32_t) window, out, max)
            : 0;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return n;
}


ngx_int_t
ngx_http_tune_herd_argv(tune_herd_claim_t *claims, ngx_uint_t n,
    ngx_str_t *sha, ngx_msec_t window, int64_t now, ngx_pool_t *pool,
    int *argc, const char ***argv, size_t **argvlen)
{
    char         *buf;
    u_char        id[TUNE_HERD_ID_MAX];
    size_t       *len, id_len;
    ngx_uint_t    a, total;
    const char  **v;

    total = 2 + TUNE_HERD_ARGC(n);

    v = ngx_palloc(pool, total * sizeof(char *));
    len = ngx_palloc(pool, total * sizeof(size_t));
    buf = ngx_pnalloc(pool, TUNE_HERD_ARGS_BUF(n));

    if (v == NULL || len == NULL || buf == NULL) {
        return NGX_ERROR;
    }

    if (sha->len) {
        v[0] = "EVALSHA";
        v[1] = (const char *) sha->data;
        len[1] = sha->len;

    } else {
        v[0] = "EVAL";
        v[1] = tune_herd_script(&len[1]);
    }

    len[0] = ngx_strlen(v[0]);

    /* this nginx, for the fair share of idle stocks: host name and pid */
    id_len = ngx_snprintf(id, sizeof(id), "%*s:%P",
                          ngx_min(ngx_cycle->hostname.len, (size_t) 100),
                          ngx_cycle->hostname.data, ngx_pid)
             - id;

    a = tune_herd_args(claims, n, now, (uint32_t) window, (const char *) id,
                       id_len, buf, TUNE_HERD_ARGS_BUF(n), v + 2, len + 2);
    if (a == 0) {
        return NGX_DECLINED;
    }

    *argc = (int) (2 + a);
    *argv = v;
    *argvlen = len;

    return NGX_OK;
}


ngx_int_t
ngx_http_tune_herd_granted(ngx_http_tune_zone_t *zone,
    tune_herd_claim_t *claims, ngx_uint_t n, ngx_msec_t window,
    int64_t sent_ms, redisReply *reply, ngx_pool_t *pool)
{
    int64_t     *values;
    tune_rc_t    rc;
    ngx_uint_t   i;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 * n) {
        return NGX_ERROR;
    }

    values = ngx_palloc(pool, 2 * n * sizeof(int64_t));
    if (values == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < 2 * n; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
            return NGX_ERROR;
        }

        values[i] = reply->element[i]->integer;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    rc = tune_herd_granted(zone->sh->herd, claims, n, (uint32_t) window,
                           sent_ms, values);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return (rc == TUNE_OK) ? NGX_OK : NGX_ERROR;
}


void
ngx_http_tune_herd_unclaimed(ngx_http_tune_zone_t *zone,
    tune_herd_claim_t *claims, ngx_uint_t n)
{
    ngx_shmtx_lock(&zone->shpool->mutex);
    tune_herd_unclaimed(zone->sh->herd, claims, n);
    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * A worker took the refresh lease over: claims of the previous holder
 * still marked in flight will never be answered, so they are not waited
 * for.  The credits in stock stay (they are reserved in Redis).
 */

void
ngx_http_tune_herd_takeover(ngx_http_tune_zone_t *zone)
{
    ngx_shmtx_lock(&zone->shpool->mutex);
    tune_herd_takeover(zone->sh->herd);
    ngx_shmtx_unlock(&zone->shpool->mutex);
}


void
ngx_http_tune_herd_local(ngx_http_tune_zone_t *zone)
{
    ngx_shmtx_lock(&zone->shpool->mutex);
    tune_herd_local(zone->sh->herd);
    ngx_shmtx_unlock(&zone->shpool->mutex);
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
