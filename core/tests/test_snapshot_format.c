/*
 * tune_snapshot_format_*(): exact output, snprintf() semantics, refused
 * fields, and the round trip: whatever the formatters accept, the decoder
 * accepts and decodes to the same values.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tune_name.h"
#include "tune_snapshot.h"
#include "tune_url.h"
#include "schema_example.h"


#define S(lit)      lit, sizeof(lit) - 1


static char                       line[8192];
static char                       text[2u << 20];
static _Alignas(8) unsigned char  image[8u << 20];


static tune_slot_fields_t
demo_slot(void)
{
    tune_slot_fields_t  s;

    memset(&s, 0, sizeof(s));
    s.stream = "demo";
    s.stream_len = 4;
    s.backend = "ice-a";
    s.backend_len = 5;
    s.health = TUNE_HEALTH_UP;
    s.listeners = 3;
    s.capacity = 100;
    s.free = 97;
    s.weight = 100;
    s.region = "eu";
    s.region_len = 2;
    s.polled_ms = 1763712000101LL;
    s.url = "http://a.example.net:8000/demo";
    s.url_len = strlen(s.url);

    return s;
}


static tune_backend_fields_t
demo_backend(void)
{
    tune_backend_fields_t  b;

    memset(&b, 0, sizeof(b));
    b.name = "ice-b";
    b.name_len = 5;
    b.health = TUNE_HEALTH_DOWN;
    b.polled_ms = 1763712000099LL;
    b.reason = "connect: Connection refused";
    b.reason_len = strlen(b.reason);

    return b;
}


/* The lines of the SCHEMA.md example, byte for byte. */
static void
test_schema_example(void **state)
{
    size_t                 n;
    tune_rc_t              rc;
    tune_slot_fields_t     s;
    tune_backend_fields_t  b;

    (void) state;

    n = tune_snapshot_format_header(line, sizeof(line), 1763712000123LL,
                                    1000);
    assert_string_equal(line, "tuneslot-snapshot\t1\n"
                              "written_ms\t1763712000123\n"
                              "interval_ms\t1000\n");
    assert_int_equal(n, strlen(line));

    b = demo_backend();
    b.name = "ice-a";
    b.health = TUNE_HEALTH_UP;
    b.polled_ms = 1763712000101LL;
    b.reason = "";
    b.reason_len = 0;
    rc = TUNE_ERR_SYNTAX;
    n = tune_snapshot_format_backend(line, sizeof(line), &b, &rc);
    assert_int_equal(rc, TUNE_OK);
    assert_string_equal(line, "backend\tice-a\tup\t1763712000101\n");
    assert_int_equal(n, strlen(line));

    /* a NULL reason of length 0 is an empty reason too */
    b.reason = NULL;
    n = tune_snapshot_format_backend(line, sizeof(line), &b, &rc);
    assert_int_equal(rc, TUNE_OK);
    assert_string_equal(line, "backend\tice-a\tup\t1763712000101\n");

    b = demo_backend();
    n = tune_snapshot_format_backend(line, sizeof(line), &b, &rc);
    assert_int_equal(rc, TUNE_OK);
    assert_string_equal(line, "backend\tice-b\tdown\t1763712000099\t"
                              "connect: Connection refused\n");
    assert_int_equal(n, strlen(line));

    s = demo_slot();
    n = tune_snapshot_format_slot(line, sizeof(line), &s, &rc);
    assert_int_equal(rc, TUNE_OK);
    assert_string_equal(line, "slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t"
                              "1763712000101\t"
                              "http://a.example.net:8000/demo\n");
    assert_int_equal(n, strlen(line));

    s.backend = "ice-b";
    s.health = TUNE_HEALTH_DOWN;
    s.listeners = 0;
    s.capacity = 0;
    s.free = 0;
    s.polled_ms = 1763712000099LL;
    s.url = "http://b.example.net:8000/demo";
    n = tune_snapshot_format_slot(line, sizeof(line), &s, &rc);
    assert_int_equal(rc, TUNE_OK);
    assert_string_equal(line, "slot\tdemo\tice-b\tdown\t0\t0\t0\t100\teu\t"
                              "1763712000099\t"
                              "http://b.example.net:8000/demo\n");

    n = tune_snapshot_format_end(line, sizeof(line));
    assert_string_equal(line, "end\n");
    assert_int_equal(n, 4);
}


static void
test_values(void **state)
{
    tune_rc_t              rc;
    tune_slot_fields_t     s;
    tune_backend_fields_t  b;

    (void) state;

    s = demo_slot();
    s.health = TUNE_HEALTH_NOSOURCE;
    s.listeners = 4294967294u;
    s.capacity = TUNE_UNLIMITED;
    s.free = TUNE_UNLIMITED;
    s.weight = TUNE_WEIGHT_MAX;
    s.region = NULL;
    s.region_len = 0;
    s.polled_ms = INT64_MAX;
    tune_snapshot_format_slot(line, sizeof(line), &s, &rc);
    assert_int_equal(rc, TUNE_OK);
    assert_string_equal(line, "slot\tdemo\tice-a\tnosource\t4294967294\t"
                              "unlimited\tunlimited\t1000000\t\t"
                              "9223372036854775807\t"
                              "http://a.example.net:8000/demo\n");

    s.health = TUNE_HEALTH_DRAINING;
    s.listeners = 0;
    s.capacity = 4294967294u;
    s.free = 0;
    s.weight = 0;
    s.polled_ms = 0;
    tune_snapshot_format_slot(line, sizeof(line), &s, &rc);
    assert_int_equal(rc, TUNE_OK);
    assert_string_equal(line, "slot\tdemo\tice-a\tdraining\t0\t4294967294\t"
                              "0\t0\t\t0\thttp://a.example.net:8000/demo\n");

    b = demo_backend();
    b.polled_ms = 0;
    b.reason = " x ";
    b.reason_len = 3;
    tune_snapshot_format_backend(line, sizeof(line), &b, &rc);
    assert_int_equal(rc, TUNE_OK);
    assert_string_equal(line, "backend\tice-b\tdown\t0\t x \n");

    tune_snapshot_format_header(line, sizeof(line), 0, 0);
    assert_string_equal(line, "tuneslot-snapshot\t1\nwritten_ms\t0\n"
                              "interval_ms\t0\n");

    tune_snapshot_format_header(line, sizeof(line), INT64_MAX, UINT32_MAX);
    assert_string_equal(line, "tuneslot-snapshot\t1\n"
                              "written_ms\t9223372036854775807\n"
                              "interval_ms\t4294967295\n");
}


/* snprintf(): the length is returned whatever cap is; cap >= len + 1. */
static void
test_space(void **state)
{
    char                buf[128];
    size_t              full, n, cap;
    tune_rc_t           rc;
    tune_slot_fields_t  s;

    (void) state;

    s = demo_slot();
    full = tune_snapshot_format_slot(NULL, 0, &s, &rc);
    assert_int_equal(rc, TUNE_OK);
    assert_true(full > 0 && full < sizeof(buf) - 8);

    for (cap = 0; cap < full + 8; cap++) {
        memset(buf, 'Z', sizeof(buf));
        n = tune_snapshot_format_slot(buf, cap, &s, &rc);
        assert_int_equal(n, full);
        assert_int_equal(rc, TUNE_OK);

        if (cap > full) {
            assert_int_equal(buf[full - 1], '\n');
            assert_int_equal(buf[full], '\0');
            assert_int_equal((int) strlen(buf), (int) full);

        } else if (cap > 0) {
            /* a cut line is never left looking like a line */
            assert_int_equal(buf[0], '\0');
        }

        /* never a byte past cap */
        assert_int_equal(buf[cap], 'Z');
        assert_int_equal(buf[sizeof(buf) - 1], 'Z');
    }

    memset(buf, 'Z', sizeof(buf));
    n = tune_snapshot_format_header(buf, 10, 1, 2);
    assert_int_equal(n, strlen("tuneslot-snapshot\t1\nwritten_ms\t1\n"
                               "interval_ms\t2\n"));
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[10], 'Z');

    n = tune_snapshot_format_header(NULL, 0, 1, 2);
    assert_int_equal(n, 47);

    /* the end line: "end\n" needs cap 5, anything less is NO_SPACE */

    assert_int_equal(tune_snapshot_format_end(NULL, 0), 4);
    assert_int_equal(tune_snapshot_format_end(NULL, 100), 4);

    for (cap = 0; cap < 12; cap++) {
        memset(buf, 'Z', sizeof(buf));
        n = tune_snapshot_format_end(buf, cap);
        assert_int_equal(n, 4);

        if (cap > 4) {
            assert_string_equal(buf, "end\n");

        } else if (cap > 0) {
            /* "end" cut from its '\n' must not pass for a whole one */
            assert_int_equal(buf[0], '\0');
        }

        assert_int_equal(buf[cap], 'Z');
        assert_int_equal(buf[sizeof(buf) - 1], 'Z');
    }
}


static void
expect_slot_error(const tune_slot_fields_t *s, tune_rc_t want)
{
    size_t     n;
    tune_rc_t  rc;

    rc = TUNE_OK;
    n = tune_snapshot_format_slot(line, sizeof(line), s, &rc);
    assert_int_equal(n, 0);
    assert_int_equal(rc, want);
}


static void
expect_backend_error(const tune_backend_fields_t *b, tune_rc_t want)
{
    size_t     n;
    tune_rc_t  rc;

    rc = TUNE_OK;
    n = tune_snapshot_format_backend(line, sizeof(line), b, &rc);
    assert_int_equal(n, 0);
    assert_int_equal(rc, want);
}


static void
test_refused_slot(void **state)
{
    char                long_url[TUNE_URL_MAX + 1];
    char                long_name[TUNE_NAME_MAX + 1];
    tune_slot_fields_t  s;

    (void) state;

#define WITH(field, value, len_field, len, want)                              \
    s = demo_slot();                                                          \
    s.field = (value);                                                        \
    s.len_field = (len);                                                      \
    expect_slot_error(&s, want)

    WITH(stream, "", stream_len, 0, TUNE_ERR_EMPTY);
    WITH(stream, NULL, stream_len, 0, TUNE_ERR_EMPTY);
    WITH(stream, "..", stream_len, 2, TUNE_ERR_LEADING_DOT);
    WITH(stream, "a..b", stream_len, 4, TUNE_ERR_DOT_DOT);
    WITH(stream, "a/b", stream_len, 3, TUNE_ERR_BAD_CHAR);
    WITH(stream, "a\tb", stream_len, 3, TUNE_ERR_BAD_CHAR);
    WITH(stream, "a\nb", stream_len, 3, TUNE_ERR_BAD_CHAR);
    WITH(backend, "ice a", backend_len, 5, TUNE_ERR_BAD_CHAR);
    WITH(backend, ".ice", backend_len, 4, TUNE_ERR_LEADING_DOT);

    memset(long_name, 'n', sizeof(long_name));
    WITH(stream, long_name, stream_len, TUNE_NAME_MAX + 1, TUNE_ERR_TOO_LONG);

    WITH(region, "e u", region_len, 3, TUNE_ERR_BAD_CHAR);
    WITH(region, "eu\t", region_len, 3, TUNE_ERR_BAD_CHAR);
    WITH(region, "eu\n", region_len, 3, TUNE_ERR_BAD_CHAR);
    WITH(region, NULL, region_len, 2, TUNE_ERR_EMPTY);
    WITH(region, long_name, region_len, TUNE_REGION_MAX + 1,
         TUNE_ERR_TOO_LONG);

    WITH(url, "", url_len, 0, TUNE_ERR_EMPTY);
    WITH(url, "http://x/a b", url_len, 12, TUNE_ERR_BAD_CHAR);
    WITH(url, "http://x/a\r\nb", url_len, 13, TUNE_ERR_BAD_CHAR);
    WITH(url, "http://x/a\tb", url_len, 12, TUNE_ERR_BAD_CHAR);
    WITH(url, "ftp://x/a", url_len, 9, TUNE_ERR_BAD_SCHEME);
    WITH(url, "http:///a", url_len, 9, TUNE_ERR_BAD_URL);
    WITH(url, "http://x/a#b", url_len, 12, TUNE_ERR_BAD_URL);

    memcpy(long_url, "http://x/", 9);
    memset(long_url + 9, 'u', sizeof(long_url) - 9);
    WITH(url, long_url, url_len, TUNE_URL_MAX + 1, TUNE_ERR_TOO_LONG);

#undef WITH

    s = demo_slot();
    s.weight = TUNE_WEIGHT_MAX + 1;
    expect_slot_error(&s, TUNE_ERR_RANGE);

    s = demo_slot();
    s.listeners = UINT32_MAX;
    expect_slot_error(&s, TUNE_ERR_RANGE);

    s = demo_slot();
    s.polled_ms = -1;
    expect_slot_error(&s, TUNE_ERR_RANGE);

    s = demo_slot();
    s.health = TUNE_HEALTH_UNKNOWN;
    expect_slot_error(&s, TUNE_ERR_RANGE);

    s = demo_slot();
    s.health = (tune_health_t) 42;
    expect_slot_error(&s, TUNE_ERR_RANGE);

    expect_slot_error(NULL, TUNE_ERR_EMPTY);

    /* rc may be NULL: the 0 still says "refused" */
    s = demo_slot();
    s.weight = TUNE_WEIGHT_MAX + 1;
    assert_int_equal(tune_snapshot_format_slot(line, sizeof(line), &s, NULL),
                     0);
}


static void
test_refused_backend(void **state)
{
    char                   reason[TUNE_REASON_MAX + 1];
    tune_backend_fields_t  b;

    (void) state;

#define WITH(field, value, len_field, len, want)                              \
    b = demo_backend();                                                       \
    b.field = (value);                                                        \
    b.len_field = (len);                                                      \
    expect_backend_error(&b, want)

    WITH(name, "", name_len, 0, TUNE_ERR_EMPTY);
    WITH(name, "a%2f", name_len, 4, TUNE_ERR_BAD_CHAR);
    WITH(name, "..", name_len, 2, TUNE_ERR_LEADING_DOT);

    WITH(reason, "a\tb", reason_len, 3, TUNE_ERR_BAD_CHAR);
    WITH(reason, "a\rb", reason_len, 3, TUNE_ERR_BAD_CHAR);
    WITH(reason, "a\nb", reason_len, 3, TUNE_ERR_BAD_CHAR);
    WITH(reason, "a\0b", reason_len, 3, TUNE_ERR_BAD_CHAR);
    WITH(reason, "a\x7f", reason_len, 2, TUNE_ERR_BAD_CHAR);
    WITH(reason, "caf\xc3\xa9", reason_len, 5, TUNE_ERR_BAD_CHAR);
    WITH(reason, NULL, reason_len, 3, TUNE_ERR_EMPTY);

    memset(reason, 'r', sizeof(reason));
    WITH(reason, reason, reason_len, TUNE_REASON_MAX + 1, TUNE_ERR_TOO_LONG);

#undef WITH

    b = demo_backend();
    b.reason = reason;
    b.reason_len = TUNE_REASON_MAX;
    assert_true(tune_snapshot_format_backend(line, sizeof(line), &b, NULL)
                > TUNE_REASON_MAX);

    b = demo_backend();
    b.polled_ms = INT64_MIN;
    expect_backend_error(&b, TUNE_ERR_RANGE);

    b = demo_backend();
    b.health = TUNE_HEALTH_UNKNOWN;
    expect_backend_error(&b, TUNE_ERR_RANGE);

    expect_backend_error(NULL, TUNE_ERR_EMPTY);

    assert_int_equal(tune_snapshot_format_header(line, sizeof(line), -1, 1),
                     0);
}


/* ---- round trip ---------------------------------------------------- */

/* xorshift32: deterministic, so a failure is reproducible */
static uint32_t
rnd_next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;

    return *x;
}


/*
 * Random bytes mostly from a field's own alphabet, now and then too many or
 * from anywhere, so that the formatter both accepts and refuses.
 */
static size_t
rnd_field(uint32_t *x, char *out, size_t max, const char *alphabet)
{
    size_t  i, len, alen;

    alen = strlen(alphabet);

    if (rnd_next(x) % 16 == 0) {
        len = rnd_next(x) % (max + 2);

    } else {
        len = 1 + rnd_next(x) % 12;
    }

    for (i = 0; i < len; i++) {
        if (rnd_next(x) % 500 == 0) {
            out[i] = (char) (rnd_next(x) & 0xff);

        } else {
            out[i] = alphabet[rnd_next(x) % alen];
        }
    }

    return len;
}


/* mostly valid for a count, now and then an edge or a refused value */
static uint32_t
rnd_u32(uint32_t *x, uint32_t max)
{
    switch (rnd_next(x) % 10) {
    case 0:
        return 0;
    case 1:
        return max;
    case 2:
        return rnd_next(x) % 30 == 0 ? max + 1 : max - 1;
    case 3:
        return UINT32_MAX;
    case 4:
        return max == UINT32_MAX ? rnd_next(x) : rnd_next(x) % (max + 1);
    default:
        return rnd_next(x) % 1000;
    }
}


static int64_t
rnd_ms(uint32_t *x)
{
    switch (rnd_next(x) % 20) {
    case 0:
        return 0;
    case 1:
        return INT64_MAX;
    case 2:
        return -1 - (int64_t) (rnd_next(x) % 5);
    default:
        return 1763712000000LL + rnd_next(x);
    }
}


static tune_health_t
rnd_health(uint32_t *x)
{
    /* TUNE_HEALTH_UNKNOWN and beyond are refused */
    return (tune_health_t) (rnd_next(x) % 30 == 0 ? 4 + rnd_next(x) % 3
                                                  : rnd_next(x) % 4);
}


#define NAME_CHARS  "abcdefXYZ0123456789._-"
#define URL_CHARS   "abcdefXYZ0123456789._-/:?=&%~!$'()*+,;@[]abcdef"
#define TEXT_CHARS  "abc XYZ 019:._-/()"

#define NRECORDS    400

typedef struct {
    char                   stream[TUNE_NAME_MAX + 2];
    char                   backend[TUNE_NAME_MAX + 2];
    char                   region[TUNE_REGION_MAX + 2];
    char                   url[TUNE_URL_MAX + 2];
    tune_slot_fields_t     f;
} rt_slot_t;

typedef struct {
    char                   name[TUNE_NAME_MAX + 2];
    char                   reason[TUNE_REASON_MAX + 2];
    tune_backend_fields_t  f;
} rt_backend_t;

static rt_slot_t     rt_slots[NRECORDS];
static rt_backend_t  rt_backends[NRECORDS];


static int
field_eq(const tune_image_t *img, tune_str_t s, const char *p, size_t len)
{
    return s.len == len && memcmp(tune_image_str(img, s), p, len) == 0;
}


static void
round_trip(uint32_t seed)
{
    const char                  *prefix;
    size_t                       len, n, i, j, nslots, nbackends, seen;
    int64_t                      written;
    uint32_t                     x, interval;
    tune_rc_t                    rc;
    rt_slot_t                   *rs;
    rt_backend_t                *rb;
    tune_decode_err_t            err;
    const tune_image_t          *img;
    const tune_image_slot_t     *sl;
    const tune_image_stream_t   *st;
    const tune_image_backend_t  *be;

    x = seed;
    written = rnd_ms(&x);
    interval = rnd_u32(&x, UINT32_MAX);

    len = tune_snapshot_format_header(text, sizeof(text), written, interval);

    if (len == 0) {
        assert_true(written < 0);
        written = 1;
        len = tune_snapshot_format_header(text, sizeof(text), written,
                                          interval);
    }

    nslots = 0;
    nbackends = 0;

    for (i = 0; i < NRECORDS; i++) {

        if (rnd_next(&x) % 3 == 0) {
            rb = &rt_backends[nbackends];
            memset(&rb->f, 0, sizeof(rb->f));

            rb->f.name = rb->name;
            rb->f.name_len = rnd_field(&x, rb->name, TUNE_NAME_MAX,
                                       NAME_CHARS);
            rb->f.health = rnd_health(&x);
            rb->f.polled_ms = rnd_ms(&x);
            rb->f.reason = rb->reason;
            rb->f.reason_len = rnd_field(&x, rb->reason, TUNE_REASON_MAX,
                                         TEXT_CHARS);

            n = tune_snapshot_format_backend(text + len, sizeof(text) - len,
                                             &rb->f, &rc);
            if (n == 0) {
                assert_int_not_equal(rc, TUNE_OK);
                continue;
            }

            assert_int_equal(rc, TUNE_OK);
            assert_true(n < sizeof(text) - len);
            len += n;
            nbackends++;
            continue;
        }

        rs = &rt_slots[nslots];
        memset(&rs->f, 0, sizeof(rs->f));

        /* few stream names, so streams get several slots */
        rs->f.stream = rs->stream;
        if (rnd_next(&x) % 4 == 0) {
            rs->f.stream_len = rnd_field(&x, rs->stream, TUNE_NAME_MAX,
                                         NAME_CHARS);
        } else {
            rs->f.stream_len = (size_t) snprintf(rs->stream,
                                                 sizeof(rs->stream), "s%u",
                                                 rnd_next(&x) % 7);
        }

        rs->f.backend = rs->backend;
        rs->f.backend_len = rnd_field(&x, rs->backend, TUNE_NAME_MAX,
                                      NAME_CHARS);
        rs->f.health = rnd_health(&x);
        rs->f.listeners = rnd_u32(&x, UINT32_MAX - 1);
        rs->f.capacity = rnd_u32(&x, UINT32_MAX - 1);
        rs->f.free = rnd_u32(&x, UINT32_MAX - 1);
        rs->f.weight = rnd_u32(&x, TUNE_WEIGHT_MAX);
        rs->f.region = rs->region;
        rs->f.region_len = rnd_field(&x, rs->region, TUNE_REGION_MAX,
                                     NAME_CHARS);
        rs->f.polled_ms = rnd_ms(&x);

        prefix = rnd_next(&x) % 2 ? "http://" : "https://";
        memcpy(rs->url, prefix, strlen(prefix));
        rs->f.url = rs->url;
        rs->f.url_len = strlen(prefix)
                        + rnd_field(&x, rs->url + strlen(prefix),
                                    TUNE_URL_MAX - 8, URL_CHARS);

        n = tune_snapshot_format_slot(text + len, sizeof(text) - len,
                                      &rs->f, &rc);
        if (n == 0) {
            assert_int_not_equal(rc, TUNE_OK);
            continue;
        }

        assert_int_equal(rc, TUNE_OK);
        assert_true(n < sizeof(text) - len);
        len += n;
        nslots++;
    }

    /* enough of both kinds were accepted for the test to mean something */
    assert_true(nslots > NRECORDS / 4);
    assert_true(nbackends > NRECORDS / 10);

    /* without the end line, the decoder takes the text for a cut one */

    n = tune_snapshot_decode(text, len, seed, image, sizeof(image), &err);
    assert_int_equal(n, 0);
    assert_int_equal(err.rc, TUNE_ERR_SYNTAX);
    assert_int_equal(err.line, 3 + nslots + nbackends + 1);

    n = tune_snapshot_format_end(text + len, sizeof(text) - len);
    assert_int_equal(n, 4);
    assert_true(n < sizeof(text) - len);
    len += n;

    n = tune_snapshot_decode(text, len, seed, image, sizeof(image), &err);

    if (n == 0) {
        print_error("seed %u: line %u: %s\n", seed, err.line, err.reason);
        fail();
    }

    img = tune_image_get(image, n);
    assert_non_null(img);
    assert_int_equal(img->written_ms, written);
    assert_int_equal(img->interval_ms, interval);
    assert_int_equal(img->nslots, nslots);
    assert_int_equal(img->nbackends, nbackends);

    be = tune_image_backends(img);

    for (i = 0; i < nbackends; i++) {
        rb = &rt_backends[i];
        assert_true(field_eq(img, be[i].name, rb->f.name, rb->f.name_len));
        assert_true(field_eq(img, be[i].reason, rb->f.reason,
                             rb->f.reason_len));
        assert_int_equal(be[i].health, rb->f.health);
        assert_int_equal(be[i].polled_ms, rb->f.polled_ms);
    }

    /*
     * Each slot is found in its stream, and the slots of one stream come
     * in the order they were written.
     */

    seen = 0;

    for (i = 0; i < nslots; i++) {
        rs = &rt_slots[i];

        st = tune_image_find_stream(img, rs->f.stream, rs->f.stream_len);
        assert_non_null(st);

        /* its rank among the earlier slots of the same stream */
        for (n = 0, j = 0; j < i; j++) {
            n += rt_slots[j].f.stream_len == rs->f.stream_len
                 && memcmp(rt_slots[j].f.stream, rs->f.stream,
                           rs->f.stream_len) == 0;
        }

        assert_true(n < st->nslots);
        sl = &tune_image_slots(img)[st->first_slot + n];

        assert_true(field_eq(img, sl->backend, rs->f.backend,
                             rs->f.backend_len));
        assert_true(field_eq(img, sl->region, rs->f.region,
                             rs->f.region_len));
        assert_true(field_eq(img, sl->url, rs->f.url, rs->f.url_len));
        assert_int_equal(sl->health, rs->f.health);
        assert_int_equal(sl->listeners, rs->f.listeners);
        assert_int_equal(sl->capacity, rs->f.capacity);
        assert_int_equal(sl->free, rs->f.free);
        assert_int_equal(sl->weight, rs->f.weight);
        assert_int_equal(sl->polled_ms, rs->f.polled_ms);
        seen++;
    }

    assert_int_equal(seen, img->nslots);
}


static void
test_round_trip(void **state)
{
    uint32_t  seed;

    (void) state;

    for (seed = 1; seed <= 40; seed++) {
        round_trip(seed * 2654435761u);
    }
}


/* The SCHEMA.md example, formatted, decodes like the text in SCHEMA.md. */
static void
test_round_trip_example(void **state)
{
    size_t                 len;
    tune_slot_fields_t     s;
    tune_backend_fields_t  b;
    static const char      expect[] = TUNE_SCHEMA_EXAMPLE;

    (void) state;

    len = tune_snapshot_format_header(text, sizeof(text), 1763712000123LL,
                                      1000);

    b = demo_backend();
    b.name = "ice-a";
    b.health = TUNE_HEALTH_UP;
    b.polled_ms = 1763712000101LL;
    b.reason_len = 0;
    len += tune_snapshot_format_backend(text + len, sizeof(text) - len, &b,
                                        NULL);

    b = demo_backend();
    len += tune_snapshot_format_backend(text + len, sizeof(text) - len, &b,
                                        NULL);

    s = demo_slot();
    len += tune_snapshot_format_slot(text + len, sizeof(text) - len, &s,
                                     NULL);

    s.backend = "ice-b";
    s.health = TUNE_HEALTH_DOWN;
    s.listeners = 0;
    s.capacity = 0;
    s.free = 0;
    s.polled_ms = 1763712000099LL;
    s.url = "http://b.example.net:8000/demo";
    len += tune_snapshot_format_slot(text + len, sizeof(text) - len, &s,
                                     NULL);

    len += tune_snapshot_format_end(text + len, sizeof(text) - len);

    assert_int_equal(len, sizeof(expect) - 1);
    assert_memory_equal(text, expect, len);
    assert_true(tune_snapshot_decode(text, len, 1, image, sizeof(image),
                                     NULL) > 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_example),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_space),
        cmocka_unit_test(test_refused_slot),
        cmocka_unit_test(test_refused_backend),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_example),
    };

    return cmocka_run_group_tests_name("core.snapshot_format", tests, NULL,
                                       NULL);
}
