/*
 * Writing snapshot lines (tuneslotd).  Every field is checked against the
 * same rules the decoder applies, so a line this file accepts is a line the
 * front-ends accept and decode to the same values.
 */

#include "tune_snapshot.h"
#include "tune_name.h"
#include "tune_url.h"
#include "tune_internal.h"
#include "tune_wbuf.h"


static void tune_wbuf_put_limit(tune_wbuf_t *w, uint32_t v);
static size_t tune_wbuf_done(tune_wbuf_t *w);
static size_t tune_format_fail(tune_rc_t *rc, tune_rc_t code);


/* capacity and free: a number, or "unlimited" for TUNE_UNLIMITED */
static void
tune_wbuf_put_limit(tune_wbuf_t *w, uint32_t v)
{
    if (v == TUNE_UNLIMITED) {
        tune_wbuf_put(w, "unlimited", 9);

    } else {
        tune_wbuf_put_u64(w, v);
    }
}


/* snprintf() again: a NUL after a line that fits, none in a cut one */
static size_t
tune_wbuf_done(tune_wbuf_t *w)
{
    if (w->len < w->cap) {
        w->out[w->len] = '\0';

    } else if (w->cap > 0) {
        /* a cut line must not be mistaken for a whole one */
        w->out[0] = '\0';
    }

    return w->len;
}


static size_t
tune_format_fail(tune_rc_t *rc, tune_rc_t code)
{
    if (rc != NULL) {
        *rc = code;
    }

    return 0;
}


size_t
tune_snapshot_format_header(char *out, size_t cap, int64_t written_ms,
    uint32_t interval_ms)
{
    tune_wbuf_t  w;

    /* the format has no sign; a clock before 1970 is a host bug */
    if (written_ms < 0) {
        return 0;
    }

    tune_wbuf_init(&w, out, cap);

    tune_wbuf_put(&w, "tuneslot-snapshot\t1\nwritten_ms\t", 31);
    tune_wbuf_put_u64(&w, (uint64_t) written_ms);
    tune_wbuf_put(&w, "\ninterval_ms\t", 13);
    tune_wbuf_put_u64(&w, interval_ms);
    tune_wbuf_put(&w, "\n", 1);

    return tune_wbuf_done(&w);
}


size_t
tune_snapshot_format_backend(char *out, size_t cap,
    const tune_backend_fields_t *b, tune_rc_t *rc)
{
    const char   *health;
    tune_rc_t     r;
    tune_wbuf_t   w;

    if (b == NULL) {
        return tune_format_fail(rc, TUNE_ERR_EMPTY);
    }

    r = tune_name_check(b->name, b->name_len);
    if (r != TUNE_OK) {
        return tune_format_fail(rc, r);
    }

    if ((unsigned) b->health > TUNE_HEALTH_DRAINING) {
        /* "unknown" is what a reader makes of a word; never write one */
        return tune_format_fail(rc, TUNE_ERR_RANGE);
    }

    if (b->polled_ms < 0) {
        return tune_format_fail(rc, TUNE_ERR_RANGE);
    }

    if (b->reason_len > 0 && b->reason == NULL) {
        return tune_format_fail(rc, TUNE_ERR_EMPTY);
    }

    r = tune_reason_check(b->reason, b->reason_len);
    if (r != TUNE_OK) {
        return tune_format_fail(rc, r);
    }

    health = tune_health_name(b->health);

    tune_wbuf_init(&w, out, cap);

    tune_wbuf_put(&w, "backend\t", 8);
    tune_wbuf_put(&w, b->name, b->name_len);
    tune_wbuf_put(&w, "\t", 1);
    tune_wbuf_put(&w, health, strlen(health));
    tune_wbuf_put(&w, "\t", 1);
    tune_wbuf_put_u64(&w, (uint64_t) b->polled_ms);

    /* SCHEMA.md: an empty reason is written by leaving the field out */
    if (b->reason_len > 0) {
        tune_wbuf_put(&w, "\t", 1);
        tune_wbuf_put(&w, b->reason, b->reason_len);
    }

    tune_wbuf_put(&w, "\n", 1);

    if (rc != NULL) {
        *rc = TUNE_OK;
    }

    return tune_wbuf_done(&w);
}


size_t
tune_snapshot_format_slot(char *out, size_t cap,
    const tune_slot_fields_t *s, tune_rc_t *rc)
{
    const char   *health;
    tune_rc_t     r;
    tune_wbuf_t   w;

    if (s == NULL) {
        return tune_format_fail(rc, TUNE_ERR_EMPTY);
    }

    r = tune_name_check(s->stream, s->stream_len);
    if (r != TUNE_OK) {
        return tune_format_fail(rc, r);
    }

    r = tune_name_check(s->backend, s->backend_len);
    if (r != TUNE_OK) {
        return tune_format_fail(rc, r);
    }

    if ((unsigned) s->health > TUNE_HEALTH_DRAINING) {
        return tune_format_fail(rc, TUNE_ERR_RANGE);
    }

    /* UINT32_MAX is not a count of listeners: it means "unlimited" */
    if (s->listeners == TUNE_UNLIMITED || s->weight > TUNE_WEIGHT_MAX
        || s->polled_ms < 0)
    {
        return tune_format_fail(rc, TUNE_ERR_RANGE);
    }

    if (s->region_len > 0 && s->region == NULL) {
        return tune_format_fail(rc, TUNE_ERR_EMPTY);
    }

    r = tune_region_check(s->region, s->region_len);
    if (r != TUNE_OK) {
        return tune_format_fail(rc, r);
    }

    r = tune_url_check(s->url, s->url_len);
    if (r != TUNE_OK) {
        return tune_format_fail(rc, r);
    }

    health = tune_health_name(s->health);

    tune_wbuf_init(&w, out, cap);

    tune_wbuf_put(&w, "slot\t", 5);
    tune_wbuf_put(&w, s->stream, s->stream_len);
    tune_wbuf_put(&w, "\t", 1);
    tune_wbuf_put(&w, s->backend, s->backend_len);
    tune_wbuf_put(&w, "\t", 1);
    tune_wbuf_put(&w, health, strlen(health));
    tune_wbuf_put(&w, "\t", 1);
    tune_wbuf_put_u64(&w, s->listeners);
    tune_wbuf_put(&w, "\t", 1);
    tune_wbuf_put_limit(&w, s->capacity);
    tune_wbuf_put(&w, "\t", 1);
    tune_wbuf_put_limit(&w, s->free);
    tune_wbuf_put(&w, "\t", 1);
    tune_wbuf_put_u64(&w, s->weight);
    tune_wbuf_put(&w, "\t", 1);
    tune_wbuf_put(&w, s->region, s->region_len);
    tune_wbuf_put(&w, "\t", 1);
    tune_wbuf_put_u64(&w, (uint64_t) s->polled_ms);
    tune_wbuf_put(&w, "\t", 1);
    tune_wbuf_put(&w, s->url, s->url_len);
    tune_wbuf_put(&w, "\n", 1);

    if (rc != NULL) {
        *rc = TUNE_OK;
    }

    return tune_wbuf_done(&w);
}


size_t
tune_snapshot_format_end(char *out, size_t cap)
{
    tune_wbuf_t  w;

    tune_wbuf_init(&w, out, cap);

    tune_wbuf_put(&w, "end\n", 4);

    return tune_wbuf_done(&w);
}
