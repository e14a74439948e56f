/*
 * Per-decision metrics (tune_metrics.h): counting into the table, labels
 * left out when empty, what is dropped (a label that does not fit, a full
 * table), counts of many threads at once, and the text: exact for the
 * example snapshot with a herd table, and within the size bound.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "tune_metrics.h"
#include "schema_example.h"


#define T0          1763712000200LL
#define W           2000u

static _Alignas(8) unsigned char  image[1 << 16];
static _Alignas(8) unsigned char  table[1 << 16];
static _Alignas(8) unsigned char  counters[1 << 18];


#define ADD(m, metric, a, b) \
    tune_metrics_add(m, metric, a, strlen(a), b, strlen(b))
#define COUNT(m, metric, a, b) \
    tune_metrics_count(m, metric, a, strlen(a), b, strlen(b))


static tune_metrics_t *
table_of(size_t n)
{
    tune_metrics_t  *m;

    m = tune_metrics_init(counters, tune_metrics_size(n));
    assert_non_null(m);
    assert_int_equal(tune_metrics_capacity(m), n);

    return m;
}


/* The text for in, checked against the bound; the caller frees it */
static char *
text(const tune_metrics_in_t *in)
{
    char    *out;
    size_t   len, bound;

    bound = tune_metrics_text_size(in);
    out = malloc(bound + 1);
    assert_non_null(out);

    len = tune_metrics_write(in, out, bound);
    assert_true(len <= bound);
    out[len] = '\0';

    return out;
}


static void
test_table(void **state)
{
    tune_metrics_t  *m;

    (void) state;

    assert_null(tune_metrics_init(counters, tune_metrics_size(1) - 1));
    m = table_of(8);
    assert_ptr_equal(tune_metrics_get(counters, sizeof(counters)), m);
    assert_null(tune_metrics_get(counters, tune_metrics_size(8) - 1));
    counters[0] ^= 1;
    assert_null(tune_metrics_get(counters, sizeof(counters)));
}


static void
test_counts(void **state)
{
    tune_metrics_t  *m;

    (void) state;

    m = table_of(64);

    assert_int_equal(ADD(m, TUNE_METRIC_TUNEINS, "demo", "redirect"), 0);
    assert_int_equal(ADD(m, TUNE_METRIC_TUNEINS, "demo", "redirect"), 0);
    assert_int_equal(ADD(m, TUNE_METRIC_TUNEINS, "demo", "full"), 0);
    assert_int_equal(ADD(m, TUNE_METRIC_ASSIGNMENTS, "demo", "redirect"), 0);
    assert_int_equal(ADD(m, TUNE_METRIC_TUNEINS, "", "unknown"), 0);

    assert_int_equal(COUNT(m, TUNE_METRIC_TUNEINS, "demo", "redirect"), 2);
    assert_int_equal(COUNT(m, TUNE_METRIC_TUNEINS, "demo", "full"), 1);
    /* the same labels of another metric are another series */
    assert_int_equal(COUNT(m, TUNE_METRIC_ASSIGNMENTS, "demo", "redirect"), 1);
    assert_int_equal(COUNT(m, TUNE_METRIC_TUNEINS, "", "unknown"), 1);
    assert_int_equal(COUNT(m, TUNE_METRIC_TUNEINS, "demo", "stale"), 0);
    assert_int_equal(COUNT(m, TUNE_METRIC_TUNEINS, "dem", "oredirect"), 0);
}


static void
test_dropped(void **state)
{
    char             name[TUNE_METRIC_LABEL_MAX + 2];
    unsigned         i, counted;
    tune_metrics_t  *m;
    tune_metrics_in_t  in;
    char            *t;

    (void) state;

    m = table_of(4);

    /* labels a text could not hold as they are */
    assert_int_equal(ADD(m, TUNE_METRIC_TUNEINS, "de\"mo", "redirect"), -1);
    assert_int_equal(ADD(m, TUNE_METRIC_TUNEINS, "de\\mo", "redirect"), -1);
    assert_int_equal(ADD(m, TUNE_METRIC_TUNEINS, "de\nmo", "redirect"), -1);
    assert_int_equal(tune_metrics_add(m, TUNE_METRIC_TUNEINS, "d\xc3\xa9", 3,
                                      "x", 1), -1);
    memset(name, 'n', sizeof(name));
    assert_int_equal(tune_metrics_add(m, TUNE_METRIC_TUNEINS, name,
                                      TUNE_METRIC_LABEL_MAX + 1, "x", 1), -1);
    assert_int_equal(tune_metrics_add(m, TUNE_METRIC_TUNEINS, name,
                                      TUNE_METRIC_LABEL_MAX, "x", 1), 0);
    assert_int_equal(tune_metrics_add(m, (tune_metric_t) 9, "a", 1, "b", 1),
                     -1);

    /* the table full: counted as dropped, never as another series */
    counted = 1;
    for (i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "s%u", i);
        counted += (ADD(m, TUNE_METRIC_TUNEINS, name, "redirect") == 0);
    }
    assert_int_equal(counted, 4);

    memset(&in, 0, sizeof(in));
    in.counters = m;
    t = text(&in);
    /* 6 refused labels, 17 with no room */
    assert_non_null(strstr(t, "\ntuneslot_metrics_series_dropped_total 23\n"));
    free(t);
}


/* many writers at once: nothing lost, no series twice */
#define THREADS  4
#define EACH     20000

static void *
adder(void *arg)
{
    unsigned         i;
    char             stream[8];
    tune_metrics_t  *m = arg;

    for (i = 0; i < EACH; i++) {
        snprintf(stream, sizeof(stream), "s%u", i % 16);
        (void) ADD(m, TUNE_METRIC_TUNEINS, stream, "redirect");
    }

    return NULL;
}


static void
test_threads(void **state)
{
    unsigned         i;
    uint64_t         sum;
    pthread_t        t[THREADS];
    char             stream[8];
    tune_metrics_t  *m;

    (void) state;

    m = table_of(64);

    for (i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, adder, m), 0);
    }
    for (i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }

    for (i = 0, sum = 0; i < 16; i++) {
        snprintf(stream, sizeof(stream), "s%u", i);
        assert_int_equal(COUNT(m, TUNE_METRIC_TUNEINS, stream, "redirect"),
                         THREADS * EACH / 16);
        sum += COUNT(m, TUNE_METRIC_TUNEINS, stream, "redirect");
    }
    assert_int_equal(sum, THREADS * EACH);
}


/* A resized segment: the counts go over, to a larger table or a smaller */
static void
test_merge(void **state)
{
    static _Alignas(8) unsigned char  other[1 << 16];
    tune_metrics_t                   *src, *dst;

    (void) state;

    src = table_of(16);
    (void) ADD(src, TUNE_METRIC_TUNEINS, "demo", "redirect");
    (void) ADD(src, TUNE_METRIC_TUNEINS, "demo", "redirect");
    (void) ADD(src, TUNE_METRIC_PROXY_ATTEMPTS, "ice-a", "ok");
    (void) ADD(src, TUNE_METRIC_TUNEINS, "de\"mo", "x");      /* dropped */

    dst = tune_metrics_init(other, tune_metrics_size(64));
    assert_non_null(dst);
    (void) ADD(dst, TUNE_METRIC_TUNEINS, "demo", "redirect");

    tune_metrics_merge(dst, src);
    assert_int_equal(COUNT(dst, TUNE_METRIC_TUNEINS, "demo", "redirect"), 3);
    assert_int_equal(COUNT(dst, TUNE_METRIC_PROXY_ATTEMPTS, "ice-a", "ok"), 1);

    /* a table with room for one: the rest counted as dropped, with what
     * src had dropped */
    {
        char               want[64], *t;
        uint64_t           a, b;
        tune_metrics_in_t  in;

        dst = tune_metrics_init(other, tune_metrics_size(1));
        assert_non_null(dst);
        tune_metrics_merge(dst, src);
        a = COUNT(dst, TUNE_METRIC_TUNEINS, "demo", "redirect");
        b = COUNT(dst, TUNE_METRIC_PROXY_ATTEMPTS, "ice-a", "ok");
        assert_true((a == 2 && b == 0) || (a == 0 && b == 1));

        memset(&in, 0, sizeof(in));
        in.counters = dst;
        t = text(&in);
        snprintf(want, sizeof(want), "\ntuneslot_metrics_series_dropped_total %u\n",
                 (unsigned) ((a ? 1 : 2) + 1));
        assert_non_null(strstr(t, want));
        free(t);
    }
}


/* The whole text for the example snapshot, its herd table and counters */
static void
test_text(void **state)
{
    char                 *t;
    tune_herd_t          *herd;
    tune_metrics_t       *m;
    tune_metrics_in_t     in;
    tune_status_in_t      st;
    tune_status_redis_t   redis;
    tune_decode_err_t     err;
    const tune_image_t   *img;

    (void) state;

    assert_int_not_equal(tune_snapshot_decode(TUNE_SCHEMA_EXAMPLE,
                                              sizeof(TUNE_SCHEMA_EXAMPLE) - 1,
                                              7, image, sizeof(image), &err),
                         0);
    img = tune_image_get(image, sizeof(image));
    herd = tune_herd_init(table, sizeof(table));
    assert_non_null(herd);
    tune_herd_take(herd, img, NULL, 0, T0, W);

    m = table_of(64);
    (void) ADD(m, TUNE_METRIC_TUNEINS, "demo", "redirect");
    (void) ADD(m, TUNE_METRIC_ASSIGNMENTS, "demo", "ice-a");
    (void) ADD(m, TUNE_METRIC_PROXY_ATTEMPTS, "ice-b", "refused");
    (void) ADD(m, TUNE_METRIC_TUNEINS, "", "invalid");

    memset(&redis, 0, sizeof(redis));
    redis.connected = 1;
    memset(&st, 0, sizeof(st));
    st.img = img;
    st.age_ms = 1234;
    st.redis = &redis;
    st.herd = herd;
    st.window = W;
    st.now_ms = T0;

    in.status = &st;
    in.counters = m;
    in.version = "0.1.0";
    in.frontend = "nginx";

    t = text(&in);
    assert_non_null(strstr(t, "# TYPE tuneslot_build_info gauge\n"
                              "tuneslot_build_info{version=\"0.1.0\","
                              "frontend=\"nginx\"} 1\n"));
    assert_non_null(strstr(t, "# TYPE tuneslot_tuneins_total counter\n"));
    assert_non_null(strstr(t, "\ntuneslot_tuneins_total{stream=\"demo\","
                              "outcome=\"redirect\"} 1\n"));
    assert_non_null(strstr(t, "\ntuneslot_tuneins_total{outcome=\"invalid\"}"
                              " 1\n"));
    assert_non_null(strstr(t, "\ntuneslot_tunein_assignments_total{stream="
                              "\"demo\",backend=\"ice-a\"} 1\n"));
    assert_non_null(strstr(t, "\ntuneslot_proxy_attempts_total{backend="
                              "\"ice-b\",result=\"refused\"} 1\n"));
    assert_non_null(strstr(t, "\ntuneslot_metrics_series_dropped_total 0\n"));
    assert_non_null(strstr(t, "\ntuneslot_redis_up 1\n"));
    assert_non_null(strstr(t, "\ntuneslot_snapshot_generation 7\n"));
    assert_non_null(strstr(t, "\ntuneslot_snapshot_age_seconds 1.234\n"));
    assert_non_null(strstr(t, "\ntuneslot_herd_pending{stream=\"demo\"} 1\n"));
    assert_non_null(strstr(t, "\ntuneslot_herd_credits{stream=\"demo\"} 0\n"));
    /* every line a comment or "name{labels} value", ending in \n */
    assert_int_equal(t[strlen(t) - 1], '\n');
    free(t);

    /* before any image, counters or Redis: what there is, no more */
    memset(&st, 0, sizeof(st));
    in.counters = NULL;
    t = text(&in);
    assert_null(strstr(t, "tuneslot_snapshot_generation"));
    assert_null(strstr(t, "tuneslot_tuneins_total"));
    assert_non_null(strstr(t, "\ntuneslot_redis_up 0\n"));
    free(t);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_dropped),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
