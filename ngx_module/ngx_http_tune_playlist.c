
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_playlist.h"
#include "ngx_http_tune_choose.h"

#include <tune_playlist.h>
#include <tune_url.h>


static ngx_int_t ngx_http_tune_playlist_self(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx, ngx_array_t *entries);
static ngx_int_t ngx_http_tune_playlist_send(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx, ngx_http_tune_answer_e kind,
    ngx_array_t *entries);


static tune_playlist_format_t  ngx_http_tune_formats[] = {
    TUNE_PLAYLIST_NONE,                /* NGX_HTTP_TUNE_ANSWER_STREAM */
    TUNE_PLAYLIST_M3U,
    TUNE_PLAYLIST_PLS,
    TUNE_PLAYLIST_XSPF
};


ngx_http_tune_answer_e
ngx_http_tune_playlist_kind(ngx_http_request_t *r, ngx_str_t *name)
{
    size_t                  stem;
    tune_playlist_format_t  fmt;

    fmt = tune_playlist_suffix((const char *) name->data, name->len, &stem);

    switch (fmt) {

    case TUNE_PLAYLIST_M3U:
        name->len = stem;
        return NGX_HTTP_TUNE_ANSWER_M3U;

    case TUNE_PLAYLIST_PLS:
        name->len = stem;
        return NGX_HTTP_TUNE_ANSWER_PLS;

    case TUNE_PLAYLIST_XSPF:
        name->len = stem;
        return NGX_HTTP_TUNE_ANSWER_XSPF;

    default:
        return NGX_HTTP_TUNE_ANSWER_STREAM;
    }
}


ngx_int_t
ngx_http_tune_playlist(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx,
    ngx_http_tune_answer_e kind, ngx_uint_t *retry_after)
{
    ngx_int_t                  rc;
    ngx_array_t               *entries;
    ngx_http_tune_entry_t     *entry;
    ngx_http_tune_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tune_module);

    entries = ngx_array_create(r->pool, 4, sizeof(ngx_http_tune_entry_t));
    if (entries == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (tlcf->mode == NGX_HTTP_TUNE_MODE_PROXY) {
        /*
         * The stream must exist and have a slot, as for a tune-in; the
         * player's tune-in comes later, through the URL listed, and is
         * counted then.
         */
        ctx->peek = 1;
        rc = ngx_http_tune_choose(r, ctx, NULL, retry_after);

        if (rc == NGX_HTTP_TUNE_FULL || rc == NGX_HTTP_TUNE_OTHER_SCHEME) {
            rc = ngx_http_tune_overflow(r, ctx);
        }

        if (rc != NGX_OK) {
            return rc;
        }

        if (ctx->backend.len == 0) {
            /* full: the overflow URL, which is not proxied by a playlist */
            entry = ngx_array_push(entries);
            if (entry == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_str_null(&entry->backend);
            entry->url = ctx->url;

        } else {
            rc = ngx_http_tune_playlist_self(r, ctx, entries);
        }

    } else {
        rc = ngx_http_tune_choose(r, ctx, entries, retry_after);

        if (rc == NGX_HTTP_TUNE_FULL || rc == NGX_HTTP_TUNE_OTHER_SCHEME) {
            rc = ngx_http_tune_overflow(r, ctx);

            if (rc == NGX_OK) {
                entry = ngx_array_push(entries);
                if (entry == NULL) {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                ngx_str_null(&entry->backend);
                entry->url = ctx->url;
            }
        }
    }

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_tune_playlist_send(r, ctx, kind, entries);
}


/*
 * Proxy mode lists the listener-facing URL of the stream, this location's
 * own: players behind a firewall must come back through port 80 anyway.
 * The host is what the listener asked for; it is checked like any slot's
 * URL before it goes into a playlist.
 */

static ngx_int_t
ngx_http_tune_playlist_self(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx,
    ngx_array_t *entries)
{
    u_char                 *p, c;
    size_t                  len, uri_len;
    ngx_str_t               host, port;
    tune_rc_t               trc;
    ngx_uint_t              i;
    ngx_http_tune_entry_t  *entry;

    /*
     * The host nginx validated (no port, no user part); the port only when
     * the listener's Host named one, and only digits.  Nothing else of the
     * request goes into the URL.
     */
    host = r->headers_in.server;
    ngx_str_null(&port);

    if (r->headers_in.host) {
        p = r->headers_in.host->value.data;
        len = r->headers_in.host->value.len;

        if (len > host.len + 1 && p[host.len] == ':') {
            port.data = p + host.len + 1;
            port.len = len - host.len - 1;
        }
    }

    for (i = 0; i < host.len; i++) {
        c = host.data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '-'
              || c == '[' || c == ']' || c == ':'))
        {
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    for (i = 0; i < port.len; i++) {
        if (port.data[i] < '0' || port.data[i] > '9' || i == 5) {
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    /* r->uri is ".../<stream>.<suffix>"; ctx->stream is "<stream>" */
    uri_len = (ctx->stream.data + ctx->stream.len) - r->uri.data;

    if (host.len == 0 || uri_len > r->uri.len) {
        return NGX_HTTP_BAD_REQUEST;
    }

    len = sizeof("https://") - 1 + host.len + 1 + port.len + uri_len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    entry = ngx_array_push(entries);
    if (entry == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_null(&entry->backend);
    entry->url.data = p;

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        p = ngx_cpymem(p, "https://", sizeof("https://") - 1);
    } else
#endif
    {
        p = ngx_cpymem(p, "http://", sizeof("http://") - 1);
    }

    p = ngx_cpymem(p, host.data, host.len);

    if (port.len) {
        *p++ = ':';
        p = ngx_cpymem(p, port.data, port.len);
    }

    p = ngx_cpymem(p, r->uri.data, uri_len);

    entry->url.len = p - entry->url.data;

    trc = tune_url_check((const char *) entry->url.data, entry->url.len);
    if (trc != TUNE_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "tune: no playlist URL from the request's host: %s",
                      tune_rc_reason(trc));
        return NGX_HTTP_BAD_REQUEST;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_tune_playlist_send(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx,
    ngx_http_tune_answer_e kind, ngx_array_t *entries)
{
    size_t                   size, len;
    ngx_buf_t               *b;
    tune_rc_t                trc;
    ngx_uint_t               i;
    tune_playlist_entry_t   *list;
    ngx_http_tune_entry_t   *entry;
    tune_playlist_format_t   fmt;

    fmt = ngx_http_tune_formats[kind];
    entry = entries->elts;

    list = ngx_palloc(r->pool,
                      (entries->nelts + 1) * sizeof(tune_playlist_entry_t));
    if (list == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < entries->nelts; i++) {
        ngx_memzero(&list[i], sizeof(tune_playlist_entry_t));

        list[i].url = (const char *) entry[i].url.data;
        list[i].url_len = entry[i].url.len;
        list[i].backend = (const char *) entry[i].backend.data;
        list[i].backend_len = entry[i].backend.len;
    }

    size = tune_playlist_render(fmt, (const char *) ctx->stream.data,
                                ctx->stream.len, list, entries->nelts,
                                NULL, 0, &trc);

    if (size == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tune: playlist of \"%V\" not rendered: %s",
                      &ctx->stream, tune_rc_reason(trc));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = tune_playlist_render(fmt, (const char *) ctx->stream.data,
                               ctx->stream.len, list, entries->nelts,
                               (char *) b->pos, size, &trc);
    if (len != size) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = b->pos + len;

    ngx_str_set(&ctx->outcome, "playlist");

    return ngx_http_tune_send(r, b, tune_playlist_content_type(fmt));
}
