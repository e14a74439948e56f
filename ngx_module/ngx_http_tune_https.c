
/*
 * Copyright (C) tuneslot developers
 */


/*
 * HTTPS tune-ins: a web player on an https:// page cannot play an http://
 * stream (the browser blocks it as mixed content), so a tune-in that came
 * over HTTPS is sent to https:// slots only (tune_https_only).  It came
 * over HTTPS when this connection is TLS, or when a proxy listed in
 * tune_https_proxies says so with "X-Forwarded-Proto: https".
 */


#include "ngx_http_tune_module.h"

#include <tune_url.h>


static ngx_uint_t ngx_http_tune_https_request(ngx_http_request_t *r,
    ngx_http_tune_loc_conf_t *tlcf);
static ngx_int_t ngx_http_tune_https_peer(ngx_http_request_t *r,
    ngx_http_tune_loc_conf_t *tlcf);
static ngx_uint_t ngx_http_tune_https_forwarded(ngx_http_request_t *r);
static ngx_int_t ngx_http_tune_https_unix_listed(ngx_array_t *cidrs);


static ngx_str_t  ngx_http_tune_realip_var = ngx_string("realip_remote_addr");


uint32_t
ngx_http_tune_schemes(ngx_http_request_t *r, ngx_http_tune_ctx_t *ctx)
{
    uint32_t                   schemes;
    ngx_http_tune_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tune_module);

    schemes = (uint32_t) tlcf->schemes;

    if (tlcf->mode == NGX_HTTP_TUNE_MODE_PROXY) {
        /* proxied, the listener hears this nginx's scheme, whatever the
         * slot's: one nginx's proxy speaks to */
        schemes &= TUNE_SCHEMES_WEB;

    } else if (tlcf->https_only && ngx_http_tune_https_request(r, tlcf)) {
        ctx->https = 1;
        schemes &= ~TUNE_SCHEME_HTTP;
    }

    return schemes ? schemes : TUNE_SCHEMES_NONE;
}


/* tune_schemes http | https | rtmp | rtmps | rtsp | rtsps ... */

char *
ngx_http_tune_schemes_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tune_loc_conf_t *tlcf = conf;

    uint32_t     bit;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (tlcf->schemes != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    tlcf->schemes = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        bit = tune_scheme_by_name((const char *) value[i].data, value[i].len);

        if (bit == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" of \"tune_schemes\", "
                               "expected http, https, rtmp, rtmps, rtsp or "
                               "rtsps", &value[i]);
            return NGX_CONF_ERROR;
        }

        tlcf->schemes |= bit;
    }

    return NGX_CONF_OK;
}


static ngx_uint_t
ngx_http_tune_https_request(ngx_http_request_t *r,
    ngx_http_tune_loc_conf_t *tlcf)
{
#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        return 1;
    }
#endif

    if (tlcf->https_proxies == NULL) {
        return 0;
    }

    if (ngx_http_tune_https_peer(r, tlcf) != NGX_OK) {
        return 0;
    }

    return ngx_http_tune_https_forwarded(r);
}


/*
 * NGX_OK when the peer of the connection, the proxy that sent the
 * header, is listed.  With the realip module, the client address nginx
 * shows may be the listener's already: the peer is then
 * $realip_remote_addr.
 */

static ngx_int_t
ngx_http_tune_https_peer(ngx_http_request_t *r,
    ngx_http_tune_loc_conf_t *tlcf)
{
    ngx_addr_t                  addr;
    ngx_http_variable_value_t  *vv;
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tune_module);

    if (tmcf->realip_index == NGX_ERROR) {
        return ngx_cidr_match(r->connection->sockaddr, tlcf->https_proxies);
    }

    vv = ngx_http_get_indexed_variable(r, tmcf->realip_index);

    if (vv == NULL || vv->not_found || vv->len == 0) {
        return ngx_cidr_match(r->connection->sockaddr, tlcf->https_proxies);
    }

    if (vv->len >= 5 && ngx_strncmp(vv->data, "unix:", 5) == 0) {
        /*
         * The peer is a unix socket's: listed as "unix:" or not.  Never
         * the connection's address, which realip has made the client's.
         */
        return ngx_http_tune_https_unix_listed(tlcf->https_proxies);
    }

    if (ngx_parse_addr(r->pool, &addr, vv->data, vv->len) != NGX_OK) {
        return NGX_DECLINED;
    }

    return ngx_cidr_match(addr.sockaddr, tlcf->https_proxies);
}


static ngx_int_t
ngx_http_tune_https_unix_listed(ngx_array_t *cidrs)
{
    ngx_uint_t   i;
    ngx_cidr_t  *cidr;

    cidr = cidrs->elts;

    for (i = 0; i < cidrs->nelts; i++) {
        if (cidr[i].family == AF_UNIX) {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * "X-Forwarded-Proto: https".  Of a list ("https, http") the last entry
 * counts: the one the nearest proxy, the listed one, added.
 */

static ngx_uint_t
ngx_http_tune_https_forwarded(ngx_http_request_t *r)
{
    u_char           *p, *start, *end;
    ngx_uint_t        i, https;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    https = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("X-Forwarded-Proto") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "X-Forwarded-Proto",
                               sizeof("X-Forwarded-Proto") - 1)
               != 0)
        {
            continue;
        }

        /* the last header, and its last entry, win */

        end = h[i].value.data + h[i].value.len;
        start = h[i].value.data;

        for (p = start; p < end; p++) {
            if (*p == ',') {
                start = p + 1;
            }
        }

        while (start < end && (*start == ' ' || *start == '\t')) {
            start++;
        }

        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }

        https = (end - start == 5
                 && ngx_strncasecmp(start, (u_char *) "https", 5) == 0);
    }

    return https;
}


/* tune_https_proxies address | CIDR | unix: ... */

char *
ngx_http_tune_https_proxies(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tune_loc_conf_t *tlcf = conf;

    ngx_int_t                   rc;
    ngx_str_t                  *value;
    ngx_uint_t                  i;
    ngx_cidr_t                 *cidr;
    ngx_http_tune_main_conf_t  *tmcf;

    if (tlcf->https_proxies != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    tlcf->https_proxies = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                           sizeof(ngx_cidr_t));
    if (tlcf->https_proxies == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        cidr = ngx_array_push(tlcf->https_proxies);
        if (cidr == NULL) {
            return NGX_CONF_ERROR;
        }

#if (NGX_HAVE_UNIX_DOMAIN)
        if (value[i].len == 5 && ngx_strncmp(value[i].data, "unix:", 5) == 0)
        {
            cidr->family = AF_UNIX;
            continue;
        }
#endif

        rc = ngx_ptocidr(&value[i], cidr);

        if (rc == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid address or network \"%V\" in "
                               "\"tune_https_proxies\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_DONE) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "low address bits of %V are meaningless",
                               &value[i]);
        }
    }

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tune_module);
    tmcf->https_proxies_used = 1;

    return NGX_CONF_OK;
}


/*
 * The realip module, when nginx has it, keeps the connection's own peer
 * in $realip_remote_addr: looked for among the variables defined so far
 * (they are all defined by now; unknown ones would fail the configuration
 * after this, hence the look before asking for an index).
 */

ngx_int_t
ngx_http_tune_https_init(ngx_conf_t *cf)
{
    ngx_uint_t                  i;
    ngx_hash_key_t             *key;
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tune_module);
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    tmcf->realip_index = NGX_ERROR;

    if (!tmcf->https_proxies_used || cmcf->variables_keys == NULL) {
        return NGX_OK;
    }

    key = cmcf->variables_keys->keys.elts;

    for (i = 0; i < cmcf->variables_keys->keys.nelts; i++) {
        if (key[i].key.len == ngx_http_tune_realip_var.len
            && ngx_strncmp(key[i].key.data, ngx_http_tune_realip_var.data,
                           ngx_http_tune_realip_var.len)
               == 0)
        {
            tmcf->realip_index = ngx_http_get_variable_index(cf,
                                                 &ngx_http_tune_realip_var);
            return tmcf->realip_index == NGX_ERROR ? NGX_ERROR : NGX_OK;
        }
    }

    return NGX_OK;
}
