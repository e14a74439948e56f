/*
 * Copyright (C) tuneslot developers
 *
 * SetHandler tune-status: the snapshot, the refresher's view of Redis and
 * every slot with this Apache's pending tune-ins and credits, as JSON: the
 * core's document (tune_status.h), the same as the nginx module's
 * tune_status.
 */


#include "tune_request.h"
#include "tune_shm.h"

#include "http_protocol.h"
#include "http_request.h"

#include <tune_status.h>


/*
 * What the status document (and the metrics' gauges) show, pointing into
 * the segment: the segment locked
 */

void
mtune_status_in(request_rec *r, mtune_shm_t *shm, tune_status_in_t *in,
    tune_status_redis_t *redis)
{
    mtune_state_t     *st;
    mtune_dir_conf_t  *dc;
    mtune_srv_conf_t  *sc;

    sc = mtune_main_conf();
    dc = ap_get_module_config(r->per_dir_config, &tune_module);

    memset(in, 0, sizeof(tune_status_in_t));
    memset(redis, 0, sizeof(tune_status_redis_t));

    in->stale_ms = apr_time_as_msec(mtune_conf_stale(dc));
    in->window = mtune_conf_herd_window_ms(sc);

    if (sc->redis) {
        redis->address = sc->redis->display;
        redis->address_len = strlen(sc->redis->display);
        in->redis = redis;
    }

    /* the refresher's view of Redis; the error never holds a secret */
    st = mtune_shm_state(shm);

    redis->connected = st->connected;
    redis->last_reply_ms = st->reply_ms;
    redis->failures = st->failures;
    redis->refresher = mtune_shm_refresher(shm);
    redis->error = st->error;
    redis->error_len = strnlen(st->error, TUNE_ERROR_LEN);

    in->img = mtune_shm_image(shm);
    in->age_ms = mtune_shm_age(shm, mtune_mono_ms());
    in->herd = mtune_shm_herd(shm);
    in->now_ms = mtune_wall_ms();
}


int
mtune_status_handler(request_rec *r)
{
    char                 *out;
    size_t                size, len;
    mtune_shm_t          *shm;
    tune_status_in_t      in;
    tune_status_redis_t   redis;

    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);

    if (r->method_number != M_GET) {
        mtune_no_store(r);
        return HTTP_METHOD_NOT_ALLOWED;
    }

    shm = mtune_shm_current();

    ap_set_content_type(r, "application/json");
    mtune_no_store(r);

    if (r->header_only) {
        return OK;
    }

    memset(&in, 0, sizeof(tune_status_in_t));
    memset(&redis, 0, sizeof(tune_status_redis_t));

    if (shm == NULL) {
        /* no TuneRedis: "snapshot" and "redis" are null */
        size = tune_status_size(&in);
        out = apr_palloc(r->pool, size);
        len = tune_status_write(&in, out, size);

    } else {
        /*
         * Written under the lock, sent after it: sending may wait for the
         * client, and tune-ins must not wait with it.  The pool is this
         * process's memory: allocating under the lock is fine.
         */
        mtune_shm_lock(shm);

        mtune_status_in(r, shm, &in, &redis);

        size = tune_status_size(&in);
        out = apr_palloc(r->pool, size);
        len = tune_status_write(&in, out, size);

        mtune_shm_unlock(shm);
    }

    if (len > size) {
        /* cannot happen with the bound; never send cut JSON */
        ap_log_rerror(APLOG_MARK, APLOG_ALERT, 0, r,
                      "tune: status larger than its buffer of %"
                      APR_SIZE_T_FMT " bytes", size);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    ap_rwrite(out, (int) len, r);

    return OK;
}
