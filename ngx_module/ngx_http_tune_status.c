
/*
 * Copyright (C) tuneslot developers
 */


/*
 * tune_status: what this nginx holds, as JSON, for operators and their
 * monitoring.  The document is the core's (tune_status.h), the same as
 * mod_tune's; here it is written under the zone's mutex, into a buffer
 * sized for the image held before taking the lock.
 */


#include "ngx_http_tune_module.h"
#include "ngx_http_tune_choose.h"
#include "ngx_http_tune_herd.h"

#include <tune_status.h>


ngx_int_t
ngx_http_tune_status_handler(ngx_http_request_t *r)
{
    size_t                      size, need, len;
    ngx_int_t                   rc;
    ngx_uint_t                  tries;
    ngx_buf_t                  *b;
    tune_status_in_t            in;
    tune_status_redis_t         redis;
    ngx_http_tune_zone_t       *zone;
    ngx_http_tune_main_conf_t  *tmcf;

    rc = ngx_http_tune_read_only(r);
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

        ngx_http_tune_status_in(r, zone, &in, &redis);
        need = tune_status_size(&in);

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

    len = tune_status_write(&in, (char *) b->pos, size);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (len > size) {
        /* cannot happen with the bound; never send cut JSON */
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "tune: status larger than its buffer of %uz bytes",
                      size);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = b->pos + len;

    return ngx_http_tune_send(r, b, "application/json");
}


/*
 * tune_status and tune_metrics answer GET and HEAD (405 with Allow else),
 * and read no body: NGX_OK to go on, or the status to answer
 */

ngx_int_t
ngx_http_tune_read_only(ngx_http_request_t *r)
{
    static ngx_str_t  allow = ngx_string("GET, HEAD");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_http_tune_add_header(r, "Allow", &allow) == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_HTTP_NOT_ALLOWED;
    }

    return ngx_http_discard_request_body(r);
}


/* what the document shows, pointing into the zone: the zone locked */

void
ngx_http_tune_status_in(ngx_http_request_t *r, ngx_http_tune_zone_t *zone,
    tune_status_in_t *in, tune_status_redis_t *redis)
{
    ngx_http_tune_state_t      *st;
    ngx_http_tune_loc_conf_t   *tlcf;
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tune_module);
    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tune_module);

    st = &zone->sh->state;

    /* the refresher's view of Redis; the error text never holds a secret */
    ngx_memzero(redis, sizeof(tune_status_redis_t));

    redis->address = (const char *) tmcf->redis_text.data;
    redis->address_len = tmcf->redis_text.len;
    redis->connected = (st->connected != 0);
    redis->last_reply_ms = st->reply_ms;
    redis->failures = st->failures;
    redis->refresher = zone->sh->refresher;
    redis->error = (const char *) st->error;
    redis->error_len = ngx_strnlen(st->error, NGX_HTTP_TUNE_ERROR_LEN);

    ngx_memzero(in, sizeof(tune_status_in_t));

    in->img = tune_image_get(zone->sh->image, zone->sh->image_cap);
    in->age_ms = in->img ? (int64_t) ngx_http_tune_snapshot_age(zone, in->img)
                         : 0;
    in->stale_ms = (int64_t) tlcf->stale;
    in->redis = redis;
    in->herd = zone->sh->herd;
    in->window = (uint32_t) tmcf->herd_window;
    in->now_ms = ngx_http_tune_herd_now();
}
