/*
 * tune_select(): v1 least-loaded selection.  Images are built by hand here,
 * so this test links only the selection and the image accessors.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tune_select.h"


#define MAX_SLOTS  20000

typedef struct {
    uint32_t  health;
    uint32_t  free;
    uint32_t  weight;
} spec_t;


static _Alignas(8) unsigned char  image[sizeof(tune_image_t)
                                        + 2 * sizeof(tune_image_stream_t)
                                        + MAX_SLOTS
                                          * sizeof(tune_image_slot_t)
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
    hdr.size = (off + 2 + 7) & ~7u;

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
        }

        memcpy(image + hdr.slots_off + i * sizeof(slot), &slot,
               sizeof(slot));
    }

    memcpy(image, &hdr, sizeof(hdr));

    img = tune_image_get(image, sizeof(image));
    assert_non_null(img);

    *s = tune_image_find_stream(img, "s", 1);
    assert_non_null(*s);
    assert_int_equal((*s)->first_slot, before);

    return img;
}


/* The slot chosen for rnd, as an index into spec, or -1 for NO_SLOT. */
static long
pick(const tune_image_t *img, const tune_image_stream_t *s, uint32_t rnd)
{
    uint32_t   slot;
    tune_rc_t  rc;

    slot = UINT32_MAX;
    rc = tune_select(img, s, rnd, &slot);

    if (rc == TUNE_ERR_NO_SLOT) {
        assert_int_equal(slot, UINT32_MAX);
        return -1;
    }

    assert_int_equal(rc, TUNE_OK);
    assert_true(slot >= s->first_slot);
    assert_true(slot < s->first_slot + s->nslots);

    return (long) (slot - s->first_slot);
}


static void
test_max_free_wins(void **state)
{
    uint32_t                    rnd;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 5, 100 },
        { TUNE_HEALTH_UP, 10, 100 },
        { TUNE_HEALTH_UP, 7, 100 },
        { TUNE_HEALTH_UP, 1, 100 },
    };

    (void) state;

    img = build(spec, 4, 3, &s);

    for (rnd = 0; rnd < 100; rnd++) {
        assert_int_equal(pick(img, s, rnd), 1);
    }

    assert_int_equal(pick(img, s, UINT32_MAX), 1);
}


static void
test_never_unhealthy(void **state)
{
    uint32_t                    rnd;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_DOWN, TUNE_UNLIMITED, 100 },
        { TUNE_HEALTH_NOSOURCE, 1000, 100 },
        { TUNE_HEALTH_DRAINING, 1000, 100 },
        { TUNE_HEALTH_UNKNOWN, 1000, 100 },
        { 77, 1000, 100 },                  /* a health value from later */
        { TUNE_HEALTH_UP, 0, 100 },         /* full */
        { TUNE_HEALTH_UP, 3, 100 },
        { TUNE_HEALTH_DOWN, 0, 100 },
    };

    (void) state;

    img = build(spec, 8, 0, &s);

    for (rnd = 0; rnd < 1000; rnd++) {
        assert_int_equal(pick(img, s, rnd), 6);
    }
}


static void
test_unlimited_wins(void **state)
{
    uint32_t                    rnd;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 4294967294u, 100 },
        { TUNE_HEALTH_DOWN, TUNE_UNLIMITED, 100 },
        { TUNE_HEALTH_UP, TUNE_UNLIMITED, 100 },
        { TUNE_HEALTH_UP, 10, 100 },
    };

    (void) state;

    img = build(spec, 4, 1, &s);

    for (rnd = 0; rnd < 50; rnd++) {
        assert_int_equal(pick(img, s, rnd), 2);
    }
}


static void
test_ties_by_rnd(void **state)
{
    long                        got;
    uint32_t                    rnd, hits[6];
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 5, 100 },
        { TUNE_HEALTH_UP, 9, 100 },
        { TUNE_HEALTH_DOWN, 9, 100 },
        { TUNE_HEALTH_UP, 9, 100 },
        { TUNE_HEALTH_UP, 9, 100 },
        { TUNE_HEALTH_UP, 1, 100 },
    };

    (void) state;

    img = build(spec, 6, 2, &s);

    /* the tied slots are 1, 3 and 4: rnd % 3 picks among them in order */

    assert_int_equal(pick(img, s, 0), 1);
    assert_int_equal(pick(img, s, 1), 3);
    assert_int_equal(pick(img, s, 2), 4);
    assert_int_equal(pick(img, s, 3), 1);
    assert_int_equal(pick(img, s, UINT32_MAX), 1);   /* 4294967295 % 3 */
    assert_int_equal(pick(img, s, UINT32_MAX - 1), 4);

    /* deterministic for a given rnd */
    assert_int_equal(pick(img, s, 12345), pick(img, s, 12345));

    /* every tied slot is reached, evenly, and no other one */

    memset(hits, 0, sizeof(hits));

    for (rnd = 0; rnd < 3000; rnd++) {
        got = pick(img, s, rnd * 2654435761u);
        assert_true(got >= 0 && got < 6);
        hits[got]++;
    }

    assert_int_equal(hits[0], 0);
    assert_int_equal(hits[2], 0);
    assert_int_equal(hits[5], 0);
    assert_int_equal(hits[1] + hits[3] + hits[4], 3000);
    assert_true(hits[1] > 900 && hits[3] > 900 && hits[4] > 900);
}


static void
test_unlimited_ties(void **state)
{
    uint32_t                    rnd, hits[3];
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, TUNE_UNLIMITED, 100 },
        { TUNE_HEALTH_UP, 500, 100 },
        { TUNE_HEALTH_UP, TUNE_UNLIMITED, 100 },
    };

    (void) state;

    img = build(spec, 3, 0, &s);
    memset(hits, 0, sizeof(hits));

    for (rnd = 0; rnd < 100; rnd++) {
        hits[pick(img, s, rnd)]++;
    }

    assert_int_equal(hits[0], 50);
    assert_int_equal(hits[1], 0);
    assert_int_equal(hits[2], 50);
}


static void
test_no_slot(void **state)
{
    uint32_t                    slot;
    tune_image_stream_t         bad;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                none[] = {
        { TUNE_HEALTH_DOWN, 100, 100 },
        { TUNE_HEALTH_UP, 0, 100 },
        { TUNE_HEALTH_DRAINING, TUNE_UNLIMITED, 100 },
        { TUNE_HEALTH_NOSOURCE, 5, 100 },
        { TUNE_HEALTH_UNKNOWN, 5, 100 },
    };

    (void) state;

    img = build(none, 5, 2, &s);
    assert_int_equal(pick(img, s, 0), -1);
    assert_int_equal(pick(img, s, 7), -1);

    /* a stream with no slot at all */
    img = build(none, 0, 2, &s);
    assert_int_equal(pick(img, s, 0), -1);

    /* an unknown stream: tune_image_find_stream() gave NULL */
    assert_null(tune_image_find_stream(img, "t", 1));
    assert_int_equal(tune_select(img, tune_image_find_stream(img, "t", 1),
                                 0, &slot),
                     TUNE_ERR_NOT_FOUND);
    assert_int_equal(tune_select(NULL, s, 0, &slot), TUNE_ERR_NOT_FOUND);
    assert_int_equal(tune_select(img, s, 0, NULL), TUNE_ERR_NOT_FOUND);

    /* a stream entry pointing past the slot table offers nothing */
    bad = *s;
    bad.first_slot = 0;
    bad.nslots = 2;
    assert_int_equal(tune_select(img, &bad, 0, &slot), TUNE_OK);
    bad.nslots = 3;
    assert_int_equal(tune_select(img, &bad, 0, &slot), TUNE_ERR_NO_SLOT);
    bad.first_slot = 1;
    bad.nslots = 2;
    assert_int_equal(tune_select(img, &bad, 0, &slot), TUNE_ERR_NO_SLOT);
    bad.first_slot = UINT32_MAX;
    bad.nslots = 2;
    assert_int_equal(tune_select(img, &bad, 0, &slot), TUNE_ERR_NO_SLOT);
}


static void
test_weight_scales_free_slots(void **state)
{
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 10, 100 },
        { TUNE_HEALTH_UP, 6, 200 },     /* counts as 12: wins */
        { TUNE_HEALTH_UP, 1000, 0 },    /* weight 0: never offered */
        { TUNE_HEALTH_UP, 23, 50 },     /* counts as 11.5 */
    };

    (void) state;

    img = build(spec, 4, 0, &s);

    assert_int_equal(pick(img, s, 0), 1);
    assert_int_equal(pick(img, s, 7), 1);
}


static void
test_weight_zero_only_is_no_slot(void **state)
{
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, 10, 0 },
        { TUNE_HEALTH_UP, TUNE_UNLIMITED, 0 },
    };

    (void) state;

    img = build(spec, 2, 0, &s);

    assert_int_equal(pick(img, s, 0), -1);
}


static void
test_weight_breaks_unlimited_ties(void **state)
{
    const tune_image_t         *img;
    const tune_image_stream_t  *s;
    const spec_t                spec[] = {
        { TUNE_HEALTH_UP, TUNE_UNLIMITED, 100 },
        { TUNE_HEALTH_UP, TUNE_UNLIMITED, TUNE_WEIGHT_MAX },
        { TUNE_HEALTH_UP, 4000000000u, TUNE_WEIGHT_MAX },
    };

    (void) state;

    img = build(spec, 3, 0, &s);

    assert_int_equal(pick(img, s, 0), 1);
    assert_int_equal(pick(img, s, 1), 1);
}


static void
test_large_stream(void **state)
{
    static spec_t               spec[MAX_SLOTS - 10];
    uint32_t                    i, n;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;

    (void) state;

    n = MAX_SLOTS - 10;

    for (i = 0; i < n; i++) {
        spec[i].health = (i % 5 == 0) ? TUNE_HEALTH_DOWN : TUNE_HEALTH_UP;
        spec[i].free = (i * 7919u) % 1000;
        spec[i].weight = 100;
    }

    spec[0].free = 5000;            /* down: ignored */
    spec[4321].free = 2000;
    spec[17777].free = 2000;

    img = build(spec, n, 10, &s);

    assert_int_equal(pick(img, s, 0), 4321);
    assert_int_equal(pick(img, s, 1), 17777);
    assert_int_equal(pick(img, s, 2), 4321);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_free_wins),
        cmocka_unit_test(test_never_unhealthy),
        cmocka_unit_test(test_unlimited_wins),
        cmocka_unit_test(test_ties_by_rnd),
        cmocka_unit_test(test_unlimited_ties),
        cmocka_unit_test(test_no_slot),
        cmocka_unit_test(test_weight_scales_free_slots),
        cmocka_unit_test(test_weight_zero_only_is_no_slot),
        cmocka_unit_test(test_weight_breaks_unlimited_ties),
        cmocka_unit_test(test_large_stream),
    };

    return cmocka_run_group_tests_name("core.select", tests, NULL, NULL);
}
