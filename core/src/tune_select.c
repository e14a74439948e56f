/*
 * v1 selection, least loaded (tune_select.h).  Two passes over the
 * stream's slots: the first finds the best score (free slots times weight)
 * and how many slots tie for it, the second takes the (rnd % ties)-th of
 * them.  O(nslots), no allocation, and deterministic for a given rnd, which
 * the tests use.
 */

#include "tune_select.h"


static uint64_t tune_score(const tune_image_slot_t *slot);


/*
 * 0 for a slot that may not be offered.  Only "up" is offered: an unknown
 * health word from a newer writer is never taken as good news.  Weight 100
 * counts the free slots as they are; TUNE_UNLIMITED is UINT32_MAX, so it
 * wins as a plain number, and free * weight cannot overflow 64 bits.
 */
static uint64_t
tune_score(const tune_image_slot_t *slot)
{
    if (slot->health != TUNE_HEALTH_UP) {
        return 0;
    }

    return (uint64_t) slot->free * slot->weight;
}


tune_rc_t
tune_select(const tune_image_t *img, const tune_image_stream_t *stream,
    uint32_t rnd, uint32_t *slot)
{
    uint32_t                  i, ties;
    uint64_t                  score, best;
    const tune_image_slot_t  *slots;

    if (img == NULL || stream == NULL || slot == NULL) {
        return TUNE_ERR_NOT_FOUND;
    }

    /* a stream entry pointing outside the slot table offers nothing */
    if (stream->nslots > img->nslots
        || stream->first_slot > img->nslots - stream->nslots)
    {
        return TUNE_ERR_NO_SLOT;
    }

    slots = tune_image_slots(img) + stream->first_slot;
    best = 0;
    ties = 0;

    for (i = 0; i < stream->nslots; i++) {
        score = tune_score(&slots[i]);

        if (score == 0) {
            continue;
        }

        if (score > best) {
            best = score;
            ties = 1;

        } else if (score == best) {
            ties++;
        }
    }

    if (ties == 0) {
        return TUNE_ERR_NO_SLOT;
    }

    rnd %= ties;

    for (i = 0; i < stream->nslots; i++) {
        if (tune_score(&slots[i]) != best) {
            continue;
        }

        if (rnd == 0) {
            *slot = stream->first_slot + i;
            return TUNE_OK;
        }

        rnd--;
    }

    /* unreachable: the second pass sees the same ties as the first */
    return TUNE_ERR_NO_SLOT;
}
