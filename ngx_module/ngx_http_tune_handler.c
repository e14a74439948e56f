
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_module.h"
#include "ngx_http_tune_choose.h"
#include "ngx_http_tune_playlist.h"

#include <tune_name.h>
#include <tune_url.h>


static void ngx_http_tune_stream_name(ngx_http_request_t *r, ngx_str_t *name);
static ngx_int_t ngx_http_tune_answer(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx, ngx_int_t rc, ngx_uint_t retry_after);




ngx_int_t
ngx_http_tune_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  name;
    tune_rc_t                  trc;
    uint32_t                   schemes;
    ngx_uint_t                 retry_after, proxy;
    ngx_http_tune_ctx_t       *ctx;
    ngx_http_tune_answer_e     kind;
    ngx_http_tune_loc_conf_t  *tlcf;
    static ngx_str_t           allow = ngx_string("GET, HEAD");

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tune_module);

    proxy = 0;

    ctx = ngx_http_tune_get_ctx(r);

    if (ctx && ctx->proxying
        && ctx->file == tlcf->file && ctx->line == tlcf->line)
    {
        /* back through a retry page of proxy mode: the slot failed */
        return ngx_http_tune_proxy_retry(r, ctx);
    }

    if (r->err_status && ngx_http_tune_proxy_own_page(tlcf, r->err_status)) {
        /*
         * A retry page caught an error that is not a slot's (limit_req's
         * 503, an access module's 403): it is the answer, not a tune-in.
         */
        r->error_page = 1;
        return r->err_status;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_tune_add_header(r, "Allow", &allow) == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_tune_answer(r, NULL, NGX_HTTP_NOT_ALLOWED, 0);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_http_tune_create_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_tune_stream_name(r, &name);

    kind = ngx_http_tune_playlist_kind(r, &name);

    trc = tune_name_check((const char *) name.data, name.len);
    if (trc != TUNE_OK) {
        /* the name itself is not logged: it may hold CR, LF or worse */
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "tune: invalid stream name: %s", tune_rc_reason(trc));
        ngx_str_set(&ctx->outcome, "invalid");
        return ngx_http_tune_answer(r, ctx, NGX_HTTP_BAD_REQUEST, 0);
    }

    ctx->stream = name;

    /* a HEAD never becomes a listener: it is answered, not counted */
    ctx->peek = (r->method == NGX_HTTP_HEAD);

    ctx->schemes = ngx_http_tune_schemes(r, ctx);

    if (kind != NGX_HTTP_TUNE_ANSWER_STREAM) {
        rc = ngx_http_tune_playlist(r, ctx, kind, &retry_after);
        return ngx_http_tune_answer(r, ctx, rc, retry_after);
    }

    ctx->fallback = (tlcf->https_fallback == NGX_HTTP_TUNE_HTTPS_PROXY);

    rc = ngx_http_tune_choose(r, ctx, NULL, &retry_after);

    if (rc == NGX_HTTP_TUNE_OTHER_SCHEME && ctx->fallback && ctx->https
        && (tlcf->schemes & TUNE_SCHEME_HTTP))
    {
        /*
         * No https:// slot has room, an http:// one has: the listener
         * hears it through this nginx, over this connection's TLS.
         */
        schemes = ctx->schemes;
        ctx->schemes = TUNE_SCHEME_HTTP;
        proxy = 1;

        rc = ngx_http_tune_choose(r, ctx, NULL, &retry_after);

        if (rc != NGX_OK) {
            /* answered as full after all: to an https:// tune_full only */
            ctx->schemes = schemes;
        }
    }

    ctx->fallback = 0;

    if (rc == NGX_HTTP_TUNE_FULL || rc == NGX_HTTP_TUNE_OTHER_SCHEME) {
        rc = ngx_http_tune_overflow(r, ctx);
    }

    if (rc != NGX_OK) {
        return ngx_http_tune_answer(r, ctx, rc, retry_after);
    }

    if (tlcf->mode == NGX_HTTP_TUNE_MODE_PROXY
        || (proxy && ctx->backend.len))
    {
        if (ctx->outcome.len == 0) {
            ngx_str_set(&ctx->outcome, "proxy");
        }

        return ngx_http_tune_proxy_pass(r, ctx);
    }

    return ngx_http_tune_redirect(r, ctx);
}


/*
 * The stream is what follows the location's prefix ("/tune/" in
 * "/tune/demo", a prefix that ends with "/": ngx_http_tune() makes sure);
 * in an exact, regex or named location, the last path segment.  r->uri is
 * already percent-decoded and free of dot segments.
 */

static void
ngx_http_tune_stream_name(ngx_http_request_t *r, ngx_str_t *name)
{
    u_char                    *p, *last;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    last = r->uri.data + r->uri.len;

    if (ngx_http_tune_prefix_location(clcf)
        && r->uri.len >= clcf->name.len
        && ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) == 0)
    {
        p = r->uri.data + clcf->name.len;

    } else {
        for (p = last; p > r->uri.data && p[-1] != '/'; p--) {
            /* void */
        }
    }

    name->data = p;
    name->len = last - p;
}


/*
 * tune_full with a URL: the listener goes there instead, redirected or
 * proxied as any slot would be.  The URL may hold variables; what they
 * make of it is checked like a snapshot's URL, so a header can never be
 * split by it.
 */

ngx_int_t
ngx_http_tune_overflow(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx)
{
    ngx_str_t                  url;
    tune_rc_t                  trc;
    ngx_http_tune_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tune_module);

    ngx_str_set(&ctx->outcome, "full");

    if (tlcf->full == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ngx_http_complex_value(r, tlcf->full, &url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    trc = tune_url_check((const char *) url.data, url.len);
    if (trc != TUNE_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tune: the \"tune_full\" URL is not usable: %s",
                      tune_rc_reason(trc));
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (!(tune_url_scheme((const char *) url.data, url.len) & ctx->schemes)) {
        /* mixed content for an HTTPS listener, or no URL for a player */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tune: the \"tune_full\" URL is not %s",
                      ctx->https ? "https://, as an HTTPS tune-in needs"
                                 : "of a scheme of \"tune_schemes\"");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    ctx->url = url;
    ctx->backend.len = 0;
    ngx_str_set(&ctx->outcome, "overflow");

    return NGX_OK;
}


ngx_int_t
ngx_http_tune_redirect(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx)
{
    ngx_table_elt_t  *location;

    if (ctx->outcome.len == 0) {
        ngx_str_set(&ctx->outcome, "redirect");
    }

    if (ngx_http_tune_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_clear_location(r);

    location = ngx_http_tune_add_header(r, "Location", &ctx->url);
    if (location == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.location = location;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tune: \"%V\" -> \"%V\"", &ctx->stream, &ctx->url);

    /* 302, not 307: many players follow only a 302 */
    return NGX_HTTP_MOVED_TEMPORARILY;
}


/*
 * An answer of our own (an error, never a slot): not cacheable, with
 * Retry-After on a 503, and, in proxy mode, kept from the error pages that
 * proxy mode installs for retries (they would bring the request straight
 * back here).
 */

static ngx_int_t
ngx_http_tune_answer(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx,
    ngx_int_t rc, ngx_uint_t retry_after)
{
    ngx_str_t                  value;
    ngx_http_tune_loc_conf_t  *tlcf;

    if (rc < NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    if (ctx && ctx->outcome.len == 0) {
        switch (rc) {
        case NGX_HTTP_NOT_FOUND:
            ngx_str_set(&ctx->outcome, "unknown");
            break;
        case NGX_HTTP_SERVICE_UNAVAILABLE:
            ngx_str_set(&ctx->outcome, "unavailable");
            break;
        }
    }

    if (ngx_http_tune_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_HTTP_SERVICE_UNAVAILABLE && retry_after) {
        value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        value.len = ngx_sprintf(value.data, "%ui", retry_after) - value.data;

        if (ngx_http_tune_add_header(r, "Retry-After", &value) == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tune_module);

    if (ngx_http_tune_proxy_own_page(tlcf, rc)) {
        r->error_page = 1;
    }

    return rc;
}


ngx_int_t
ngx_http_tune_no_store(ngx_http_request_t *r)
{
    static ngx_str_t  no_store = ngx_string("no-store");

    /* no answer of ours may be cached: each tune-in is a fresh choice */
    if (ngx_http_tune_add_header(r, "Cache-Control", &no_store) == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_table_elt_t *
ngx_http_tune_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return h;
}



/* A whole answer of ours in one buffer: 200, uncacheable, its type */

ngx_int_t
ngx_http_tune_send(ngx_http_request_t *r, ngx_buf_t *b, const char *type)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ngx_http_tune_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
