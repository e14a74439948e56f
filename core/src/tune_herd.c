/*
 * Herd accounting (tune_herd.h), the rules of "Herd control" in
 * redis/SCHEMA.md.
 *
 * The table is a header followed by its entries in one caller buffer, so it
 * holds no pointer and may be mapped anywhere.  An entry counts one slot's
 * reservations in a ring of TUNE_HERD_BUCKETS buckets of TUNE_HERD_BUCKET_MS
 * and holds the credits of the slot; it is found by a hash of the stream
 * and backend names with open addressing, never emptied, and reused for
 * another slot once idle.
 */

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "tune_herd.h"
#include "tune_internal.h"
#include "tune_wbuf.h"

/* the text of redis/herd_claim.lua, generated at build time */
#include "tune_herd_lua.h"


#define TUNE_HERD_MAGIC         0x54484433u     /* "THD3" */

/* this many buckets of reservations are kept (8 s) */
#define TUNE_HERD_BUCKETS       80

/*
 * A tune-in's ask (an entry's asked) in parts of this many: a look splits
 * its tune-ins among the slots they could go to, by room, and most of a
 * large stream's slots are asked for a small part of one.
 */
#define TUNE_HERD_ASK_ONE       65536u

/* credits asked for a slot in demand: at least a few, at most many */
#define TUNE_HERD_MIN_WANT      4
#define TUNE_HERD_MAX_WANT      65536

/* the most a fair share may be (herd_claim.lua agrees); a claim of a fair
 * share with this much in stock gives the old one back and takes none */
#define TUNE_HERD_FAIR_MAX      4096

/*
 * An idle front-end keeps fair shares in this many slots of a stream, the
 * roomiest (free x weight, as the draw weighs them), and in those with
 * tune-ins within the window: a burst after a quiet spell is answered from
 * them while the next claims top up the slots it asks for.  A share in
 * every slot cost Redis two claims a second per slot and front-end, busy
 * or not (bench/fleet.py: F 20, B 2,000 idle, 80,000 keys a second).
 */
#define TUNE_HERD_IDLE_SLOTS    8

/* an entry nobody asked about for this long (give or take the second of
 * TUNE_HERD_USED_STEP_MS) may serve another slot */
#define TUNE_HERD_IDLE_MS       60000

/*
 * used_ms is written at most this often.  Every tune-in looks at every slot
 * of its stream, and a write there on each would make the entries' cache
 * lines bounce between the cores of all the workers; the idle rule above
 * needs the time to a second, not to a millisecond.
 */
#define TUNE_HERD_USED_STEP_MS  1000

/* entries looked at for one slot */
#define TUNE_HERD_PROBES        32

/* the script's arguments per slot */
#define TUNE_HERD_SLOT_ARGS     7


typedef struct {
    uint64_t          key;          /* 0: never used */
    int64_t           head;         /* newest bucket counted */
    int64_t           used_ms;      /* last looked at */
    /*
     * Credits come in two stocks: the fair share (one grant, recorded in
     * one bucket, renewed and given back before it expires) and the top-ups
     * claimed by demand, spent first.
     */
    int64_t           credit_until;     /* the fair share expires */
    int64_t           credit_until2;    /* the top-ups expire */
    int64_t           credit_bucket;    /* the fair share's bucket */
    uint32_t          credits;      /* of the fair share */
    uint32_t          credits2;     /* top-ups */
    uint32_t          spent;        /* since the last claim */
    uint32_t          asked;        /* found no credit, in ASK_ONEs */
    uint32_t          debt;         /* sent without a credit */
    uint32_t          claiming;     /* in the claim in flight */
    uint32_t          plenty;       /* Redis says the slot has room */
    uint16_t          count[TUNE_HERD_BUCKETS];
    uint32_t          returning;    /* of the fair share, by that claim */
    /*
     * What Redis's last answer for the slot left this front-end: the
     * credits it held (allot_credits), against the poll of allot_polled
     * (0: no answer yet), when it came (allot_ms), and the tune-ins sent
     * since (allot_sent, not the buckets: an outage outlasts their ring).
     * While Redis does not answer, the front-end sends no more than those
     * credits, so the front-ends together stay within the free count
     * through an outage or a failover instead of each taking all of it
     * (tune_herd_part()).  allot_next: the first poll seen since Redis
     * last answered at allot_next_at (the table's answered_ms then);
     * allot_later: 1 + the table's refusals when a later poll was first
     * seen (0: none yet).
     */
    uint32_t          allot_sent;
    uint32_t          allot_credits;
    int64_t           allot_polled;
    int64_t           allot_next;
    int64_t           demand_ms;    /* last claim with tune-ins to report */
    int64_t           allot_ms;
    int64_t           allot_next_at;
    uint32_t          allot_later;
    uint32_t          claimed_debt; /* in the claim in flight */
} tune_herd_entry_t;


/*
 * The entry's layout is shared with the running processes of the build
 * before (the table lives on across reloads): a field moved or resized
 * needs a new TUNE_HERD_MAGIC, which makes the hosts start a fresh table.
 */
_Static_assert(offsetof(tune_herd_entry_t, plenty) == 72
               && offsetof(tune_herd_entry_t, count) == 76
               && offsetof(tune_herd_entry_t, returning) == 236
               && offsetof(tune_herd_entry_t, allot_sent) == 240
               && offsetof(tune_herd_entry_t, allot_credits) == 244
               && offsetof(tune_herd_entry_t, allot_polled) == 248
               && offsetof(tune_herd_entry_t, allot_next) == 256
               && offsetof(tune_herd_entry_t, demand_ms) == 264
               && offsetof(tune_herd_entry_t, allot_next_at) == 280
               && offsetof(tune_herd_entry_t, allot_later) == 288
               && offsetof(tune_herd_entry_t, claimed_debt) == 292
               && sizeof(tune_herd_entry_t) == 296,
               "the herd entry's layout changed: bump TUNE_HERD_MAGIC");


/* the header; the entries follow it in the same buffer */
struct tune_herd_s {
    uint32_t          magic;        /* TUNE_HERD_MAGIC */
    uint32_t          entry_size;   /* sizeof(tune_herd_entry_t) */
    uint64_t          size;         /* bytes used, header included */
    uint64_t          nentries;
    int64_t           global_until; /* credits from Redis in use until */
    int64_t           answered_ms;  /* Redis last answered a claim (0: never) */
    uint32_t          refusals;     /* claims refused (tune_herd_refused()) */
};


static tune_herd_entry_t *tune_herd_entries(const tune_herd_t *herd);
static uint64_t tune_herd_hash(const tune_image_t *img,
    const tune_image_stream_t *stream, const tune_image_slot_t *s);
static tune_herd_entry_t *tune_herd_entry(tune_herd_t *herd, uint64_t key,
    int64_t now, int add);
static tune_herd_entry_t *tune_herd_slot_entry(tune_herd_t *herd,
    const tune_image_t *img, const tune_image_stream_t *stream,
    const tune_image_slot_t *s, int64_t now, uint32_t window);
static uint32_t tune_herd_entry_avail(tune_herd_t *herd,
    tune_herd_entry_t *e, const tune_image_slot_t *s, int global,
    int64_t now, uint32_t window, uint32_t tuneins);
static uint32_t tune_herd_part(tune_herd_entry_t *e,
    const tune_image_slot_t *s, int64_t answered_ms, uint32_t refusals,
    uint32_t window);
static uint64_t tune_herd_roomy(const tune_image_slot_t *s, uint32_t n,
    uint32_t *ties);
static int tune_herd_plenty(const tune_herd_entry_t *e, int64_t now,
    uint32_t window);
static uint64_t tune_herd_room(const tune_image_slot_t *s, uint32_t n,
    uint32_t schemes);
static uint32_t tune_herd_asks(const tune_image_slot_t *s, uint64_t room,
    uint32_t schemes, uint32_t tuneins);
static void tune_herd_count(tune_herd_t *herd, tune_herd_entry_t *e,
    int64_t now);
static uint32_t tune_herd_slot_avail(tune_herd_t *herd,
    const tune_image_t *img, const tune_image_stream_t *stream,
    const tune_image_slot_t *s, int global, int64_t now, uint32_t window,
    uint32_t tuneins);
static uint32_t tune_herd_pending(const tune_herd_entry_t *e,
    int64_t polled_ms, uint32_t window);
static int64_t tune_herd_floor(int64_t a, int64_t b);
static size_t tune_herd_ring(int64_t bucket);
static uint32_t tune_herd_stock(const tune_herd_entry_t *e, int64_t now);
static int tune_herd_spend(tune_herd_entry_t *e, int64_t now);
static void tune_herd_returned(tune_herd_entry_t *e);
static const tune_image_slot_t *tune_herd_stream_slots(
    const tune_image_t *img, const tune_image_stream_t *stream);
static const tune_image_stream_t *tune_herd_stream_of(const tune_image_t *img,
    uint32_t slot);
static int tune_herd_id_check(const char *id, size_t len);
static void tune_herd_put_i64(tune_wbuf_t *w, int64_t v);


/* ---- the table ----------------------------------------------------- */

size_t
tune_herd_size(size_t n)
{
    if (n > (SIZE_MAX - sizeof(tune_herd_t)) / sizeof(tune_herd_entry_t)) {
        return SIZE_MAX;
    }

    return sizeof(tune_herd_t) + n * sizeof(tune_herd_entry_t);
}


tune_herd_t *
tune_herd_init(void *buf, size_t cap)
{
    size_t        n;
    tune_herd_t  *herd;

    if (buf == NULL || (uintptr_t) buf % 8 != 0
        || cap < tune_herd_size(1))
    {
        return NULL;
    }

    n = (cap - sizeof(tune_herd_t)) / sizeof(tune_herd_entry_t);

    memset(buf, 0, tune_herd_size(n));

    herd = buf;
    herd->magic = TUNE_HERD_MAGIC;
    herd->entry_size = sizeof(tune_herd_entry_t);
    herd->size = tune_herd_size(n);
    herd->nentries = n;

    return herd;
}


tune_herd_t *
tune_herd_get(void *buf, size_t cap)
{
    tune_herd_t  *herd;

    if (buf == NULL || (uintptr_t) buf % 8 != 0
        || cap < sizeof(tune_herd_t))
    {
        return NULL;
    }

    herd = buf;

    if (herd->magic != TUNE_HERD_MAGIC
        || herd->entry_size != sizeof(tune_herd_entry_t)
        || herd->nentries == 0
        || herd->size != tune_herd_size(herd->nentries)
        || herd->size > cap)
    {
        return NULL;
    }

    return herd;
}


size_t
tune_herd_capacity(const tune_herd_t *herd)
{
    return herd->nentries;
}


/* ---- the request path ---------------------------------------------- */

void
tune_herd_avail(tune_herd_t *herd, const tune_image_t *img,
    const tune_image_stream_t *stream, int64_t now, uint32_t window,
    uint32_t *avail)
{
    tune_herd_avail_for(herd, img, stream, now, window, 1, 0, avail);
}


void
tune_herd_avail_for(tune_herd_t *herd, const tune_image_t *img,
    const tune_image_stream_t *stream, int64_t now, uint32_t window,
    uint32_t tuneins, uint32_t schemes, uint32_t *avail)
{
    int                       global;
    uint32_t                  i;
    uint64_t                  room;
    const tune_image_slot_t  *s;

    s = tune_herd_stream_slots(img, stream);
    if (s == NULL) {
        memset(avail, 0, stream->nslots * sizeof(uint32_t));
        return;
    }

    global = tune_herd_global(herd, now);

    /*
     * The tune-ins ask for a slot without credits as the draw would have
     * sent them there: each slot its part of the room (free x weight) of
     * the slots they could go to.  Asking every such slot for each of them
     * made a trickle of tune-ins claim top-ups in every slot of a large
     * stream (bench/fleet.py).  A slot they could not be sent to (another
     * scheme, not up, full) is not asked for.
     */
    room = tune_herd_room(s, stream->nslots, schemes);

    for (i = 0; i < stream->nslots; i++, s++) {
        avail[i] = tune_herd_slot_avail(herd, img, stream, s, global, now,
                                        window,
                                        tune_herd_asks(s, room, schemes,
                                                       tuneins));
    }
}


uint32_t
tune_herd_take_if_room(tune_herd_t *herd, const tune_image_t *img,
    const tune_image_stream_t *stream, uint32_t i, int64_t now,
    uint32_t window)
{
    uint32_t                  avail;
    tune_herd_entry_t        *e;
    const tune_image_slot_t  *s;

    s = tune_herd_stream_slots(img, stream);
    if (s == NULL || i >= stream->nslots) {
        return 0;
    }

    s += i;

    e = tune_herd_slot_entry(herd, img, stream, s, now, window);
    if (e == NULL) {
        /* not counted (down, full, unlimited, W 0, the table full): the
         * avail is the slot's own, and tune_herd_take() would count nothing */
        return tune_herd_slot_avail(herd, img, stream, s,
                                    tune_herd_global(herd, now), now, window,
                                    0);
    }

    /*
     * One look-up for the check and the count: this runs for nearly every
     * tune-in a host answers from remembered counts.  The check asks
     * nothing: the host counts its tune-in with its next full look.
     */
    avail = tune_herd_entry_avail(herd, e, s, tune_herd_global(herd, now),
                                  now, window, 0);
    if (avail != 0) {
        tune_herd_count(herd, e, now);
    }

    return avail;
}


/*
 * One slot's avail (tune_herd.h): the same for the whole stream and for
 * the one slot a host drew from counts it remembered, so the two cannot
 * disagree.  tuneins: this slot's part of the tune-ins the look stands for,
 * in ASK_ONEs, which find it without credits "asked" (0: a check that asks
 * nothing).
 */
static uint32_t
tune_herd_slot_avail(tune_herd_t *herd, const tune_image_t *img,
    const tune_image_stream_t *stream, const tune_image_slot_t *s,
    int global, int64_t now, uint32_t window, uint32_t tuneins)
{
    tune_herd_entry_t  *e;

    if (s->health != TUNE_HEALTH_UP || s->weight == 0 || s->free == 0
        || (s->flags & TUNE_SLOT_REFUSED))
    {
        return 0;
    }

    /* W 0: the snapshot's free counts as they are */
    if (s->free == TUNE_UNLIMITED || window == 0) {
        return s->free;
    }

    e = tune_herd_entry(herd, tune_herd_hash(img, stream, s), now, 1);
    if (e == NULL) {
        /* the table is full: this slot goes uncounted */
        return s->free;
    }

    return tune_herd_entry_avail(herd, e, s, global, now, window, tuneins);
}


/*
 * The entry of a slot that is counted (up, room, limited, W not 0), found
 * or made; NULL for a slot that is not, and when the table is full.
 */
static tune_herd_entry_t *
tune_herd_slot_entry(tune_herd_t *herd, const tune_image_t *img,
    const tune_image_stream_t *stream, const tune_image_slot_t *s,
    int64_t now, uint32_t window)
{
    if (s->health != TUNE_HEALTH_UP || s->weight == 0 || s->free == 0
        || s->free == TUNE_UNLIMITED || window == 0
        || (s->flags & TUNE_SLOT_REFUSED))
    {
        return NULL;
    }

    return tune_herd_entry(herd, tune_herd_hash(img, stream, s), now, 1);
}


/* tune_herd_slot_avail() once its counted slot's entry e is found */
static uint32_t
tune_herd_entry_avail(tune_herd_t *herd, tune_herd_entry_t *e,
    const tune_image_slot_t *s, int global, int64_t now, uint32_t window,
    uint32_t tuneins)
{
    uint32_t  local, credits, pending, kept;

    if (now - e->used_ms >= TUNE_HERD_USED_STEP_MS) {
        e->used_ms = now;
    }

    /*
     * A credit granted before polled_ms - W is a reservation the
     * snapshot has reconciled: spent now, its listener would be counted
     * by no poll and no reservation.  (Written only when there is one
     * to drop, for used_ms's reason.)
     */
    if (e->credits
        && e->credit_until - (int64_t) window / 2
           <= s->polled_ms - (int64_t) window)
    {
        e->credits = 0;
    }

    if (e->credits2
        && e->credit_until2 - (int64_t) window / 2
           <= s->polled_ms - (int64_t) window)
    {
        e->credits2 = 0;
    }

    pending = tune_herd_pending(e, s->polled_ms, window);
    local = (pending < s->free) ? s->free - pending : 0;

    if (!global) {
        /*
         * Redis does not answer.  No poll reaches a front-end that cannot
         * reach Redis (an outage, a failover), so against the poll of its
         * last answers this front-end keeps to what they left it, the
         * credits it held among them, and so does every other one:
         * together they stay within what Redis granted, where each
         * counting against the whole free count would multiply it
         * (tune_herd_part()).  Not while the answers as Redis went away
         * said the slot has room to spare (plenty): an outage, or a claim
         * failing for a moment (a reload, a graceful restart), must not
         * turn a roomy slot away.  Nor
         * before any answer: Redis refusing the script from the start (an
         * ACL, NOREPLICAS) must not turn every listener away.
         */
        if (herd->answered_ms != 0
            && !tune_herd_plenty(e, herd->answered_ms, window))
        {
            kept = tune_herd_part(e, s, herd->answered_ms, herd->refusals,
                                  window);
            local = (kept < local) ? kept : local;
        }

        return local;
    }

    credits = tune_herd_stock(e, now);

    if (credits == 0) {
        e->asked = (tuneins < UINT32_MAX - e->asked) ? e->asked + tuneins
                                                     : UINT32_MAX;

        /*
         * The stock ran out while Redis last said the slot has room to
         * spare across the fleet (a whole fair share, no top-up cut
         * short since): the claims are only late (Redis slowed or
         * gone, the claiming process busy), and turning listeners away
         * for that would make a slow Redis an outage.  Counted by this
         * front-end alone until the next answer; the tune-ins are
         * reported as sent without a credit.  Otherwise the fleet may
         * be short, and the slot waits for credits.
         */
        if (tune_herd_plenty(e, now, window)) {
            return local;
        }
    }

    /*
     * Credits say whether this front-end may send a listener there now;
     * how likely the draw is to pick it is for the load to say: the
     * free slots less the tune-ins not yet seen by a poll.
     */
    return credits ? (local > 1 ? local : 1) : 0;
}


void
tune_herd_take(tune_herd_t *herd, const tune_image_t *img,
    const tune_image_stream_t *stream, uint32_t slot, int64_t now,
    uint32_t window)
{
    tune_herd_entry_t        *e;
    const tune_image_slot_t  *s;

    if (slot >= img->nslots) {
        return;
    }

    s = tune_image_slots(img) + slot;

    if (s->free == TUNE_UNLIMITED || window == 0) {
        return;
    }

    if (stream == NULL) {
        stream = tune_herd_stream_of(img, slot);

        if (stream == NULL) {
            return;
        }
    }

    e = tune_herd_entry(herd, tune_herd_hash(img, stream, s), now, 1);
    if (e == NULL) {
        return;
    }

    tune_herd_count(herd, e, now);
}


/* One tune-in counted in the entry e (tune_herd_take()) */
static void
tune_herd_count(tune_herd_t *herd, tune_herd_entry_t *e, int64_t now)
{
    int64_t  b, k;

    b = tune_herd_floor(now, TUNE_HERD_BUCKET_MS);

    if (b > e->head) {
        /* buckets passed since the last tune-in start empty */
        for (k = e->head + 1; k <= b && k <= e->head + TUNE_HERD_BUCKETS;
             k++)
        {
            e->count[tune_herd_ring(k)] = 0;
        }

        e->head = b;
    }

    /* a clock stepped back by more than the ring counts nothing */
    if (b > e->head - TUNE_HERD_BUCKETS
        && e->count[tune_herd_ring(b)] < UINT16_MAX)
    {
        e->count[tune_herd_ring(b)]++;
    }

    e->spent++;

    if (e->allot_sent < UINT32_MAX) {
        e->allot_sent++;
    }

    if (!(tune_herd_global(herd, now) && tune_herd_spend(e, now))) {
        /* reported to Redis with the next claim */
        e->debt++;
    }
}


void
tune_herd_slot_state(tune_herd_t *herd, const tune_image_t *img,
    const tune_image_stream_t *stream, uint32_t slot, int64_t now,
    uint32_t window, uint32_t *pending, uint32_t *credits)
{
    tune_herd_entry_t        *e;
    const tune_image_slot_t  *s;

    *pending = 0;
    *credits = 0;

    if (slot >= img->nslots) {
        return;
    }

    s = tune_image_slots(img) + slot;

    if (stream == NULL) {
        stream = tune_herd_stream_of(img, slot);
    }

    if (stream == NULL || s->free == TUNE_UNLIMITED) {
        return;
    }

    e = tune_herd_entry(herd, tune_herd_hash(img, stream, s), now, 0);
    if (e == NULL) {
        return;
    }

    *pending = tune_herd_pending(e, s->polled_ms, window);
    *credits = tune_herd_stock(e, now);
}


int
tune_herd_global(const tune_herd_t *herd, int64_t now)
{
    return herd->global_until > now;
}


/* ---- the claiming process ------------------------------------------ */

size_t
tune_herd_claims(tune_herd_t *herd, const tune_image_t *img, int64_t now,
    uint32_t window, tune_herd_claim_t *out, size_t max)
{
    int                         demand, renew, top;
    size_t                      n;
    uint32_t                    i, j, want, stock, back, ties;
    uint64_t                    wanted, roomy, room;
    const char                 *name, *backend;
    tune_herd_claim_t          *c;
    tune_herd_entry_t          *e;
    const tune_image_slot_t    *s;
    const tune_image_stream_t  *stream;

    n = 0;

    if (window == 0) {
        return 0;
    }

    stream = tune_image_streams(img);

    for (i = 0; i < img->nstreams && n < max; i++, stream++) {

        s = tune_herd_stream_slots(img, stream);
        if (s == NULL) {
            continue;
        }

        roomy = tune_herd_roomy(s, stream->nslots, &ties);

        for (j = 0; j < stream->nslots && n < max; j++, s++) {

            if (s->health != TUNE_HEALTH_UP || s->weight == 0
                || s->free == 0 || s->free == TUNE_UNLIMITED
                || (s->flags & TUNE_SLOT_REFUSED))
            {
                continue;
            }

            /* among the roomiest: those of the TUNE_HERD_IDLE_SLOTS-th
             * slot's room taken first come, so ties keep no more */
            room = (uint64_t) s->free * s->weight;
            top = (room > roomy);

            if (room == roomy && ties > 0) {
                top = 1;
                ties--;
            }

            /* only a hand-made image has longer names: no key for them */
            if (stream->name.len > TUNE_NAME_MAX
                || s->backend.len > TUNE_NAME_MAX)
            {
                continue;
            }

            e = tune_herd_entry(herd, tune_herd_hash(img, stream, s), now, 1);
            if (e == NULL || e->claiming) {
                continue;
            }

            demand = e->spent || e->asked >= TUNE_HERD_ASK_ONE || e->debt;

            if (demand) {
                e->demand_ms = now;
            }

            /*
             * Two stocks (see the entry): the fair share, one grant,
             * renewed (and what is left of it given back) as it is about
             * to expire, so a burst after a quiet spell finds credits; and
             * top-ups while tune-ins are being answered, by demand, four
             * ticks of it (a stock that outlasts a missed claim), less
             * what is in stock.  One of the two per claim.  The fair share
             * is renewed in the roomiest slots of the stream and in those
             * with tune-ins within the window; in another it is given back
             * as it is about to expire, and not renewed.
             */
            renew = (e->credit_until - now <= (int64_t) window / 4);
            back = (e->credit_until > now) ? e->credits : 0;

            if (renew && (now - e->demand_ms < (int64_t) window || top)) {
                want = 0;
                stock = 0;

            } else if (renew && back) {
                want = 0;
                stock = TUNE_HERD_FAIR_MAX;

            } else if (demand) {
                wanted = 4 * ((uint64_t) e->spent
                              + (e->asked + (uint64_t) TUNE_HERD_ASK_ONE - 1)
                                / TUNE_HERD_ASK_ONE);
                wanted = (wanted > TUNE_HERD_MIN_WANT)
                         ? wanted : TUNE_HERD_MIN_WANT;
                stock = tune_herd_stock(e, now);

                if (wanted <= stock && e->debt == 0) {
                    continue;
                }

                wanted = (wanted > stock) ? wanted - stock : 1;
                want = (wanted < TUNE_HERD_MAX_WANT)
                       ? (uint32_t) wanted : TUNE_HERD_MAX_WANT;
                back = 0;

            } else {
                continue;
            }

            c = &out[n];

            name = tune_image_str(img, stream->name);
            backend = tune_image_str(img, s->backend);

            c->redis_key_len = 0;
            memcpy(c->redis_key, TUNE_HERD_KEY_PREFIX,
                   sizeof(TUNE_HERD_KEY_PREFIX) - 1);
            c->redis_key_len += sizeof(TUNE_HERD_KEY_PREFIX) - 1;
            memcpy(c->redis_key + c->redis_key_len, name, stream->name.len);
            c->redis_key_len += stream->name.len;
            c->redis_key[c->redis_key_len++] = ':';
            memcpy(c->redis_key + c->redis_key_len, backend, s->backend.len);
            c->redis_key_len += s->backend.len;

            c->entry = (uint32_t) (e - tune_herd_entries(herd));
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
             * reply arrives is spent out of the new share (see
             * tune_herd_granted()).  Top-ups left over expire unspent (they
             * are small) and their reservations last until the next poll
             * past W.
             */
            c->back = back;
            c->back_bucket = e->credit_bucket;
            c->debt = e->debt;
            c->stock = stock;

            e->spent = 0;
            e->asked = 0;
            e->claimed_debt = e->debt;
            e->debt = 0;
            e->claiming = 1;
            e->returning = back;

            /*
             * A share given back and none taken (an idle slot's): it is
             * not spent while the claim is away.  The script puts it back
             * in the pool as it runs and may grant it to another front-end
             * at once; a credit of it spent meanwhile would reach Redis
             * only with the next claim, and no new share covers it.  (A
             * renewal's new share does, but for a slot nearly full: see
             * tune_herd_granted().)  Lost if the claim fails: Redis may
             * still count it, the safe side.
             */
            if (stock >= TUNE_HERD_FAIR_MAX) {
                e->credits = 0;
                e->returning = 0;
            }

            n++;
        }
    }

    return n;
}


size_t
tune_herd_args(const tune_herd_claim_t *claims, size_t n, int64_t now,
    uint32_t window, const char *id, size_t id_len, char *buf, size_t cap,
    const char **argv, size_t *argvlen)
{
    size_t                    a, i, k, start;
    int64_t                   numbers[TUNE_HERD_SLOT_ARGS];
    tune_wbuf_t               w;
    const tune_herd_claim_t  *c;

    if (!tune_herd_id_check(id, id_len)) {
        return 0;
    }

    tune_wbuf_init(&w, buf, cap);
    a = 0;

    /* argv[a] is the text written since start, in buf */
#define tune_herd_arg(put)                                                   \
    start = w.len;                                                           \
    put;                                                                     \
    argv[a] = buf + start;                                                   \
    argvlen[a++] = w.len - start

    tune_herd_arg(tune_herd_put_i64(&w, (int64_t) n));

    for (i = 0; i < n; i++) {
        argv[a] = claims[i].redis_key;
        argvlen[a++] = claims[i].redis_key_len;
    }

    tune_herd_arg(tune_herd_put_i64(&w, now));
    tune_herd_arg(tune_herd_put_i64(&w, window));
    tune_herd_arg(tune_herd_put_i64(&w, TUNE_HERD_TTL_MS));
    tune_herd_arg(tune_wbuf_put(&w, id, id_len));

    for (i = 0; i < n; i++) {
        c = &claims[i];

        numbers[0] = c->polled_ms;
        numbers[1] = c->free;
        numbers[2] = c->want;
        numbers[3] = c->back;
        numbers[4] = c->back_bucket;
        numbers[5] = c->debt;
        numbers[6] = c->stock;

        for (k = 0; k < TUNE_HERD_SLOT_ARGS; k++) {
            tune_herd_arg(tune_herd_put_i64(&w, numbers[k]));
        }
    }

#undef tune_herd_arg

    /* argv then points past what buf holds: not to be used */
    if (w.overflow || w.len > cap) {
        return 0;
    }

    return a;
}


tune_rc_t
tune_herd_granted(tune_herd_t *herd, const tune_herd_claim_t *claims,
    size_t n, uint32_t window, int64_t sent_ms, const int64_t *reply)
{
    size_t              i;
    int64_t             granted, bucket;
    uint32_t            want, left, spent, meanwhile, cover;
    tune_herd_entry_t  *e;

    for (i = 0; i < 2 * n; i++) {
        if (reply[i] < 0) {
            return TUNE_ERR_RANGE;
        }
    }

    for (i = 0; i < n; i++) {

        if (claims[i].entry >= herd->nentries) {
            continue;
        }

        e = &tune_herd_entries(herd)[claims[i].entry];

        if (e->key != claims[i].key) {
            /* given to another slot meanwhile: the credits are lost */
            continue;
        }

        granted = reply[2 * i];
        bucket = reply[2 * i + 1];

        e->claiming = 0;
        e->returning = 0;
        e->claimed_debt = 0;

        /* sent without a credit since the claim was built: in none of its
         * numbers (see below) */
        meanwhile = e->debt;

        /*
         * A whole fair share means the slot had room for that many per
         * front-end; a top-up cut short means it no longer has.  (A top-up
         * granted in full says little: the share of a slot nearly full.)
         */
        if (claims[i].want == 0) {
            /* a share given back is no share: the slot is not kept */
            e->plenty = (granted >= TUNE_HERD_FAIR_MAX
                         && claims[i].stock < TUNE_HERD_FAIR_MAX);

        } else if (granted < claims[i].want) {
            e->plenty = 0;
        }

        /* never more than asked for, or than a fair share may be */
        want = claims[i].want ? claims[i].want : TUNE_HERD_FAIR_MAX;

        if (granted > want) {
            granted = want;
        }

        /*
         * Spent by then, a credit's listener has the rest of the window to
         * connect before the poll that reconciles it: no credit lives
         * longer than half a window.
         */
        if (claims[i].want == 0) {
            /*
             * The fair share renewed.  The script took back all that was
             * left of the old one when the claim was built and granted the
             * new one from the room that made, so the credits of the old
             * one spent while the claim was away are in the new grant:
             * they are spent out of it.  Counted as debt besides, they
             * would be granted twice, and a burst would overfill the slot
             * by as many.  Only what the new share cannot cover (a slot
             * nearly full, shared by several front-ends) is debt.
             */
            left = (e->credit_until > sent_ms) ? e->credits : 0;
            spent = (claims[i].back > left
                     && claims[i].stock < TUNE_HERD_FAIR_MAX)
                    ? claims[i].back - left : 0;

            if (spent > granted) {
                e->debt += spent - (uint32_t) granted;
                spent = (uint32_t) granted;
            }

            e->credits = (uint32_t) granted - spent;
            e->credit_until = sent_ms + window / 2;
            e->credit_bucket = bucket;

        } else if (e->credits2
                   && e->credit_until2 - sent_ms > (int64_t) window / 4)
        {
            /* a top-up: into a stock young enough, else a new one */
            e->credits2 += (uint32_t) granted;

        } else {
            e->credits2 = (uint32_t) granted;
            e->credit_until2 = sent_ms + window / 2;
        }

        /*
         * Tune-ins sent without a credit while the claim was away (before
         * the first answer, counted here alone; a dry stock of a roomy
         * slot) are not in its debt, and the script reserved nothing for
         * them; the credits just granted are reservations, so they are
         * spent out of those, as a credit of the old share spent meanwhile
         * is.  Reported as debt with the next claim besides, and the whole
         * grant spent as well, they would overfill the slot by as many.
         */
        cover = (meanwhile < (uint32_t) granted) ? meanwhile
                                                 : (uint32_t) granted;

        if (claims[i].want == 0) {
            cover = (cover < e->credits) ? cover : e->credits;
            e->credits -= cover;

        } else {
            cover = (cover < e->credits2) ? cover : e->credits2;
            e->credits2 -= cover;
        }

        e->debt -= cover;

        /*
         * Redis counts this front-end's tune-ins so far (the debt in this
         * claim among them) and the credits it holds: that is what it may
         * have pending against this poll until the next answer.
         */
        e->allot_credits = tune_herd_stock(e, sent_ms);
        e->allot_sent = 0;
        e->allot_polled = claims[i].polled_ms;
        e->allot_ms = sent_ms;
    }

    herd->answered_ms = sent_ms;

    /*
     * Credits hold for half a window, and so does the word of the last
     * reply: an idle front-end claims only as its fair share is renewed.
     * Counting only this front-end's tune-ins would break the bound between
     * front-ends, so that waits for Redis to fail (tune_herd_local()).
     */
    herd->global_until = sent_ms + window / 2;

    return TUNE_OK;
}


void
tune_herd_unclaimed(tune_herd_t *herd, const tune_herd_claim_t *claims,
    size_t n)
{
    size_t              i;
    tune_herd_entry_t  *e;

    for (i = 0; i < n; i++) {

        if (claims[i].entry >= herd->nentries) {
            continue;
        }

        e = &tune_herd_entries(herd)[claims[i].entry];

        if (e->key == claims[i].key) {
            /*
             * The stock was never taken out: it stays, until it expires,
             * a share given back included (not spent meanwhile: whole).
             */
            if (claims[i].want == 0 && claims[i].stock >= TUNE_HERD_FAIR_MAX)
            {
                e->credits = claims[i].back;
            }

            e->claiming = 0;
            e->returning = 0;
            e->claimed_debt = 0;
            e->debt += claims[i].debt;
        }
    }
}


void
tune_herd_takeover(tune_herd_t *herd)
{
    uint64_t            i;
    tune_herd_entry_t  *e;

    e = tune_herd_entries(herd);

    /* the tune-ins sent without a credit in those claims are reported
     * again (tune_herd_local() says why) */
    for (i = 0; i < herd->nentries; i++) {
        tune_herd_returned(&e[i]);

        if (e[i].claiming) {
            e[i].debt += e[i].claimed_debt;
        }

        e[i].claimed_debt = 0;
        e[i].claiming = 0;
    }
}


void
tune_herd_local(tune_herd_t *herd)
{
    uint64_t            i;
    tune_herd_entry_t  *e;

    herd->global_until = 0;

    e = tune_herd_entries(herd);

    /*
     * One claim at a time: whatever is claiming is in the failed one.  The
     * tune-ins it reported as sent without a credit go with the next claim
     * (the script may have recorded them before it failed: counted twice
     * then, the safe side); lost, Redis would grant their places again
     * once it answers, and the fleet would overfill by every tune-in an
     * outage sent.
     */
    for (i = 0; i < herd->nentries; i++) {
        if (e[i].key) {
            tune_herd_returned(&e[i]);

            if (e[i].claiming) {
                e[i].debt += e[i].claimed_debt;
            }

            e[i].claimed_debt = 0;
            e[i].claiming = 0;
            e[i].credits = 0;
            e[i].credits2 = 0;
        }
    }
}


void
tune_herd_refused(tune_herd_t *herd)
{
    tune_herd_local(herd);
    herd->refusals++;
}


uint32_t
tune_herd_refusals(const tune_herd_t *herd)
{
    return herd->refusals;
}


const char *
tune_herd_script(size_t *len)
{
    *len = sizeof(tune_herd_lua) - 1;

    return tune_herd_lua;
}


/* ---- helpers ------------------------------------------------------- */

/* whether a tune-in of these schemes may be sent to the slot by its room */
static int
tune_herd_askable(const tune_image_slot_t *s, uint32_t schemes)
{
    return s->health == TUNE_HEALTH_UP && s->weight != 0 && s->free != 0
           && !(s->flags & TUNE_SLOT_REFUSED)
           && (schemes == 0 || (s->scheme & schemes));
}


/*
 * The room (free x weight) of the n slots a tune-in of these schemes may go
 * to, summed; 0 when one of them is unlimited (the draw sends tune-ins
 * there first, so no slot without credits is asked for).
 */
static uint64_t
tune_herd_room(const tune_image_slot_t *s, uint32_t n, uint32_t schemes)
{
    uint32_t  i;
    uint64_t  room, sum;

    sum = 0;

    for (i = 0; i < n; i++, s++) {
        if (!tune_herd_askable(s, schemes)) {
            continue;
        }

        if (s->free == TUNE_UNLIMITED) {
            return 0;
        }

        /* each below 2^52 (weights to 2^20); the sum saturates */
        room = (uint64_t) s->free * s->weight;
        sum = (room < UINT64_MAX - sum) ? sum + room : UINT64_MAX;
    }

    return sum;
}


/* A slot's part of tuneins asks, in ASK_ONEs, by its part of the room */
static uint32_t
tune_herd_asks(const tune_image_slot_t *s, uint64_t room, uint32_t schemes,
    uint32_t tuneins)
{
    uint64_t  mine, part;

    if (tuneins == 0 || room == 0 || !tune_herd_askable(s, schemes)) {
        return 0;
    }

    mine = (uint64_t) s->free * s->weight;

    /* mine / room in ASK_ONEs, without overflow (mine <= room) */
    if (room < ((uint64_t) 1 << 40)) {
        part = (mine * TUNE_HERD_ASK_ONE) / room;

    } else {
        part = mine / (room / TUNE_HERD_ASK_ONE);
    }

    /* at least a part, or a slot with less than one of the room would
     * never be asked for, nor claimed for while idle */
    part = (part < TUNE_HERD_ASK_ONE) ? part : TUNE_HERD_ASK_ONE;
    part = (part > 0) ? part : 1;
    part *= tuneins;

    return (part < UINT32_MAX) ? (uint32_t) part : UINT32_MAX;
}


/*
 * The room (free x weight) of the TUNE_HERD_IDLE_SLOTS-th roomiest slot a
 * claim may be made for among n, 0 when there are no more than that: a
 * slot with more is kept a fair share while idle, and so are the first
 * *ties slots with as much.
 */
static uint64_t
tune_herd_roomy(const tune_image_slot_t *s, uint32_t n, uint32_t *ties)
{
    uint32_t  i, k, top;
    uint64_t  room, best[TUNE_HERD_IDLE_SLOTS];

    top = 0;

    for (i = 0; i < n; i++, s++) {
        if (s->health != TUNE_HEALTH_UP || s->weight == 0 || s->free == 0
            || s->free == TUNE_UNLIMITED || (s->flags & TUNE_SLOT_REFUSED))
        {
            continue;
        }

        room = (uint64_t) s->free * s->weight;

        /* best[] in falling order, the roomiest first */
        if (top < TUNE_HERD_IDLE_SLOTS) {
            k = top++;

        } else if (room > best[top - 1]) {
            k = top - 1;

        } else {
            continue;
        }

        while (k > 0 && best[k - 1] < room) {
            best[k] = best[k - 1];
            k--;
        }

        best[k] = room;
    }

    if (top < TUNE_HERD_IDLE_SLOTS) {
        *ties = 0;
        return 0;
    }

    /* best[] holds every slot with more room than the last, and ties of it */
    for (*ties = 0, k = 0; k < top; k++) {
        *ties += (best[k] == best[top - 1]);
    }

    return best[top - 1];
}


/*
 * How many more tune-ins this front-end may send to the slot while Redis
 * does not answer (its last answer came at answered_ms), by the slot's
 * last answer; UINT32_MAX for no bound but the free count.
 *
 * - Against the poll that answer was counted on: the credits it held then
 *   (reservations Redis counts against that poll), less the tune-ins sent
 *   since.
 * - The same against the first poll seen since Redis last answered, when
 *   the slot's answer came within W of the front-end's last answer and
 *   that poll was taken less than W/2 after it (so the credits, granted
 *   within W/2 before the answer, are still reservations against it): the
 *   poll installed just before Redis went away, its claim not yet answered
 *   (a large fleet's claims take a while to go round).  What was pending
 *   at the answer that poll may count as listeners: counted again, a part
 *   of the new free count would overfill the slot.
 * - Nothing otherwise: a slot without such an answer (never claimed, as an
 *   idle slot's share is not renewed; answered long before).  Counted
 *   against the free count alone, every front-end would take all of it
 *   (bench/fleet.py --outage).
 * - No bound against a later poll once Redis has refused a claim since it
 *   came: polls come and Redis answers with errors, so it is read but
 *   refuses the script (an ACL, NOREPLICAS), and a front-end left without
 *   a part must not turn its listeners away for as long as that lasts.
 *   Claims that fail otherwise (Redis away, a connection dropped) say
 *   nothing of that: a snapshot read as Redis comes back, or between two
 *   drops, would let every front-end take all of the slot.
 */
static uint32_t
tune_herd_part(tune_herd_entry_t *e, const tune_image_slot_t *s,
    int64_t answered_ms, uint32_t refusals, uint32_t window)
{
    uint32_t  left, mark;

    left = (e->allot_sent < e->allot_credits)
           ? e->allot_credits - e->allot_sent : 0;

    if (e->allot_polled != 0 && s->polled_ms == e->allot_polled) {
        return left;
    }

    /* the refusals so far, never 0 ("none yet") */
    mark = (refusals + 1 != 0) ? refusals + 1 : 1;

    if (e->allot_next_at != answered_ms) {
        e->allot_next = s->polled_ms;
        e->allot_next_at = answered_ms;
        e->allot_later = 0;
    }

    if (s->polled_ms > e->allot_next) {
        if (e->allot_later == 0) {
            e->allot_later = mark;
        }

        if (e->allot_later != mark) {
            return UINT32_MAX;
        }
    }

    if (e->allot_polled == 0 || s->polled_ms < e->allot_polled
        || answered_ms - e->allot_ms > (int64_t) window
        || s->polled_ms - e->allot_ms >= (int64_t) window / 2)
    {
        return 0;
    }

    return left;
}


/*
 * Whether Redis said the slot has room to spare (a whole fair share, no
 * top-up cut short since) within the window before at: now while Redis
 * answers, its last answer while it does not (so that an outage keeps the
 * word Redis gave as it began, and not one of long before).
 */
static int
tune_herd_plenty(const tune_herd_entry_t *e, int64_t at, uint32_t window)
{
    return e->plenty && e->credit_until + (int64_t) window / 2 > at;
}


static tune_herd_entry_t *
tune_herd_entries(const tune_herd_t *herd)
{
    return (tune_herd_entry_t *) ((char *) herd + sizeof(tune_herd_t));
}


/*
 * FNV-1a, 64 bits, of stream "\0" backend (0 is kept for "never used").
 * Two slots with one hash would share their counts: more conservative
 * accounting for both, never a tune-in over a free count.  With a few
 * thousand slots the chance is about 1e-12.
 */
static uint64_t
tune_herd_hash(const tune_image_t *img, const tune_image_stream_t *stream,
    const tune_image_slot_t *s)
{
    uint32_t              i, k;
    uint64_t              h;
    tune_str_t            part[2];
    const unsigned char  *p;

    part[0] = stream->name;
    part[1] = s->backend;

    h = 0xcbf29ce484222325ULL;

    for (k = 0; k < 2; k++) {
        p = (const unsigned char *) tune_image_str(img, part[k]);

        for (i = 0; i < part[k].len; i++) {
            h ^= p[i];
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
static tune_herd_entry_t *
tune_herd_entry(tune_herd_t *herd, uint64_t key, int64_t now, int add)
{
    uint64_t            i, k;
    tune_herd_entry_t  *entries, *e, *reuse;

    entries = tune_herd_entries(herd);
    reuse = NULL;
    i = key % herd->nentries;

    /* i wraps by hand: a division per probe costs more than the probe */
    for (k = 0; k < TUNE_HERD_PROBES && k < herd->nentries;
         k++, i = (i + 1 < herd->nentries) ? i + 1 : 0)
    {
        e = &entries[i];

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
            && now - e->used_ms > TUNE_HERD_IDLE_MS
            && e->credit_until < now && e->credit_until2 < now
            && (e->head + TUNE_HERD_BUCKETS) * TUNE_HERD_BUCKET_MS < now)
        {
            reuse = e;
        }
    }

    if (!add || reuse == NULL) {
        return NULL;
    }

    memset(reuse, 0, sizeof(tune_herd_entry_t));
    reuse->key = key;
    reuse->used_ms = now;
    reuse->head = tune_herd_floor(now, TUNE_HERD_BUCKET_MS);

    return reuse;
}


/*
 * This front-end's reservations still pending at the slot: those of buckets
 * that may hold a tune-in later than polled_ms - window.
 */
static uint32_t
tune_herd_pending(const tune_herd_entry_t *e, int64_t polled_ms,
    uint32_t window)
{
    size_t    i, r, n;
    int64_t   first;
    uint32_t  sum;

    first = tune_herd_floor(polled_ms - (int64_t) window
                            - TUNE_HERD_BUCKET_MS + 1,
                            TUNE_HERD_BUCKET_MS) + 1;

    if (first < e->head - TUNE_HERD_BUCKETS + 1) {
        first = e->head - TUNE_HERD_BUCKETS + 1;
    }

    if (first > e->head) {
        return 0;
    }

    /*
     * The buckets first..head, at most the whole ring: from first's place
     * to the ring's end, then on from its start.  The sum runs once per
     * slot of the stream for every tune-in: two plain runs, rather than a
     * ring index worked out for every bucket.
     */
    n = (size_t) (e->head - first) + 1;
    r = tune_herd_ring(first);
    sum = 0;

    for (i = r; i < TUNE_HERD_BUCKETS && n; i++, n--) {
        sum += e->count[i];
    }

    for (i = 0; i < n; i++) {
        sum += e->count[i];
    }

    return sum;
}


static int64_t
tune_herd_floor(int64_t a, int64_t b)
{
    return (a >= 0) ? a / b : -((-a + b - 1) / b);
}


/*
 * A bucket's place in the ring.  Buckets before 1970 (a host whose clock
 * starts at 0 until NTP sets it, and the window reaching back from there)
 * are negative: C's % would give a negative index.
 */
static size_t
tune_herd_ring(int64_t bucket)
{
    int64_t  i;

    i = bucket % TUNE_HERD_BUCKETS;

    return (size_t) (i < 0 ? i + TUNE_HERD_BUCKETS : i);
}


/* the credits of both stocks that have not expired */
static uint32_t
tune_herd_stock(const tune_herd_entry_t *e, int64_t now)
{
    return ((e->credit_until > now) ? e->credits : 0)
           + ((e->credit_until2 > now) ? e->credits2 : 0);
}


/*
 * One credit, from the top-ups first (they cannot be given back), then
 * from the fair share; 0 when there is none
 */
static int
tune_herd_spend(tune_herd_entry_t *e, int64_t now)
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


/*
 * The claim in flight gave back what was left of the fair share, and its
 * answer will not be waited for: whether the script ran is not known.  It
 * may have, so the share is Redis's again, no longer to be spent, nor given
 * back a second time; what was spent of it since the claim goes to Redis
 * as tune-ins without a credit (counted twice if the script did not run:
 * fewer tune-ins, never more than the free slots).
 */
static void
tune_herd_returned(tune_herd_entry_t *e)
{
    if (e->returning == 0) {
        return;
    }

    if (e->returning > e->credits) {
        e->debt += e->returning - e->credits;
    }

    e->credits = 0;
    e->returning = 0;
}


/*
 * The stream's slots, or NULL when the stream entry points outside the slot
 * table (a hand-made image): such a stream is not counted.
 */
static const tune_image_slot_t *
tune_herd_stream_slots(const tune_image_t *img,
    const tune_image_stream_t *stream)
{
    if (stream->nslots > img->nslots
        || stream->first_slot > img->nslots - stream->nslots)
    {
        return NULL;
    }

    return tune_image_slots(img) + stream->first_slot;
}


/*
 * The stream whose slots hold slot.  Streams are sorted by name, their slot
 * groups by text order, so this is a scan; take() is once per tune-in.
 */
static const tune_image_stream_t *
tune_herd_stream_of(const tune_image_t *img, uint32_t slot)
{
    uint32_t                    i;
    const tune_image_stream_t  *streams;

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


size_t
tune_herd_id(char *buf, const char *host, size_t host_len, const char *kind,
    long pid)
{
    int     n;
    size_t  i, len;

    len = 0;

    for (i = 0; i < host_len && len < 90; i++) {
        if (tune_is_name_byte((unsigned char) host[i])) {
            buf[len++] = host[i];
        }
    }

    /* at most 90 + 1 + 16 + 1 + 20 bytes: TUNE_HERD_ID_MAX */
    n = snprintf(buf + len, TUNE_HERD_ID_MAX - len, "%s%.*s:%ld",
                 len ? ":" : "", 16, kind, pid);

    return len + (n > 0 ? (size_t) n : 0);
}


/* 1..TUNE_HERD_ID_MAX bytes of [A-Za-z0-9._:-], as the script wants */
static int
tune_herd_id_check(const char *id, size_t len)
{
    size_t  i;

    if (id == NULL || len == 0 || len > TUNE_HERD_ID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!tune_is_name_byte((unsigned char) id[i]) && id[i] != ':') {
            return 0;
        }
    }

    return 1;
}


static void
tune_herd_put_i64(tune_wbuf_t *w, int64_t v)
{
    if (v < 0) {
        tune_wbuf_put(w, "-", 1);
        tune_wbuf_put_u64(w, (uint64_t) 0 - (uint64_t) v);
        return;
    }

    tune_wbuf_put_u64(w, (uint64_t) v);
}
