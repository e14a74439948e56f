/*
 * tune_snapshot_decode() and the image accessors.
 *
 * Every decode copies the text into a heap block of exactly len bytes, so
 * that AddressSanitizer (TUNESLOT_SANITIZE=ON) catches any read past len.
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

#define HDR                                                                   \
    "tuneslot-snapshot\t1\nwritten_ms\t1763712000123\ninterval_ms\t1000\n"

/* every snapshot closes with it (SCHEMA.md) */
#define END         "end\n"

#define GOOD_SLOT                                                             \
    "slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1763712000101\t"            \
    "http://a.example.net:8000/demo"

static const char schema_example[] = TUNE_SCHEMA_EXAMPLE;


#define IMAGE_CAP  (4u << 20)

static _Alignas(8) unsigned char  image[IMAGE_CAP];
static char                       text_buf[2u << 20];


static size_t
decode_into(const char *text, size_t len, void *buf, size_t cap,
    tune_decode_err_t *err)
{
    char    *copy;
    size_t   n;

    copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);

    n = tune_snapshot_decode(copy, len, 42, buf, cap, err);

    free(copy);

    return n;
}


static const tune_image_t *
decode(const char *text, size_t len)
{
    size_t              n;
    tune_decode_err_t   err;
    const tune_image_t  *img;

    n = decode_into(text, len, image, sizeof(image), &err);

    if (n == 0) {
        print_error("decode failed: line %u: %s (%s)\n", err.line,
                    err.reason, tune_rc_reason(err.rc));
        fail();
    }

    assert_int_equal(err.rc, TUNE_OK);
    assert_int_equal(err.line, 0);
    assert_int_equal(n % 8, 0);
    assert_true(n <= TUNE_IMAGE_SIZE_MAX(len));

    img = tune_image_get(image, n);
    assert_non_null(img);
    assert_int_equal(img->size, n);

    return img;
}


static void
expect_error(const char *text, size_t len, tune_rc_t rc, unsigned line)
{
    size_t             n;
    tune_decode_err_t  err;

    n = decode_into(text, len, image, sizeof(image), &err);

    if (n != 0 || err.rc != rc || err.line != line) {
        print_error("text \"%.*s\": n=%zu rc=%d (want %d) line=%u (want %u)"
                    " reason=%s\n", (int) len, text, n, (int) err.rc,
                    (int) rc, err.line, line,
                    err.reason ? err.reason : "(null)");
        fail();
    }

    assert_non_null(err.reason);
    assert_true(strlen(err.reason) > 0);
}


static void
assert_str(const tune_image_t *img, tune_str_t s, const char *expect)
{
    assert_int_equal(s.len, strlen(expect));
    assert_memory_equal(tune_image_str(img, s), expect, s.len);
}


static void
test_schema_example(void **state)
{
    const tune_image_t           *img;
    const tune_image_slot_t      *sl;
    const tune_image_stream_t    *st;
    const tune_image_backend_t   *be;

    (void) state;

    img = decode(S(schema_example));

    assert_int_equal(img->magic, TUNE_IMAGE_MAGIC);
    assert_int_equal(img->generation, 42);
    assert_int_equal(img->written_ms, 1763712000123LL);
    assert_int_equal(img->interval_ms, 1000);
    assert_int_equal(img->nstreams, 1);
    assert_int_equal(img->nslots, 2);
    assert_int_equal(img->nbackends, 2);
    assert_int_equal(img->streams_off % 8, 0);
    assert_int_equal(img->slots_off % 8, 0);
    assert_int_equal(img->backends_off % 8, 0);

    st = tune_image_streams(img);
    assert_str(img, st[0].name, "demo");
    assert_int_equal(st[0].first_slot, 0);
    assert_int_equal(st[0].nslots, 2);
    assert_ptr_equal(tune_image_find_stream(img, S("demo")), &st[0]);
    assert_null(tune_image_find_stream(img, S("dem")));
    assert_null(tune_image_find_stream(img, S("demo2")));
    assert_null(tune_image_find_stream(img, S("")));

    sl = tune_image_slots(img);

    assert_str(img, sl[0].backend, "ice-a");
    assert_int_equal(sl[0].health, TUNE_HEALTH_UP);
    assert_int_equal(sl[0].listeners, 3);
    assert_int_equal(sl[0].capacity, 100);
    assert_int_equal(sl[0].free, 97);
    assert_int_equal(sl[0].weight, 100);
    assert_str(img, sl[0].region, "eu");
    assert_int_equal(sl[0].polled_ms, 1763712000101LL);
    assert_str(img, sl[0].url, "http://a.example.net:8000/demo");

    assert_str(img, sl[1].backend, "ice-b");
    assert_int_equal(sl[1].health, TUNE_HEALTH_DOWN);
    assert_int_equal(sl[1].listeners, 0);
    assert_int_equal(sl[1].capacity, 0);
    assert_int_equal(sl[1].free, 0);
    assert_int_equal(sl[1].weight, 100);
    assert_str(img, sl[1].region, "eu");
    assert_int_equal(sl[1].polled_ms, 1763712000099LL);
    assert_str(img, sl[1].url, "http://b.example.net:8000/demo");

    be = tune_image_backends(img);

    assert_str(img, be[0].name, "ice-a");
    assert_int_equal(be[0].health, TUNE_HEALTH_UP);
    assert_int_equal(be[0].polled_ms, 1763712000101LL);
    assert_str(img, be[0].reason, "");

    assert_str(img, be[1].name, "ice-b");
    assert_int_equal(be[1].health, TUNE_HEALTH_DOWN);
    assert_int_equal(be[1].polled_ms, 1763712000099LL);
    assert_str(img, be[1].reason, "connect: Connection refused");
}


/* The last '\n' (the end line's) is optional; a reason may be empty. */
static void
test_line_endings(void **state)
{
    size_t                       n1, n2;
    unsigned char               *copy;
    const tune_image_t          *img;
    const tune_image_backend_t  *be;

    (void) state;

    img = decode(S(schema_example));
    n1 = img->size;
    copy = malloc(n1);
    assert_non_null(copy);
    memcpy(copy, image, n1);

    img = decode(schema_example, sizeof(schema_example) - 2);
    n2 = img->size;
    assert_int_equal(n1, n2);
    assert_memory_equal(copy, image, n1);
    free(copy);

    img = decode(S(HDR "backend\tice-a\tup\t5\t\n"
                   "backend\tice-b\tup\t6\t\n"
                   "end"));
    be = tune_image_backends(img);
    assert_int_equal(img->nbackends, 2);
    assert_str(img, be[0].name, "ice-a");
    assert_str(img, be[0].reason, "");
    assert_int_equal(be[1].polled_ms, 6);
    assert_str(img, be[1].reason, "");
}


static void
test_header_errors(void **state)
{
    (void) state;

    /* missing lines */
    expect_error(S(""), TUNE_ERR_SYNTAX, 1);
    expect_error(S("tuneslot-snapshot\t1\n"), TUNE_ERR_SYNTAX, 2);
    expect_error(S("tuneslot-snapshot\t1"), TUNE_ERR_SYNTAX, 2);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 3);
    expect_error(S("written_ms\t1\ninterval_ms\t1\n"), TUNE_ERR_SYNTAX, 1);
    expect_error(S("tuneslot-snapshot\t1\ninterval_ms\t1\nwritten_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 2);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t1\n" GOOD_SLOT "\n"),
                 TUNE_ERR_SYNTAX, 3);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t1\nfuture\tx\n"),
                 TUNE_ERR_SYNTAX, 3);
    expect_error(S(GOOD_SLOT "\n"), TUNE_ERR_SYNTAX, 1);

    /* the end line does not stand in for a header line */
    expect_error(S("end"), TUNE_ERR_SYNTAX, 1);
    expect_error(S(END HDR END), TUNE_ERR_SYNTAX, 1);
    expect_error(S("tuneslot-snapshot\t1\n" END), TUNE_ERR_SYNTAX, 2);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t1\n" END),
                 TUNE_ERR_SYNTAX, 3);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t1\nend\t1\n"),
                 TUNE_ERR_SYNTAX, 3);

    /* the version */
    expect_error(S("tuneslot-snapshot\t2\nwritten_ms\t1\ninterval_ms\t1\n"),
                 TUNE_ERR_VERSION, 1);
    expect_error(S("tuneslot-snapshot\t0\nwritten_ms\t1\ninterval_ms\t1\n"),
                 TUNE_ERR_VERSION, 1);
    expect_error(S("tuneslot-snapshot\t10\nwritten_ms\t1\ninterval_ms\t1\n"),
                 TUNE_ERR_VERSION, 1);
    expect_error(S("tuneslot-snapshot\t99999999999999999999999\n"),
                 TUNE_ERR_VERSION, 1);
    expect_error(S("tuneslot-snapshot\t2\tzstd\n"), TUNE_ERR_VERSION, 1);
    expect_error(S("tuneslot-snapshot\t01\nwritten_ms\t1\ninterval_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 1);
    expect_error(S("tuneslot-snapshot\t1.0\nwritten_ms\t1\ninterval_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 1);
    expect_error(S("tuneslot-snapshot\t\nwritten_ms\t1\ninterval_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 1);
    expect_error(S("tuneslot-snapshot\nwritten_ms\t1\ninterval_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 1);
    expect_error(S("tuneslot-snapshot\t1\t\nwritten_ms\t1\ninterval_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 1);
    expect_error(S("tuneslot-snapshot 1\nwritten_ms\t1\ninterval_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 1);
    expect_error(S("Tuneslot-snapshot\t1\nwritten_ms\t1\ninterval_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 1);
    /* a byte order mark is not allowed */
    expect_error(S("\xef\xbb\xbftuneslot-snapshot\t1\nwritten_ms\t1\n"
                   "interval_ms\t1\n"), TUNE_ERR_SYNTAX, 1);
    /* CRLF line ends: the CR is a control character */
    expect_error(S("tuneslot-snapshot\t1\r\nwritten_ms\t1\r\n"
                   "interval_ms\t1\r\n"), TUNE_ERR_BAD_CHAR, 1);

    /* the header's numbers */
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t-1\ninterval_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 2);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t\ninterval_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 2);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t007\ninterval_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 2);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t9223372036854775808\n"
                   "interval_ms\t1\n"), TUNE_ERR_RANGE, 2);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t1\t2\ninterval_ms\t1\n"),
                 TUNE_ERR_SYNTAX, 2);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t1\ninterval_ms\t"
                   "4294967296\n"), TUNE_ERR_RANGE, 3);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t1\ninterval_ms\t1s\n"),
                 TUNE_ERR_SYNTAX, 3);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t1\ninterval_ms\n"),
                 TUNE_ERR_SYNTAX, 3);
}


static void
test_header_limits(void **state)
{
    const tune_image_t  *img;

    (void) state;

    img = decode(S("tuneslot-snapshot\t1\nwritten_ms\t9223372036854775807\n"
                   "interval_ms\t4294967295\nend"));
    assert_int_equal(img->written_ms, INT64_MAX);
    assert_int_equal(img->interval_ms, UINT32_MAX);
    assert_int_equal(img->nstreams, 0);
    assert_int_equal(img->nslots, 0);
    assert_int_equal(img->nbackends, 0);
    assert_int_equal(img->size, sizeof(tune_image_t));
    assert_null(tune_image_find_stream(img, S("demo")));

    img = decode(S("tuneslot-snapshot\t1\nwritten_ms\t0\ninterval_ms\t0\n"
                   END));
    assert_int_equal(img->written_ms, 0);
    assert_int_equal(img->interval_ms, 0);
}


typedef struct {
    const char  *line;
    size_t       len;
    tune_rc_t    rc;
} bad_line_t;

#define BAD(lit, rc)  { lit, sizeof(lit) - 1, rc }


/* Each line is put after a valid header, so the error is on line 4. */
static const bad_line_t  bad_lines[] = {

    /* field counts */
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1", TUNE_ERR_SYNTAX),
    BAD(GOOD_SLOT "\t", TUNE_ERR_SYNTAX),
    BAD(GOOD_SLOT "\textra", TUNE_ERR_SYNTAX),
    BAD("slot", TUNE_ERR_SYNTAX),
    BAD("slot\t", TUNE_ERR_SYNTAX),
    BAD("backend\tice-a\tup", TUNE_ERR_SYNTAX),
    BAD("backend\tice-a\tup\t1\treason\textra", TUNE_ERR_SYNTAX),
    BAD("backend", TUNE_ERR_SYNTAX),

    /* numbers */
    BAD("slot\tdemo\tice-a\tup\tx\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t-1\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t+1\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t 1\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t1 \t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t1.0\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t0x10\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t3\t1e2\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t3\tUnlimited\t97\t100\teu\t1\thttp://x/d",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t3\t100\tinf\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\tunlimited\t100\t97\t100\teu\t1\thttp://x/d",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\tunlimited\teu\t1\thttp://x/d",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\tnever\thttp://x/d",
        TUNE_ERR_SYNTAX),
    BAD("backend\tice-a\tup\t-5", TUNE_ERR_SYNTAX),
    BAD("backend\tice-a\tup\t", TUNE_ERR_SYNTAX),

    /* leading zeros */
    BAD("slot\tdemo\tice-a\tup\t03\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t00\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t3\t0100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t097\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t0100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t01\thttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("backend\tice-a\tup\t01", TUNE_ERR_SYNTAX),

    /* ranges */
    BAD("slot\tdemo\tice-a\tup\t4294967295\t100\t97\t100\teu\t1\thttp://x/d",
        TUNE_ERR_RANGE),
    BAD("slot\tdemo\tice-a\tup\t4294967296\t100\t97\t100\teu\t1\thttp://x/d",
        TUNE_ERR_RANGE),
    BAD("slot\tdemo\tice-a\tup\t3\t4294967295\t97\t100\teu\t1\thttp://x/d",
        TUNE_ERR_RANGE),
    BAD("slot\tdemo\tice-a\tup\t3\t4294967296\t97\t100\teu\t1\thttp://x/d",
        TUNE_ERR_RANGE),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t4294967296\t100\teu\t1\thttp://x/d",
        TUNE_ERR_RANGE),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t18446744073709551616\t100\teu\t1\t"
        "http://x/d", TUNE_ERR_RANGE),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t1000001\teu\t1\thttp://x/d",
        TUNE_ERR_RANGE),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t9223372036854775808\t"
        "http://x/d", TUNE_ERR_RANGE),
    BAD("backend\tice-a\tup\t99999999999999999999", TUNE_ERR_RANGE),

    /* names */
    BAD("slot\t\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_EMPTY),
    BAD("slot\t..\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_LEADING_DOT),
    BAD("slot\t.demo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_LEADING_DOT),
    BAD("slot\tde..mo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_DOT_DOT),
    BAD("slot\tde/mo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tde%2fmo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tde mo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tcaf\xc3\xa9\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/d",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tdemo\tice/a\tup\t3\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tdemo\t\tup\t3\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_EMPTY),
    BAD("backend\t\tup\t1", TUNE_ERR_EMPTY),
    BAD("backend\t.ice\tup\t1", TUNE_ERR_LEADING_DOT),
    BAD("backend\tice a\tup\t1", TUNE_ERR_BAD_CHAR),

    /* health must be a word */
    BAD("slot\tdemo\tice-a\t\t3\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_EMPTY),
    BAD("backend\tice-a\t\t1", TUNE_ERR_EMPTY),

    /* regions */
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\te u\t1\thttp://x/demo",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu/w\t1\thttp://x/demo",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\t"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "\t1\thttp://x/demo", TUNE_ERR_TOO_LONG),

    /* URLs */
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/de mo",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/demo\r",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/\rSet: x",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/<a>",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/d\"",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/d\xc3\xa9",
        TUNE_ERR_BAD_CHAR),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1\tftp://x/demo",
        TUNE_ERR_BAD_SCHEME),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1\t/demo",
        TUNE_ERR_BAD_SCHEME),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp:///demo",
        TUNE_ERR_BAD_URL),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/d#f",
        TUNE_ERR_BAD_URL),
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1\t", TUNE_ERR_EMPTY),
    /* an LF inside a field cuts the line short */
    BAD("slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1\nhttp://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("slot\tde\nmo\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_SYNTAX),

    /* reasons */
    BAD("backend\tice-b\tdown\t1\tconnect:\xc3\xa9", TUNE_ERR_BAD_CHAR),
    BAD("backend\tice-b\tdown\t1\tconnect\x7f", TUNE_ERR_BAD_CHAR),
    BAD("backend\tice-b\tdown\t1\tconnect\r", TUNE_ERR_BAD_CHAR),
    BAD("backend\tice-b\tdown\t1\t"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        TUNE_ERR_TOO_LONG),

    /* control characters anywhere, unknown records included */
    BAD("future\tx\0y", TUNE_ERR_BAD_CHAR),
    BAD("future\tx\ry", TUNE_ERR_BAD_CHAR),
    BAD("future\tx\x1b[0m", TUNE_ERR_BAD_CHAR),
    BAD("slot\tdemo\0\tice-a\tup\t3\t100\t97\t100\teu\t1\thttp://x/demo",
        TUNE_ERR_BAD_CHAR),

    /* record types: a word of [A-Za-z0-9._-] */
    BAD("\tdemo", TUNE_ERR_SYNTAX),
    BAD(" ", TUNE_ERR_SYNTAX),
    BAD(" slot\tdemo", TUNE_ERR_SYNTAX),
    BAD("fut ure\tx", TUNE_ERR_SYNTAX),
    BAD("caf\xc3\xa9\tx", TUNE_ERR_SYNTAX),
    /* a slot line whose TABs became spaces is not silently skipped */
    BAD("slot demo ice-a up 3 100 97 100 eu 1 http://x/demo",
        TUNE_ERR_SYNTAX),
    BAD("tuneslot-snapshot\t1", TUNE_ERR_SYNTAX),
    BAD("written_ms\t5", TUNE_ERR_SYNTAX),
    BAD("interval_ms\t5", TUNE_ERR_SYNTAX),

    /* the end line is one field, exactly "end" */
    BAD("end\t", TUNE_ERR_SYNTAX),
    BAD("end\t1", TUNE_ERR_SYNTAX),
    BAD("end\tend", TUNE_ERR_SYNTAX),
    BAD("end\t\t", TUNE_ERR_SYNTAX),
    BAD("end ", TUNE_ERR_SYNTAX),
    BAD("end\r", TUNE_ERR_BAD_CHAR),
};


static void
test_bad_lines(void **state)
{
    size_t             i, n, len;
    tune_decode_err_t  err;

    (void) state;

    for (i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {

        /*
         * The bad line, then a good one and the end line: the error must
         * be on line 4.
         */

        len = sizeof(HDR) - 1;
        memcpy(text_buf, HDR, len);
        memcpy(text_buf + len, bad_lines[i].line, bad_lines[i].len);
        len += bad_lines[i].len;
        memcpy(text_buf + len, "\n" GOOD_SLOT "\n" END,
               sizeof("\n" GOOD_SLOT "\n" END) - 1);
        len += sizeof("\n" GOOD_SLOT "\n" END) - 1;

        n = decode_into(text_buf, len, image, sizeof(image), &err);

        if (n != 0 || err.rc != bad_lines[i].rc || err.line != 4) {
            print_error("bad_lines[%zu] \"%.*s\": n=%zu rc=%d (want %d) "
                        "line=%u reason=%s\n", i, (int) bad_lines[i].len,
                        bad_lines[i].line, n, (int) err.rc,
                        (int) bad_lines[i].rc, err.line, err.reason);
            fail();
        }

        /* and as the last line, without '\n': its own error comes first */

        len = sizeof(HDR) - 1;
        memcpy(text_buf + len, bad_lines[i].line, bad_lines[i].len);
        len += bad_lines[i].len;

        n = decode_into(text_buf, len, image, sizeof(image), &err);

        if (n != 0 || err.rc != bad_lines[i].rc || err.line != 4) {
            print_error("bad_lines[%zu] last: n=%zu rc=%d line=%u\n", i, n,
                        (int) err.rc, err.line);
            fail();
        }
    }
}


static void
test_empty_lines(void **state)
{
    (void) state;

    expect_error(S("\n"), TUNE_ERR_SYNTAX, 1);
    expect_error(S("\n" HDR END), TUNE_ERR_SYNTAX, 1);
    expect_error(S("tuneslot-snapshot\t1\n\nwritten_ms\t1\ninterval_ms\t1\n"
                   END), TUNE_ERR_SYNTAX, 2);
    expect_error(S(HDR "\n"), TUNE_ERR_SYNTAX, 4);
    expect_error(S(HDR "\n" END), TUNE_ERR_SYNTAX, 4);
    expect_error(S(HDR GOOD_SLOT "\n\n"), TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR GOOD_SLOT "\n\n" END), TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR GOOD_SLOT "\n\n" GOOD_SLOT "\n" END),
                 TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR GOOD_SLOT "\n \n" END), TUNE_ERR_SYNTAX, 5);
    /* one '\n' may end the end line, a second one is an empty line */
    expect_error(S(HDR END "\n"), TUNE_ERR_SYNTAX, 5);
}


static void
test_truncated(void **state)
{
    size_t             cut, n;
    unsigned           lines;
    tune_decode_err_t  err;

    (void) state;

    /* known cuts */

    expect_error(schema_example, 10, TUNE_ERR_SYNTAX, 1);
    expect_error(schema_example, 18, TUNE_ERR_SYNTAX, 1);
    expect_error(schema_example, 20, TUNE_ERR_SYNTAX, 2);
    expect_error(schema_example, 25, TUNE_ERR_SYNTAX, 2);
    expect_error(S(HDR "slot\tdemo\tice-b\tdown\t0"), TUNE_ERR_SYNTAX, 4);
    expect_error(S(HDR "slot\tdemo\tice-b\tdown\t0\t0\t0\t100\teu\t1763"),
                 TUNE_ERR_SYNTAX, 4);
    expect_error(S(HDR "backend\tice-a\tup"), TUNE_ERR_SYNTAX, 4);
    expect_error(S(HDR "slot\tdemo\tice-b\tdown\t0\t0\t0\t100\teu\t1\t"
                   "http://"), TUNE_ERR_BAD_URL, 4);

    /*
     * Cuts that leave only valid lines: the missing end line is what
     * tells, on the line after the last one read.  A URL cut short is
     * still a valid URL, and would send listeners to a wrong address.
     */

    expect_error(S(HDR "slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t"
                   "1763712000101\thttp://a.example.net:80"),
                 TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR "slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t"
                   "1763712000101\thttp://a.example.net:8000/de"),
                 TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR "backend\tice-a\tup\t1763712000101\n"),
                 TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR "backend\tice-b\tdown\t1763712000099\tconnect: Conn"),
                 TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR "backend\tice-a\tup\t1\n" GOOD_SLOT "\n"),
                 TUNE_ERR_SYNTAX, 6);
    expect_error(S(HDR), TUNE_ERR_SYNTAX, 4);
    expect_error(S("tuneslot-snapshot\t1\nwritten_ms\t1\ninterval_ms\t1"),
                 TUNE_ERR_SYNTAX, 4);
    expect_error(S(HDR "future\tx\n"), TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR GOOD_SLOT "\ne"), TUNE_ERR_SYNTAX, 6);
    expect_error(S(HDR GOOD_SLOT "\nen"), TUNE_ERR_SYNTAX, 6);
    expect_error(schema_example, sizeof(schema_example) - 5, TUNE_ERR_SYNTAX,
                 8);

    n = decode_into(S(HDR), image, sizeof(image), &err);
    assert_int_equal(n, 0);
    assert_string_equal(err.reason, "no end line: snapshot truncated");

    /*
     * Every prefix: never a crash or an out-of-bounds read (ASan), an
     * error always names a line that exists or the one right after, and
     * only the prefixes that keep the end line, with or without its
     * '\n', decode.
     */

    for (cut = 0; cut <= sizeof(schema_example) - 1; cut++) {
        n = decode_into(schema_example, cut, image, sizeof(image), &err);

        lines = 1;
        for (size_t i = 0; i < cut; i++) {
            lines += schema_example[i] == '\n';
        }

        if (cut < sizeof(schema_example) - 2) {
            assert_int_equal(n, 0);
            assert_true(err.line >= 1 && err.line <= lines + 1);
            assert_non_null(err.reason);

        } else {
            assert_true(n > 0);
            assert_non_null(tune_image_get(image, n));
            assert_int_equal(err.rc, TUNE_OK);
        }
    }
}


/*
 * The end line: required last, exactly one field, nothing after it, its
 * '\n' optional.
 */
static void
test_end(void **state)
{
    size_t               n1, n2;
    unsigned char       *copy;
    tune_decode_err_t    err;
    const tune_image_t  *img;

    (void) state;

    /* with and without the final '\n': the same image */

    img = decode(S(HDR GOOD_SLOT "\n" END));
    n1 = img->size;
    assert_int_equal(img->nslots, 1);
    copy = malloc(n1);
    assert_non_null(copy);
    memcpy(copy, image, n1);

    img = decode(S(HDR GOOD_SLOT "\nend"));
    n2 = img->size;
    assert_int_equal(n1, n2);
    assert_memory_equal(copy, image, n1);
    free(copy);

    img = decode(S(HDR "end"));
    assert_int_equal(img->nstreams, 0);
    assert_int_equal(img->nslots, 0);
    assert_int_equal(img->nbackends, 0);

    /* nothing may follow, not even another end or a second snapshot */

    expect_error(S(HDR END GOOD_SLOT "\n"), TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR END GOOD_SLOT), TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR END "backend\tice-a\tup\t1\n"), TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR END "future\tx\n"), TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR END END), TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR END "\n"), TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR END "\n" END), TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR GOOD_SLOT "\n" END HDR GOOD_SLOT "\n" END),
                 TUNE_ERR_SYNTAX, 6);
    expect_error(S(HDR END "x"), TUNE_ERR_SYNTAX, 5);

    n1 = decode_into(S(HDR END GOOD_SLOT "\n" END), image, sizeof(image),
                     &err);
    assert_int_equal(n1, 0);
    assert_int_equal(err.line, 5);
    assert_string_equal(err.reason, "line after end");

    /* "end" alone, nothing else on the line */

    expect_error(S(HDR "end\t\n"), TUNE_ERR_SYNTAX, 4);
    expect_error(S(HDR "end\t"), TUNE_ERR_SYNTAX, 4);
    expect_error(S(HDR "end\t1763712000123\n"), TUNE_ERR_SYNTAX, 4);
    expect_error(S(HDR GOOD_SLOT "\nend\tx"), TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR "end \n"), TUNE_ERR_SYNTAX, 4);
    expect_error(S(HDR "end\r\n"), TUNE_ERR_BAD_CHAR, 4);

    /* a record type that merely starts like it is an unknown record */
    expect_error(S(HDR "ending\n"), TUNE_ERR_SYNTAX, 5);
    expect_error(S(HDR "End\n"), TUNE_ERR_SYNTAX, 5);
    img = decode(S(HDR "ending\nEnd\n" END));
    assert_int_equal(img->size, sizeof(tune_image_t));
}


/* Unknown record types are skipped: the image is the same without them. */
static void
test_unknown_records(void **state)
{
    size_t               n;
    unsigned char       *copy;
    const tune_image_t  *img;

    (void) state;

    img = decode(S(schema_example));
    n = img->size;
    copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, image, n);

    img = decode(S("tuneslot-snapshot\t1\n"
                   "written_ms\t1763712000123\n"
                   "interval_ms\t1000\n"
                   "future\n"
                   "backend\tice-a\tup\t1763712000101\n"
                   "region\teu\tEurope (\xc3\xa9t\xc3\xa9)\textra\tfields\n"
                   "backend\tice-b\tdown\t1763712000099\t"
                   "connect: Connection refused\n"
                   "slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t"
                   "1763712000101\thttp://a.example.net:8000/demo\n"
                   "slots\tnot\ta slot line\n"
                   "Slot\tdemo\tice-c\n"
                   "slot\tdemo\tice-b\tdown\t0\t0\t0\t100\teu\t"
                   "1763712000099\thttp://b.example.net:8000/demo\n"
                   "x-comment\t\t\t\n"
                   "end"));

    assert_int_equal(img->size, n);
    assert_memory_equal(copy, image, n);

    free(copy);
}


static void
test_unknown_health(void **state)
{
    const tune_image_t           *img;
    const tune_image_slot_t      *sl;
    const tune_image_backend_t   *be;

    (void) state;

    img = decode(S(HDR
        "backend\tice-a\tmaintenance\t1\n"
        "backend\tice-b\tUP\t1\n"
        "slot\tdemo\tice-a\tmaintenance\t0\t10\t10\t100\t\t1\thttp://a/d\n"
        "slot\tdemo\tice-b\tunknown\t0\t10\t10\t100\t\t1\thttp://b/d\n"
        "slot\tdemo\tice-c\tUp\t0\t10\t10\t100\t\t1\thttp://c/d\n"
        "slot\tdemo\tice-d\t\xc3\xa9\t0\t10\t10\t100\t\t1\thttp://c/d\n"
        "slot\tdemo\tice-e\tnosource\t0\t10\t10\t100\t\t1\thttp://c/d\n"
        "slot\tdemo\tice-f\tdraining\t0\t10\t10\t100\t\t1\thttp://c/d\n"
        "slot\tdemo\tice-g\tup\t0\t10\t10\t100\t\t1\thttp://c/d\n"
        END));

    be = tune_image_backends(img);
    assert_int_equal(be[0].health, TUNE_HEALTH_UNKNOWN);
    assert_int_equal(be[1].health, TUNE_HEALTH_UNKNOWN);

    sl = tune_image_slots(img);
    assert_int_equal(img->nslots, 7);
    assert_int_equal(sl[0].health, TUNE_HEALTH_UNKNOWN);
    assert_int_equal(sl[1].health, TUNE_HEALTH_UNKNOWN);
    assert_int_equal(sl[2].health, TUNE_HEALTH_UNKNOWN);
    assert_int_equal(sl[3].health, TUNE_HEALTH_UNKNOWN);
    assert_int_equal(sl[4].health, TUNE_HEALTH_NOSOURCE);
    assert_int_equal(sl[5].health, TUNE_HEALTH_DRAINING);
    assert_int_equal(sl[6].health, TUNE_HEALTH_UP);
    assert_str(img, sl[0].region, "");

    assert_string_equal(tune_health_name(TUNE_HEALTH_UP), "up");
    assert_string_equal(tune_health_name(TUNE_HEALTH_DOWN), "down");
    assert_string_equal(tune_health_name(TUNE_HEALTH_NOSOURCE), "nosource");
    assert_string_equal(tune_health_name(TUNE_HEALTH_DRAINING), "draining");
    assert_string_equal(tune_health_name(TUNE_HEALTH_UNKNOWN), "unknown");
}


static void
test_field_limits(void **state)
{
    size_t                    len;
    const tune_image_t       *img;
    const tune_image_slot_t  *sl;
    char                      name[TUNE_NAME_MAX], region[TUNE_REGION_MAX];
    char                      url[TUNE_URL_MAX], reason[TUNE_REASON_MAX];

    (void) state;

    memset(name, 'n', sizeof(name));
    memset(region, 'r', sizeof(region));
    memcpy(url, "https://x/", 10);
    memset(url + 10, 'u', sizeof(url) - 10);
    memset(reason, ' ', sizeof(reason));
    reason[0] = '!';
    reason[sizeof(reason) - 1] = '~';

    len = (size_t) snprintf(text_buf, sizeof(text_buf),
        HDR "backend\t%.*s\tdown\t9223372036854775807\t%.*s\n"
        "slot\t%.*s\t%.*s\tup\t4294967294\tunlimited\tunlimited\t1000000\t"
        "%.*s\t9223372036854775807\t%.*s\n"
        "slot\t%.*s\tb\tup\t0\t4294967294\t0\t0\t\t0\thttp://x\n"
        END, (int) sizeof(name), name, (int) sizeof(reason), reason,
        (int) sizeof(name), name, (int) sizeof(name), name,
        (int) sizeof(region), region, (int) sizeof(url), url,
        (int) sizeof(name), name);

    img = decode(text_buf, len);

    assert_int_equal(img->nstreams, 1);
    assert_int_equal(img->nslots, 2);
    assert_int_equal(tune_image_backends(img)[0].reason.len, TUNE_REASON_MAX);
    assert_int_equal(tune_image_backends(img)[0].polled_ms, INT64_MAX);
    assert_non_null(tune_image_find_stream(img, name, sizeof(name)));

    sl = tune_image_slots(img);
    assert_int_equal(sl[0].listeners, 4294967294u);
    assert_int_equal(sl[0].capacity, TUNE_UNLIMITED);
    assert_int_equal(sl[0].free, TUNE_UNLIMITED);
    assert_int_equal(sl[0].weight, TUNE_WEIGHT_MAX);
    assert_int_equal(sl[0].region.len, TUNE_REGION_MAX);
    assert_int_equal(sl[0].url.len, TUNE_URL_MAX);
    assert_int_equal(sl[0].polled_ms, INT64_MAX);
    assert_memory_equal(tune_image_str(img, sl[0].url), url, sizeof(url));

    assert_int_equal(sl[1].listeners, 0);
    assert_int_equal(sl[1].capacity, 4294967294u);
    assert_int_equal(sl[1].free, 0);
    assert_int_equal(sl[1].weight, 0);
    assert_int_equal(sl[1].polled_ms, 0);
    assert_str(img, sl[1].url, "http://x");

    /* one byte more in any of them is refused */

    len = (size_t) snprintf(text_buf, sizeof(text_buf),
        HDR "slot\t%.*sn\tb\tup\t0\t0\t0\t0\t\t0\thttp://x\n" END,
        (int) sizeof(name), name);
    expect_error(text_buf, len, TUNE_ERR_TOO_LONG, 4);

    len = (size_t) snprintf(text_buf, sizeof(text_buf),
        HDR "slot\ts\tb\tup\t0\t0\t0\t0\t\t0\t%.*su\n" END,
        (int) sizeof(url), url);
    expect_error(text_buf, len, TUNE_ERR_TOO_LONG, 4);

    len = (size_t) snprintf(text_buf, sizeof(text_buf),
        HDR "slot\ts\tb\tup\t0\t0\t0\t0\t%.*sr\t0\thttp://x\n" END,
        (int) sizeof(region), region);
    expect_error(text_buf, len, TUNE_ERR_TOO_LONG, 4);

    len = (size_t) snprintf(text_buf, sizeof(text_buf),
        HDR "backend\tb\tdown\t0\t%.*s.\n" END, (int) sizeof(reason),
        reason);
    expect_error(text_buf, len, TUNE_ERR_TOO_LONG, 4);
}


/* Slots of one stream stay together and in text order. */
static void
test_grouping(void **state)
{
    const tune_image_t           *img;
    const tune_image_slot_t      *sl;
    const tune_image_stream_t    *st;

    (void) state;

    img = decode(S(HDR
        "slot\tb\tb1\tup\t0\t1\t1\t1\t\t1\thttp://x/b\n"
        "slot\ta\ta1\tup\t0\t1\t1\t1\t\t1\thttp://x/a\n"
        "backend\tz\tup\t1\n"
        "slot\tb\tb2\tup\t0\t1\t1\t1\t\t1\thttp://x/b\n"
        "slot\tab\tab1\tup\t0\t1\t1\t1\t\t1\thttp://x/ab\n"
        "slot\ta\ta2\tdown\t0\t1\t1\t1\t\t1\thttp://x/a\n"
        "slot\tB\tB1\tup\t0\t1\t1\t1\t\t1\thttp://x/B\n"
        "slot\tb\tb3\tup\t0\t1\t1\t1\t\t1\thttp://x/b\n"
        "slot\ta\ta3\tup\t0\t1\t1\t1\t\t1\thttp://x/a\n"
        END));

    assert_int_equal(img->nstreams, 4);
    assert_int_equal(img->nslots, 8);
    assert_int_equal(img->nbackends, 1);

    st = tune_image_streams(img);
    sl = tune_image_slots(img);

    /* bytewise: "B" < "a" < "ab" < "b" */
    assert_str(img, st[0].name, "B");
    assert_str(img, st[1].name, "a");
    assert_str(img, st[2].name, "ab");
    assert_str(img, st[3].name, "b");

    assert_int_equal(st[0].first_slot, 0);
    assert_int_equal(st[0].nslots, 1);
    assert_int_equal(st[1].first_slot, 1);
    assert_int_equal(st[1].nslots, 3);
    assert_int_equal(st[2].first_slot, 4);
    assert_int_equal(st[2].nslots, 1);
    assert_int_equal(st[3].first_slot, 5);
    assert_int_equal(st[3].nslots, 3);

    assert_str(img, sl[0].backend, "B1");
    assert_str(img, sl[1].backend, "a1");
    assert_str(img, sl[2].backend, "a2");
    assert_int_equal(sl[2].health, TUNE_HEALTH_DOWN);
    assert_str(img, sl[3].backend, "a3");
    assert_str(img, sl[4].backend, "ab1");
    assert_str(img, sl[5].backend, "b1");
    assert_str(img, sl[6].backend, "b2");
    assert_str(img, sl[7].backend, "b3");
    assert_str(img, sl[7].url, "http://x/b");

    assert_ptr_equal(tune_image_find_stream(img, S("B")), &st[0]);
    assert_ptr_equal(tune_image_find_stream(img, S("a")), &st[1]);
    assert_ptr_equal(tune_image_find_stream(img, S("ab")), &st[2]);
    assert_ptr_equal(tune_image_find_stream(img, S("b")), &st[3]);
    assert_null(tune_image_find_stream(img, S("A")));
    assert_null(tune_image_find_stream(img, S("aa")));
    assert_null(tune_image_find_stream(img, S("c")));
    assert_null(tune_image_find_stream(img, NULL, 0));
}


/*
 * Many streams in scrambled order, each with up to 3 slots spread over the
 * text: sorted, grouped in text order, and all found by binary search.
 */
static void
test_many_streams(void **state)
{
    enum { NSTREAMS = 1500 };

    char                          name[32];
    size_t                        len, nlen;
    uint32_t                      i, j, s, round, total, perm[NSTREAMS];
    unsigned                      nslots[NSTREAMS];
    const tune_image_t           *img;
    const tune_image_slot_t      *sl;
    const tune_image_stream_t    *st, *found;

    (void) state;

    /* a fixed permutation: i * 7919 mod NSTREAMS (7919 is prime, coprime) */
    for (i = 0; i < NSTREAMS; i++) {
        perm[i] = (i * 7919u) % NSTREAMS;
        nslots[perm[i]] = 1 + perm[i] % 3;
    }

    len = (size_t) snprintf(text_buf, sizeof(text_buf), "%s", HDR);
    total = 0;

    /* round r writes slot r of every stream that has one */
    for (round = 0; round < 3; round++) {
        for (i = 0; i < NSTREAMS; i++) {
            s = perm[i];

            if (round >= nslots[s]) {
                continue;
            }

            len += (size_t) snprintf(text_buf + len, sizeof(text_buf) - len,
                "slot\ts%u\tb%u-%u\tup\t%u\t1000\t%u\t100\t\t1\t"
                "http://h%u/s%u\n", s, s, round, round, 1000 - round, round,
                s);
            total++;
        }
    }

    len += (size_t) snprintf(text_buf + len, sizeof(text_buf) - len, END);

    assert_true(len < sizeof(text_buf));

    img = decode(text_buf, len);

    assert_int_equal(img->nstreams, NSTREAMS);
    assert_int_equal(img->nslots, total);

    st = tune_image_streams(img);
    sl = tune_image_slots(img);
    j = 0;

    for (i = 0; i < NSTREAMS; i++) {
        if (i > 0) {
            const char *a = tune_image_str(img, st[i - 1].name);
            const char *b = tune_image_str(img, st[i].name);
            size_t      al = st[i - 1].name.len, bl = st[i].name.len;
            int         c = memcmp(a, b, al < bl ? al : bl);

            assert_true(c < 0 || (c == 0 && al < bl));
        }

        /* slot tables are contiguous, in stream order */
        assert_int_equal(st[i].first_slot, j);
        j += st[i].nslots;

        nlen = st[i].name.len;
        memcpy(name, tune_image_str(img, st[i].name), nlen);
        name[nlen] = '\0';
        s = (uint32_t) strtoul(name + 1, NULL, 10);
        assert_int_equal(st[i].nslots, nslots[s]);

        for (round = 0; round < st[i].nslots; round++) {
            char expect[32];

            snprintf(expect, sizeof(expect), "b%u-%u", s, round);
            assert_str(img, sl[st[i].first_slot + round].backend, expect);
            assert_int_equal(sl[st[i].first_slot + round].listeners, round);
        }

        found = tune_image_find_stream(img, name, nlen);
        assert_ptr_equal(found, &st[i]);

        /* names right next to this one in the order are not there */
        name[nlen] = '-';
        assert_null(tune_image_find_stream(img, name, nlen + 1));
        name[nlen - 1] = (char) (name[nlen - 1] + 1);
        if (name[nlen - 1] > '9') {
            assert_null(tune_image_find_stream(img, name, nlen));
        }
    }

    assert_int_equal(j, total);
    assert_null(tune_image_find_stream(img, S("s")));
    assert_null(tune_image_find_stream(img, S("s-1")));
    assert_null(tune_image_find_stream(img, S("t0")));
    assert_null(tune_image_find_stream(img, S("r9")));
}


/*
 * NO_SPACE for every cap below the image size, success at exactly the
 * size, and never a byte written at or past cap.
 */
static void
check_guard(const char *text, size_t len)
{
    size_t              size, cap, i, n;
    unsigned char      *buf;
    tune_decode_err_t   err;

    size = decode_into(text, len, image, sizeof(image), &err);
    assert_true(size > 0);

    buf = aligned_alloc(8, (size + 64 + 7) & ~(size_t) 7);
    assert_non_null(buf);

    for (cap = 0; cap <= size; cap++) {
        memset(buf, 0xa5, size + 64);

        n = decode_into(text, len, buf, cap, &err);

        if (cap < size) {
            assert_int_equal(n, 0);
            assert_int_equal(err.rc, TUNE_ERR_NO_SPACE);
            assert_int_equal(err.line, 0);

        } else {
            assert_int_equal(n, size);
            assert_memory_equal(buf, image, size);
        }

        for (i = cap; i < size + 64; i++) {
            if (buf[i] != 0xa5) {
                print_error("cap %zu: byte %zu written\n", cap, i);
                fail();
            }
        }
    }

    free(buf);
}


static void
test_no_space(void **state)
{
    size_t  len;
    int     i;

    (void) state;

    check_guard(S(schema_example));
    check_guard(S(HDR END));
    check_guard(S(HDR "backend\ta\tup\t1\n" END));

    /* streams sharing slots, so the key area is bigger than the table */
    len = (size_t) snprintf(text_buf, sizeof(text_buf), "%s", HDR);
    for (i = 0; i < 40; i++) {
        len += (size_t) snprintf(text_buf + len, sizeof(text_buf) - len,
            "slot\ts%d\tb%d\tup\t1\t2\t1\t1\tr\t1\thttp://x/%d\n"
            "backend\tb%d\tdown\t5\twhy %d\n", i % 3, i, i, i, i);
    }
    len += (size_t) snprintf(text_buf + len, sizeof(text_buf) - len, END);
    check_guard(text_buf, len);

    /* a misaligned buffer is refused, whatever its size */
    {
        size_t             n;
        tune_decode_err_t  err;

        n = decode_into(S(schema_example), image + 4, sizeof(image) - 8,
                        &err);
        assert_int_equal(n, 0);
        assert_int_equal(err.rc, TUNE_ERR_NO_SPACE);

        n = tune_snapshot_decode(schema_example, sizeof(schema_example) - 1,
                                 1, image, sizeof(image), NULL);
        assert_true(n > 0);
    }
}


/* Equal text, equal bytes, whatever the buffer held before. */
static void
test_deterministic(void **state)
{
    size_t              n1, n2;
    unsigned char      *other;
    tune_decode_err_t   err;

    (void) state;

    other = aligned_alloc(8, 1 << 16);
    assert_non_null(other);

    memset(image, 0x00, 1 << 16);
    memset(other, 0xff, 1 << 16);

    n1 = decode_into(S(schema_example), image, 1 << 16, &err);
    n2 = decode_into(S(schema_example), other, 1 << 16, &err);

    assert_true(n1 > 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(image, other, n1);

    /* the image is position-independent: a copy works the same */
    memset(other, 0, 1 << 16);
    memcpy(other, image, n1);
    assert_non_null(tune_image_get(other, n1));
    assert_non_null(tune_image_find_stream(tune_image_get(other, n1),
                                           S("demo")));

    free(other);
}


/*
 * The documented bound holds for the densest text there is.  The end line
 * only adds text, so it is written without its '\n', and each record is
 * followed by it just for the decode (the next record overwrites it).
 */
static void
test_size_bound(void **state)
{
    size_t              len, whole;
    int                 i;
    const tune_image_t *img;

    (void) state;

    /* shortest possible slot lines, every one its own stream */
    len = (size_t) snprintf(text_buf, sizeof(text_buf),
                            "tuneslot-snapshot\t1\nwritten_ms\t0\n"
                            "interval_ms\t0");
    for (i = 0; i < 62; i++) {
        len += (size_t) snprintf(text_buf + len, sizeof(text_buf) - len,
            "\nslot\t%c\tb\tx\t0\t0\t0\t0\t\t0\thttp://x",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
            [i]);
        whole = len + (size_t) snprintf(text_buf + len,
                                        sizeof(text_buf) - len, "\nend");
        img = decode(text_buf, whole);
        assert_true(img->size <= TUNE_IMAGE_SIZE_MAX(whole));
    }

    len = (size_t) snprintf(text_buf, sizeof(text_buf),
                            "tuneslot-snapshot\t1\nwritten_ms\t0\n"
                            "interval_ms\t0");
    for (i = 0; i < 62; i++) {
        len += (size_t) snprintf(text_buf + len, sizeof(text_buf) - len,
                                 "\nbackend\tb\tx\t0");
        whole = len + (size_t) snprintf(text_buf + len,
                                        sizeof(text_buf) - len, "\nend");
        img = decode(text_buf, whole);
        assert_true(img->size <= TUNE_IMAGE_SIZE_MAX(whole));
    }
}


static void
test_image_get(void **state)
{
    size_t          n;
    tune_image_t    hdr;
    unsigned char  *copy;

    (void) state;

    n = tune_snapshot_decode(schema_example, sizeof(schema_example) - 1, 1,
                             image, sizeof(image), NULL);
    assert_true(n > 0);

    copy = aligned_alloc(8, n);
    assert_non_null(copy);

    assert_non_null(tune_image_get(image, n));
    assert_non_null(tune_image_get(image, sizeof(image)));
    assert_null(tune_image_get(image, n - 1));
    assert_null(tune_image_get(image, sizeof(tune_image_t) - 1));
    assert_null(tune_image_get(NULL, n));
    assert_null(tune_image_get(image + 4, n));

    /* each header field that could send an accessor out of the image */

#define BREAK(field, value)                                                   \
    memcpy(copy, image, n);                                                   \
    memcpy(&hdr, copy, sizeof(hdr));                                          \
    hdr.field = (value);                                                      \
    memcpy(copy, &hdr, sizeof(hdr));                                          \
    assert_null(tune_image_get(copy, n))

    BREAK(magic, TUNE_IMAGE_MAGIC + 1);
    BREAK(size, (uint32_t) n + 8);
    BREAK(size, 8);
    BREAK(size, (uint32_t) n - 1);
    BREAK(nstreams, 1000);
    BREAK(nslots, 3);
    BREAK(nslots, UINT32_MAX);
    BREAK(nbackends, 100);
    BREAK(streams_off, 0);
    BREAK(slots_off, 4);
    BREAK(backends_off, (uint32_t) n);
    BREAK(backends_off, UINT32_MAX - 7);

#undef BREAK

    memcpy(copy, image, n);
    assert_non_null(tune_image_get(copy, n));

    free(copy);
}


static void
test_generation_parse(void **state)
{
    (void) state;

    assert_int_equal(tune_generation_parse("1", 1), 1);
    assert_int_equal(tune_generation_parse("1795278096332", 13),
                     1795278096332ULL);
    assert_int_equal(tune_generation_parse("9999999999999999999", 19),
                     9999999999999999999ULL);
    /* too long, empty, signs, spaces, other bytes: not a generation */
    assert_int_equal(tune_generation_parse("10000000000000000000", 20), 0);
    assert_int_equal(tune_generation_parse("", 0), 0);
    assert_int_equal(tune_generation_parse(NULL, 3), 0);
    assert_int_equal(tune_generation_parse("-1", 2), 0);
    assert_int_equal(tune_generation_parse("+1", 2), 0);
    assert_int_equal(tune_generation_parse("12 ", 3), 0);
    assert_int_equal(tune_generation_parse("1x", 2), 0);
    /* only len bytes count */
    assert_int_equal(tune_generation_parse("123", 2), 12);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_example),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_header_limits),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_empty_lines),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_end),
        cmocka_unit_test(test_unknown_records),
        cmocka_unit_test(test_unknown_health),
        cmocka_unit_test(test_field_limits),
        cmocka_unit_test(test_grouping),
        cmocka_unit_test(test_many_streams),
        cmocka_unit_test(test_no_space),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_size_bound),
        cmocka_unit_test(test_image_get),
        cmocka_unit_test(test_generation_parse),
    };

    return cmocka_run_group_tests_name("core.snapshot_decode", tests, NULL,
                                       NULL);
}
