/*
 * Copyright (C) tuneslot developers
 *
 * Per-decision metrics (core/include/tune_metrics.h): every tune-in is
 * counted once, when Apache logs it, into the segment's counter table that
 * every child adds to and a graceful restart keeps; SetHandler
 * tune-metrics answers the Prometheus text of it, the same names and
 * labels as the nginx module's tune_metrics.
 */


#include "tune_request.h"
#include "tune_shm.h"

#include "http_protocol.h"
#include "http_request.h"

#include <tune_metrics.h>


static void mtune_metrics_count(tune_metrics_t *m, mtune_ctx_t *ctx,
    int streams);


/* what an attempt of mod_proxy's answered: ok, refused (mod_proxy could not
 * connect: 503), timeout (504), 4xx or 5xx; relayed is the backend's own
 * status when mod_proxy passed its answer on (it then returns OK) */

const char *
mtune_attempt_result(int status, int relayed)
{
    if (status == OK || status == DONE) {
        status = relayed ? relayed : HTTP_OK;
    }

    if (status >= 200 && status < 400) {
        return "ok";
    }

    if (status == HTTP_SERVICE_UNAVAILABLE) {
        return "refused";
    }

    if (status == HTTP_GATEWAY_TIME_OUT) {
        return "timeout";
    }

    if (status >= 400 && status < 500) {
        return "4xx";
    }

    return "5xx";
}


/* log_transaction: the tune-in's story is complete (its internal
 * redirects included: the context is the first request's) */

int
mtune_metrics_log(request_rec *r)
{
    mtune_ctx_t       *ctx;
    mtune_shm_t       *shm;
    request_rec       *rr;
    tune_metrics_t    *m;
    mtune_srv_conf_t  *sc;

    /*
     * The request logged is the first of its chain; a tune location reached
     * by an internal redirect (ErrorDocument, mod_rewrite in a directory)
     * holds the context in a later one
     */
    while (r->next) {
        r = r->next;
    }

    ctx = NULL;

    for (rr = r; rr && ctx == NULL; rr = rr->prev) {
        ctx = ap_get_module_config(rr->request_config, &tune_module);
    }

    if (ctx == NULL || ctx->counted || ctx->outcome == NULL) {
        return DECLINED;
    }

    ctx->counted = 1;

    shm = mtune_shm_current();
    if (shm == NULL) {
        return DECLINED;
    }

    m = mtune_shm_metrics(shm);
    if (m == NULL) {
        return DECLINED;
    }

    sc = mtune_main_conf();

    mtune_metrics_count(m, ctx, sc->metrics_streams != 0);

    return DECLINED;
}


static void
mtune_metrics_count(tune_metrics_t *m, mtune_ctx_t *ctx, int streams)
{
    int          i;
    size_t       stream_len;
    const char  *stream;

    /*
     * A stream name is a label only when the snapshot had that stream: an
     * unknown or invalid name a listener made up never becomes a series
     */
    stream = ctx->stream;
    stream_len = (ctx->known && streams && stream) ? strlen(stream) : 0;

    (void) tune_metrics_add(m, TUNE_METRIC_TUNEINS, stream, stream_len,
                            ctx->outcome, strlen(ctx->outcome));

    /* a listener sent to a slot (a HEAD only asks where it would go) */
    if (ctx->backend && !ctx->peek
        && (strcmp(ctx->outcome, "redirect") == 0
            || strcmp(ctx->outcome, "playlist") == 0
            || (strcmp(ctx->outcome, "reserve") == 0
                && ctx->status != HTTP_SERVICE_UNAVAILABLE)
            || strncmp(ctx->outcome, "proxy", 5) == 0))
    {
        (void) tune_metrics_add(m, TUNE_METRIC_ASSIGNMENTS, stream,
                                stream_len, ctx->backend,
                                strlen(ctx->backend));
    }

    for (i = 0; i < ctx->ntried && ctx->proxying; i++) {
        if (ctx->tried[i] && ctx->results[i]) {
            (void) tune_metrics_add(m, TUNE_METRIC_PROXY_ATTEMPTS,
                                    ctx->tried[i], strlen(ctx->tried[i]),
                                    ctx->results[i],
                                    strlen(ctx->results[i]));
        }
    }
}


int
mtune_metrics_handler(request_rec *r)
{
    int                   tries;
    char                 *out;
    size_t                size, len;
    mtune_shm_t          *shm;
    tune_status_in_t      status;
    tune_metrics_in_t     in;
    tune_status_redis_t   redis;

    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);

    if (r->method_number != M_GET) {
        mtune_no_store(r);
        return HTTP_METHOD_NOT_ALLOWED;
    }

    shm = mtune_shm_current();

    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    mtune_no_store(r);

    if (r->header_only) {
        return OK;
    }

    memset(&status, 0, sizeof(tune_status_in_t));
    memset(&redis, 0, sizeof(tune_status_redis_t));

    in.status = &status;
    in.counters = NULL;
    in.version = TUNE_VERSION;
    in.frontend = "apache";

    if (shm == NULL) {
        size = tune_metrics_text_size(&in);
        out = apr_palloc(r->pool, size);
        len = tune_metrics_write(&in, out, size);

    } else {
        /* written under the lock, sent after it, as tune-status */
        mtune_shm_lock(shm);

        mtune_status_in(r, shm, &status, &redis);
        in.counters = mtune_shm_metrics(shm);

        /* series may come meanwhile (they are claimed without the lock):
         * a larger buffer then, a few times at most */
        size = tune_metrics_text_size(&in);
        out = apr_palloc(r->pool, size);
        len = tune_metrics_write(&in, out, size);

        for (tries = 0; len > size && tries < 3; tries++) {
            size = tune_metrics_text_size(&in);
            out = apr_palloc(r->pool, size);
            len = tune_metrics_write(&in, out, size);
        }

        mtune_shm_unlock(shm);
    }

    if (len > size) {
        ap_log_rerror(APLOG_MARK, APLOG_ALERT, 0, r,
                      "tune: metrics larger than their buffer of %"
                      APR_SIZE_T_FMT " bytes", size);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    ap_rwrite(out, (int) len, r);

    return OK;
}
