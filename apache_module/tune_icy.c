/*
 * Copyright (C) tuneslot developers
 *
 * SHOUTcast v1 answers a listener with "ICY 200 OK" instead of an HTTP
 * status line.  mod_proxy_http takes a first line that is not "HTTP/x.y"
 * for an HTTP/0.9 answer: it would send its own 200 and then the ICY
 * header block as part of the body, which players cannot decode.  This
 * filter sits on the connections mod_proxy opens to backends and turns a
 * first line "ICY ..." into "HTTP/1.0 ..." before mod_proxy_http reads it,
 * so the icy-* headers become headers and the body is the stream itself.
 */


#include "tune_conf.h"
#include "tune_request.h"

#include "http_connection.h"
#include "util_filter.h"


#define TUNE_ICY_FILTER   "TUNE_ICY"


static ap_filter_rec_t  *mtune_icy_filter_handle;


static int mtune_icy_pre_connection(conn_rec *c, void *csd);
static apr_status_t mtune_icy_filter(ap_filter_t *f, apr_bucket_brigade *bb,
    ap_input_mode_t mode, apr_read_type_e block, apr_off_t readbytes);


void
mtune_icy_register(apr_pool_t *p)
{
    mtune_icy_filter_handle = ap_register_input_filter(TUNE_ICY_FILTER,
                                                       mtune_icy_filter, NULL,
                                                       AP_FTYPE_CONNECTION);

    ap_hook_pre_connection(mtune_icy_pre_connection, NULL, NULL,
                           APR_HOOK_MIDDLE);
}


/*
 * Only connections to backends (marked outgoing before this hook runs),
 * and only in an Apache where some location uses TuneMode proxy
 */

static int
mtune_icy_pre_connection(conn_rec *c, void *csd)
{
    if (c->outgoing && mtune_conf_proxy_used()) {
        ap_add_input_filter_handle(mtune_icy_filter_handle, NULL, NULL, c);
    }

    return OK;
}


/*
 * Only the first bytes of a connection are looked at; then the filter
 * passes everything on (it stays in the chain: mod_proxy_http's request for
 * the backend holds a pointer to the chain's head, which may be this
 * filter).  A status line arrives whole (mod_proxy_http reads it as a
 * line), so the four bytes are in the first read.
 */

static apr_status_t
mtune_icy_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
    apr_read_type_e block, apr_off_t readbytes)
{
    char          head[4];
    apr_size_t    len;
    apr_bucket   *rest, *b;
    apr_status_t  rv;

    rv = ap_get_brigade(f->next, bb, mode, block, readbytes);

    if (f->ctx != NULL || rv != APR_SUCCESS
        || mode == AP_MODE_SPECULATIVE || mode == AP_MODE_EATCRLF
        || mode == AP_MODE_INIT || APR_BRIGADE_EMPTY(bb))
    {
        return rv;
    }

    /* looked at: from now on, a pass-through */
    f->ctx = f;

    /*
     * A status line is read as a line; data read by count (a tunnel, a
     * body) is never changed, which would give more bytes than asked for.
     */
    if (mode != AP_MODE_GETLINE) {
        return rv;
    }

    len = sizeof(head);

    if (apr_brigade_flatten(bb, head, &len) != APR_SUCCESS
        || len < sizeof(head) || memcmp(head, "ICY ", 4) != 0)
    {
        return rv;
    }

    if (apr_brigade_partition(bb, 4, &rest) != APR_SUCCESS) {
        return rv;
    }

    while ((b = APR_BRIGADE_FIRST(bb)) != rest) {
        apr_bucket_delete(b);
    }

    b = apr_bucket_immortal_create("HTTP/1.0 ", 9, f->c->bucket_alloc);
    APR_BRIGADE_INSERT_HEAD(bb, b);

    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, f->c,
                  "tune: an ICY status line from a backend, read as "
                  "HTTP/1.0");

    return rv;
}
