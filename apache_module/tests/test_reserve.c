/*
 * TuneProxyReserve's decision from counts (tune_reserve.c): how many
 * workers to keep, whether a tune-in keeps them, how far to count, what
 * event can still start.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tune_reserve.h"


static int
kept(uint32_t capacity, uint32_t busy, uint32_t needed)
{
    mtune_workers_t  w;

    w.max = capacity;
    w.capacity = capacity;
    w.busy = busy;

    return mtune_reserve_kept(&w, needed);
}


static void
test_needed_number(void **state)
{
    (void) state;

    assert_int_equal(mtune_reserve_needed(0, 0, 150), 0);
    assert_int_equal(mtune_reserve_needed(5, 0, 150), 5);
    assert_int_equal(mtune_reserve_needed(500, 0, 150), 500);
}


static void
test_needed_percent_rounds_up(void **state)
{
    (void) state;

    assert_int_equal(mtune_reserve_needed(10, 1, 150), 15);
    assert_int_equal(mtune_reserve_needed(10, 1, 8), 1);
    assert_int_equal(mtune_reserve_needed(1, 1, 1), 1);
    assert_int_equal(mtune_reserve_needed(0, 1, 150), 0);
    assert_int_equal(mtune_reserve_needed(99, 1, 400000), 396000);
    assert_int_equal(mtune_reserve_needed(50, 1, 0), 0);
}


static void
test_kept_counts_the_asking_worker(void **state)
{
    (void) state;

    /* MaxRequestWorkers 8, reserve 3: the fifth listener leaves 3 free */
    assert_true(kept(8, 1, 3));
    assert_true(kept(8, 5, 3));
    assert_false(kept(8, 6, 3));
    assert_false(kept(8, 8, 3));

    /* a count a little behind may show more busy than there can be */
    assert_false(kept(8, 9, 3));
}


static void
test_kept_without_reserve_or_capacity(void **state)
{
    (void) state;

    assert_true(kept(8, 8, 0));
    assert_true(kept(8, 100, 0));
    assert_true(kept(0, 5, 0));

    /* no worker to be had (event: old generations fill the scoreboard) */
    assert_false(kept(0, 0, 3));
    assert_false(kept(0, 5, 3));
}


static void
test_reserve_beyond_capacity(void **state)
{
    (void) state;

    assert_false(kept(4, 1, 5));
    assert_false(kept(4, 0, 5));
    assert_true(kept(5, 0, 5));
}


static void
test_busy_limit(void **state)
{
    uint32_t  cap, needed, busy, limit;

    (void) state;

    assert_int_equal(mtune_reserve_busy_limit(8, 3), 6);
    assert_int_equal(mtune_reserve_busy_limit(8, 0), UINT32_MAX);
    assert_int_equal(mtune_reserve_busy_limit(0, 3), 0);
    assert_int_equal(mtune_reserve_busy_limit(0, 0), UINT32_MAX);
    assert_int_equal(mtune_reserve_busy_limit(4, 5), 0);

    /* counting stops at the limit: the verdict at and above it is the same */
    for (cap = 0; cap < 12; cap++) {
        for (needed = 0; needed < 14; needed++) {
            limit = mtune_reserve_busy_limit(cap, needed);

            for (busy = 0; busy < 16; busy++) {
                assert_int_equal(kept(cap, busy, needed), busy < limit);
            }
        }
    }
}


static void
test_obtainable(void **state)
{
    (void) state;

    /* event, ServerLimit 2, ThreadsPerChild 4, MaxRequestWorkers 8 */
    assert_int_equal(mtune_reserve_obtainable(1, 2, 1, 4), 8);
    assert_int_equal(mtune_reserve_obtainable(0, 2, 2, 4), 8);
    assert_int_equal(mtune_reserve_obtainable(2, 2, 0, 4), 8);

    /* an old generation still serving keeps the other slot: 4, not 8 */
    assert_int_equal(mtune_reserve_obtainable(1, 2, 0, 4), 4);
    assert_int_equal(mtune_reserve_obtainable(0, 2, 0, 4), 0);

    /* free slots beyond the active-process limit do not count */
    assert_int_equal(mtune_reserve_obtainable(1, 2, 14, 25), 50);
    assert_int_equal(mtune_reserve_obtainable(3, 6, 2, 25), 125);

    /* a restart lowered the limit below the processes still active */
    assert_int_equal(mtune_reserve_obtainable(3, 2, 5, 4), 12);

    assert_int_equal(mtune_reserve_obtainable(100000, 100000, 0, 100000),
                     UINT32_MAX);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_needed_number),
        cmocka_unit_test(test_needed_percent_rounds_up),
        cmocka_unit_test(test_kept_counts_the_asking_worker),
        cmocka_unit_test(test_kept_without_reserve_or_capacity),
        cmocka_unit_test(test_reserve_beyond_capacity),
        cmocka_unit_test(test_busy_limit),
        cmocka_unit_test(test_obtainable),
    };

    return cmocka_run_group_tests_name("reserve", tests, NULL, NULL);
}
