
/*
 * Copyright (C) tuneslot developers
 */


#ifndef _NGX_HTTP_TUNE_HERD_H_INCLUDED_
#define _NGX_HTTP_TUNE_HERD_H_INCLUDED_


#include "ngx_http_tune_shm.h"

#include <hiredis/hiredis.h>


/*
 * Herd control: between two poll rounds the snapshot's free counts do not
 * move, so every tune-in sent to a slot is counted as a reservation there
 * until a poll of that slot taken at least tune_herd_window after it has
 * counted the listener (redis/SCHEMA.md, "Herd control").  This nginx
 * counts its own tune-ins in the zone (all workers); across front-ends the
 * refresher claims credits from Redis, and the request path spends credits
 * only, never waiting for Redis.  Without Redis the limit is the free count
 * minus this nginx's own reservations.
 */


/* reservations are counted in buckets of this many ms (the contract's) */
#define NGX_HTTP_TUNE_HERD_BUCKET_MS   100

/* how often the refresher claims credits while they are being spent (ms) */
#define NGX_HTTP_TUNE_HERD_TICK        50

/* this nginx remembers its reservations this many buckets (8 s) */
#define NGX_HTTP_TUNE_HERD_BUCKETS     80

/* tune_herd_window bounds: the window and a lag of the snapshot behind
 * the tune-ins of at least 3 s must fit in the buckets kept */
#define NGX_HTTP_TUNE_HERD_WINDOW_MIN  100
#define NGX_HTTP_TUNE_HERD_WINDOW_MAX  5000

/* the herd table takes this part of tune_zone_size */
#define NGX_HTTP_TUNE_HERD_SHARE       4

#define NGX_HTTP_TUNE_HERD_KEY_PREFIX  "{tuneslot:v1}:herd:"


/* One slot's claim of a herd tick, built and answered by the refresher */
typedef struct {
    uint32_t                  entry;           /* index in the herd table */
    uint64_t                  key;             /* the entry's hash */
    int64_t                   polled_ms;
    uint32_t                  free;
    uint32_t                  want;
    uint32_t                  back;            /* unspent credits returned */
    int64_t                   back_bucket;     /* ... from this bucket */
    uint32_t                  debt;            /* tune-ins sent without */
    uint32_t                  stock;           /* credits kept meanwhile */
    ngx_str_t                 redis_key;       /* herd key of the slot */
} ngx_http_tune_herd_claim_t;


/* ---- the request path: call with the zone's mutex held ---------------- */

/*
 * avail[i] for the i-th slot of the stream (relative to stream->first_slot),
 * for tune_select_slot(): 0 when this nginx may not send a listener there
 * now (not up, weight 0, full, or no credit in hand), else the slot's free
 * count less the tune-ins not yet seen by a poll (at least 1), which the
 * draw weighs by; TUNE_UNLIMITED for unlimited free.
 */
void ngx_http_tune_herd_avail(ngx_http_tune_zone_t *zone,
    const tune_image_t *img, const tune_image_stream_t *stream,
    uint32_t *avail);

/* records one tune-in sent to slot (index into tune_image_slots(img)) */
void ngx_http_tune_herd_take(ngx_http_tune_zone_t *zone,
    const tune_image_t *img, const tune_image_stream_t *stream,
    uint32_t slot);

/* for tune_status: this nginx's pending reservations and credits held for
 * the slot */
void ngx_http_tune_herd_slot_state(ngx_http_tune_zone_t *zone,
    const tune_image_t *img, const tune_image_stream_t *stream,
    uint32_t slot, uint32_t *pending, uint32_t *credits);


/* for tune_status: credits from Redis are in use (1), or this nginx counts
 * only its own tune-ins (0) */
ngx_uint_t ngx_http_tune_herd_global_locked(ngx_http_tune_zone_t *zone);


/* ---- the zone --------------------------------------------------------- */

/* Carves the herd table from a fresh zone; NULL when out of memory */
ngx_http_tune_herd_t *ngx_http_tune_herd_create(ngx_slab_pool_t *shpool,
    size_t zone_size);


/* ---- the refresher: these take the zone's mutex ----------------------- */

/*
 * The slots that need credits now (spent some since the last claim, ran
 * out, or hold credits about to expire), at most max; their unspent
 * credits are taken back for returning.  Each claim's redis_key is
 * allocated from pool.  Returns how many were written to out.
 */
ngx_uint_t ngx_http_tune_herd_claims(ngx_http_tune_zone_t *zone,
    ngx_msec_t window, ngx_http_tune_herd_claim_t *out, ngx_uint_t max,
    ngx_pool_t *pool);

/*
 * The argument vector of the claim script for n claims (EVALSHA when sha
 * is not empty, else EVAL), from pool; NGX_ERROR when out of memory.
 */
ngx_int_t ngx_http_tune_herd_argv(ngx_http_tune_herd_claim_t *claims,
    ngx_uint_t n, ngx_str_t *sha, ngx_msec_t window, ngx_pool_t *pool,
    int *argc, const char ***argv, size_t **argvlen);

/* The claim script's reply: NGX_OK when it was one for n claims */
ngx_int_t ngx_http_tune_herd_granted(ngx_http_tune_zone_t *zone,
    ngx_http_tune_herd_claim_t *claims, ngx_uint_t n, ngx_msec_t window,
    int64_t sent_ms, redisReply *reply);

/*
 * The claims did not reach the script (NOSCRIPT): their credits go back to
 * their entries.
 */
void ngx_http_tune_herd_unclaimed(ngx_http_tune_zone_t *zone,
    ngx_http_tune_herd_claim_t *claims, ngx_uint_t n);

/* Redis is away or the script failed: count this nginx's tune-ins only */
/* A new refresher: no claim is in flight any more (takes the mutex) */
void ngx_http_tune_herd_takeover(ngx_http_tune_zone_t *zone);

void ngx_http_tune_herd_local(ngx_http_tune_zone_t *zone);

/* The script's text */
void ngx_http_tune_herd_script(ngx_str_t *text);

/* Wall clock in ms, from nginx's cached time */
int64_t ngx_http_tune_herd_now(void);


#endif /* _NGX_HTTP_TUNE_HERD_H_INCLUDED_ */
