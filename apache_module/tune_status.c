/*
 * Copyright (C) tuneslot developers
 *
 * SetHandler tune-status: the snapshot, the refresher's view of Redis and
 * every slot with this Apache's pending tune-ins and credits, as JSON, the
 * same document as the nginx module's tune_status.
 */


#include "tune_request.h"
#include "tune_shm.h"

#include "http_protocol.h"
#include "http_request.h"


typedef struct tune_status_s  tune_status_t;

static void tune_status_snapshot(request_rec *r, tune_status_t *st);
static void tune_status_redis(request_rec *r, tune_status_t *st);
static void tune_status_backends(request_rec *r, const tune_image_t *img);
static void tune_status_streams(request_rec *r, tune_status_t *st);
static void tune_status_count(request_rec *r, const char *key, uint32_t n);
static void tune_status_string(request_rec *r, const char *s, size_t len);


/* what the document shows, copied out of the segment under its lock */
struct tune_status_s {
    const tune_image_t       *img;           /* NULL: none */
    int64_t                   age;
    tune_state_t              state;
    pid_t                     refresher;
    int                       global;        /* herd credits in use */
    uint32_t                 *pending;       /* per slot of the image */
    uint32_t                 *credits;
};


int
tune_status_handler(request_rec *r)
{
    int64_t              now;
    uint32_t             i, window;
    tune_shm_t          *shm;
    tune_herd_t         *herd;
    tune_status_t        st;
    const tune_image_t  *img;
    void                *copy;

    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);

    if (r->method_number != M_GET) {
        tune_no_store(r);
        return HTTP_METHOD_NOT_ALLOWED;
    }

    shm = tune_shm_current();

    ap_set_content_type(r, "application/json");
    tune_no_store(r);

    if (r->header_only) {
        return OK;
    }

    if (shm == NULL) {
        ap_rputs("{\"snapshot\":null,\"redis\":null}\n", r);
        return OK;
    }

    /*
     * Copied under the lock, written after it: writing may wait for the
     * client, and tune-ins must not wait with it.
     */
    memset(&st, 0, sizeof(tune_status_t));
    window = tune_conf_herd_window_ms(tune_main_conf());

    tune_shm_lock(shm);

    img = tune_shm_image(shm);
    herd = tune_shm_herd(shm);
    now = tune_wall_ms();

    st.state = *tune_shm_state(shm);
    st.refresher = tune_shm_refresher(shm);
    st.age = tune_shm_age(shm, tune_mono_ms());
    st.global = herd ? tune_herd_global(herd, now) : 0;

    if (img) {
        copy = apr_palloc(r->pool, img->size);
        memcpy(copy, img, img->size);

        st.pending = apr_pcalloc(r->pool, (img->nslots + 1) * sizeof(uint32_t));
        st.credits = apr_pcalloc(r->pool, (img->nslots + 1) * sizeof(uint32_t));

        for (i = 0; herd && i < img->nslots; i++) {
            tune_herd_slot_state(herd, img, NULL, i, now, window,
                                 &st.pending[i], &st.credits[i]);
        }

        st.img = tune_image_get(copy, img->size);
    }

    tune_shm_unlock(shm);

    ap_rputs("{", r);
    tune_status_snapshot(r, &st);
    tune_status_redis(r, &st);

    if (st.img) {
        tune_status_backends(r, st.img);
        tune_status_streams(r, &st);
    }

    ap_rputs("}\n", r);

    return OK;
}


static void
tune_status_snapshot(request_rec *r, tune_status_t *st)
{
    int64_t              age, stale;
    tune_dir_conf_t     *dc;
    const tune_image_t  *img;

    img = st->img;

    if (img == NULL) {
        ap_rputs("\"snapshot\":null", r);
        return;
    }

    dc = ap_get_module_config(r->per_dir_config, &tune_module);
    stale = apr_time_as_msec(tune_conf_stale(dc));
    age = st->age;

    ap_rprintf(r, "\"snapshot\":{\"generation\":%" APR_UINT64_T_FMT ","
               "\"written_ms\":%" APR_INT64_T_FMT ",\"interval_ms\":%u,"
               "\"age_ms\":%" APR_INT64_T_FMT ","
               "\"stale_after_ms\":%" APR_INT64_T_FMT ",\"stale\":%s,"
               "\"streams\":%u,\"slots\":%u,\"refused\":%u,"
               "\"backends\":%u}",
               img->generation, img->written_ms, img->interval_ms, age, stale,
               (stale && age > stale) ? "true" : "false",
               img->nstreams, img->nslots, img->nrefused, img->nbackends);
}


/* the refresher's view of Redis; the error text never holds a secret */

static void
tune_status_redis(request_rec *r, tune_status_t *status)
{
    uint32_t          window;
    tune_state_t     *st;
    tune_srv_conf_t  *sc;

    sc = tune_main_conf();
    st = &status->state;
    window = tune_conf_herd_window_ms(sc);

    ap_rputs(",\"redis\":{\"address\":", r);
    tune_status_string(r, sc->redis->display, strlen(sc->redis->display));

    ap_rprintf(r, ",\"connected\":%s,\"last_reply_ms\":%" APR_INT64_T_FMT ","
               "\"failures\":%u,\"herd\":\"%s\",\"refresher\":%"
               APR_PID_T_FMT ",\"last_error\":",
               st->connected ? "true" : "false", st->reply_ms, st->failures,
               window == 0 ? "off" : status->global ? "shared" : "local",
               status->refresher);

    tune_status_string(r, st->error, strnlen(st->error, TUNE_ERROR_LEN));
    ap_rputs("}", r);
}


static void
tune_status_backends(request_rec *r, const tune_image_t *img)
{
    uint32_t                     i;
    const tune_image_backend_t  *be;

    ap_rputs(",\"backends\":[", r);

    be = tune_image_backends(img);

    for (i = 0; i < img->nbackends; i++) {
        ap_rputs(i ? ",{\"name\":" : "{\"name\":", r);
        tune_status_string(r, tune_image_str(img, be[i].name),
                           be[i].name.len);
        ap_rprintf(r, ",\"health\":\"%s\",\"polled_ms\":%" APR_INT64_T_FMT
                   ",\"reason\":", tune_health_name(be[i].health),
                   be[i].polled_ms);
        tune_status_string(r, tune_image_str(img, be[i].reason),
                           be[i].reason.len);
        ap_rputs("}", r);
    }

    ap_rputs("]", r);
}


static void
tune_status_streams(request_rec *r, tune_status_t *status)
{
    uint32_t                    i, k, slot;
    const tune_image_t         *img;
    const tune_image_slot_t    *s;
    const tune_image_stream_t  *st;

    img = status->img;

    ap_rputs(",\"streams\":[", r);

    st = tune_image_streams(img);

    for (i = 0; i < img->nstreams; i++) {
        ap_rputs(i ? ",{\"name\":" : "{\"name\":", r);
        tune_status_string(r, tune_image_str(img, st[i].name),
                           st[i].name.len);
        ap_rputs(",\"slots\":[", r);

        for (k = 0; k < st[i].nslots; k++) {
            slot = st[i].first_slot + k;
            s = &tune_image_slots(img)[slot];

            ap_rputs(k ? ",{\"backend\":" : "{\"backend\":", r);
            tune_status_string(r, tune_image_str(img, s->backend),
                               s->backend.len);
            ap_rprintf(r, ",\"health\":\"%s\",\"refused\":%s,"
                       "\"listeners\":%u", tune_health_name(s->health),
                       (s->flags & TUNE_SLOT_REFUSED) ? "true" : "false",
                       s->listeners);

            tune_status_count(r, "capacity", s->capacity);
            tune_status_count(r, "free", s->free);

            ap_rprintf(r, ",\"weight\":%u,\"region\":", s->weight);
            tune_status_string(r, tune_image_str(img, s->region),
                               s->region.len);
            ap_rprintf(r, ",\"polled_ms\":%" APR_INT64_T_FMT ",\"url\":",
                       s->polled_ms);
            tune_status_string(r, tune_image_str(img, s->url), s->url.len);
            ap_rprintf(r, ",\"pending\":%u,\"credits\":%u}",
                       status->pending[slot], status->credits[slot]);
        }

        ap_rputs("]}", r);
    }

    ap_rputs("]", r);
}


/* a count, or null for "no limit" */

static void
tune_status_count(request_rec *r, const char *key, uint32_t n)
{
    if (n == TUNE_UNLIMITED) {
        ap_rprintf(r, ",\"%s\":null", key);

    } else {
        ap_rprintf(r, ",\"%s\":%u", key, n);
    }
}


/* a JSON string: quotes, backslashes and control bytes escaped */

static void
tune_status_string(request_rec *r, const char *s, size_t len)
{
    size_t         i, start;
    unsigned char  c;

    ap_rputc('"', r);

    for (i = 0, start = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }

        ap_rwrite(s + start, (int) (i - start), r);
        ap_rprintf(r, "\\u%04x", c);
        start = i + 1;
    }

    ap_rwrite(s + start, (int) (len - start), r);
    ap_rputc('"', r);
}
