/*
 * Copyright (C) tuneslot developers
 */


/*
 * HTTPS tune-ins: a web player on an https:// page cannot play an http://
 * stream (the browser blocks it as mixed content), so a tune-in that came
 * over HTTPS is sent to https:// slots only (TuneHttpsOnly).  It came over
 * HTTPS when httpd says the request's scheme is https (mod_ssl on this
 * connection, or a ServerName with https://), or when a proxy listed in
 * TuneHttpsProxies says so with "X-Forwarded-Proto: https".
 */


#include "tune_https.h"

#include "httpd.h"
#include "http_protocol.h"

#include <tune_url.h>

#include <string.h>
#include <strings.h>


static int mtune_https_request(request_rec *r, const mtune_dir_conf_t *dc);
static int mtune_https_forwarded(request_rec *r);


uint32_t
mtune_https_schemes(request_rec *r, const mtune_dir_conf_t *dc, int *https)
{
    uint32_t  schemes;

    schemes = mtune_conf_schemes(dc);

    *https = (dc->https_only != 0 && mtune_https_request(r, dc));

    if (*https) {
        schemes &= ~TUNE_SCHEME_HTTP;
    }

    return schemes ? schemes : TUNE_SCHEMES_NONE;
}


const char *
mtune_cmd_schemes(cmd_parms *cmd, void *cfg, const char *arg)
{
    uint32_t           bit;
    mtune_dir_conf_t  *dc = cfg;

    bit = tune_scheme_by_name(arg, strlen(arg));

    if (bit == 0) {
        return apr_psprintf(cmd->pool, "TuneSchemes: invalid value \"%s\" "
                            "(expected http, https, rtmp, rtmps, rtsp or "
                            "rtsps)", arg);
    }

    dc->schemes |= bit;

    return NULL;
}


static int
mtune_https_request(request_rec *r, const mtune_dir_conf_t *dc)
{
    int              i;
    apr_ipsubnet_t **nets;

    if (strcmp(ap_http_scheme(r), "https") == 0) {
        return 1;
    }

    if (dc->https_proxies == NULL) {
        return 0;
    }

    /*
     * The connection's peer, the proxy that sent the header: mod_remoteip
     * changes the request's client address, never this one.
     */
    nets = (apr_ipsubnet_t **) dc->https_proxies->elts;

    for (i = 0; i < dc->https_proxies->nelts; i++) {
        if (apr_ipsubnet_test(nets[i], r->connection->client_addr)) {
            return mtune_https_forwarded(r);
        }
    }

    return 0;
}


/*
 * "X-Forwarded-Proto: https".  httpd joins repeated headers with ", ";
 * of a list the last entry counts: the one the nearest proxy, the listed
 * one, added.
 */

static int
mtune_https_forwarded(request_rec *r)
{
    size_t       len;
    const char  *value, *last;

    value = apr_table_get(r->headers_in, "X-Forwarded-Proto");

    if (value == NULL) {
        return 0;
    }

    last = strrchr(value, ',');
    last = last ? last + 1 : value;

    while (*last == ' ' || *last == '\t') {
        last++;
    }

    len = strlen(last);

    while (len > 0 && (last[len - 1] == ' ' || last[len - 1] == '\t')) {
        len--;
    }

    return len == 5 && strncasecmp(last, "https", 5) == 0;
}


const char *
mtune_cmd_https_proxies(cmd_parms *cmd, void *cfg, const char *arg)
{
    char              *ip, *mask;
    apr_status_t       rv;
    apr_ipsubnet_t   **net;
    mtune_dir_conf_t  *dc = cfg;
    char               err[128];

    if (dc->https_proxies == NULL) {
        dc->https_proxies = apr_array_make(cmd->pool, 2,
                                           sizeof(apr_ipsubnet_t *));
    }

    ip = apr_pstrdup(cmd->temp_pool, arg);
    mask = strchr(ip, '/');

    if (mask) {
        *mask++ = '\0';
    }

    net = (apr_ipsubnet_t **) apr_array_push(dc->https_proxies);

    rv = apr_ipsubnet_create(net, ip, mask, cmd->pool);

    if (rv != APR_SUCCESS) {
        apr_strerror(rv, err, sizeof(err));

        return apr_psprintf(cmd->pool, "TuneHttpsProxies: \"%s\" is not an "
                            "address or a network (address/bits): %s",
                            arg, err);
    }

    return NULL;
}


const char *
mtune_cmd_https_fallback(cmd_parms *cmd, void *cfg, const char *arg)
{
    mtune_dir_conf_t *dc = cfg;

    if (strcasecmp(arg, "full") == 0) {
        dc->https_fallback = TUNE_HTTPS_FULL;

    } else if (strcasecmp(arg, "proxy") == 0) {
        dc->https_fallback = TUNE_HTTPS_PROXY;

    } else {
        return apr_psprintf(cmd->pool, "TuneHttpsFallback: invalid value "
                            "\"%s\" (expected full or proxy)", arg);
    }

    mtune_conf_note_use(cmd, dc->https_fallback == TUNE_HTTPS_PROXY);

    return NULL;
}
