/*
 * tune_select_slot() and tune_rank_slots(): v2 selection, weighted by free
 * capacity.  Images are built by hand here, so this test links only the
 * selection and the image accessors.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tune_select.h"


#define MAX_SLOTS   20000
#define REGION_MAX  4           /* the longest region the tests use */
#define NONE        UINT32_MAX  /* no `first` for tune_rank_slots() */

typedef struct {
    uint32_t     health;
    uint32_t     free;
    uint32_t     weight;
    const char  *region;        /* NULL: none */
} spec_t;


static _Alignas(8) unsigned char  image[sizeof(tune_image_t)
                                        + 2 * sizeof(tune_image_stream_t)
                                        + MAX_SLOTS
                                          * (sizeof(tune_image_slot_t)
                                             + REGION_MAX)
                                        + 64];


/*
 * An image with two streams: "a" with `before` slots that are always the
 * best on offer (so picking one of them is a bug), then "s" with the slots
 * of spec.  Returns the image; *s gets stream "s".
 */
static const tune_image_t *
build(const spec_t *spec, uint32_t n, uint32_t before,
    const tune_image_stream_t **s)
{
    size_t                len;
    uint32_t              i, off;
    tune_image_t          hdr;
    tune_image_slot_t     slot;
    tune_image_stream_t   st[2];
    const tune_image_t   *img;

    assert_true(n + before <= MAX_SLOTS);

    memset(image, 0, sizeof(image));
    memset(&hdr, 0, sizeof(hdr));

    hdr.magic = TUNE_IMAGE_MAGIC;
    hdr.nstreams = 2;
    hdr.nslots = before + n;
    hdr.streams_off = sizeof(tune_image_t);
    hdr.slots_off = hdr.streams_off + 2 * sizeof(tune_image_stream_t);
    hdr.backends_off = hdr.slots_off + hdr.nslots * sizeof(tune_image_slot_t);

    off = hdr.backends_off;
    memcpy(image + off, "as", 2);

    memset(st, 0, sizeof(st));
    st[0].name.off = off;
    st[0].name.len = 1;
    st[0].first_slot = 0;
    st[0].nslots = before;
    st[1].name.off = off + 1;
    st[1].name.len = 1;
    st[1].first_slot = before;
    st[1].nslots = n;
    memcpy(image + hdr.streams_off, st, sizeof(st));

    off += 2;

    for (i = 0; i < before + n; i++) {
        memset(&slot, 0, sizeof(slot));

        if (i < before) {
            slot.health = TUNE_HEALTH_UP;
            slot.free = TUNE_UNLIMITED;
            slot.weight = 100;

        } else {
            slot.health = spec[i - before].health;
            slot.free = spec[i - before].free;
            slot.weight = spec[i - before].weight;

            if (spec[i - before].region != NULL) {
                len = strlen(spec[i - before].region);
                assert_true(len <= REGION_MAX);
                memcpy(image + off, spec[i - before].region, len);
                slot.region.off = off;
                slot.region.len = len;
                off += len;
            }
        }

        memcpy(image + hdr.slots_off + i * sizeof(slot), &slot,
               sizeof(slot));
    }

    hdr.size = (off + 7) & ~7u;
    memcpy(image, &hdr, sizeof(hdr));

    img = tune_image_get(image, sizeof(image));
    assert_non_null(img);

    *s = tune_image_find_stream(img, "s", 1);
    assert_non_null(*s);
    assert_int_equal((*s)->first_slot, before);

    return img;
}


/*
 * The slot chosen for rnd, as an index into spec; -1 for NO_SLOT, -2 for
 * FULL.  *slot is left alone unless the call succeeds.
 */
static long
pick(const tune_image_t *img, const tune_image_stream_t *s,
    const tune_select_opts_t *opts, uint32_t rnd)
{
    uint32_t   slot;
    tune_rc_t  rc;

    slot = UINT32_MAX;
    rc = tune_select_slot(img, s, opts, rnd, &slot);

    if (rc == TUNE_ERR_NO_SLOT || rc == TUNE_ERR_FULL) {
        assert_int_equal(slot, UINT32_MAX);
        return rc == TUNE_ERR_NO_SLOT ? -1 : -2;
    }

    assert_int_equal(rc, TUNE_OK);
    assert_true(slot >= s->first_slot);
    assert_true(slot < s->first_slot + s->nslots);

    return (long) (slot - s->first_slot);
}


/* One either way, but a slot that must get nothing gets nothing. */
static void
assert_near(uint32_t got, uint32_t want)
{
    assert_in_range(got, want > 0 ? want - 1 : 0, want > 0 ? want + 1 : 0);
}


/*
 * Draws 4096 times with rnd evenly spread over 2^32 values (k << 20) and
 * checks the picks: a slot with a share p of the score must get 4096 p of
 * them, give or take one (want[i]), or the scaling is biased.
 */
static void
assert_shares(const tune_image_t *img, const tune_image_stream_t *s,
    const tune_select_opts_t *opts, const uint32_t *want, uint32_t n)
{
    long      got;
    uint32_t  i, k, hits[8];

    assert_true(n <= 8);
    memset(hits, 0, sizeof(hits));

    for (k = 0; k < 4096; k++) {
        got = pick(img, s, opts, k << 20);
        assert_true(got >= 0 && got < (long) n);
        hits[got]++;
    }

    for (i = 0; i < n; i++) {
        assert_near(hits[i], want[i]);
    }
}


/* ---- tune_select_slot() -------------------------------------------- */


static void
test_share_by_free(void **state)
{
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const uint32_t              want[] = { 3413, 341, 341 };
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 100, 100, NULL },
        { TUNE_HEALTH_UP, 10, 100, NULL },
        { TUNE_HEALTH_UP, 10, 100, NULL },
    };

    (void) state;

    /* 100/120, 10/120, 10/120 of 4096 */
    img = build(spec, 3, 3, &s);
    assert_shares(img, s, NULL, want, 3);

    /* the ends of the range: the first and the last candidate */
    assert_int_equal(pick(img, s, NULL, 0), 0);
    assert_int_equal(pick(img, s, NULL, UINT32_MAX), 2);

    /* deterministic for a given rnd */
    assert_int_equal(pick(img, s, NULL, 3000000000u),
                     pick(img, s, NULL, 3000000000u));
}


static void
test_equal_slots_share(void **state)
{
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const uint32_t              want[] = { 1024, 1024, 1024, 1024 };
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 9, 100, NULL },
        { TUNE_HEALTH_UP, 9, 100, NULL },
        { TUNE_HEALTH_UP, 9, 100, NULL },
        { TUNE_HEALTH_UP, 9, 100, NULL },
    };

    (void) state;

    img = build(spec, 4, 1, &s);
    assert_shares(img, s, NULL, want, 4);
}


static void
test_weight_scales_share(void **state)
{
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const uint32_t              want[] = { 1365, 1365, 0, 1365, 0 };
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 10, 200, NULL },      /* counts as 20 */
        { TUNE_HEALTH_UP, 20, 100, NULL },
        { TUNE_HEALTH_UP, 1000, 0, NULL },      /* weight 0: never */
        { TUNE_HEALTH_UP, 40, 50, NULL },       /* counts as 20 */
        { TUNE_HEALTH_UP, TUNE_UNLIMITED, 0, NULL },    /* never */
    };

    (void) state;

    img = build(spec, 5, 0, &s);
    assert_shares(img, s, NULL, want, 5);
}


static void
test_weight_above_max_clamped(void **state)
{
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const uint32_t              want[] = { 2048, 2048 };
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 10, TUNE_WEIGHT_MAX, NULL },
        { TUNE_HEALTH_UP, 10, UINT32_MAX, NULL },   /* not in a decoded
                                                       image */
    };

    (void) state;

    img = build(spec, 2, 0, &s);
    assert_shares(img, s, NULL, want, 2);
}


static void
test_never_unhealthy(void **state)
{
    uint32_t                    rnd;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_DOWN, TUNE_UNLIMITED, 100, NULL },
        { TUNE_HEALTH_NOSOURCE, 1000, 100, NULL },
        { TUNE_HEALTH_DRAINING, 1000, 100, NULL },
        { TUNE_HEALTH_UNKNOWN, 1000, 100, NULL },
        { 77, 1000, 100, NULL },                /* a health from later */
        { TUNE_HEALTH_UP, 0, 100, NULL },       /* full */
        { TUNE_HEALTH_UP, 3, 100, NULL },
        { TUNE_HEALTH_DOWN, 0, 100, NULL },
    };

    (void) state;

    img = build(spec, 8, 0, &s);

    for (rnd = 0; rnd < 1000; rnd++) {
        assert_int_equal(pick(img, s, NULL, rnd * 4294967u), 6);
    }
}


static void
test_unlimited_among_unlimited(void **state)
{
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const uint32_t              want[] = { 0, 1024, 0, 3072, 0 };
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 4294967294u, TUNE_WEIGHT_MAX, NULL },
        { TUNE_HEALTH_UP, TUNE_UNLIMITED, 100, NULL },
        { TUNE_HEALTH_DOWN, TUNE_UNLIMITED, 100, NULL },
        { TUNE_HEALTH_UP, TUNE_UNLIMITED, 300, NULL },
        { TUNE_HEALTH_UP, 10, 100, NULL },
    };

    (void) state;

    /* by weight alone: 1/4 and 3/4 */
    img = build(spec, 5, 1, &s);
    assert_shares(img, s, NULL, want, 5);
}


static void
test_region_preferred(void **state)
{
    tune_select_opts_t          opts;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const uint32_t              us[] = { 0, 1024, 3072, 0, 0 };
    const uint32_t              all[] = { 2008, 20, 60, 2008, 0 };
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 1000, 100, "eu" },
        { TUNE_HEALTH_UP, 10, 100, "us" },
        { TUNE_HEALTH_UP, 30, 100, "us" },
        { TUNE_HEALTH_UP, 1000, 100, NULL },
        { TUNE_HEALTH_DOWN, 1000, 100, "asia" },
    };

    (void) state;

    img = build(spec, 5, 2, &s);
    memset(&opts, 0, sizeof(opts));

    /* only the region's slots, by their own shares */
    opts.region = "us";
    opts.region_len = 2;
    assert_shares(img, s, &opts, us, 5);

    /* compared by length and bytes, not as a prefix: no such region */
    opts.region = "u";
    opts.region_len = 1;
    assert_shares(img, s, &opts, all, 5);

    opts.region = "uss";
    opts.region_len = 3;
    assert_shares(img, s, &opts, all, 5);

    /* a region whose only slot is down: every offerable slot */
    opts.region = "asia";
    opts.region_len = 4;
    assert_shares(img, s, &opts, all, 5);

    /* NULL or an empty region: no preference */
    opts.region = NULL;
    opts.region_len = 2;
    assert_shares(img, s, &opts, all, 5);

    opts.region = "us";
    opts.region_len = 0;
    assert_shares(img, s, &opts, all, 5);
}


static void
test_region_full_falls_back(void **state)
{
    tune_select_opts_t          opts;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const uint32_t              want[] = { 0, 1024, 3072 };
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 0, 100, "us" },
        { TUNE_HEALTH_UP, 5, 100, "eu" },
        { TUNE_HEALTH_UP, 15, 100, "eu" },
    };

    (void) state;

    img = build(spec, 3, 0, &s);
    memset(&opts, 0, sizeof(opts));
    opts.region = "us";
    opts.region_len = 2;

    assert_shares(img, s, &opts, want, 3);
}


static void
test_skip(void **state)
{
    uint8_t                     skip[4];
    uint32_t                    rnd;
    tune_select_opts_t          opts;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 1000, 100, NULL },
        { TUNE_HEALTH_UP, 5, 100, NULL },
        { TUNE_HEALTH_UP, 0, 100, NULL },
        { TUNE_HEALTH_UP, TUNE_UNLIMITED, 100, NULL },
    };

    (void) state;

    img = build(spec, 4, 1, &s);
    memset(&opts, 0, sizeof(opts));
    opts.skip = skip;

    /* the unlimited slot was tried: the others, by free slots */
    memset(skip, 0, sizeof(skip));
    skip[3] = 1;
    assert_int_equal(pick(img, s, &opts, 0), 0);
    assert_int_equal(pick(img, s, &opts, UINT32_MAX), 1);

    /* then the biggest one too: only slot 1 is left */
    skip[0] = 1;

    for (rnd = 0; rnd < 100; rnd++) {
        assert_int_equal(pick(img, s, &opts, rnd * 42949672u), 1);
    }

    /* every slot with room tried, one full left: full */
    skip[1] = 1;
    assert_int_equal(pick(img, s, &opts, 0), -2);

    /* everything tried: nothing to offer */
    skip[2] = 1;
    assert_int_equal(pick(img, s, &opts, 0), -1);
}


static void
test_avail_overrides_free(void **state)
{
    uint32_t                    avail[3];
    tune_select_opts_t          opts;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const uint32_t              by_avail[] = { 1024, 3072, 0 };
    const uint32_t              second[] = { 0, 4096, 0 };
    const uint32_t              first[] = { 4096, 0, 0 };
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 1000, 100, NULL },
        { TUNE_HEALTH_UP, 0, 100, NULL },
        { TUNE_HEALTH_DOWN, 1000, 100, NULL },
    };

    (void) state;

    img = build(spec, 3, 2, &s);
    memset(&opts, 0, sizeof(opts));
    opts.avail = avail;

    /* the caller's counts, not the image's, set the shares */
    avail[0] = 1;
    avail[1] = 3;
    avail[2] = 1000;
    assert_shares(img, s, &opts, by_avail, 3);  /* down stays down */

    /* the caller sent as many as the first slot had room for */
    avail[0] = 0;
    assert_shares(img, s, &opts, second, 3);

    /* and to the second: full, though the image says free */
    avail[1] = 0;
    assert_int_equal(pick(img, s, &opts, 0), -2);

    /* TUNE_UNLIMITED from the caller counts as unlimited */
    avail[0] = TUNE_UNLIMITED;
    avail[1] = 4294967294u;
    assert_shares(img, s, &opts, first, 3);
}


static void
test_full_or_no_slot(void **state)
{
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                full[] = {
        { TUNE_HEALTH_UP, 0, 100, NULL },
        { TUNE_HEALTH_DOWN, 100, 100, NULL },
        { TUNE_HEALTH_UP, 0, 5, "eu" },
    };
    const spec_t                none[] = {
        { TUNE_HEALTH_DOWN, 100, 100, NULL },
        { TUNE_HEALTH_UP, 0, 0, NULL },     /* weight 0 is not "full" */
        { TUNE_HEALTH_UP, 50, 0, NULL },
        { TUNE_HEALTH_DRAINING, TUNE_UNLIMITED, 100, NULL },
        { TUNE_HEALTH_NOSOURCE, 0, 100, NULL },
        { TUNE_HEALTH_UNKNOWN, 5, 100, NULL },
    };

    (void) state;

    img = build(full, 3, 2, &s);
    assert_int_equal(pick(img, s, NULL, 0), -2);
    assert_int_equal(pick(img, s, NULL, UINT32_MAX), -2);

    img = build(none, 6, 2, &s);
    assert_int_equal(pick(img, s, NULL, 0), -1);
    assert_int_equal(pick(img, s, NULL, 7), -1);

    /* a stream with no slot at all */
    img = build(none, 0, 2, &s);
    assert_int_equal(pick(img, s, NULL, 0), -1);
}


static void
test_bounds(void **state)
{
    uint32_t                    slot;
    tune_image_stream_t         bad;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 5, 100, NULL },
    };

    (void) state;

    img = build(spec, 1, 2, &s);

    /* an unknown stream: tune_image_find_stream() gave NULL */
    assert_null(tune_image_find_stream(img, "t", 1));
    assert_int_equal(tune_select_slot(img,
                                      tune_image_find_stream(img, "t", 1),
                                      NULL, 0, &slot),
                     TUNE_ERR_NOT_FOUND);
    assert_int_equal(tune_select_slot(NULL, s, NULL, 0, &slot),
                     TUNE_ERR_NOT_FOUND);
    assert_int_equal(tune_select_slot(img, s, NULL, 0, NULL),
                     TUNE_ERR_NOT_FOUND);

    /* a stream entry pointing past the slot table offers nothing */
    bad = *s;
    bad.first_slot = 1;
    bad.nslots = 2;
    assert_int_equal(tune_select_slot(img, &bad, NULL, 0, &slot), TUNE_OK);
    bad.nslots = 3;
    assert_int_equal(tune_select_slot(img, &bad, NULL, 0, &slot),
                     TUNE_ERR_NO_SLOT);
    bad.first_slot = 2;
    bad.nslots = 2;
    assert_int_equal(tune_select_slot(img, &bad, NULL, 0, &slot),
                     TUNE_ERR_NO_SLOT);
    bad.first_slot = UINT32_MAX;
    bad.nslots = 2;
    assert_int_equal(tune_select_slot(img, &bad, NULL, 0, &slot),
                     TUNE_ERR_NO_SLOT);
    bad.first_slot = 0;
    bad.nslots = UINT32_MAX;
    assert_int_equal(tune_select_slot(img, &bad, NULL, 0, &slot),
                     TUNE_ERR_NO_SLOT);
}


/*
 * Scores summing past 2^64: 10000 slots each offering 4294967294 free slots
 * at the top weight.  The draw must still spread evenly over them, with
 * rnd's order kept (slot i for rnd near i / n of the range).
 */
static void
test_scores_past_64_bits(void **state)
{
    static spec_t               spec[10000];
    long                        got, last;
    uint32_t                    i, k, n;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;

    (void) state;

    n = sizeof(spec) / sizeof(spec[0]);

    for (i = 0; i < n; i++) {
        spec[i].health = TUNE_HEALTH_UP;
        spec[i].free = 4294967294u;
        spec[i].weight = TUNE_WEIGHT_MAX;
        spec[i].region = NULL;
    }

    img = build(spec, n, 5, &s);
    last = 0;

    for (k = 0; k < 65536; k++) {
        got = pick(img, s, NULL, k << 16);
        assert_true(got >= last);
        assert_near((uint32_t) got, (uint32_t) ((uint64_t) k * n >> 16));
        last = got;
    }

    assert_int_equal(pick(img, s, NULL, UINT32_MAX), n - 1);
}


static void
test_large_stream(void **state)
{
    static spec_t               spec[MAX_SLOTS - 10];
    uint32_t                    i, k, n, big;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;

    (void) state;

    n = MAX_SLOTS - 10;

    for (i = 0; i < n; i++) {
        spec[i].health = (i % 5 == 0) ? TUNE_HEALTH_DOWN : TUNE_HEALTH_UP;
        spec[i].free = (i % 5 == 0) ? 1000000 : 1;
        spec[i].weight = 100;
        spec[i].region = NULL;
    }

    spec[4321].free = 16000;        /* about half the score of the stream */

    img = build(spec, n, 10, &s);
    big = 0;

    for (k = 0; k < 4096; k++) {
        i = (uint32_t) pick(img, s, NULL, k << 20);
        assert_true(i % 5 != 0);
        big += (i == 4321);
    }

    /* 16000 of 16000 + 15991 */
    assert_near(big, 2049);
}


/*
 * A stream longer than the verdicts the first pass keeps for the walk: the
 * walk judges the later slots again, and must land exactly where the sums
 * put each draw, on either side of the boundary, with a region preferred.
 */
static void
test_walk_past_kept_verdicts(void **state)
{
    static spec_t               spec[70];
    long                        want;
    uint32_t                    i, k, n;
    uint64_t                    total, target, share;
    tune_select_opts_t          opts;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;

    (void) state;

    n = 70;

    for (i = 0; i < n; i++) {
        spec[i].health = (i % 7 == 3) ? TUNE_HEALTH_DOWN : TUNE_HEALTH_UP;
        spec[i].free = (i % 11 == 5) ? 0 : i + 1;
        spec[i].weight = 100;
        spec[i].region = (i % 2) ? "eu" : "us";
    }

    img = build(spec, n, 3, &s);

    memset(&opts, 0, sizeof(tune_select_opts_t));
    opts.region = "eu";
    opts.region_len = 2;

    /* the candidates: up, room, "eu"; scored by free x weight */
    for (i = 0, total = 0; i < n; i++) {
        if (spec[i].health == TUNE_HEALTH_UP && spec[i].free != 0 && i % 2) {
            total += (uint64_t) spec[i].free * 100;
        }
    }

    for (k = 0; k < 65536; k++) {
        target = ((uint64_t) (k << 16) * total) >> 32;

        for (i = 0, want = -1; i < n; i++) {
            if (spec[i].health != TUNE_HEALTH_UP || spec[i].free == 0
                || i % 2 == 0)
            {
                continue;
            }

            share = (uint64_t) spec[i].free * 100;

            if (target < share) {
                want = (long) i;
                break;
            }

            target -= share;
        }

        assert_int_equal(pick(img, s, &opts, k << 16), want);
    }
}


/* ---- tune_rank_slots() --------------------------------------------- */


/* The ranking as indexes into spec. */
static size_t
rank(const tune_image_t *img, const tune_image_stream_t *s,
    const tune_select_opts_t *opts, uint32_t first, uint32_t *got,
    size_t cap)
{
    size_t  i, n;

    n = tune_rank_slots(img, s, opts, first, got, cap);
    assert_true(n <= cap);

    for (i = 0; i < n; i++) {
        assert_true(got[i] >= s->first_slot);
        got[i] -= s->first_slot;
    }

    return n;
}


static void
test_rank_order(void **state)
{
    uint8_t                     skip[8];
    uint32_t                    got[16];
    tune_select_opts_t          opts;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 10, 100, "eu" },          /* 1000 */
        { TUNE_HEALTH_DOWN, 99, 100, "us" },        /* never */
        { TUNE_HEALTH_UP, 5, 200, "us" },           /* 1000 */
        { TUNE_HEALTH_UP, 30, 100, NULL },          /* 3000 */
        { TUNE_HEALTH_UP, 0, 100, "us" },           /* full */
        { TUNE_HEALTH_UP, 20, 100, "us" },          /* 2000 */
        { TUNE_HEALTH_UP, TUNE_UNLIMITED, 1, "eu" },
        { TUNE_HEALTH_UP, 10, 100, "eu" },          /* 1000 */
    };

    (void) state;

    img = build(spec, 8, 3, &s);

    /* unlimited, then by score; ties (0, 2, 7) in text order */
    assert_int_equal(rank(img, s, NULL, NONE, got, 16), 6);
    assert_int_equal(got[0], 6);
    assert_int_equal(got[1], 3);
    assert_int_equal(got[2], 5);
    assert_int_equal(got[3], 0);
    assert_int_equal(got[4], 2);
    assert_int_equal(got[5], 7);

    /* the chosen one first, even down, and only once */
    assert_int_equal(rank(img, s, NULL, s->first_slot + 1, got, 16), 7);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 6);
    assert_int_equal(got[6], 7);

    assert_int_equal(rank(img, s, NULL, s->first_slot + 5, got, 16), 6);
    assert_int_equal(got[0], 5);
    assert_int_equal(got[1], 6);
    assert_int_equal(got[2], 3);
    assert_int_equal(got[3], 0);

    /* a `first` of another stream is no slot of this one */
    assert_int_equal(rank(img, s, NULL, 0, got, 16), 6);
    assert_int_equal(got[0], 6);
    assert_int_equal(rank(img, s, NULL, s->first_slot + 8, got, 16), 6);

    /* the region's slots first, then the rest */
    memset(&opts, 0, sizeof(opts));
    opts.region = "us";
    opts.region_len = 2;
    assert_int_equal(rank(img, s, &opts, NONE, got, 16), 6);
    assert_int_equal(got[0], 5);
    assert_int_equal(got[1], 2);
    assert_int_equal(got[2], 6);
    assert_int_equal(got[3], 3);
    assert_int_equal(got[4], 0);
    assert_int_equal(got[5], 7);

    /* skipped slots are left out, the chosen one is not */
    memset(skip, 0, sizeof(skip));
    skip[5] = 1;
    skip[6] = 1;
    opts.skip = skip;
    assert_int_equal(rank(img, s, &opts, s->first_slot + 6, got, 16), 5);
    assert_int_equal(got[0], 6);
    assert_int_equal(got[1], 2);
    assert_int_equal(got[2], 3);
    assert_int_equal(got[3], 0);
    assert_int_equal(got[4], 7);
}


static void
test_rank_cap(void **state)
{
    uint32_t                    got[4];
    tune_image_stream_t         bad;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 1, 100, NULL },
        { TUNE_HEALTH_UP, 4, 100, NULL },
        { TUNE_HEALTH_UP, 2, 100, NULL },
        { TUNE_HEALTH_UP, 5, 100, NULL },
        { TUNE_HEALTH_UP, 3, 100, NULL },
    };

    (void) state;

    img = build(spec, 5, 1, &s);

    /* a short order[] keeps the best, in order */
    assert_int_equal(rank(img, s, NULL, NONE, got, 2), 2);
    assert_int_equal(got[0], 3);
    assert_int_equal(got[1], 1);

    assert_int_equal(rank(img, s, NULL, s->first_slot, got, 3), 3);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 3);
    assert_int_equal(got[2], 1);

    assert_int_equal(rank(img, s, NULL, s->first_slot + 2, got, 1), 1);
    assert_int_equal(got[0], 2);

    got[0] = 77;
    assert_int_equal(tune_rank_slots(img, s, NULL, NONE, got, 0), 0);
    assert_int_equal(got[0], 77);
    assert_int_equal(tune_rank_slots(img, s, NULL, NONE, NULL, 4), 0);
    assert_int_equal(tune_rank_slots(NULL, s, NULL, NONE, got, 4), 0);
    assert_int_equal(tune_rank_slots(img, NULL, NULL, NONE, got, 4), 0);

    bad = *s;
    bad.nslots = 6;
    assert_int_equal(tune_rank_slots(img, &bad, NULL, s->first_slot, got, 4),
                     0);
}


static void
test_rank_large_stream(void **state)
{
    static spec_t               spec[MAX_SLOTS];
    uint32_t                    i, got[3];
    const tune_image_t         *img;
    const tune_image_stream_t  *s;

    (void) state;

    for (i = 0; i < MAX_SLOTS; i++) {
        spec[i].health = TUNE_HEALTH_UP;
        spec[i].free = (i * 7919u) % 1000;
        spec[i].weight = 100;
        spec[i].region = NULL;
    }

    spec[17777].free = 2000;
    spec[4321].free = 2000;
    spec[12].free = 1999;

    img = build(spec, MAX_SLOTS, 0, &s);

    assert_int_equal(rank(img, s, NULL, NONE, got, 3), 3);
    assert_int_equal(got[0], 4321);
    assert_int_equal(got[1], 17777);
    assert_int_equal(got[2], 12);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_by_free),
        cmocka_unit_test(test_equal_slots_share),
        cmocka_unit_test(test_weight_scales_share),
        cmocka_unit_test(test_weight_above_max_clamped),
        cmocka_unit_test(test_never_unhealthy),
        cmocka_unit_test(test_unlimited_among_unlimited),
        cmocka_unit_test(test_region_preferred),
        cmocka_unit_test(test_region_full_falls_back),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_avail_overrides_free),
        cmocka_unit_test(test_full_or_no_slot),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_scores_past_64_bits),
        cmocka_unit_test(test_large_stream),
        cmocka_unit_test(test_walk_past_kept_verdicts),
        cmocka_unit_test(test_rank_order),
        cmocka_unit_test(test_rank_cap),
        cmocka_unit_test(test_rank_large_stream),
    };

    return cmocka_run_group_tests_name("core.select", tests, NULL, NULL);
}
