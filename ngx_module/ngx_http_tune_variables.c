
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_module.h"


static void ngx_http_tune_ctx_cleanup(void *data);
static ngx_int_t ngx_http_tune_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_tune_vars[] = {

    { ngx_string("tune_stream"), NULL, ngx_http_tune_variable,
      offsetof(ngx_http_tune_ctx_t, stream), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tune_backend"), NULL, ngx_http_tune_variable,
      offsetof(ngx_http_tune_ctx_t, backend), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tune_url"), NULL, ngx_http_tune_variable,
      offsetof(ngx_http_tune_ctx_t, url), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tune_outcome"), NULL, ngx_http_tune_variable,
      offsetof(ngx_http_tune_ctx_t, outcome), NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_tune_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_tune_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * Values are not cacheable: in proxy mode a retry chooses another slot and
 * proxy_pass must see the new $tune_url.  Before "tune" ran (or in a
 * request that never reached it) they are not found, as an access log
 * line wants.
 */

static ngx_int_t
ngx_http_tune_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t            *s;
    ngx_http_tune_ctx_t  *ctx;

    ctx = ngx_http_tune_get_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((u_char *) ctx + data);

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


/*
 * nginx zeroes every module context at an internal redirect (proxy mode's
 * retries are error_page redirects).  The context lives in the request pool
 * anyway; a cleanup entry whose handler is ours marks it, so it can be
 * found again.
 */

ngx_http_tune_ctx_t *
ngx_http_tune_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_http_tune_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tune_module);

    if (ctx || !r->internal) {
        return ctx;
    }

    /* subrequests share the pool: each context names its request */
    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_tune_ctx_cleanup
            && ((ngx_http_tune_ctx_t *) cln->data)->request == r)
        {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_tune_module);
            return ctx;
        }
    }

    return NULL;
}


ngx_http_tune_ctx_t *
ngx_http_tune_create_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t   *cln;
    ngx_http_tune_ctx_t  *ctx;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_tune_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_tune_ctx_t));
    ctx->request = r;

    cln->handler = ngx_http_tune_ctx_cleanup;

    ngx_http_set_ctx(r, ctx, ngx_http_tune_module);

    return ctx;
}


static void
ngx_http_tune_ctx_cleanup(void *data)
{
    /* nothing to free: the marker for ngx_http_tune_get_ctx() */
}
