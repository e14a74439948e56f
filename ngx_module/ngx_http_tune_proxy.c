
/*
 * Copyright (C) tuneslot developers
 */


/*
 * Proxy mode: tune chooses a slot, then hands the request to the content
 * handler the location has besides "tune" (in practice "proxy_pass
 * $tune_url"), so every proxy_* directive stays the operator's.  Three
 * things are added around nginx's own proxy:
 *
 *   - retries: when a slot fails before the listener got a byte (nginx
 *     answers 502 or 504; 403, 404 and 503 from the backend too when
 *     proxy_intercept_errors is on), an error page brings the request back
 *     to tune, which picks the next-best slot not yet tried;
 *   - SHOUTcast v1 backends answer "ICY 200 OK" instead of an HTTP status
 *     line; nginx would take that for HTTP/0.9 and pass the ICY header
 *     block on as part of the body.  The upstream's status line parser is
 *     wrapped so that it sees "HTTP/1.0 200 OK", and the icy-* headers
 *     reach the listener as headers;
 *   - the listener's own HTTP version is kept for the answer.
 */


#include "ngx_http_tune_module.h"
#include "ngx_http_tune_choose.h"


static ngx_int_t ngx_http_tune_icy_process_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_tune_icy_reinit_request(ngx_http_request_t *r);
static void ngx_http_tune_icy_wrap(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx);


/* the statuses after which the next slot is tried, with their own bit */
static ngx_int_t  ngx_http_tune_retry_statuses[] = {
    NGX_HTTP_FORBIDDEN,                /* Icecast: listener limit reached */
    NGX_HTTP_NOT_FOUND,                /* the mount is gone */
    NGX_HTTP_BAD_GATEWAY,              /* refused, reset, invalid header */
    NGX_HTTP_SERVICE_UNAVAILABLE,      /* full or going away */
    NGX_HTTP_GATEWAY_TIME_OUT,         /* connect or header timeout */
    0
};


/*
 * Called by the module's merge for a location with "tune": takes over the
 * location's content handler (proxy_pass sets it whether it comes before
 * or after "tune") and, in proxy mode, adds the error pages that bring a
 * failed request back for a retry.  The operator's own error_page for a
 * status comes first and wins; for those statuses there is no retry.
 */

char *
ngx_http_tune_proxy_merge(ngx_conf_t *cf, ngx_http_tune_loc_conf_t *tlcf)
{
    ngx_uint_t                         i, n, own;
    ngx_array_t                       *pages;
    ngx_http_err_page_t               *err, *page;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_str_t                         *again;
    ngx_http_compile_complex_value_t   ccv;
    static ngx_str_t                   same_uri =
                                           ngx_string("$uri$is_args$args");

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != ngx_http_tune_handler) {
        if (clcf->handler) {
            tlcf->next_handler = clcf->handler;
        }

        clcf->handler = ngx_http_tune_handler;
    }

    if (tlcf->mode != NGX_HTTP_TUNE_MODE_PROXY
        && tlcf->https_fallback != NGX_HTTP_TUNE_HTTPS_PROXY)
    {
        return NGX_CONF_OK;
    }

    if (tlcf->next_handler == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" in %s:%ui requires "
                      "\"proxy_pass $tune_url\" in the same location",
                      tlcf->mode == NGX_HTTP_TUNE_MODE_PROXY
                      ? "tune_mode proxy" : "tune_https_fallback proxy",
                      tlcf->file, tlcf->line);
        return NGX_CONF_ERROR;
    }

    /* a named location is left by a URI: come back to it by its name */
    again = clcf->named ? &clcf->name : &same_uri;

    /* a copy: the array may be the server's, shared with other locations */

    n = clcf->error_pages ? clcf->error_pages->nelts : 0;

    pages = ngx_array_create(cf->pool, n + 5, sizeof(ngx_http_err_page_t));
    if (pages == NULL) {
        return NGX_CONF_ERROR;
    }

    if (n) {
        page = ngx_array_push_n(pages, n);
        if (page == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(page, clcf->error_pages->elts,
                   n * sizeof(ngx_http_err_page_t));
    }

    err = pages->elts;
    own = 0;

    for (i = 0; ngx_http_tune_retry_statuses[i]; i++) {

        if (ngx_http_tune_has_page(err, n, ngx_http_tune_retry_statuses[i])) {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "\"tune_mode proxy\" in %s:%ui: an \"error_page\" "
                          "for %i applies to this location, so a slot "
                          "failing with %i is not followed by the next one",
                          tlcf->file, tlcf->line,
                          ngx_http_tune_retry_statuses[i],
                          ngx_http_tune_retry_statuses[i]);
            continue;
        }

        page = ngx_array_push(pages);
        if (page == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(page, sizeof(ngx_http_err_page_t));

        /*
         * Without "=": r->err_status keeps the failure's status through
         * the redirect, so the handler can tell a failed slot (its own
         * context, proxying) from an error of another module of the
         * location, limit_req's 503 say, which must stay an error.
         */
        page->status = ngx_http_tune_retry_statuses[i];
        page->overwrite = -1;

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = again;
        ccv.complex_value = &page->value;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        own |= 1 << i;
    }

    tlcf->pages_before = clcf->error_pages;
    tlcf->pages = pages;

    clcf->error_pages = pages;
    tlcf->own_pages = own;

    return NGX_CONF_OK;
}


/*
 * An "if" or "limit_except" block inside a location with "tune" is the same
 * location to a listener: it chooses and hands over as its parent does.  Its
 * error pages were inherited before the parent's merge added the retry
 * pages, and limit_except has made proxy_pass its content handler.
 */

char *
ngx_http_tune_proxy_inherit(ngx_conf_t *cf, ngx_http_tune_loc_conf_t *conf,
    ngx_http_tune_loc_conf_t *prev)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    conf->enable = 1;
    conf->next_handler = prev->next_handler;
    conf->own_pages = prev->own_pages;
    conf->pages_before = prev->pages_before;
    conf->pages = prev->pages;
    conf->file = prev->file;
    conf->line = prev->line;

    clcf->handler = ngx_http_tune_handler;

    if (prev->pages && clcf->error_pages == prev->pages_before) {
        clcf->error_pages = prev->pages;
    }

    return NGX_CONF_OK;
}


ngx_uint_t
ngx_http_tune_has_page(ngx_http_err_page_t *err, ngx_uint_t n,
    ngx_int_t status)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        if (err[i].status == status) {
            return 1;
        }
    }

    return 0;
}


/* whether status would meet one of the retry pages proxy mode added */

ngx_uint_t
ngx_http_tune_proxy_own_page(ngx_http_tune_loc_conf_t *tlcf, ngx_int_t status)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_tune_retry_statuses[i]; i++) {
        if (ngx_http_tune_retry_statuses[i] == status) {
            return (tlcf->own_pages & (1 << i)) != 0;
        }
    }

    return 0;
}


ngx_int_t
ngx_http_tune_proxy_pass(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_http_tune_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tune_module);

    if (ctx->backend.len && ctx->ntried < NGX_HTTP_TUNE_MAX_TRIES) {
        /* this slot's attempts are the upstream states from here on */
        ctx->state_start[ctx->ntried] = r->upstream_states
                                        ? r->upstream_states->nelts : 0;
        ctx->tried[ctx->ntried++] = ctx->backend;
    }

    ctx->proxying = 1;
    ctx->icy_checked = 0;
    ctx->file = tlcf->file;
    ctx->line = tlcf->line;

    /*
     * A failure of this slot must be able to come back through a retry
     * page, even when the request reached tune through an error page of
     * its own; tune_proxy_tries bounds the round trips.
     */
    r->error_page = 0;
    r->err_status = 0;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tune: proxy \"%V\" to \"%V\"", &ctx->stream, &ctx->url);

    if (tlcf->next_handler == NULL) {
        /* cannot happen: merging refuses such a location */
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "tune: proxy mode without a handler to hand over to");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = tlcf->next_handler(r);

    /*
     * The upstream exists now, and has not parsed a status line yet: its
     * connection was just started (a failure to connect has already been
     * dealt with, through the error page, before we get here).
     */
    if (r->upstream && r->upstream->process_header
        && r->upstream->process_header != ngx_http_tune_icy_process_header)
    {
        ngx_http_tune_icy_wrap(r, ctx);
    }

    return rc;
}


/*
 * Back through one of the retry pages: the slot tried last failed before
 * the listener got anything.  Choose again among the slots not tried yet.
 */

ngx_int_t
ngx_http_tune_proxy_retry(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_uint_t                  retry_after, status, more;
    ngx_http_tune_loc_conf_t   *tlcf;
    ngx_http_upstream_state_t  *state;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tune_module);

    status = r->err_status;

    if (r->upstream_states && r->upstream_states->nelts) {
        state = r->upstream_states->elts;
        status = state[r->upstream_states->nelts - 1].status;
    }

    more = ctx->backend.len && ctx->ntried < tlcf->proxy_tries;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "tune: slot of \"%V\" on \"%V\" failed (%ui), %s",
                  &ctx->stream,
                  ctx->backend.len ? &ctx->backend : &ctx->url,
                  status, more ? "trying the next one" : "giving up");

    if (more) {
        rc = ngx_http_tune_choose(r, ctx, NULL, &retry_after);

        if (rc == NGX_OK) {
            ngx_str_set(&ctx->outcome, "proxy-retry");

            /* the failed attempt's headers must not leak into this one */
            ngx_http_clean_header(r);

            return ngx_http_tune_proxy_pass(r, ctx);
        }
    }

    /*
     * Nothing left to try: a 502, through the operator's error_page for
     * it if there is one, never through ours again.
     */
    ngx_str_set(&ctx->outcome, "failed");

    r->err_status = 0;
    r->error_page = ngx_http_tune_proxy_own_page(tlcf, NGX_HTTP_BAD_GATEWAY);

    ngx_http_clean_header(r);

    if (ngx_http_tune_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_BAD_GATEWAY;
}


static void
ngx_http_tune_icy_wrap(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx)
{
    ngx_http_upstream_t  *u;

    u = r->upstream;

    ctx->process_header = u->process_header;
    u->process_header = ngx_http_tune_icy_process_header;

    if (u->reinit_request
        && u->reinit_request != ngx_http_tune_icy_reinit_request)
    {
        ctx->reinit_request = u->reinit_request;
        u->reinit_request = ngx_http_tune_icy_reinit_request;
    }
}


/*
 * "ICY 200 OK" becomes "HTTP/1.0 200 OK" before the proxy parses it: the
 * bytes after the status line are a header block like HTTP's.  The buffer
 * grows by 5 bytes, so a new one replaces it; the upstream only ever uses
 * u->buffer's own start, pos, last and end.
 */

static ngx_int_t
ngx_http_tune_icy_process_header(ngx_http_request_t *r)
{
    size_t                n, size, grow;
    u_char               *p;
    ngx_buf_t            *b;
    ngx_http_tune_ctx_t  *ctx;
    static u_char         icy[] = "ICY ";
    static u_char         http[] = "HTTP/1.0 ";

    ctx = ngx_http_tune_get_ctx(r);

    if (ctx == NULL || ctx->process_header == NULL) {
        /* cannot happen: the wrapper is installed with the context */
        return NGX_ERROR;
    }

    if (!ctx->icy_checked) {
        b = &r->upstream->buffer;
        n = b->last - b->pos;

        if (n < sizeof(icy) - 1) {
            if (ngx_strncmp(b->pos, icy, n) == 0) {
                return NGX_AGAIN;
            }

            ctx->icy_checked = 1;

        } else {
            ctx->icy_checked = 1;

            if (ngx_strncmp(b->pos, icy, sizeof(icy) - 1) == 0) {
                grow = sizeof(http) - sizeof(icy);

                if ((size_t) (b->end - b->last) < grow) {
                    /*
                     * A full buffer: a larger one, keeping what precedes
                     * pos (room the cache reserves for its own header).
                     */
                    size = (b->end - b->start) + grow;

                    p = ngx_pnalloc(r->pool, size);
                    if (p == NULL) {
                        return NGX_ERROR;
                    }

                    ngx_memcpy(p, b->start, b->last - b->start);

                    b->pos = p + (b->pos - b->start);
                    b->last = p + (b->last - b->start);
                    b->start = p;
                    b->end = p + size;
                }

                /* "ICY 200 OK..." becomes "HTTP/1.0 200 OK..." in place */
                ngx_memmove(b->pos + sizeof(http) - 1,
                            b->pos + sizeof(icy) - 1,
                            n - (sizeof(icy) - 1));
                ngx_memcpy(b->pos, http, sizeof(http) - 1);
                b->last += grow;

                ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "tune: ICY status line read as HTTP/1.0");
            }
        }
    }

    return ctx->process_header(r);
}


/* nginx's own retry within one upstream resets the status line parser */

static ngx_int_t
ngx_http_tune_icy_reinit_request(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_http_tune_ctx_t  *ctx;

    ctx = ngx_http_tune_get_ctx(r);

    if (ctx == NULL || ctx->reinit_request == NULL) {
        return NGX_ERROR;
    }

    rc = ctx->reinit_request(r);

    ctx->icy_checked = 0;

    if (r->upstream->process_header != ngx_http_tune_icy_process_header) {
        ctx->process_header = r->upstream->process_header;
        r->upstream->process_header = ngx_http_tune_icy_process_header;
    }

    return rc;
}
