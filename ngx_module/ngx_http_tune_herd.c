
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_herd.h"
#include <tune_herd.h>


/* credits asked for a slot in demand: at least a few, at most many */
#define NGX_HTTP_TUNE_HERD_MIN_WANT   4
#define NGX_HTTP_TUNE_HERD_MAX_WANT   65536
/* the most a fair share of an idle slot may be (herd_claim.lua agrees) */
#define NGX_HTTP_TUNE_HERD_FAIR_MAX   4096

/* an entry nobody asked about for this long may serve another slot */
#define NGX_HTTP_TUNE_HERD_IDLE_MS    60000

/* Redis forgets a slot's reservations this long after the last claim */
#define NGX_HTTP_TUNE_HERD_TTL_MS     60000

#define NGX_HTTP_TUNE_HERD_PROBES     32

/* ARGV of the claim script per slot */
#define NGX_HTTP_TUNE_HERD_SLOT_ARGS  7


typedef struct {
    uint64_t                  key;             /* 0: never used */
    int64_t                   head;            /* newest bucket counted */
    int64_t                   used_ms;         /* last looked at */
    /*
     * Credits come in two stocks: the fair share (one grant, recorded in
     * one bucket, renewed and given back before it expires) and the
     * top-ups claimed by demand, spent first.
     */
    int64_t                   credit_until;    /* the fair share expires */
    int64_t                   credit_until2;   /* the top-ups expire */
    int64_t                   credit_bucket;   /* the fair share's bucket */
    uint32_t                  credits;         /* of the fair share */
    uint32_t                  credits2;        /* top-ups */
    uint32_t                  spent;           /* since the last claim */
    uint32_t                  asked;           /* found no credit */
    uint32_t                  debt;            /* sent without a credit */
    uint32_t                  claiming;        /* in the claim in flight */
    uint16_t                  count[NGX_HTTP_TUNE_HERD_BUCKETS];
} ngx_http_tune_herd_entry_t;


struct ngx_http_tune_herd_s {
    ngx_uint_t                    nentries;
    int64_t                       global_until; /* credits valid: wall ms */
    ngx_http_tune_herd_entry_t   *entries;
};


static uint64_t ngx_http_tune_herd_hash(const tune_image_t *img,
    const tune_image_stream_t *stream, const tune_image_slot_t *s);
static ngx_http_tune_herd_entry_t *ngx_http_tune_herd_entry(
    ngx_http_tune_herd_t *herd, uint64_t key, int64_t now, ngx_uint_t add);
static uint32_t ngx_http_tune_herd_pending(ngx_http_tune_herd_entry_t *e,
    int64_t polled_ms, ngx_msec_t window);
static int64_t ngx_http_tune_herd_floor(int64_t a, int64_t b);
static uint32_t ngx_http_tune_herd_stock(ngx_http_tune_herd_entry_t *e,
    int64_t now);
static ngx_uint_t ngx_http_tune_herd_spend(ngx_http_tune_herd_entry_t *e,
    int64_t now);
static const tune_image_stream_t *ngx_http_tune_herd_stream_of(
    const tune_image_t *img, uint32_t slot);
static ngx_http_tune_main_conf_t *ngx_http_tune_herd_conf(void);


int64_t
ngx_http_tune_herd_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


void
ngx_http_tune_herd_script(ngx_str_t *text)
{
    text->data = (u_char *) tune_herd_script(&text->len);
}


ngx_http_tune_herd_t *
ngx_http_tune_herd_create(ngx_slab_pool_t *shpool, size_t zone_size)
{
    ngx_uint_t             n;
    ngx_http_tune_herd_t  *herd;

    herd = ngx_slab_calloc(shpool, sizeof(ngx_http_tune_herd_t));
    if (herd == NULL) {
        return NULL;
    }

    n = zone_size / NGX_HTTP_TUNE_HERD_SHARE
        / sizeof(ngx_http_tune_herd_entry_t);

    herd->entries = ngx_slab_calloc(shpool,
                                    n * sizeof(ngx_http_tune_herd_entry_t));
    if (herd->entries == NULL) {
        return NULL;
    }

    herd->nentries = n;

    return herd;
}


/* ---- the request path ---------------------------------------------- */

void
ngx_http_tune_herd_avail(ngx_http_tune_zone_t *zone, const tune_image_t *img,
    const tune_image_stream_t *stream, uint32_t *avail)
{
    int64_t                      now;
    uint32_t                     i, local, credits;
    ngx_uint_t                   global;
    ngx_http_tune_herd_t        *herd;
    ngx_http_tune_herd_entry_t  *e;
    const tune_image_slot_t     *s;
    ngx_http_tune_main_conf_t   *tmcf;

    herd = zone->sh->herd;
    tmcf = ngx_http_tune_herd_conf();
    now = ngx_http_tune_herd_now();
    global = herd->global_until > now;

    s = tune_image_slots(img) + stream->first_slot;

    for (i = 0; i < stream->nslots; i++, s++) {

        if (s->health != TUNE_HEALTH_UP || s->weight == 0 || s->free == 0) {
            avail[i] = 0;
            continue;
        }

        /* tune_herd_window 0: the snapshot's free counts as they are */
        if (s->free == TUNE_UNLIMITED || tmcf->herd_window == 0) {
            avail[i] = s->free;
            continue;
        }

        e = ngx_http_tune_herd_entry(herd,
                                     ngx_http_tune_herd_hash(img, stream, s),
                                     now, 1);
        if (e == NULL) {
            /* the table is full: this slot goes uncounted */
            avail[i] = s->free;
            continue;
        }

        e->used_ms = now;

        /*
         * A credit granted before polled_ms - W is a reservation the
         * snapshot has reconciled: spent now, its listener would be counted
         * by no poll and no reservation.
         */
        if (e->credit_until - (int64_t) tmcf->herd_window / 2
            <= s->polled_ms - (int64_t) tmcf->herd_window)
        {
            e->credits = 0;
        }

        if (e->credit_until2 - (int64_t) tmcf->herd_window / 2
            <= s->polled_ms - (int64_t) tmcf->herd_window)
        {
            e->credits2 = 0;
        }

        local = ngx_http_tune_herd_pending(e, s->polled_ms,
                                           tmcf->herd_window);
        local = (local < s->free) ? s->free - local : 0;

        if (!global) {
            avail[i] = local;
            continue;
        }

        credits = ngx_http_tune_herd_stock(e, now);

        if (credits == 0) {
            e->asked++;
        }

        /*
         * Credits say whether this nginx may send a listener there now;
         * how likely the draw is to pick it is for the load to say: the
         * free slots less the tune-ins not yet seen by a poll.
         */
        avail[i] = credits ? ngx_max(local, 1) : 0;
    }
}


void
ngx_http_tune_herd_take(ngx_http_tune_zone_t *zone, const tune_image_t *img,
    const tune_image_stream_t *stream, uint32_t slot)
{
    int64_t                      now, b, k;
    ngx_http_tune_herd_t        *herd;
    ngx_http_tune_herd_entry_t  *e;
    const tune_image_slot_t     *s;

    s = tune_image_slots(img) + slot;

    if (s->free == TUNE_UNLIMITED
        || ngx_http_tune_herd_conf()->herd_window == 0)
    {
        return;
    }

    if (stream == NULL) {
        stream = ngx_http_tune_herd_stream_of(img, slot);
    }

    if (stream == NULL) {
        return;
    }

    herd = zone->sh->herd;
    now = ngx_http_tune_herd_now();

    e = ngx_http_tune_herd_entry(herd,
                                 ngx_http_tune_herd_hash(img, stream, s),
                                 now, 1);
    if (e == NULL) {
        return;
    }

    b = ngx_http_tune_herd_floor(now, NGX_HTTP_TUNE_HERD_BUCKET_MS);

    if (b > e->head) {
        /* buckets passed since the last tune-in start empty */
        for (k = e->head + 1;
             k <= b && k <= e->head + NGX_HTTP_TUNE_HERD_BUCKETS;
             k++)
        {
            e->count[k % NGX_HTTP_TUNE_HERD_BUCKETS] = 0;
        }

        e->head = b;
    }

    /* a clock stepped back by more than the ring counts nothing */
    if (b > e->head - NGX_HTTP_TUNE_HERD_BUCKETS
        && e->count[b % NGX_HTTP_TUNE_HERD_BUCKETS] < 0xffff)
    {
        e->count[b % NGX_HTTP_TUNE_HERD_BUCKETS]++;
    }

    e->spent++;

    if (!(herd->global_until > now && ngx_http_tune_herd_spend(e, now))) {
        /* reported to Redis with the next claim */
        e->debt++;
    }
}


void
ngx_http_tune_herd_slot_state(ngx_http_tune_zone_t *zone,
    const tune_image_t *img, const tune_image_stream_t *stream,
    uint32_t slot, uint32_t *pending, uint32_t *credits)
{
    int64_t                      now;
    ngx_http_tune_herd_entry_t  *e;
    const tune_image_slot_t     *s;

    *pending = 0;
    *credits = 0;

    s = tune_image_slots(img) + slot;
    if (stream == NULL) {
        stream = ngx_http_tune_herd_stream_of(img, slot);
    }

    if (stream == NULL || s->free == TUNE_UNLIMITED) {
        return;
    }

    now = ngx_http_tune_herd_now();

    e = ngx_http_tune_herd_entry(zone->sh->herd,
                                 ngx_http_tune_herd_hash(img, stream, s),
                                 now, 0);
    if (e == NULL) {
        return;
    }

    *pending = ngx_http_tune_herd_pending(e, s->polled_ms,
                                          ngx_http_tune_herd_conf()
                                              ->herd_window);
    *credits = ngx_http_tune_herd_stock(e, now);
}


ngx_uint_t
ngx_http_tune_herd_global_locked(ngx_http_tune_zone_t *zone)
{
    return zone->sh->herd->global_until > ngx_http_tune_herd_now();
}


/* ---- the refresher ----------------------------------------------------- */

ngx_uint_t
ngx_http_tune_herd_claims(ngx_http_tune_zone_t *zone, ngx_msec_t window,
    ngx_http_tune_herd_claim_t *out, ngx_uint_t max, ngx_pool_t *pool)
{
    int64_t                      now;
    uint32_t                     i, j, want, stock, back;
    ngx_uint_t                   n, demand;
    tune_str_t                   name, backend;
    ngx_http_tune_herd_t        *herd;
    ngx_http_tune_herd_claim_t  *c;
    ngx_http_tune_herd_entry_t  *e;
    const tune_image_t          *img;
    const tune_image_slot_t     *s;
    const tune_image_stream_t   *stream;

    n = 0;
    herd = zone->sh->herd;
    now = ngx_http_tune_herd_now();

    if (window == 0) {
        return 0;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    img = tune_image_get(zone->sh->image, zone->sh->image_cap);

    if (img == NULL) {
        goto done;
    }

    stream = tune_image_streams(img);

    for (i = 0; i < img->nstreams && n < max; i++, stream++) {

        s = tune_image_slots(img) + stream->first_slot;

        for (j = 0; j < stream->nslots && n < max; j++, s++) {

            if (s->health != TUNE_HEALTH_UP || s->weight == 0
                || s->free == 0 || s->free == TUNE_UNLIMITED)
            {
                continue;
            }

            e = ngx_http_tune_herd_entry(herd,
                                         ngx_http_tune_herd_hash(img, stream,
                                                                 s),
                                         now, 1);
            if (e == NULL || e->claiming) {
                continue;
            }

            demand = e->spent || e->asked || e->debt;

            /*
             * Two stocks (see the entry): the fair share, one grant,
             * renewed (and what is left of it given back) as it is about
             * to expire, busy or not, so a burst after a quiet spell finds
             * credits; and top-ups while tune-ins are being answered, by
             * demand, four ticks of it (a stock that outlasts a missed
             * claim), less what is in stock.  One of the two per claim.
             */
            if (e->credit_until - now <= (int64_t) window / 4) {
                want = 0;
                stock = 0;
                back = (e->credit_until > now) ? e->credits : 0;

            } else if (demand) {
                want = ngx_max(NGX_HTTP_TUNE_HERD_MIN_WANT,
                               4 * (e->spent + e->asked));
                stock = ngx_http_tune_herd_stock(e, now);
                back = 0;

                if (want <= stock && e->debt == 0) {
                    continue;
                }

                want = (want > stock) ? want - stock : 1;
                want = ngx_min(want, NGX_HTTP_TUNE_HERD_MAX_WANT);

            } else {
                continue;
            }

            c = &out[n];

            name = stream->name;
            backend = s->backend;

            c->redis_key.len = sizeof(NGX_HTTP_TUNE_HERD_KEY_PREFIX) - 1
                               + name.len + 1 + backend.len;
            c->redis_key.data = ngx_pnalloc(pool, c->redis_key.len);
            if (c->redis_key.data == NULL) {
                break;
            }

            ngx_sprintf(c->redis_key.data, NGX_HTTP_TUNE_HERD_KEY_PREFIX
                        "%*s:%*s",
                        (size_t) name.len, tune_image_str(img, name),
                        (size_t) backend.len, tune_image_str(img, backend));

            c->entry = e - herd->entries;
            c->key = e->key;
            c->polled_ms = s->polled_ms;
            c->free = s->free;
            c->want = want;
            /*
             * Credits in stock stay spendable while the claim is away: a
             * slot must not turn listeners away every claim round.  The
             * fair share is given back as it is renewed, so front-ends do
             * not pile up reservations (it is one grant, recorded in one
             * bucket: a return names one); a credit of it spent before the
             * reply arrives is reported as a tune-in without a credit
             * (debt) with the next claim.  Top-ups left over expire unspent
             * (they are small) and their reservations last until the next
             * poll past W.
             */
            c->back = back;
            c->back_bucket = e->credit_bucket;
            c->debt = e->debt;
            c->stock = stock;

            e->spent = 0;
            e->asked = 0;
            e->debt = 0;
            e->claiming = 1;

            n++;
        }
    }

done:

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return n;
}


ngx_int_t
ngx_http_tune_herd_argv(ngx_http_tune_herd_claim_t *claims, ngx_uint_t n,
    ngx_str_t *sha, ngx_msec_t window, ngx_pool_t *pool, int *argc,
    const char ***argv, size_t **argvlen)
{
    u_char                      *p, *last;
    int64_t                      numbers[NGX_HTTP_TUNE_HERD_SLOT_ARGS];
    ngx_uint_t                   i, k, a, total;
    ngx_str_t                    script;
    const char                 **v;
    size_t                      *len;
    ngx_http_tune_herd_claim_t  *c;

    total = 3 + n + 4 + n * NGX_HTTP_TUNE_HERD_SLOT_ARGS;

    v = ngx_palloc(pool, total * sizeof(char *));
    len = ngx_palloc(pool, total * sizeof(size_t));
    p = ngx_pnalloc(pool, (3 + total) * NGX_INT64_LEN + 128);

    if (v == NULL || len == NULL || p == NULL) {
        return NGX_ERROR;
    }

    last = p + (3 + total) * NGX_INT64_LEN + 128;

    if (sha->len) {
        v[0] = "EVALSHA";
        v[1] = (const char *) sha->data;
        len[1] = sha->len;

    } else {
        ngx_http_tune_herd_script(&script);
        v[0] = "EVAL";
        v[1] = (const char *) script.data;
        len[1] = script.len;
    }

    len[0] = ngx_strlen(v[0]);

    a = 2;

#define ngx_http_tune_herd_arg(value)                                        \
    v[a] = (const char *) p;                                                 \
    p = ngx_slprintf(p, last, "%L", (int64_t) (value));                      \
    len[a] = (const char *) p - v[a];                                        \
    a++

    ngx_http_tune_herd_arg(n);

    for (i = 0; i < n; i++) {
        v[a] = (const char *) claims[i].redis_key.data;
        len[a] = claims[i].redis_key.len;
        a++;
    }

    ngx_http_tune_herd_arg(ngx_http_tune_herd_now());
    ngx_http_tune_herd_arg(window);
    ngx_http_tune_herd_arg(NGX_HTTP_TUNE_HERD_TTL_MS);

    /* this nginx, for the fair share of idle stocks */
    v[a] = (const char *) p;
    p = ngx_slprintf(p, last, "%*s:%P",
                     ngx_min(ngx_cycle->hostname.len, (size_t) 100),
                     ngx_cycle->hostname.data, ngx_pid);
    len[a] = (const char *) p - v[a];
    a++;

    for (i = 0; i < n; i++) {
        c = &claims[i];

        numbers[0] = c->polled_ms;
        numbers[1] = c->free;
        numbers[2] = c->want;
        numbers[3] = c->back;
        numbers[4] = c->back_bucket;
        numbers[5] = c->debt;
        numbers[6] = c->stock;

        for (k = 0; k < NGX_HTTP_TUNE_HERD_SLOT_ARGS; k++) {
            ngx_http_tune_herd_arg(numbers[k]);
        }
    }

#undef ngx_http_tune_herd_arg

    *argc = (int) a;
    *argv = v;
    *argvlen = len;

    return NGX_OK;
}


ngx_int_t
ngx_http_tune_herd_granted(ngx_http_tune_zone_t *zone,
    ngx_http_tune_herd_claim_t *claims, ngx_uint_t n, ngx_msec_t window,
    int64_t sent_ms, redisReply *reply)
{
    uint32_t                     granted, want, left;
    ngx_uint_t                   i;
    redisReply                  *g, *b;
    ngx_http_tune_herd_t        *herd;
    ngx_http_tune_herd_entry_t  *e;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 * n) {
        return NGX_ERROR;
    }

    for (i = 0; i < 2 * n; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER
            || reply->element[i]->integer < 0)
        {
            return NGX_ERROR;
        }
    }

    herd = zone->sh->herd;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < n; i++) {
        e = &herd->entries[claims[i].entry];

        if (e->key != claims[i].key) {
            /* given to another slot meanwhile: the credits are lost */
            continue;
        }

        g = reply->element[2 * i];
        b = reply->element[2 * i + 1];

        e->claiming = 0;

        /* never more than asked for, or than a fair share may be */
        want = ngx_max(claims[i].want, NGX_HTTP_TUNE_HERD_FAIR_MAX);

        granted = (uint32_t) ngx_min(g->integer, (long long) want);

        /*
         * Spent by then, a credit's listener has the rest of the window to
         * connect before the poll that reconciles its reservation: no
         * credit lives longer than half a window.
         */
        if (claims[i].want == 0) {
            /* the fair share renewed; what was spent of the old is debt */
            left = (e->credit_until > sent_ms) ? e->credits : 0;

            if (claims[i].back > left) {
                e->debt += claims[i].back - left;
            }

            e->credits = granted;
            e->credit_until = sent_ms + window / 2;
            e->credit_bucket = b->integer;
            continue;
        }

        /* a top-up: into a stock young enough, else a new one */
        if (e->credits2 && e->credit_until2 - sent_ms > (int64_t) window / 4) {
            e->credits2 += granted;

        } else {
            e->credits2 = granted;
            e->credit_until2 = sent_ms + window / 2;
        }
    }

    /*
     * Credits hold for half a window, and so does the word of the last
     * reply: an idle nginx claims only as its fair share is renewed.
     * Counting only this nginx's tune-ins would break the bound between
     * front-ends, so that waits for Redis to fail (ngx_http_tune_herd_local).
     */
    herd->global_until = sent_ms + window / 2;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


void
ngx_http_tune_herd_unclaimed(ngx_http_tune_zone_t *zone,
    ngx_http_tune_herd_claim_t *claims, ngx_uint_t n)
{
    ngx_uint_t                   i;
    ngx_http_tune_herd_entry_t  *e;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < n; i++) {
        e = &zone->sh->herd->entries[claims[i].entry];

        if (e->key == claims[i].key) {
            /* the stock was never taken out: it stays, until it expires */
            e->claiming = 0;
            e->debt += claims[i].debt;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * A worker took the refresh lease over: claims of the previous holder
 * still marked in flight will never be answered, so they are not waited
 * for.  The credits in stock stay (they are reserved in Redis).
 */

void
ngx_http_tune_herd_takeover(ngx_http_tune_zone_t *zone)
{
    ngx_uint_t             i;
    ngx_http_tune_herd_t  *herd;

    herd = zone->sh->herd;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < herd->nentries; i++) {
        herd->entries[i].claiming = 0;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


void
ngx_http_tune_herd_local(ngx_http_tune_zone_t *zone)
{
    ngx_uint_t                   i;
    ngx_http_tune_herd_t        *herd;
    ngx_http_tune_herd_entry_t  *e;

    herd = zone->sh->herd;

    ngx_shmtx_lock(&zone->shpool->mutex);

    herd->global_until = 0;

    /* one claim at a time: whatever is claiming is in the failed one */
    for (i = 0; i < herd->nentries; i++) {
        e = &herd->entries[i];

        if (e->key) {
            e->claiming = 0;
            e->credits = 0;
            e->credits2 = 0;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/* ---- the table ----------------------------------------------------------- */

/*
 * FNV-1a, 64 bits, of stream "\0" backend (0 is kept for "never used").
 * Two slots with one hash would share their counts: more conservative
 * accounting for both, never a tune-in over a free count.  With a few
 * thousand slots the chance is about 1e-12.
 */

static uint64_t
ngx_http_tune_herd_hash(const tune_image_t *img,
    const tune_image_stream_t *stream, const tune_image_slot_t *s)
{
    uint32_t     i, k;
    uint64_t     h;
    tune_str_t   part[2];
    const char  *p;

    part[0] = stream->name;
    part[1] = s->backend;

    h = 0xcbf29ce484222325ULL;

    for (k = 0; k < 2; k++) {
        p = tune_image_str(img, part[k]);

        for (i = 0; i < part[k].len; i++) {
            h ^= (u_char) p[i];
            h *= 0x100000001b3ULL;
        }

        if (k == 0) {
            /* the NUL between the names: h ^= 0 changes nothing */
            h *= 0x100000001b3ULL;
        }
    }

    return h ? h : 1;
}


/*
 * Open addressing with linear probing; entries are never emptied, an idle
 * one (nothing pending, no credits, not looked at for a minute) is reused.
 */

static ngx_http_tune_herd_entry_t *
ngx_http_tune_herd_entry(ngx_http_tune_herd_t *herd, uint64_t key,
    int64_t now, ngx_uint_t add)
{
    ngx_uint_t                   i, k;
    ngx_http_tune_herd_entry_t  *e, *reuse;

    if (herd->nentries == 0) {
        return NULL;
    }

    reuse = NULL;
    i = key % herd->nentries;

    for (k = 0; k < NGX_HTTP_TUNE_HERD_PROBES && k < herd->nentries; k++) {
        e = &herd->entries[(i + k) % herd->nentries];

        if (e->key == key) {
            return e;
        }

        if (e->key == 0) {
            if (reuse == NULL) {
                reuse = e;
            }

            break;
        }

        if (reuse == NULL
            && !e->claiming
            && now - e->used_ms > NGX_HTTP_TUNE_HERD_IDLE_MS
            && e->credit_until < now && e->credit_until2 < now
            && (e->head + NGX_HTTP_TUNE_HERD_BUCKETS)
               * NGX_HTTP_TUNE_HERD_BUCKET_MS < now)
        {
            reuse = e;
        }
    }

    if (!add || reuse == NULL) {
        return NULL;
    }

    ngx_memzero(reuse, sizeof(ngx_http_tune_herd_entry_t));
    reuse->key = key;
    reuse->used_ms = now;
    reuse->head = ngx_http_tune_herd_floor(now, NGX_HTTP_TUNE_HERD_BUCKET_MS);

    return reuse;
}


/*
 * This nginx's reservations still pending at the slot: those of buckets
 * that may hold a tune-in later than polled_ms - window.
 */

static uint32_t
ngx_http_tune_herd_pending(ngx_http_tune_herd_entry_t *e, int64_t polled_ms,
    ngx_msec_t window)
{
    int64_t   b, first;
    uint32_t  sum;

    first = ngx_http_tune_herd_floor(polled_ms - (int64_t) window
                                     - NGX_HTTP_TUNE_HERD_BUCKET_MS + 1,
                                     NGX_HTTP_TUNE_HERD_BUCKET_MS) + 1;

    first = ngx_max(first, e->head - NGX_HTTP_TUNE_HERD_BUCKETS + 1);
    sum = 0;

    for (b = first; b <= e->head; b++) {
        sum += e->count[b % NGX_HTTP_TUNE_HERD_BUCKETS];
    }

    return sum;
}


static int64_t
ngx_http_tune_herd_floor(int64_t a, int64_t b)
{
    return (a >= 0) ? a / b : -((-a + b - 1) / b);
}


/*
 * The stream whose slots hold slot.  Streams are sorted by name, their slot
 * groups by text order, so this is a scan; take() is once per tune-in.
 */

static const tune_image_stream_t *
ngx_http_tune_herd_stream_of(const tune_image_t *img, uint32_t slot)
{
    uint32_t                    i;
    const tune_image_stream_t  *streams;

    if (slot >= img->nslots) {
        return NULL;
    }

    streams = tune_image_streams(img);

    for (i = 0; i < img->nstreams; i++) {
        if (slot >= streams[i].first_slot
            && slot - streams[i].first_slot < streams[i].nslots)
        {
            return &streams[i];
        }
    }

    return NULL;
}


static ngx_http_tune_main_conf_t *
ngx_http_tune_herd_conf(void)
{
    return ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_tune_module);
}


/* the credits of both stocks that have not expired */

static uint32_t
ngx_http_tune_herd_stock(ngx_http_tune_herd_entry_t *e, int64_t now)
{
    return ((e->credit_until > now) ? e->credits : 0)
           + ((e->credit_until2 > now) ? e->credits2 : 0);
}


/*
 * One credit, from the top-ups first (they cannot be given back), then
 * from the fair share; 0 when there is none
 */

static ngx_uint_t
ngx_http_tune_herd_spend(ngx_http_tune_herd_entry_t *e, int64_t now)
{
    if (e->credit_until2 > now && e->credits2) {
        e->credits2--;
        return 1;
    }

    if (e->credit_until > now && e->credits) {
        e->credits--;
        return 1;
    }

    return 0;
}
