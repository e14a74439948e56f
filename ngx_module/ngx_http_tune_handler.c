
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_module.h"
#include "ngx_http_tune_shm.h"
#include "ngx_http_tune_herd.h"

#include <tune_name.h>
#include <tune_url.h>


static void ngx_http_tune_stream_name(ngx_http_request_t *r, ngx_str_t *name);
static ngx_int_t ngx_http_tune_choose(ngx_http_request_t *r,
    ngx_http_tune_zone_t *zone, ngx_str_t *name, ngx_str_t *url,
    ngx_uint_t *retry_after);
static tune_rc_t ngx_http_tune_pick(const tune_image_t *img,
    const tune_image_stream_t *stream, const uint32_t *avail,
    uint32_t *slot);
static ngx_table_elt_t *ngx_http_tune_add_header(ngx_http_request_t *r,
    const char *key, ngx_str_t *value);
static ngx_int_t ngx_http_tune_retry_after(ngx_http_request_t *r,
    ngx_uint_t seconds);


ngx_int_t
ngx_http_tune_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   name, url;
    ngx_uint_t                  retry_after;
    tune_rc_t                   trc;
    ngx_table_elt_t            *location;
    ngx_http_tune_main_conf_t  *tmcf;
    static ngx_str_t            no_store = ngx_string("no-store");
    static ngx_str_t            allow = ngx_string("GET, HEAD");

    /* no answer of ours may be cached: each tune-in is a fresh choice */
    if (ngx_http_tune_add_header(r, "Cache-Control", &no_store) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_tune_add_header(r, "Allow", &allow) == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_tune_stream_name(r, &name);

    trc = tune_name_check((const char *) name.data, name.len);
    if (trc != TUNE_OK) {
        /* the name itself is not logged: it may hold CR, LF or worse */
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "tune: invalid stream name: %s", tune_rc_reason(trc));
        return NGX_HTTP_BAD_REQUEST;
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tune_module);

    rc = ngx_http_tune_choose(r, tmcf->shm_zone->data, &name, &url,
                              &retry_after);

    switch (rc) {

    case NGX_OK:
        break;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        if (ngx_http_tune_retry_after(r, retry_after) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return rc;

    default:
        return rc;
    }

    ngx_http_clear_location(r);

    location = ngx_http_tune_add_header(r, "Location", &url);
    if (location == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.location = location;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tune: \"%V\" -> \"%V\"", &name, &url);

    /* 302, not 307: many players follow only a 302 */
    return NGX_HTTP_MOVED_TEMPORARILY;
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


static ngx_int_t
ngx_http_tune_choose(ngx_http_request_t *r, ngx_http_tune_zone_t *zone,
    ngx_str_t *name, ngx_str_t *url, ngx_uint_t *retry_after)
{
    uint32_t                    slot, *avail;
    ngx_int_t                   rc;
    tune_rc_t                   trc;
    const tune_image_t         *img;
    const tune_image_slot_t    *s;
    const tune_image_stream_t  *stream;

    *retry_after = 1;
    slot = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    img = tune_image_get(zone->sh->image, zone->sh->image_cap);

    if (img == NULL) {
        rc = NGX_HTTP_SERVICE_UNAVAILABLE;
        goto done;
    }

    *retry_after = ngx_max(1, (img->interval_ms + 999) / 1000);

    stream = tune_image_find_stream(img, (const char *) name->data,
                                    name->len);
    if (stream == NULL) {
        rc = NGX_HTTP_NOT_FOUND;
        goto done;
    }

    avail = ngx_palloc(r->pool, ngx_max(stream->nslots, 1) * sizeof(uint32_t));
    if (avail == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    ngx_http_tune_herd_avail(zone, img, stream, avail);

    trc = ngx_http_tune_pick(img, stream, avail, &slot);
    if (trc != TUNE_OK) {
        rc = NGX_HTTP_SERVICE_UNAVAILABLE;
        goto done;
    }

    ngx_http_tune_herd_take(zone, img, slot);

    s = &tune_image_slots(img)[slot];

    url->len = s->url.len;
    url->data = ngx_pnalloc(r->pool, url->len);

    if (url->data == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    ngx_memcpy(url->data, tune_image_str(img, s->url), url->len);
    rc = NGX_OK;

done:

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (rc == NGX_HTTP_SERVICE_UNAVAILABLE) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      img ? "tune: no slot of \"%V\" may be offered"
                          : "tune: no snapshot yet for \"%V\"", name);
    }

    return rc;
}


/*
 * Until the core's tune_select_slot() takes the herd's avail: tune_select()'s
 * policy (most free slots times weight, ties at random) among the slots the
 * herd lets this nginx send a listener to now.
 */

static tune_rc_t
ngx_http_tune_pick(const tune_image_t *img, const tune_image_stream_t *stream,
    const uint32_t *avail, uint32_t *slot)
{
    uint32_t                  i, ties;
    uint64_t                  score, best;
    const tune_image_slot_t  *s;

    s = tune_image_slots(img) + stream->first_slot;
    best = 0;
    ties = 0;

    for (i = 0; i < stream->nslots; i++) {

        /* avail is 0 for a slot that is not up or has weight 0 */
        if (avail[i] == 0) {
            continue;
        }

        score = (uint64_t) s[i].free * s[i].weight;

        if (score > best) {
            best = score;
            ties = 1;
            *slot = stream->first_slot + i;

        } else if (score == best && ngx_random() % ++ties == 0) {
            *slot = stream->first_slot + i;
        }
    }

    return ties ? TUNE_OK : TUNE_ERR_NO_SLOT;
}


static ngx_table_elt_t *
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


static ngx_int_t
ngx_http_tune_retry_after(ngx_http_request_t *r, ngx_uint_t seconds)
{
    ngx_str_t  value;

    value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%ui", seconds) - value.data;

    if (ngx_http_tune_add_header(r, "Retry-After", &value) == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
