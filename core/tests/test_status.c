/*
 * The status document (tune_status.h): the document for the example
 * snapshot of redis/SCHEMA.md byte for byte, no snapshot and no Redis,
 * null counts, the herd modes with pending and credits, JSON escaping of
 * hostile texts, and the size bound: a write into exactly the bound is
 * whole, one into a byte less than the document says so.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tune_status.h"
#include "schema_example.h"
#include "json_check.h"


#define T0          1763712000200LL     /* just after the example's polls */
#define W           2000u

/* no string grows by more than 6 when escaped */
#define TUNE_ST_TEST_SLACK  6


static _Alignas(8) unsigned char  image[1 << 16];
static _Alignas(8) unsigned char  table[1 << 16];


static const tune_image_t *
decode(const char *text, size_t len, uint64_t generation)
{
    tune_decode_err_t    err;
    const tune_image_t  *img;

    assert_int_not_equal(tune_snapshot_decode(text, len, generation, image,
                                              sizeof(image), &err), 0);

    img = tune_image_get(image, sizeof(image));
    assert_non_null(img);

    return img;
}


static const tune_image_t *
example(void)
{
    return decode(TUNE_SCHEMA_EXAMPLE, sizeof(TUNE_SCHEMA_EXAMPLE) - 1, 7);
}


static tune_status_redis_t
redis_state(void)
{
    tune_status_redis_t  r;

    memset(&r, 0, sizeof(r));

    r.address = "127.0.0.1:6379";
    r.address_len = strlen(r.address);
    r.connected = 1;
    r.last_reply_ms = 1763712000500LL;
    r.refresher = 4242;
    r.error = "";

    return r;
}


/*
 * The document for in, written into exactly the bound (malloc()ed, so a
 * sanitized build catches a write past it); checked whole and valid.
 * The caller frees it; *len gets its length.
 */
static char *
status(const tune_status_in_t *in, size_t *len)
{
    char    *out;
    size_t   bound, n;

    bound = tune_status_size(in);
    assert_true(bound > 0 && bound < SIZE_MAX);

    out = malloc(bound + 1);
    assert_non_null(out);

    n = tune_status_write(in, out, bound);
    assert_true(n <= bound);
    assert_true(n >= 2);
    assert_memory_equal(out + n - 2, "}\n", 2);

    if (!json_check(out, n)) {
        fail_msg("not JSON: %.*s", (int) n, out);
    }

    /* the length alone, as a first call without a buffer gives it */
    assert_int_equal(tune_status_write(in, NULL, 0), n);

    out[n] = '\0';

    if (len) {
        *len = n;
    }

    return out;
}


/* ---- the document ----------------------------------------------------- */

static void
test_example(void **state)
{
    char                 *doc;
    tune_status_in_t      in;
    tune_status_redis_t   redis;

    (void) state;

    redis = redis_state();

    memset(&in, 0, sizeof(in));
    in.img = example();
    in.age_ms = 1500;
    in.stale_ms = 60000;
    in.redis = &redis;
    in.window = W;
    in.now_ms = T0;

    doc = status(&in, NULL);

    assert_string_equal(doc,
        "{\"snapshot\":{\"generation\":7,\"written_ms\":1763712000123,"
        "\"interval_ms\":1000,\"age_ms\":1500,\"stale_after_ms\":60000,"
        "\"stale\":false,\"streams\":1,\"slots\":2,\"refused\":0,"
        "\"backends\":2},"
        "\"redis\":{\"address\":\"127.0.0.1:6379\",\"connected\":true,"
        "\"last_reply_ms\":1763712000500,\"failures\":0,\"herd\":\"local\","
        "\"refresher\":4242,\"last_error\":\"\"},"
        "\"backends\":["
        "{\"name\":\"ice-a\",\"health\":\"up\",\"polled_ms\":1763712000101,"
        "\"reason\":\"\"},"
        "{\"name\":\"ice-b\",\"health\":\"down\","
        "\"polled_ms\":1763712000099,"
        "\"reason\":\"connect: Connection refused\"}],"
        "\"streams\":[{\"name\":\"demo\",\"slots\":["
        "{\"backend\":\"ice-a\",\"health\":\"up\",\"refused\":false,"
        "\"listeners\":3,\"capacity\":100,\"free\":97,\"weight\":100,"
        "\"region\":\"eu\",\"polled_ms\":1763712000101,"
        "\"url\":\"http://a.example.net:8000/demo\","
        "\"pending\":0,\"credits\":0},"
        "{\"backend\":\"ice-b\",\"health\":\"down\",\"refused\":false,"
        "\"listeners\":0,\"capacity\":0,\"free\":0,\"weight\":100,"
        "\"region\":\"eu\",\"polled_ms\":1763712000099,"
        "\"url\":\"http://b.example.net:8000/demo\","
        "\"pending\":0,\"credits\":0}]}]}\n");

    free(doc);
}


static void
test_no_snapshot_no_redis(void **state)
{
    char                 *doc;
    tune_status_in_t      in;
    tune_status_redis_t   redis;

    (void) state;

    /* mod_tune without TuneRedis */
    memset(&in, 0, sizeof(in));
    doc = status(&in, NULL);
    assert_string_equal(doc, "{\"snapshot\":null,\"redis\":null}\n");
    free(doc);

    /* connecting, nothing received yet */
    redis = redis_state();
    redis.connected = 0;
    redis.last_reply_ms = 0;
    redis.failures = 3;
    redis.refresher = 0;
    redis.error = "connect: Connection refused";
    redis.error_len = strlen(redis.error);

    in.redis = &redis;
    in.age_ms = 5;
    in.stale_ms = 1;

    doc = status(&in, NULL);
    assert_string_equal(doc,
        "{\"snapshot\":null,\"redis\":{\"address\":\"127.0.0.1:6379\","
        "\"connected\":false,\"last_reply_ms\":0,\"failures\":3,"
        "\"herd\":\"off\",\"refresher\":0,"
        "\"last_error\":\"connect: Connection refused\"}}\n");
    free(doc);
}


static void
test_stale(void **state)
{
    char              *doc;
    tune_status_in_t   in;

    (void) state;

    memset(&in, 0, sizeof(in));
    in.img = example();
    in.stale_ms = 60000;
    in.age_ms = 60001;

    doc = status(&in, NULL);
    assert_non_null(strstr(doc, "\"age_ms\":60001,\"stale_after_ms\":60000,"
                                "\"stale\":true,"));
    free(doc);

    /* at the limit, and with no limit */
    in.age_ms = 60000;
    doc = status(&in, NULL);
    assert_non_null(strstr(doc, "\"stale\":false,"));
    free(doc);

    in.stale_ms = 0;
    in.age_ms = INT64_MAX;
    doc = status(&in, NULL);
    assert_non_null(strstr(doc, "\"age_ms\":9223372036854775807,"
                                "\"stale_after_ms\":0,\"stale\":false,"));
    free(doc);
}


/* unlimited capacity and free are null; a refused slot says so */
static void
test_null_counts_and_refused(void **state)
{
    char                 *doc;
    tune_status_in_t      in;
    tune_image_slot_t    *s;
    const tune_image_t   *img;

    static const char  text[] =
        "tuneslot-snapshot\t1\nwritten_ms\t1763712000123\n"
        "interval_ms\t1000\n"
        "slot\tdemo\tu\tup\t12\tunlimited\tunlimited\t100\t\t"
        "1763712000101\thttp://u.example.net/demo\n"
        "slot\tdemo\tl\tup\t12\t20\t8\t100\t\t"
        "1763712000101\thttp://l.example.net/demo\n"
        "end\n";

    (void) state;

    img = decode(text, sizeof(text) - 1, 1);

    /* what a host's allowlist does to the image it holds */
    s = (tune_image_slot_t *) tune_image_slots(img) + 1;
    s->flags |= TUNE_SLOT_REFUSED;
    ((tune_image_t *) img)->nrefused = 1;

    memset(&in, 0, sizeof(in));
    in.img = img;

    doc = status(&in, NULL);

    assert_non_null(strstr(doc, "{\"backend\":\"u\",\"health\":\"up\","
                                "\"refused\":false,\"listeners\":12,"
                                "\"capacity\":null,\"free\":null,"));
    assert_non_null(strstr(doc, "{\"backend\":\"l\",\"health\":\"up\","
                                "\"refused\":true,\"listeners\":12,"
                                "\"capacity\":20,\"free\":8,"));
    assert_non_null(strstr(doc, "\"refused\":1,\"backends\":0}"));
    assert_non_null(strstr(doc, "\"backends\":[],\"streams\":[{"));
    free(doc);
}


/* ---- herd accounting --------------------------------------------------- */

static void
test_herd(void **state)
{
    char                 *doc;
    int64_t               reply[2];
    tune_herd_t          *herd;
    tune_status_in_t      in;
    tune_herd_claim_t     claims[4];
    tune_status_redis_t   redis;

    (void) state;

    herd = tune_herd_init(table, sizeof(table));
    assert_non_null(herd);

    redis = redis_state();

    memset(&in, 0, sizeof(in));
    in.img = example();
    in.redis = &redis;
    in.herd = herd;
    in.window = W;
    in.now_ms = T0;

    /* two tune-ins to ice-a, counted by this front-end alone */
    tune_herd_take(herd, in.img, NULL, 0, T0, W);
    tune_herd_take(herd, in.img, NULL, 0, T0, W);

    doc = status(&in, NULL);
    assert_non_null(strstr(doc, "\"herd\":\"local\""));
    assert_non_null(strstr(doc, "\"url\":\"http://a.example.net:8000/demo\","
                                "\"pending\":2,\"credits\":0}"));
    assert_non_null(strstr(doc, "\"url\":\"http://b.example.net:8000/demo\","
                                "\"pending\":0,\"credits\":0}"));
    free(doc);

    /* Redis grants five credits: shared, for half a window */
    assert_int_equal(tune_herd_claims(herd, in.img, T0, W, claims, 4), 1);
    reply[0] = 5;
    reply[1] = T0 / TUNE_HERD_BUCKET_MS;
    assert_int_equal(tune_herd_granted(herd, claims, 1, W, T0, reply),
                     TUNE_OK);

    in.now_ms = T0 + 10;
    doc = status(&in, NULL);
    assert_non_null(strstr(doc, "\"herd\":\"shared\""));
    assert_non_null(strstr(doc, "\"pending\":2,\"credits\":5}"));
    free(doc);

    in.now_ms = T0 + W / 2;
    doc = status(&in, NULL);
    assert_non_null(strstr(doc, "\"herd\":\"local\""));
    free(doc);

    /* window 0: off, whatever the table holds */
    in.window = 0;
    doc = status(&in, NULL);
    assert_non_null(strstr(doc, "\"herd\":\"off\""));
    free(doc);
}


/* ---- escaping ---------------------------------------------------------- */

/* A reason may hold quotes and backslashes (the schema allows them) */
static void
test_hostile_reason(void **state)
{
    char              *doc;
    tune_status_in_t   in;

    static const char  text[] =
        "tuneslot-snapshot\t1\nwritten_ms\t1763712000123\n"
        "interval_ms\t1000\n"
        "backend\tb\tdown\t1763712000099\t"
        "connect: \"refused\" \\ here\"},{\"x\":\"\\u0000 </script>\n"
        "slot\tdemo\tb\tdown\t0\t0\t0\t100\t\t1763712000099\t"
        "http://b.example.net/demo\n"
        "end\n";

    (void) state;

    memset(&in, 0, sizeof(in));
    in.img = decode(text, sizeof(text) - 1, 1);

    doc = status(&in, NULL);
    assert_non_null(strstr(doc,
        "\"reason\":\"connect: \\\"refused\\\" \\\\ here\\\"},"
        "{\\\"x\\\":\\\"\\\\u0000 </script>\"}"));
    free(doc);
}


/* The last Redis error is the host's copy of anything a server said */
static void
test_hostile_error(void **state)
{
    char                 *doc;
    tune_status_in_t      in;
    tune_status_redis_t   redis;

    static const char  error[] = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f\x80\xff\0z";

    (void) state;

    redis = redis_state();
    redis.error = error;
    redis.error_len = sizeof(error) - 1;
    redis.address = "/run/redis \"x\".sock";
    redis.address_len = strlen(redis.address);

    memset(&in, 0, sizeof(in));
    in.redis = &redis;

    doc = status(&in, NULL);
    assert_non_null(strstr(doc,
        "\"last_error\":\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001F"
        "\\u007F\\u0080\\u00FF\\u0000z\"}"));
    assert_non_null(strstr(doc,
        "\"address\":\"/run/redis \\\"x\\\".sock\","));
    free(doc);
}


/* ---- the bound --------------------------------------------------------- */

/* One byte short: the length says so, and nothing past cap is written */
static void
test_short_buffer(void **state)
{
    char                 *doc, *out;
    size_t                len, n;
    tune_status_in_t      in;
    tune_status_redis_t   redis;

    (void) state;

    redis = redis_state();

    memset(&in, 0, sizeof(in));
    in.img = example();
    in.redis = &redis;

    doc = status(&in, &len);

    out = malloc(len);
    assert_non_null(out);

    out[len - 1] = '#';
    n = tune_status_write(&in, out, len - 1);
    assert_int_equal(n, len);
    assert_int_equal(out[len - 1], '#');
    assert_memory_equal(out, doc, len - 1);

    free(out);
    free(doc);
}


/* Every value at its longest, every string byte escaped at its longest */
static void
test_bound_worst_case(void **state)
{
    int                   k;
    char                 *doc, *text, reason[TUNE_REASON_MAX + 1],
                          error[64];
    size_t                used, cap, len, bound, i;
    tune_status_in_t      in;
    tune_status_redis_t   redis;

    (void) state;

    memset(reason, '"', TUNE_REASON_MAX);
    reason[TUNE_REASON_MAX] = '\0';
    memset(error, 0x01, sizeof(error));

    cap = 1 << 15;
    text = malloc(cap);
    assert_non_null(text);

    used = (size_t) snprintf(text, cap, "tuneslot-snapshot\t1\n"
                             "written_ms\t9223372036854775807\n"
                             "interval_ms\t4294967295\n");

    for (i = 0; i < 8; i++) {
        k = snprintf(text + used, cap - used,
                     "backend\tb%zu\tnosource\t9223372036854775807\t%s\n"
                     "slot\tstream%zu\tb%zu\tdraining\t4294967294\t"
                     "4294967294\t4294967294\t1000000\t"
                     "region-with-a-long-name\t9223372036854775807\t"
                     "http://b%zu.example.net:8000/stream\n",
                     i, reason, i % 3, i, i);
        assert_true(k > 0 && (size_t) k < cap - used);
        used += (size_t) k;
    }

    memcpy(text + used, "end\n", 4);
    used += 4;

    redis = redis_state();
    redis.error = error;
    redis.error_len = sizeof(error);
    redis.last_reply_ms = INT64_MIN;
    redis.failures = UINT64_MAX;
    redis.refresher = INT64_MIN;

    memset(&in, 0, sizeof(in));
    in.img = decode(text, used, UINT64_MAX);
    in.age_ms = INT64_MIN;
    in.stale_ms = INT64_MAX;
    in.redis = &redis;

    doc = status(&in, &len);
    bound = tune_status_size(&in);

    assert_non_null(strstr(doc, "\"generation\":18446744073709551615,"));
    assert_non_null(strstr(doc, "\"age_ms\":-9223372036854775808,"));
    assert_non_null(strstr(doc, "\"failures\":18446744073709551615,"));

    /* the bound is the document's worst case, not wildly above it */
    assert_true(bound < TUNE_ST_TEST_SLACK * len);

    free(doc);
    free(text);
}


int
main(void)
{
    const struct CMUnitTest  document_tests[] = {
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_no_snapshot_no_redis),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_null_counts_and_refused),
        cmocka_unit_test(test_herd),
    };

    const struct CMUnitTest  escape_tests[] = {
        cmocka_unit_test(test_hostile_reason),
        cmocka_unit_test(test_hostile_error),
    };

    const struct CMUnitTest  bound_tests[] = {
        cmocka_unit_test(test_short_buffer),
        cmocka_unit_test(test_bound_worst_case),
    };

    int  failed;

    failed = cmocka_run_group_tests_name("core.status.document",
                                         document_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("core.status.escape", escape_tests,
                                          NULL, NULL);
    failed += cmocka_run_group_tests_name("core.status.bound", bound_tests,
                                          NULL, NULL);

    return failed;
}
