/*
 * Slot selection: which slot of a stream a new listener is sent to, and in
 * which order a playlist or a retry offers the others.
 *
 * v2 policy, weighted by free capacity.  A slot is offerable when its health
 * is "up", its weight is above 0, its URL's scheme is one the caller sends
 * listeners to, the caller may still send a listener there (avail > 0) and
 * the caller did not skip it.  Its score is avail times
 * weight: weight 100 counts free slots as reported, 200 twice, and weights
 * above TUNE_WEIGHT_MAX count as TUNE_WEIGHT_MAX.  A new listener goes to an
 * offerable slot drawn at random with a probability proportional to its
 * score, so near-equal slots share new listeners instead of one taking them
 * all while its reported free count lags behind.
 *
 * Two preferences narrow the draw first:
 *
 *   - region: when the caller names one and at least one offerable slot is
 *     in it, only those slots are drawn from; otherwise all offerable ones;
 *   - unlimited: slots with TUNE_UNLIMITED avail have no score to compare,
 *     so when any are left they alone are drawn from, by weight.
 *
 * avail is the image's `free` unless the caller passes its own counts (herd
 * accounting: a front-end that already sent listeners which the snapshot
 * does not count yet may pass what is left).
 */

#ifndef TUNE_SELECT_H
#define TUNE_SELECT_H

#include "tune_snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif


/*
 * The caller's view of one request.  Both arrays, when given, have the
 * stream's nslots entries; entry i is the stream's i-th slot, that is, slot
 * stream->first_slot + i of tune_image_slots(img).  A NULL opts means no
 * region, the image's free counts and nothing skipped.
 */
typedef struct {
    const char       *region;       /* preferred region; NULL or "": none */
    size_t            region_len;
    const uint32_t   *avail;        /* NULL: each slot's free; may hold
                                       TUNE_UNLIMITED */
    const uint8_t    *skip;         /* NULL, or skip[i] != 0: never offer
                                       the i-th slot (already tried) */
    uint32_t          schemes;      /* TUNE_SCHEME_* bits (tune_url.h) of
                                       the slots that may be offered;
                                       0: any */
} tune_select_opts_t;


/*
 * Draws the slot for a new listener by the policy above.  On TUNE_OK *slot
 * is an index into tune_image_slots(img).  Otherwise:
 *
 *   TUNE_ERR_FULL      some slot would be offered (up, weight above 0, of
 *                      a scheme asked for, not skipped) but every such
 *                      slot has avail 0: the stream
 *                      is full, hosts answer "try later";
 *   TUNE_ERR_NO_SLOT   no slot is up with a weight, or the stream entry lies
 *                      outside the slot table;
 *   TUNE_ERR_NOT_FOUND img, stream or slot is NULL (an unknown stream).
 *
 * rnd is a uniformly random 32-bit value (tests pass fixed ones): the draw
 * scales it to the sum of scores without a modulo, so each slot's share
 * is right to within 2^-32.  All 32 bits must be random: random() and
 * ngx_random() give 31, and with the top bit always 0 only the first half
 * of the scores could ever be drawn; combine two calls.  Should the scores of a stream sum beyond 2^64
 * (thousands of slots each offering billions), they are counted in units
 * of 2^32 for that draw.  O(nslots), no allocation.
 */
tune_rc_t tune_select_slot(const tune_image_t *img,
    const tune_image_stream_t *stream, const tune_select_opts_t *opts,
    uint32_t rnd, uint32_t *slot);


/*
 * A ranking for playlists and for retries.  Writes into order[] (cap
 * entries at most) `first` when it is a slot of the stream (an index into
 * tune_image_slots(img), offerable or not; UINT32_MAX for none), then the
 * stream's other offerable slots: those of the preferred region before the
 * others, unlimited before limited, higher score first, equal ones in the
 * order of the text.  Returns how many were written.  No allocation;
 * O(nslots * cap) at worst.
 */
size_t tune_rank_slots(const tune_image_t *img,
    const tune_image_stream_t *stream, const tune_select_opts_t *opts,
    uint32_t first, uint32_t *order, size_t cap);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_SELECT_H */
