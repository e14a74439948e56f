/*
 * v2 selection, weighted by free capacity (tune_select.h).
 *
 * tune_select_slot() makes two passes over the stream's slots: the first
 * sums the scores of the candidates (for the preferred region and for all
 * slots at once, since whether the region has any is known only at the
 * end), the second walks the same candidates until the scaled random number
 * falls into one's share.  Both passes see a slot as tune_offer() judged it
 * (the walk reads the first pass's verdicts of the first TUNE_SELECT_SEEN
 * slots, and judges any later one again), so they cannot disagree.  tune_rank_slots() keeps order[] sorted while it
 * inserts.  Nothing allocates, and a given rnd always gives the same slot,
 * which the tests use.
 */

#include <string.h>

#include "tune_select.h"


typedef enum {
    TUNE_OFFER_NEVER = 0,    /* not up, weight 0, another scheme, skipped */
    TUNE_OFFER_FULL,         /* would be offered, but avail is 0 */
    TUNE_OFFER_YES
} tune_offer_rc_t;


/* How one offerable slot compares, as tune_offer() sees it. */
typedef struct {
    uint64_t          score;        /* avail x weight; the weight alone
                                       when unlimited */
    unsigned          unlimited;    /* avail is TUNE_UNLIMITED */
    unsigned          local;        /* in the caller's preferred region */
} tune_offer_t;


/*
 * Verdicts the first pass keeps for the walk, on the stack: a stream has a
 * few slots, and a judgement read back costs less than one made again.
 */
#define TUNE_SELECT_SEEN  32


/* The sums of one set of candidates. */
typedef struct {
    uint64_t          n;            /* candidates */
    uint64_t          unlimited;    /* candidates with unlimited avail */
    uint64_t          weights;      /* sum of the weights of those */
    uint64_t          scores;       /* sum of the scores of the others */
    uint64_t          coarse;       /* the same, each score >> 32 */
    unsigned          overflow;     /* scores passed 2^64: use coarse */
} tune_tally_t;


static const tune_image_slot_t *tune_stream_slots(const tune_image_t *img,
    const tune_image_stream_t *stream);
static tune_offer_rc_t tune_offer(const tune_image_t *img,
    const tune_image_slot_t *slots, uint32_t i,
    const tune_select_opts_t *opts, tune_offer_t *o);
static void tune_tally_add(tune_tally_t *t, const tune_offer_t *o);
static uint64_t tune_scale(uint32_t rnd, uint64_t total);
static int tune_rank_before(const tune_offer_t *a, const tune_offer_t *b);


/*
 * The stream's slots, or NULL when the stream entry points outside the slot
 * table: such an entry offers nothing rather than reading past the image.
 */
static const tune_image_slot_t *
tune_stream_slots(const tune_image_t *img, const tune_image_stream_t *stream)
{
    if (stream->nslots > img->nslots
        || stream->first_slot > img->nslots - stream->nslots)
    {
        return NULL;
    }

    return tune_image_slots(img) + stream->first_slot;
}


/*
 * Judges the stream's i-th slot for this request.  Only "up" is offered: an
 * unknown health word from a newer writer is never taken as good news; a
 * slot the host's allowlist refused is never offered either.
 * Weights are clamped to TUNE_WEIGHT_MAX (the decoder refuses more; a hand
 * made image may not), which keeps a score below 2^52.
 */
static tune_offer_rc_t
tune_offer(const tune_image_t *img, const tune_image_slot_t *slots,
    uint32_t i, const tune_select_opts_t *opts, tune_offer_t *o)
{
    uint32_t                  avail, weight;
    const tune_image_slot_t  *s;

    s = &slots[i];

    if (s->health != TUNE_HEALTH_UP || s->weight == 0
        || (s->flags & TUNE_SLOT_REFUSED))
    {
        return TUNE_OFFER_NEVER;
    }

    if (opts != NULL && opts->skip != NULL && opts->skip[i] != 0) {
        return TUNE_OFFER_NEVER;
    }

    if (opts != NULL && opts->schemes != 0 && !(s->scheme & opts->schemes)) {
        return TUNE_OFFER_NEVER;
    }

    avail = (opts != NULL && opts->avail != NULL) ? opts->avail[i] : s->free;

    if (avail == 0) {
        return TUNE_OFFER_FULL;
    }

    weight = s->weight < TUNE_WEIGHT_MAX ? s->weight : TUNE_WEIGHT_MAX;

    o->unlimited = (avail == TUNE_UNLIMITED);
    o->score = o->unlimited ? weight : (uint64_t) avail * weight;

    /* a region string outside the image matches nothing */
    o->local = opts != NULL && opts->region != NULL && opts->region_len != 0
               && s->region.len == opts->region_len
               && (uint64_t) s->region.off + s->region.len <= img->size
               && memcmp(tune_image_str(img, s->region), opts->region,
                         opts->region_len) == 0;

    return TUNE_OFFER_YES;
}


static void
tune_tally_add(tune_tally_t *t, const tune_offer_t *o)
{
    t->n++;

    if (o->unlimited) {
        /* below 2^20 each, 2^32 of them at most: no overflow */
        t->unlimited++;
        t->weights += o->score;
        return;
    }

    if (o->score > UINT64_MAX - t->scores) {
        t->overflow = 1;
    }

    t->scores += o->score;
    t->coarse += o->score >> 32;
}


/*
 * floor(rnd * total / 2^32), exactly, in 64-bit arithmetic: with total =
 * hi * 2^32 + lo, the product splits into rnd * hi, which fits since both
 * are below 2^32, and the carry of rnd * lo.  The result is below total, and
 * each value in [0, total) is hit by the same number of rnd values, give or
 * take one: no modulo bias.
 */
static uint64_t
tune_scale(uint32_t rnd, uint64_t total)
{
    uint64_t  hi, lo;

    hi = total >> 32;
    lo = total & 0xffffffffu;

    return (uint64_t) rnd * hi + (((uint64_t) rnd * lo) >> 32);
}


tune_rc_t
tune_select_slot(const tune_image_t *img, const tune_image_stream_t *stream,
    const tune_select_opts_t *opts, uint32_t rnd, uint32_t *slot)
{
    unsigned                  local, full, shift;
    uint32_t                  i;
    uint64_t                  target, share;
    tune_offer_t              o, seen[TUNE_SELECT_SEEN];
    tune_tally_t              all, region, *cand;
    tune_offer_rc_t           rc, seen_rc[TUNE_SELECT_SEEN];
    const tune_image_slot_t  *slots;

    if (img == NULL || stream == NULL || slot == NULL) {
        return TUNE_ERR_NOT_FOUND;
    }

    slots = tune_stream_slots(img, stream);
    if (slots == NULL) {
        return TUNE_ERR_NO_SLOT;
    }

    memset(&all, 0, sizeof(all));
    memset(&region, 0, sizeof(region));
    full = 0;

    for (i = 0; i < stream->nslots; i++) {
        rc = tune_offer(img, slots, i, opts, &o);

        if (i < TUNE_SELECT_SEEN) {
            seen_rc[i] = rc;
            seen[i] = o;
        }

        if (rc == TUNE_OFFER_FULL) {
            full = 1;
        }

        if (rc != TUNE_OFFER_YES) {
            continue;
        }

        tune_tally_add(&all, &o);

        if (o.local) {
            tune_tally_add(&region, &o);
        }
    }

    if (all.n == 0) {
        return full ? TUNE_ERR_FULL : TUNE_ERR_NO_SLOT;
    }

    local = (region.n != 0);
    cand = local ? &region : &all;

    if (cand->unlimited != 0) {
        target = tune_scale(rnd, cand->weights);
        shift = 0;

    } else {
        shift = cand->overflow ? 32 : 0;
        target = tune_scale(rnd, shift ? cand->coarse : cand->scores);
    }

    for (i = 0; i < stream->nslots; i++) {
        if (i < TUNE_SELECT_SEEN) {
            rc = seen_rc[i];
            o = seen[i];

        } else {
            rc = tune_offer(img, slots, i, opts, &o);
        }

        if (rc != TUNE_OFFER_YES
            || (local && !o.local)
            || o.unlimited != (cand->unlimited != 0))
        {
            continue;
        }

        share = o.score >> shift;

        if (target < share) {
            *slot = stream->first_slot + i;
            return TUNE_OK;
        }

        target -= share;
    }

    /* unreachable: the walk sees the candidates the sums saw */
    return TUNE_ERR_NO_SLOT;
}


/* Whether a ranks strictly before b; equal ones keep the text order. */
static int
tune_rank_before(const tune_offer_t *a, const tune_offer_t *b)
{
    if (a->local != b->local) {
        return a->local;
    }

    if (a->unlimited != b->unlimited) {
        return a->unlimited;
    }

    return a->score > b->score;
}


size_t
tune_rank_slots(const tune_image_t *img, const tune_image_stream_t *stream,
    const tune_select_opts_t *opts, uint32_t first, uint32_t *order,
    size_t cap)
{
    size_t                    n, base, k;
    uint32_t                  i;
    tune_offer_t              o, other;
    const tune_image_slot_t  *slots;

    if (img == NULL || stream == NULL || order == NULL || cap == 0) {
        return 0;
    }

    slots = tune_stream_slots(img, stream);
    if (slots == NULL) {
        return 0;
    }

    n = 0;

    if (first >= stream->first_slot
        && first - stream->first_slot < stream->nslots)
    {
        order[n++] = first;
    }

    base = n;

    for (i = 0; i < stream->nslots; i++) {
        if (stream->first_slot + i == first
            || tune_offer(img, slots, i, opts, &o) != TUNE_OFFER_YES)
        {
            continue;
        }

        /*
         * Insertion: k ends after the last entry that ranks before or with
         * this slot.  Entries already in order[] are offerable, so judging
         * them again cannot fail.
         */

        for (k = n; k > base; k--) {
            (void) tune_offer(img, slots, order[k - 1] - stream->first_slot,
                              opts, &other);

            if (!tune_rank_before(&o, &other)) {
                break;
            }
        }

        if (k == cap) {
            continue;                       /* ranks below a full order[] */
        }

        if (n == cap) {
            n--;                            /* the last one drops out */
        }

        memmove(&order[k + 1], &order[k], (n - k) * sizeof(order[0]));
        order[k] = stream->first_slot + i;
        n++;
    }

    return n;
}
