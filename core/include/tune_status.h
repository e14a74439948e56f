/*
 * The status document, written once for ngx_http_tune_module's tune_status
 * and mod_tune's tune-status: what a front-end holds, as JSON, for
 * operators and their monitoring.
 *
 *   {"snapshot":{"generation":G,"written_ms":T,"interval_ms":I,
 *                "age_ms":A,"stale_after_ms":S,"stale":B,"streams":N,
 *                "slots":N,"refused":N,"backends":N},
 *    "redis":{"address":"...","connected":B,"last_reply_ms":T,
 *             "failures":N,"herd":"off"|"local"|"shared","refresher":P,
 *             "last_error":"..."},
 *    "backends":[{"name":"...","health":"...","polled_ms":T,
 *                 "reason":"..."},...],
 *    "streams":[{"name":"...","slots":[{"backend":"...","health":"...",
 *                "refused":B,"listeners":N,"capacity":N,"free":N,
 *                "weight":N,"region":"...","polled_ms":T,"url":"...",
 *                "pending":N,"credits":N},...]},...]}
 *
 * in one line without spaces, ending in "\n".  "snapshot" is null before
 * the first image, and "backends" and "streams" are then left out;
 * "redis" is null for a host with no Redis to read.  capacity and free
 * are null when unlimited.  "herd" is "off" with a window of 0, "shared"
 * while credits from Redis are in use, else "local"; pending and credits
 * are this front-end's (tune_herd_slot_state()).  Every string is escaped
 * for JSON (quote, backslash, control and non-ASCII bytes), so the
 * document is valid JSON whatever bytes it is given.
 */

#ifndef TUNE_STATUS_H
#define TUNE_STATUS_H

#include "tune_snapshot.h"
#include "tune_herd.h"

#ifdef __cplusplus
extern "C" {
#endif


/* What the host's refresher last saw of Redis */
typedef struct {
    const char                 *address;      /* as configured, no secret */
    size_t                      address_len;
    int                         connected;    /* and authenticated */
    int64_t                     last_reply_ms;  /* unix ms, 0: none yet */
    uint64_t                    failures;     /* since the last good reply */
    int64_t                     refresher;    /* its pid, 0: none */
    const char                 *error;        /* the last failure, never a */
    size_t                      error_len;    /*   credential; "": none */
} tune_status_redis_t;


typedef struct {
    const tune_image_t         *img;          /* NULL: none yet */
    int64_t                     age_ms;       /* the image unchanged for */
    int64_t                     stale_ms;     /* the limit; 0: never stale */

    const tune_status_redis_t  *redis;        /* NULL: "redis":null */

    tune_herd_t                *herd;         /* NULL: nothing pending */
    uint32_t                    window;       /* herd window W, 0: off */
    int64_t                     now_ms;       /* wall clock (tune_herd.h) */
} tune_status_in_t;


/*
 * An upper bound of the length of the document for in, for sizing the
 * buffer: a write into that many bytes is never cut.  O(strings of the
 * image); reads nothing but in, in->img and the strings in->redis points
 * to.
 */
size_t tune_status_size(const tune_status_in_t *in);

/*
 * Writes the document into out (cap bytes; out may be NULL when cap is 0;
 * no NUL is added).  Returns its length, like snprintf(): when it is above
 * cap, out holds only the start of it and must not be sent.  Reads the
 * herd table, with the host's lock held over it and the image.
 */
size_t tune_status_write(const tune_status_in_t *in, char *out, size_t cap);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_STATUS_H */
