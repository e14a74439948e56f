
/*
 * Copyright (C) tuneslot developers
 */


/*
 * tune_status: what this nginx holds, as JSON, for operators and their
 * monitoring: the snapshot (generation, age, staleness), the Redis
 * connection of the refresher, and every stream's slots with this nginx's
 * reservations.  Built in one pass under the zone's mutex from the image,
 * into a buffer sized from the image before taking the lock.
 */


#include "ngx_http_tune_module.h"
#include "ngx_http_tune_choose.h"
#include "ngx_http_tune_herd.h"


static u_char *ngx_http_tune_status_snapshot(u_char *p, u_char *last,
    ngx_http_request_t *r, ngx_http_tune_zone_t *zone,
    const tune_image_t *img);
static u_char *ngx_http_tune_status_redis(u_char *p, u_char *last,
    ngx_http_request_t *r, ngx_http_tune_zone_t *zone);
static u_char *ngx_http_tune_status_backends(u_char *p, u_char *last,
    const tune_image_t *img);
static u_char *ngx_http_tune_status_streams(u_char *p, u_char *last,
    ngx_http_tune_zone_t *zone, const tune_image_t *img);
static u_char *ngx_http_tune_status_count(u_char *p, u_char *last,
    const char *key, uint32_t n);


/* per record, beyond its strings: field names, numbers, punctuation */
#define NGX_HTTP_TUNE_STATUS_RECORD  512


/*
 * An upper bound of the JSON for an image: a reason may grow sixfold when
 * escaped (\u00XX); every other string of the image is JSON-safe by the
 * schema's rules.
 */
static size_t
ngx_http_tune_status_size(const tune_image_t *img)
{
    size_t  n;

    if (img == NULL) {
        return 4096;
    }

    n = (size_t) img->nslots + img->nstreams + img->nbackends;

    return (size_t) img->size * 6 + n * NGX_HTTP_TUNE_STATUS_RECORD + 4096;
}


ngx_int_t
ngx_http_tune_status_handler(ngx_http_request_t *r)
{
    size_t                      size, need;
    u_char                     *p, *last;
    ngx_int_t                   rc;
    ngx_uint_t                  tries;
    ngx_buf_t                  *b;
    const tune_image_t         *img;
    ngx_http_tune_zone_t       *zone;
    ngx_http_tune_main_conf_t  *tmcf;
    static ngx_str_t            allow = ngx_string("GET, HEAD");

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

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tune_module);
    zone = tmcf->shm_zone->data;

    /*
     * The buffer is sized for the image held, outside the lock; should a
     * larger image be installed meanwhile, again (a few times at most).
     */
    size = 0;
    b = NULL;

    for (tries = 0; /* void */; tries++) {

        ngx_shmtx_lock(&zone->shpool->mutex);

        img = tune_image_get(zone->sh->image, zone->sh->image_cap);
        need = ngx_http_tune_status_size(img);

        if (need <= size || tries == 3) {
            break;
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);

        size = need;

        b = ngx_create_temp_buf(r->pool, size);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (need > size) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    p = b->pos;
    last = b->end;

    p = ngx_slprintf(p, last, "{");
    p = ngx_http_tune_status_snapshot(p, last, r, zone, img);
    p = ngx_http_tune_status_redis(p, last, r, zone);

    if (img) {
        p = ngx_http_tune_status_backends(p, last, img);
        p = ngx_http_tune_status_streams(p, last, zone, img);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    p = ngx_slprintf(p, last, "}\n");

    if (p == last) {
        /* cannot happen with the bound above; never send cut JSON */
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "tune: status larger than its buffer of %uz bytes",
                      size);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = p;

    return ngx_http_tune_send(r, b, "application/json");
}


static u_char *
ngx_http_tune_status_snapshot(u_char *p, u_char *last, ngx_http_request_t *r,
    ngx_http_tune_zone_t *zone, const tune_image_t *img)
{
    ngx_msec_t                 age;
    ngx_http_tune_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tune_module);

    if (img == NULL) {
        return ngx_slprintf(p, last, "\"snapshot\":null");
    }

    age = ngx_http_tune_snapshot_age(zone, img);

    return ngx_slprintf(p, last,
                        "\"snapshot\":{\"generation\":%uL,"
                        "\"written_ms\":%L,\"interval_ms\":%uD,"
                        "\"age_ms\":%M,\"stale_after_ms\":%M,"
                        "\"stale\":%s,\"streams\":%uD,\"slots\":%uD,"
                        "\"refused\":%uD,\"backends\":%uD}",
                        img->generation, img->written_ms, img->interval_ms,
                        age, tlcf->stale,
                        (tlcf->stale && age > tlcf->stale) ? "true" : "false",
                        img->nstreams, img->nslots, img->nrefused,
                        img->nbackends);
}


/* the refresher's view of Redis; the error text never holds a secret */

static u_char *
ngx_http_tune_status_redis(u_char *p, u_char *last, ngx_http_request_t *r,
    ngx_http_tune_zone_t *zone)
{
    size_t                      len;
    ngx_http_tune_state_t      *st;
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tune_module);
    st = &zone->sh->state;

    p = ngx_slprintf(p, last,
                     ",\"redis\":{\"address\":\"%V\",\"connected\":%s,"
                     "\"last_reply_ms\":%L,\"failures\":%ui,"
                     "\"herd\":\"%s\",\"last_error\":\"",
                     &tmcf->redis_text, st->connected ? "true" : "false",
                     st->reply_ms, st->failures,
                     tmcf->herd_window == 0 ? "off"
                     : ngx_http_tune_herd_global_locked(zone) ? "shared"
                                                              : "local");

    len = ngx_strnlen(st->error, NGX_HTTP_TUNE_ERROR_LEN);

    if ((size_t) (last - p) > len * 6) {
        p = (u_char *) ngx_escape_json(p, st->error, len);
    }

    return ngx_slprintf(p, last, "\"}");
}


static u_char *
ngx_http_tune_status_backends(u_char *p, u_char *last,
    const tune_image_t *img)
{
    size_t                       len;
    uint32_t                     i;
    const tune_image_backend_t  *be;

    p = ngx_slprintf(p, last, ",\"backends\":[");

    be = tune_image_backends(img);

    for (i = 0; i < img->nbackends; i++) {
        p = ngx_slprintf(p, last,
                         "%s{\"name\":\"%*s\",\"health\":\"%s\","
                         "\"polled_ms\":%L,\"reason\":\"",
                         i ? "," : "",
                         (size_t) be[i].name.len,
                         tune_image_str(img, be[i].name),
                         tune_health_name(be[i].health), be[i].polled_ms);

        len = be[i].reason.len
              + ngx_escape_json(NULL,
                                (u_char *) tune_image_str(img, be[i].reason),
                                be[i].reason.len);

        if ((size_t) (last - p) > len) {
            p = (u_char *) ngx_escape_json(p,
                                 (u_char *) tune_image_str(img, be[i].reason),
                                 be[i].reason.len);
        }

        p = ngx_slprintf(p, last, "\"}");
    }

    return ngx_slprintf(p, last, "]");
}


static u_char *
ngx_http_tune_status_streams(u_char *p, u_char *last,
    ngx_http_tune_zone_t *zone, const tune_image_t *img)
{
    uint32_t                    i, k, slot, pending, credits;
    const tune_image_slot_t    *s;
    const tune_image_stream_t  *st;

    p = ngx_slprintf(p, last, ",\"streams\":[");

    st = tune_image_streams(img);

    for (i = 0; i < img->nstreams; i++) {
        p = ngx_slprintf(p, last, "%s{\"name\":\"%*s\",\"slots\":[",
                         i ? "," : "", (size_t) st[i].name.len,
                         tune_image_str(img, st[i].name));

        for (k = 0; k < st[i].nslots; k++) {
            slot = st[i].first_slot + k;
            s = &tune_image_slots(img)[slot];

            ngx_http_tune_herd_slot_state(zone, img, &st[i], slot,
                                          &pending, &credits);

            p = ngx_slprintf(p, last,
                             "%s{\"backend\":\"%*s\",\"health\":\"%s\","
                             "\"refused\":%s,\"listeners\":%uD",
                             k ? "," : "", (size_t) s->backend.len,
                             tune_image_str(img, s->backend),
                             tune_health_name(s->health),
                             (s->flags & TUNE_SLOT_REFUSED) ? "true" : "false",
                             s->listeners);

            p = ngx_http_tune_status_count(p, last, "capacity", s->capacity);
            p = ngx_http_tune_status_count(p, last, "free", s->free);

            p = ngx_slprintf(p, last,
                             ",\"weight\":%uD,\"region\":\"%*s\","
                             "\"polled_ms\":%L,\"url\":\"%*s\","
                             "\"pending\":%uD,\"credits\":%uD}",
                             s->weight, (size_t) s->region.len,
                             tune_image_str(img, s->region), s->polled_ms,
                             (size_t) s->url.len, tune_image_str(img, s->url),
                             pending, credits);
        }

        p = ngx_slprintf(p, last, "]}");
    }

    return ngx_slprintf(p, last, "]");
}


/* a count of the snapshot, null when unlimited */

static u_char *
ngx_http_tune_status_count(u_char *p, u_char *last, const char *key,
    uint32_t n)
{
    if (n == TUNE_UNLIMITED) {
        return ngx_slprintf(p, last, ",\"%s\":null", key);
    }

    return ngx_slprintf(p, last, ",\"%s\":%uD", key, n);
}
