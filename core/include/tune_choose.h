/*
 * The request-side choice, written once for ngx_http_tune_module and
 * mod_tune: what a tune-in of a stream is answered with, given the image a
 * front-end holds, its herd table and the slots a proxied tune-in has
 * already tried.
 *
 * The host holds its own lock over the image and the herd table from
 * tune_choose_begin() until it has copied out what it needs of the chosen
 * slots, and calls:
 *
 *   tune_choose_begin()  looks the stream up and gives the answers that need
 *                        no slot: no snapshot, no such stream, a stale one;
 *                        when it answers TUNE_CHOICE_OK, it has said how
 *                        much work memory the pick wants (the stream's slot
 *                        count is known only now), which the host allocates
 *                        from its request's memory;
 *   tune_choose_pick()   draws the slot among those not tried yet
 *                        (tune_select_slot()), counts the tune-in in the
 *                        herd table unless the request only peeks, and, when
 *                        asked, ranks the others for a playlist
 *                        (tune_rank_slots()).
 *
 * The host keeps what is its own: the lock, evaluating its region
 * expression, allocating, copying strings out of the image, and turning
 * outcomes into answers (a 302, its overflow URL, 404, 503 with
 * Retry-After) and the reason into its log line.
 */

#ifndef TUNE_CHOOSE_H
#define TUNE_CHOOSE_H

#include "tune_snapshot.h"
#include "tune_herd.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef enum {
    TUNE_CHOICE_OK = 0,         /* a slot: ch->slot (begin: pick one) */
    TUNE_CHOICE_NO_SNAPSHOT,    /* no image received yet */
    TUNE_CHOICE_NOT_FOUND,      /* the image has no such stream */
    TUNE_CHOICE_STALE,          /* the image is older than the limit */
    TUNE_CHOICE_FULL,           /* slots are up, every one of them full */
    TUNE_CHOICE_NO_SLOT,        /* no slot (not tried yet) is up */
    TUNE_CHOICE_OTHER_SCHEME    /* no slot of the schemes asked for has
                                   room, a slot of another scheme has */
} tune_choice_outcome_t;


/* a backend name, as the host keeps it (not NUL-terminated) */
typedef struct {
    const char                 *data;
    size_t                      len;
} tune_choice_name_t;


/*
 * A process's memory of the herd's avail counts (optional; one per process
 * or per host thread that chooses, never used by two choosers at once).
 *
 * Without it, every tune-in reads the herd entries of all the stream's
 * slots, and those are written by every worker's tune-ins: the cache lines
 * travel between the cores on each tune-in, which cost nginx's redirect
 * path about a tenth of its speed with two workers.  With it, a stream's
 * counts are read in full again whenever the host's clock (req->now_ms)
 * has moved on since the last full look, or after 32 tune-ins answered
 * from that look, whichever comes first; those tune-ins draw from the
 * counts remembered (less their own), and only the slot drawn is checked
 * against the table as it is counted (tune_herd_take_if_room()), so no
 * slot is ever sent a listener the table has no room for: the herd bound
 * is the same, only the draw's weights may be older by up to 32 tune-ins
 * of the other workers (and by the step of the host's clock: a millisecond,
 * or nginx's timer_resolution).  A draw that finds no room in the slot it
 * picked, and any request that ranks, retries or peeks, looks at every
 * slot as without it, and reports the asks of the tune-ins answered from
 * the memory since (tune_herd_avail_for()).
 *
 * Sized for an image's streams and slots; an image with more needs a
 * larger one (tune_choice_memo_fits()).
 */
typedef struct tune_choice_memo_s  tune_choice_memo_t;

/* Bytes of a memory for nstreams streams and nslots slots */
size_t tune_choice_memo_size(uint32_t nstreams, uint32_t nslots);

/* Makes one in buf (tune_choice_memo_size() bytes, 8-byte aligned); NULL
 * when buf is not */
tune_choice_memo_t *tune_choice_memo_init(void *buf, uint32_t nstreams,
    uint32_t nslots);

/* 1 when img's streams and slots fit in memo */
int tune_choice_memo_fits(const tune_choice_memo_t *memo,
    const tune_image_t *img);


/* One tune-in, as the host sees it.  Unused fields are 0 or NULL. */
typedef struct {
    const char                 *stream;       /* the name asked for */
    size_t                      stream_len;
    const char                 *region;       /* preferred; NULL or "": */
    size_t                      region_len;   /*   none */

    int64_t                     age_ms;       /* the image unchanged for */
    int64_t                     stale_ms;     /* the limit; 0: never stale */

    tune_herd_t                *herd;         /* NULL: no herd accounting */
    uint32_t                    window;       /* the herd window W, ms */
    int64_t                     now_ms;       /* wall clock (tune_herd.h) */
    tune_choice_memo_t         *memo;         /* NULL, or this process's,
                                                 fitting the image */

    const tune_choice_name_t   *tried;        /* backends tried already */
    size_t                      ntried;       /*   (proxy retries) */

    uint32_t                    schemes;      /* TUNE_SCHEME_* bits of the
                                                 slots the listener may be
                                                 sent to; 0: any */
    int                         peek;         /* answer, count nothing */
    int                         rank;         /* rank the slots too */
    uint32_t                    rnd;          /* 32 random bits */
} tune_choice_req_t;


/* What the choice answered.  Strings point into the image. */
typedef struct {
    tune_choice_outcome_t       outcome;

    /*
     * Why no slot, for the host's log line, a static text: "no snapshot
     * received yet", "the snapshot is stale", "every slot is full", "no
     * slot is up", "no other slot is up" when tried names backends, or
     * "no slot of the listener's scheme has room".
     * NULL for TUNE_CHOICE_OK and TUNE_CHOICE_NOT_FOUND.
     */
    const char                 *reason;

    /* for a 503's Retry-After, s: the image's interval rounded up, at
     * least 1 (1 without an image) */
    uint32_t                    retry_after;

    /* after begin, when found: the stream, and the bytes of work memory
     * the pick wants (aligned as malloc() aligns) */
    const tune_image_stream_t  *stream;
    size_t                      work_size;

    /* TUNE_CHOICE_OK: an index into tune_image_slots(img) */
    uint32_t                    slot;

    /* with rank: slot indices, the chosen one first, then every other
     * offerable slot best first; ranked points into the work memory */
    const uint32_t             *ranked;
    size_t                      nranked;
} tune_choice_t;


/*
 * Phase one: img (NULL: none yet) and the stream.  Fills *ch and returns
 * its outcome: TUNE_CHOICE_OK when a slot is to be drawn by
 * tune_choose_pick() with ch->work_size bytes of work memory, else the
 * final answer (TUNE_CHOICE_NO_SNAPSHOT, _NOT_FOUND or _STALE).  Reads
 * nothing but img; the stream is looked up before staleness is judged, so
 * an unknown stream is "not found" even from a stale image.
 */
tune_choice_outcome_t tune_choose_begin(const tune_image_t *img,
    const tune_choice_req_t *req, tune_choice_t *ch);

/*
 * Phase two, on the image and request of a begin that answered
 * TUNE_CHOICE_OK, the host's lock still held: work is ch->work_size bytes.
 * Returns the final outcome: TUNE_CHOICE_OK (ch->slot; the tune-in counted
 * in req->herd unless req->peek; ch->ranked when req->rank),
 * TUNE_CHOICE_FULL, TUNE_CHOICE_NO_SLOT or TUNE_CHOICE_OTHER_SCHEME.
 * Slots whose backend is among req->tried are never offered, nor are
 * slots of a scheme outside req->schemes (when it names any): when those
 * alone would have taken the listener, the outcome is
 * TUNE_CHOICE_OTHER_SCHEME, nothing counted, so that the host may choose
 * again with a wider set (an HTTPS listener proxied over the host's own
 * TLS to an http:// slot) or answer as it answers a full stream.
 */
tune_choice_outcome_t tune_choose_pick(const tune_image_t *img,
    const tune_choice_req_t *req, tune_choice_t *ch, void *work);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_CHOOSE_H */
