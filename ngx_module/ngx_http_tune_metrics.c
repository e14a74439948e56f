
/*
 * Copyright (C) tuneslot developers
 */


/*
 * Per-decision metrics (core/include/tune_metrics.h): every tune-in is
 * counted once, in the log phase, when its story is complete (its outcome,
 * the backend it was sent to, each proxied attempt and how it ended), into
 * the zone's counter table, which every worker adds to and a reload keeps;
 * tune_metrics answers the Prometheus text of it, the same names and
 * labels as mod_tune's tune-metrics.
 */


#include "ngx_http_tune_module.h"
#include "ngx_http_tune_choose.h"
#include "ngx_http_tune_herd.h"

#include <tune_metrics.h>


static void ngx_http_tune_metrics_count(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx, tune_metrics_t *m);
static const char *ngx_http_tune_attempt_result(
    ngx_http_upstream_state_t *state);


tune_metrics_t *
ngx_http_tune_metrics_create(ngx_slab_pool_t *shpool, size_t zone_size)
{
    void    *buf;
    size_t   cap;

    cap = zone_size / NGX_HTTP_TUNE_METRICS_SHARE;

    buf = ngx_slab_alloc(shpool, cap);
    if (buf == NULL) {
        return NULL;
    }

    return tune_metrics_init(buf, cap);
}


/* the log phase: every request of a location with "tune", once */

ngx_int_t
ngx_http_tune_metrics_log(ngx_http_request_t *r)
{
    ngx_http_tune_ctx_t        *ctx;
    ngx_http_tune_zone_t       *zone;
    ngx_http_tune_main_conf_t  *tmcf;

    ctx = ngx_http_tune_get_ctx(r);

    if (ctx == NULL || ctx->counted || ctx->outcome.len == 0) {
        return NGX_OK;
    }

    ctx->counted = 1;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tune_module);

    if (tmcf->shm_zone == NULL) {
        return NGX_OK;
    }

    zone = tmcf->shm_zone->data;

    if (zone->sh->metrics) {
        ngx_http_tune_metrics_count(r, ctx, zone->sh->metrics);
    }

    return NGX_OK;
}


static void
ngx_http_tune_metrics_count(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx,
    tune_metrics_t *m)
{
    size_t                      stream_len;
    ngx_uint_t                  i, k, n, end;
    const char                 *result;
    ngx_str_t                  *backend;
    ngx_http_upstream_state_t  *states;
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tune_module);

    /*
     * A stream name is a label only when the snapshot had that stream: an
     * unknown or invalid name a listener made up never becomes a series
     */
    stream_len = (ctx->known && tmcf->metrics_streams) ? ctx->stream.len : 0;

    (void) tune_metrics_add(m, TUNE_METRIC_TUNEINS,
                            (const char *) ctx->stream.data, stream_len,
                            (const char *) ctx->outcome.data,
                            ctx->outcome.len);

    /* a listener sent to a slot (a HEAD only asks where it would go) */
    if (ctx->backend.len && !ctx->peek
        && (ngx_strcmp(ctx->outcome.data, "redirect") == 0
            || ngx_strcmp(ctx->outcome.data, "playlist") == 0
            || ngx_strncmp(ctx->outcome.data, "proxy", 5) == 0))
    {
        (void) tune_metrics_add(m, TUNE_METRIC_ASSIGNMENTS,
                                (const char *) ctx->stream.data, stream_len,
                                (const char *) ctx->backend.data,
                                ctx->backend.len);
    }

    /*
     * Proxy mode: the upstream states of the request, from where each slot
     * tried began (ngx_http_tune_proxy_pass() noted it) to where the next
     * one did; nginx puts a state of no peer between the states of
     * successive internal redirects (our retries)
     */
    if (!ctx->proxying || r->upstream_states == NULL) {
        return;
    }

    states = r->upstream_states->elts;
    n = r->upstream_states->nelts;

    for (k = 0; k < ctx->ntried; k++) {
        end = (k + 1 < ctx->ntried) ? ctx->state_start[k + 1] : n;

        for (i = ctx->state_start[k]; i < end && i < n; i++) {
            if (states[i].peer == NULL) {
                continue;
            }

            result = ngx_http_tune_attempt_result(&states[i]);
            if (result == NULL) {
                continue;
            }

            backend = &ctx->tried[k];

            (void) tune_metrics_add(m, TUNE_METRIC_PROXY_ATTEMPTS,
                                    (const char *) backend->data,
                                    backend->len, result,
                                    ngx_strlen(result));
        }
    }
}


/* ok, refused, timeout, 4xx or 5xx; NULL: the listener left first */

static const char *
ngx_http_tune_attempt_result(ngx_http_upstream_state_t *state)
{
    /* nginx's own 504: no answer in time (a backend's 504 came with its
     * header) */
    if (state->status == NGX_HTTP_GATEWAY_TIME_OUT
        && state->header_time == (ngx_msec_t) -1)
    {
        return "timeout";
    }

    if (state->status == NGX_HTTP_BAD_GATEWAY
        && state->connect_time == (ngx_msec_t) -1)
    {
        return "refused";
    }

    if (state->status >= 200 && state->status < 400) {
        return "ok";
    }

    if (state->status >= 400 && state->status < 500) {
        return "4xx";
    }

    if (state->status >= 500) {
        return "5xx";
    }

    return NULL;
}


/* tune_metrics: the Prometheus text, written under the zone's mutex */

ngx_int_t
ngx_http_tune_metrics_handler(ngx_http_request_t *r)
{
    size_t                      size, len;
    ngx_int_t                   rc;
    ngx_uint_t                  tries;
    ngx_buf_t                  *b;
    tune_status_in_t            st;
    tune_metrics_in_t           in;
    tune_status_redis_t         redis;
    ngx_http_tune_zone_t       *zone;
    ngx_http_tune_main_conf_t  *tmcf;

    rc = ngx_http_tune_read_only(r);
    if (rc != NGX_OK) {
        return rc;
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tune_module);
    zone = tmcf->shm_zone->data;

    in.status = &st;
    in.version = TUNE_VERSION;
    in.frontend = "nginx";

    /*
     * Sized and written under the zone's mutex (the pool is this process's
     * memory: allocating under it is fine); series claimed meanwhile (they
     * take no lock) may want more room: again, a few times at most
     */
    for (tries = 0; /* void */; tries++) {

        ngx_shmtx_lock(&zone->shpool->mutex);

        ngx_http_tune_status_in(r, zone, &st, &redis);
        in.counters = zone->sh->metrics;

        size = tune_metrics_text_size(&in);
        b = ngx_create_temp_buf(r->pool, size);
        len = b ? tune_metrics_write(&in, (char *) b->pos, size) : 0;

        ngx_shmtx_unlock(&zone->shpool->mutex);

        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (len <= size) {
            break;
        }

        if (tries == 3) {
            return NGX_HTTP_SERVICE_UNAVAILABLE;
        }
    }

    b->last = b->pos + len;

    return ngx_http_tune_send(r, b, "text/plain; version=0.0.4; charset=utf-8");
}
