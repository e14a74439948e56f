/*
 * v1 selection, least loaded (tune_select.h).  Two passes over the
 * stream's slots: the first finds the most free slots and how many slots
 * tie for it, the second takes the (rnd % ties)-th of them.  O(nslots),
 * no allocation, and deterministic for a given rnd, which the tests use.
 */

#include "tune_select.h"


static int tune_offerable(const tune_image_slot_t *slot);


/*
 * Only "up" is offered: an unknown health word from a newer writer is
 * never taken as good news.
 */
static int
tune_offerable(const tune_image_slot_t *slot)
{
    return slot->health == TUNE_HEALTH_UP && slot->free > 0;
}


tune_rc_t
tune_select(const tune_image_t *img, const tune_image_stream_t *stream,
    uint32_t rnd, uint32_t *slot)
{
    uint32_t                  i, best, ties;
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

    /* TUNE_UNLIMITED is UINT32_MAX, so it wins as a plain number */

    for (i = 0; i < stream->nslots; i++) {
        if (!tune_offerable(&slots[i])) {
            continue;
        }

        if (slots[i].free > best) {
            best = slots[i].free;
            ties = 1;

        } else if (slots[i].free == best) {
            ties++;
        }
    }

    if (ties == 0) {
        return TUNE_ERR_NO_SLOT;
    }

    rnd %= ties;

    for (i = 0; i < stream->nslots; i++) {
        if (!tune_offerable(&slots[i]) || slots[i].free != best) {
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
