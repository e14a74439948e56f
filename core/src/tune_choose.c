/*
 * The request-side choice (tune_choose.h): the steps both front-ends used
 * to walk on their own, in their order.  The work memory holds, each of the
 * stream's nslots entries: the herd's avail counts, the ranking when asked
 * for, and the skip flags of the slots already tried.
 */

#include <string.h>

#include "tune_choose.h"
#include "tune_select.h"


static size_t tune_choose_work(size_t nslots, int rank);
static uint32_t tune_choose_retry_after(const tune_image_t *img);
static tune_choice_outcome_t tune_choose_end(tune_choice_t *ch,
    tune_choice_outcome_t outcome, const char *reason);


/* avail, the ranking, skip flags; rounded up to 8, never 0 */
static size_t
tune_choose_work(size_t nslots, int rank)
{
    size_t  size;

    size = nslots * sizeof(uint32_t) * (rank ? 2 : 1) + nslots;

    return (size + 8) & ~(size_t) 7;
}


/* the interval in whole seconds, rounded up, at least 1 */
static uint32_t
tune_choose_retry_after(const tune_image_t *img)
{
    uint64_t  s;

    if (img == NULL) {
        return 1;
    }

    s = ((uint64_t) img->interval_ms + 999) / 1000;

    return s ? (uint32_t) s : 1;
}


static tune_choice_outcome_t
tune_choose_end(tune_choice_t *ch, tune_choice_outcome_t outcome,
    const char *reason)
{
    ch->outcome = outcome;
    ch->reason = reason;

    return outcome;
}


tune_choice_outcome_t
tune_choose_begin(const tune_image_t *img, const tune_choice_req_t *req,
    tune_choice_t *ch)
{
    memset(ch, 0, sizeof(tune_choice_t));

    ch->slot = UINT32_MAX;
    ch->retry_after = tune_choose_retry_after(img);

    if (img == NULL) {
        return tune_choose_end(ch, TUNE_CHOICE_NO_SNAPSHOT,
                               "no snapshot received yet");
    }

    ch->stream = tune_image_find_stream(img, req->stream, req->stream_len);

    if (ch->stream == NULL) {
        return tune_choose_end(ch, TUNE_CHOICE_NOT_FOUND, NULL);
    }

    if (req->stale_ms > 0 && req->age_ms > req->stale_ms) {
        return tune_choose_end(ch, TUNE_CHOICE_STALE,
                               "the snapshot is stale");
    }

    ch->work_size = tune_choose_work(ch->stream->nslots, req->rank);

    return tune_choose_end(ch, TUNE_CHOICE_OK, NULL);
}


tune_choice_outcome_t
tune_choose_pick(const tune_image_t *img, const tune_choice_req_t *req,
    tune_choice_t *ch, void *work)
{
    size_t                      j;
    uint8_t                    *skip;
    uint32_t                    i, n, slot, *avail, *order;
    tune_rc_t                   rc;
    const char                 *name;
    tune_select_opts_t          opts;
    const tune_image_slot_t    *slots;
    const tune_image_stream_t  *stream;

    stream = ch->stream;
    n = stream->nslots;

    avail = work;
    order = avail + n;
    skip = (uint8_t *) (order + (req->rank ? n : 0));

    memset(&opts, 0, sizeof(tune_select_opts_t));

    opts.region = req->region;
    opts.region_len = req->region ? req->region_len : 0;

    if (req->herd) {
        tune_herd_avail(req->herd, img, stream, req->now_ms, req->window,
                        avail);
        opts.avail = avail;
    }

    if (req->ntried) {
        memset(skip, 0, n);
        slots = tune_image_slots(img) + stream->first_slot;

        for (i = 0; i < n; i++) {
            name = tune_image_str(img, slots[i].backend);

            for (j = 0; j < req->ntried; j++) {
                if (slots[i].backend.len == req->tried[j].len
                    && memcmp(name, req->tried[j].data,
                              slots[i].backend.len) == 0)
                {
                    skip[i] = 1;
                    break;
                }
            }
        }

        opts.skip = skip;
    }

    rc = tune_select_slot(img, stream, &opts, req->rnd, &slot);

    if (rc == TUNE_ERR_FULL) {
        return tune_choose_end(ch, TUNE_CHOICE_FULL, "every slot is full");
    }

    if (rc != TUNE_OK) {
        return tune_choose_end(ch, TUNE_CHOICE_NO_SLOT,
                               req->ntried ? "no other slot is up"
                                           : "no slot is up");
    }

    ch->slot = slot;

    if (!req->peek && req->herd) {
        tune_herd_take(req->herd, img, stream, slot, req->now_ms,
                       req->window);
    }

    if (req->rank) {
        ch->nranked = tune_rank_slots(img, stream, &opts, slot, order, n);
        ch->ranked = order;
    }

    return tune_choose_end(ch, TUNE_CHOICE_OK, NULL);
}
