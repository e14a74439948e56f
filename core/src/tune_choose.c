/*
 * The request-side choice (tune_choose.h): the steps both front-ends used
 * to walk on their own, in their order.  The work memory holds, each of the
 * stream's nslots entries: the herd's avail counts, the ranking when asked
 * for, and the skip flags of the slots already tried.
 */

#include <string.h>

#include "tune_choose.h"
#include "tune_select.h"


/* the most tune-ins of a stream answered from one full look's counts */
#define TUNE_CHOICE_MEMO_TUNEINS    32


/*
 * The memory (tune_choose.h): which image its counts are of, its room, and
 * per stream when its counts were read and how many tune-ins they answered
 * since; then the arrays.
 */
struct tune_choice_memo_s {
    uint64_t                    generation;
    int64_t                     written_ms;
    uint32_t                    nstreams;
    uint32_t                    nslots;
    int64_t                    *read_ms;      /* per stream; INT64_MIN: not
                                                 read for this image */
    uint32_t                   *answered;     /* per stream */
    uint32_t                   *avail;        /* per slot of the image */
};


static size_t tune_choose_work(size_t nslots, int rank);
static int tune_choose_remembered(const tune_image_t *img,
    const tune_choice_req_t *req, tune_choice_t *ch, uint32_t k);
static void tune_choose_forget(tune_choice_memo_t *memo,
    const tune_image_t *img);
static void tune_choose_taken(tune_choice_memo_t *memo, uint32_t slot);
static uint32_t tune_choose_remix(uint32_t rnd);
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


size_t
tune_choice_memo_size(uint32_t nstreams, uint32_t nslots)
{
    return sizeof(tune_choice_memo_t)
           + (size_t) nstreams * (sizeof(int64_t) + sizeof(uint32_t))
           + (size_t) nslots * sizeof(uint32_t);
}


tune_choice_memo_t *
tune_choice_memo_init(void *buf, uint32_t nstreams, uint32_t nslots)
{
    tune_choice_memo_t  *memo;

    if (buf == NULL || (uintptr_t) buf % 8 != 0) {
        return NULL;
    }

    memo = buf;

    memo->nstreams = nstreams;
    memo->nslots = nslots;
    memo->read_ms = (int64_t *) (memo + 1);
    memo->answered = (uint32_t *) (memo->read_ms + nstreams);
    memo->avail = memo->answered + nstreams;

    /* of no image yet: the first look forgets it all */
    memo->generation = 0;
    memo->written_ms = INT64_MIN;

    return memo;
}


int
tune_choice_memo_fits(const tune_choice_memo_t *memo, const tune_image_t *img)
{
    return memo != NULL && img != NULL
           && img->nstreams <= memo->nstreams
           && img->nslots <= memo->nslots;
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
    uint32_t                    i, k, n, slot, *avail, *order;
    tune_rc_t                   rc;
    const char                 *name;
    tune_select_opts_t          opts;
    tune_choice_memo_t         *memo;
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

    /* a stream entry outside the slot table (a hand-made image) offers
     * nothing anyway: it is never remembered */
    memo = (req->herd && tune_choice_memo_fits(req->memo, img)
            && stream->first_slot <= img->nslots
            && n <= img->nslots - stream->first_slot)
           ? req->memo : NULL;

    k = 0;

    if (memo) {
        k = (uint32_t) (stream - tune_image_streams(img));

        if (memo->generation != img->generation
            || memo->written_ms != img->written_ms)
        {
            tune_choose_forget(memo, img);
        }

        if (!req->rank && !req->ntried && !req->peek
            && memo->read_ms[k] == req->now_ms
            && memo->answered[k] < TUNE_CHOICE_MEMO_TUNEINS
            && tune_choose_remembered(img, req, ch, k))
        {
            return tune_choose_end(ch, TUNE_CHOICE_OK, NULL);
        }
    }

    if (req->herd) {
        /* this tune-in, and those answered from the memory since its last
         * full look: each found the slots without credits as they are now */
        tune_herd_avail_for(req->herd, img, stream, req->now_ms, req->window,
                            memo ? memo->answered[k] + 1 : 1, req->schemes,
                            avail);
        opts.avail = avail;

        if (memo) {
            memcpy(memo->avail + stream->first_slot, avail,
                   n * sizeof(uint32_t));
            memo->read_ms[k] = req->now_ms;
            memo->answered[k] = 0;
        }
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

    opts.schemes = req->schemes;

    rc = tune_select_slot(img, stream, &opts, req->rnd, &slot);

    if (rc != TUNE_OK && req->schemes != 0) {
        /* would a slot of any scheme have taken the listener? */
        opts.schemes = 0;

        if (tune_select_slot(img, stream, &opts, req->rnd, &i) == TUNE_OK) {
            return tune_choose_end(ch, TUNE_CHOICE_OTHER_SCHEME,
                                   "no slot of the listener's scheme has room");
        }
    }

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

        if (memo) {
            tune_choose_taken(memo, slot);
        }
    }

    if (req->rank) {
        ch->nranked = tune_rank_slots(img, stream, &opts, slot, order, n);
        ch->ranked = order;
    }

    return tune_choose_end(ch, TUNE_CHOICE_OK, NULL);
}


/*
 * A plain tune-in while the stream's counts are fresh: drawn from those
 * counts, and taken only if the table still has room in the slot drawn.
 * 0 when it has not (or nothing was drawn): the caller then looks at every
 * slot, and counts this tune-in's asks with that look's.
 */
static int
tune_choose_remembered(const tune_image_t *img, const tune_choice_req_t *req,
    tune_choice_t *ch, uint32_t k)
{
    uint32_t                    slot, avail;
    tune_select_opts_t          opts;
    tune_choice_memo_t         *memo;
    const tune_image_stream_t  *stream;

    memo = req->memo;
    stream = ch->stream;

    memset(&opts, 0, sizeof(tune_select_opts_t));

    opts.region = req->region;
    opts.region_len = req->region ? req->region_len : 0;
    opts.avail = memo->avail + stream->first_slot;
    opts.schemes = req->schemes;

    /*
     * The bits are mixed for this draw: should the slot drawn have no room
     * left, the full look draws with req->rnd as it came, not with a value
     * known to lie in that slot's share, which would send every such
     * tune-in to its neighbour.
     */
    if (tune_select_slot(img, stream, &opts, tune_choose_remix(req->rnd),
                         &slot)
        != TUNE_OK)
    {
        return 0;
    }

    avail = tune_herd_take_if_room(req->herd, img, stream,
                                   slot - stream->first_slot, req->now_ms,
                                   req->window);

    memo->avail[slot] = avail;

    if (avail == 0) {
        return 0;
    }

    ch->slot = slot;
    memo->answered[k]++;

    tune_choose_taken(memo, slot);

    return 1;
}


/* One tune-in counted at slot: one place fewer in what the memory says */
static void
tune_choose_taken(tune_choice_memo_t *memo, uint32_t slot)
{
    if (memo->avail[slot] != 0 && memo->avail[slot] != TUNE_UNLIMITED) {
        memo->avail[slot]--;
    }
}


/*
 * A bijection of 32 bits that spreads any narrow range of inputs over the
 * whole range (the finaliser of MurmurHash3): a uniformly random rnd stays
 * uniformly random, and the draws with rnd and with its mix fall apart.
 */
static uint32_t
tune_choose_remix(uint32_t rnd)
{
    rnd ^= rnd >> 16;
    rnd *= 0x85ebca6bu;
    rnd ^= rnd >> 13;
    rnd *= 0xc2b2ae35u;
    rnd ^= rnd >> 16;

    return rnd;
}


/*
 * A new image: nothing read of it yet.  The asks of tune-ins answered from
 * the old one's counts since its last full look go with it (a millisecond's
 * worth at most, once per image).
 */
static void
tune_choose_forget(tune_choice_memo_t *memo, const tune_image_t *img)
{
    uint32_t  i;

    for (i = 0; i < img->nstreams; i++) {
        memo->read_ms[i] = INT64_MIN;
        memo->answered[i] = 0;
    }

    memo->generation = img->generation;
    memo->written_ms = img->written_ms;
}
