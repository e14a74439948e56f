/*
 * tune_allow_parse(), tune_allow_match(), tune_image_allow() and
 * tune_log_escape(): the allowlist of listen URLs against hostile URLs.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tune_allow.h"
#include "tune_select.h"
#include "tune_url.h"


#define MAX_PREFIXES  8


static _Alignas(8) unsigned char  image[16384];


/* the list of the prefixes given, every one of which must parse */
static size_t
list(tune_allow_t *out, const char *const *text)
{
    size_t       n;
    tune_rc_t    rc;
    const char  *reason;

    for (n = 0; text[n] != NULL; n++) {
        assert_true(n < MAX_PREFIXES);

        rc = tune_allow_parse(text[n], strlen(text[n]), &out[n], &reason);
        if (rc != TUNE_OK) {
            fail_msg("prefix \"%s\": %s", text[n], reason);
        }
    }

    return n;
}


static int
match(const tune_allow_t *a, size_t n, const char *url)
{
    return tune_allow_match(a, n, url, strlen(url));
}


static const char *
parse_error(const char *text, size_t len)
{
    tune_rc_t     rc;
    const char   *reason;
    tune_allow_t  a;

    rc = tune_allow_parse(text, len, &a, &reason);

    if (rc == TUNE_OK) {
        return NULL;
    }

    assert_non_null(reason);

    return reason;
}

#define PARSE_ERROR(lit)  parse_error(lit, sizeof(lit) - 1)


static void
test_parse_good(void **state)
{
    tune_rc_t     rc;
    const char   *reason;
    tune_allow_t  a;

    (void) state;

    rc = tune_allow_parse("http://10.0.0.5:8000/", 21, &a, &reason);
    assert_int_equal(rc, TUNE_OK);
    assert_int_equal(a.scheme, TUNE_SCHEME_HTTP);
    assert_int_equal(a.port, 8000);
    assert_int_equal(a.host_len, 8);
    assert_memory_equal(a.host, "10.0.0.5", 8);
    assert_int_equal(a.path_len, 1);

    rc = tune_allow_parse("https://relay.example.net/live/", 31, &a, &reason);
    assert_int_equal(rc, TUNE_OK);
    assert_int_equal(a.scheme, TUNE_SCHEME_HTTPS);
    assert_int_equal(a.port, 443);
    assert_int_equal(a.path_len, 6);
    assert_memory_equal(a.path, "/live/", 6);

    rc = tune_allow_parse("http://[::1]:8000/", 18, &a, &reason);
    assert_int_equal(rc, TUNE_OK);
    assert_int_equal(a.host_len, 5);
    assert_int_equal(a.port, 8000);

    rc = tune_allow_parse("HTTP://Relay.Example.NET/", 25, &a, &reason);
    assert_int_equal(rc, TUNE_OK);
    assert_int_equal(a.port, 80);

    assert_null(PARSE_ERROR("http://x/"));
    assert_null(PARSE_ERROR("http://a-b.c/d/e/"));
}


static void
test_parse_bad(void **state)
{
    (void) state;

    assert_non_null(PARSE_ERROR(""));
    assert_string_equal(PARSE_ERROR("relay.example.net/"),
                        "no scheme: it starts with http:// or https:// (or "
                        "rtmp://, rtmps://, rtsp://, rtsps://)");
    assert_string_equal(PARSE_ERROR("//evil/"),
                        "no scheme: it starts with http:// or https:// (or "
                        "rtmp://, rtmps://, rtsp://, rtsps://)");
    assert_string_equal(PARSE_ERROR("ftp://relay/"),
                        "a scheme other than http://, https://, rtmp://, "
                        "rtmps://, rtsp:// or rtsps://");
    assert_string_equal(PARSE_ERROR("javascript:alert(1)//"),
                        "a scheme other than http://, https://, rtmp://, "
                        "rtmps://, rtsp:// or rtsps://");
    assert_string_equal(PARSE_ERROR("http:/relay/"),
                        "a scheme other than http://, https://, rtmp://, "
                        "rtmps://, rtsp:// or rtsps://");
    assert_string_equal(PARSE_ERROR("http://user@relay/"),
                        "userinfo (\"user@\") before the host");
    assert_string_equal(PARSE_ERROR("http://good:80@evil/"),
                        "userinfo (\"user@\") before the host");
    assert_string_equal(PARSE_ERROR("http://relay/?a=b"), "a query ('?')");
    assert_string_equal(PARSE_ERROR("http://relay/#x"), "a fragment ('#')");
    assert_string_equal(PARSE_ERROR("http://relay"),
                        "no path: end the prefix with '/' "
                        "(\"http://host/\")");
    assert_string_equal(PARSE_ERROR("http://relay/live"),
                        "a path not ending in '/'");
    assert_string_equal(PARSE_ERROR("http:///"), "no host");
    assert_string_equal(PARSE_ERROR("http://:80/"), "no host");
    assert_string_equal(PARSE_ERROR("http://relay:0/"),
                        "a port that is not a number from 1 to 65535");
    assert_string_equal(PARSE_ERROR("http://relay:65536/"),
                        "a port that is not a number from 1 to 65535");
    assert_string_equal(PARSE_ERROR("http://relay:/"),
                        "a port that is not a number from 1 to 65535");
    assert_string_equal(PARSE_ERROR("http://relay:8o/"),
                        "a port that is not a number from 1 to 65535");
    assert_string_equal(PARSE_ERROR("http://relay./"),
                        "a host with an empty label (a leading, trailing "
                        "or double dot)");
    assert_string_equal(PARSE_ERROR("http://.relay/"),
                        "a host with an empty label (a leading, trailing "
                        "or double dot)");
    assert_string_equal(PARSE_ERROR("http://re..lay/"),
                        "a host with an empty label (a leading, trailing "
                        "or double dot)");
    assert_string_equal(PARSE_ERROR("http://re_lay/"),
                        "a host with a byte other than letters, digits, "
                        "'.' and '-'");
    assert_string_equal(PARSE_ERROR("http://re%6cay/"),
                        "a percent-encoded host");
    assert_string_equal(PARSE_ERROR("http://[::1/"),
                        "an IPv6 literal without ']'");
    assert_string_equal(PARSE_ERROR("http://[::1]x/"),
                        "bytes after the IPv6 literal");
    assert_string_equal(PARSE_ERROR("http://[fe80::1%25eth0]/"),
                        "a percent-encoded host");
    assert_string_equal(PARSE_ERROR("http://[]/"), "an empty IPv6 literal");
    assert_string_equal(PARSE_ERROR("http://[g::1]/"),
                        "an IPv6 literal with a byte other than hex "
                        "digits, ':' and '.'");
    assert_string_equal(PARSE_ERROR("http://relay/a/../"),
                        "a dot segment or an encoded slash in the path");
    assert_string_equal(PARSE_ERROR("http://relay/a/%2e/"),
                        "a dot segment or an encoded slash in the path");
    assert_string_equal(PARSE_ERROR("http://relay/a%2Fb/"),
                        "a dot segment or an encoded slash in the path");

    /* CR, LF, NUL, tab, space, backslash: one reason for every bad byte */
    assert_non_null(strstr(PARSE_ERROR("http://relay/\r\nX: y/"), "CR"));
    assert_non_null(strstr(PARSE_ERROR("http://relay/a\n/"), "LF"));
    assert_non_null(PARSE_ERROR("http://relay/\0/"));
    assert_non_null(PARSE_ERROR("http://relay/\t/"));
    assert_non_null(PARSE_ERROR("http://re lay/"));
    assert_non_null(PARSE_ERROR("http:\\\\relay\\"));
    assert_non_null(PARSE_ERROR("http://caf\xc3\xa9/"));
}


/* the media servers' schemes, each with its default port */
static void
test_match_media_schemes(void **state)
{
    size_t        n;
    tune_allow_t  a[MAX_PREFIXES];

    static const char *const  prefixes[] = {
        "rtmp://media.example/live/", "RTSP://cam.example/", NULL
    };

    (void) state;

    n = list(a, prefixes);
    assert_int_equal(n, 2);
    assert_int_equal(a[0].scheme, TUNE_SCHEME_RTMP);
    assert_int_equal(a[0].port, 1935);
    assert_int_equal(a[1].scheme, TUNE_SCHEME_RTSP);
    assert_int_equal(a[1].port, 554);

    assert_true(match(a, n, "rtmp://media.example/live/demo"));
    assert_true(match(a, n, "rtmp://media.example:1935/live/demo"));
    assert_true(match(a, n, "rtsp://cam.example/door"));
    assert_true(match(a, n, "rtsp://cam.example:554/door"));

    /* another scheme, port or path */
    assert_false(match(a, n, "rtmps://media.example/live/demo"));
    assert_false(match(a, n, "http://media.example/live/demo"));
    assert_false(match(a, n, "rtmp://media.example:1936/live/demo"));
    assert_false(match(a, n, "rtmp://media.example/vod/demo"));
    assert_false(match(a, n, "rtsps://cam.example/door"));
    assert_false(match(a, n, "rtsp://cam.example:8554/door"));
}


static void
test_match_authority(void **state)
{
    size_t        n;
    tune_allow_t  a[MAX_PREFIXES];

    static const char *const  prefixes[] = {
        "http://good.example/", NULL
    };

    (void) state;

    n = list(a, prefixes);

    assert_true(match(a, n, "http://good.example/demo"));
    assert_true(match(a, n, "http://good.example/"));
    assert_true(match(a, n, "http://good.example"));
    assert_true(match(a, n, "http://good.example?x=1"));
    assert_true(match(a, n, "http://good.example:80/demo"));
    assert_true(match(a, n, "http://good.example:080/demo"));
    assert_true(match(a, n, "http://GOOD.Example/demo"));

    /* userinfo: browsers go to the host after '@' */
    assert_false(match(a, n, "http://good.example@evil/"));
    assert_false(match(a, n, "http://good.example:80@evil/"));
    assert_false(match(a, n, "http://user:pw@good.example/"));
    assert_false(match(a, n, "http://good.example%40evil/"));

    /* other hosts that look alike */
    assert_false(match(a, n, "http://good.example.evil/"));
    assert_false(match(a, n, "http://evil.good.example/"));
    assert_false(match(a, n, "http://good.examplee/"));
    assert_false(match(a, n, "http://good.exampl/"));
    assert_false(match(a, n, "http://good.example./demo"));
    assert_false(match(a, n, "http://good%2eexample/"));
    assert_false(match(a, n, "http://good.ex%61mple/"));
    assert_false(match(a, n, "http://evil/good.example/"));
    assert_false(match(a, n, "http://evil?http://good.example/"));
    assert_false(match(a, n, "http:///good.example/"));
    assert_false(match(a, n, "http://"));

    /* ports and schemes */
    assert_false(match(a, n, "http://good.example:8080/"));
    assert_false(match(a, n, "http://good.example:/"));
    assert_false(match(a, n, "http://good.example:80x/"));
    assert_false(match(a, n, "http://good.example:65616/"));
    assert_false(match(a, n, "http://good.example:4294967376/"));
    assert_false(match(a, n, "https://good.example/"));
    assert_false(match(a, n, "https://good.example:80/"));

    /* what tune_url_check() refuses never matches */
    assert_false(match(a, n, "//good.example/"));
    assert_false(match(a, n, "//evil/"));
    assert_false(match(a, n, "http:\\\\evil"));
    assert_false(match(a, n, "http:/\\evil/"));
    assert_false(match(a, n, "http://good.example\\@evil/"));
    assert_false(match(a, n, "HTTP://good.example/"));
    assert_false(match(a, n, "javascript:alert(1)//http://good.example/"));
    assert_false(match(a, n, "ftp://good.example/"));
    assert_false(match(a, n, "http://good.example/\r\nSet-Cookie: x=1"));
    assert_false(match(a, n, "http://good.example/a\tb"));
    assert_false(match(a, n, "http://good.example/#x"));
    assert_false(tune_allow_match(a, n, "http://good.example/\0x", 21));
    assert_false(tune_allow_match(a, n, NULL, 0));
    assert_false(tune_allow_match(a, n, "", 0));
}


static void
test_match_ipv6_and_ports(void **state)
{
    size_t        n;
    tune_allow_t  a[MAX_PREFIXES];

    static const char *const  prefixes[] = {
        "http://[::1]:8000/", "https://relay.example.net:8443/live/",
        "http://10.0.0.5:8000/", NULL
    };

    (void) state;

    n = list(a, prefixes);

    assert_true(match(a, n, "http://[::1]:8000/demo"));
    assert_false(match(a, n, "http://[::1]/demo"));
    assert_false(match(a, n, "http://[::1]:8001/demo"));
    assert_false(match(a, n, "http://[0::1]:8000/demo"));
    assert_false(match(a, n, "http://[::1]@evil:8000/demo"));
    assert_false(match(a, n, "http://[::1]evil:8000/demo"));
    assert_false(match(a, n, "http://[::1:8000/demo"));
    assert_false(match(a, n, "http://[::1%25lo]:8000/demo"));

    assert_true(match(a, n, "https://relay.example.net:8443/live/a.mp3"));
    assert_false(match(a, n, "https://relay.example.net/live/a.mp3"));
    assert_false(match(a, n, "http://relay.example.net:8443/live/a.mp3"));

    assert_true(match(a, n, "http://10.0.0.5:8000/demo"));
    assert_false(match(a, n, "http://10.0.0.5/demo"));
    assert_false(match(a, n, "http://10.0.0.50:8000/demo"));
    assert_false(match(a, n, "http://10.0.0.5.evil:8000/demo"));
    assert_false(match(a, n, "http://167772165:8000/demo"));
    assert_false(match(a, n, "http://0x0a.0.0.5:8000/demo"));

    /* no prefixes: nothing matches */
    assert_false(match(a, 0, "http://10.0.0.5:8000/demo"));
}


static void
test_match_path(void **state)
{
    size_t        n;
    tune_allow_t  a[MAX_PREFIXES];

    static const char *const  prefixes[] = {
        "http://good/live/", "http://other/", NULL
    };

    (void) state;

    n = list(a, prefixes);

    assert_true(match(a, n, "http://good/live/demo"));
    assert_true(match(a, n, "http://good/live/"));
    assert_true(match(a, n, "http://good/live/a/b.mp3?x=../../y"));
    assert_true(match(a, n, "http://good/live/..a/a..b/.c/...d"));
    assert_true(match(a, n, "http://good/live/a%20b"));
    assert_false(match(a, n, "http://good/live"));
    assert_false(match(a, n, "http://good/livestream"));
    assert_false(match(a, n, "http://good/LIVE/demo"));
    assert_false(match(a, n, "http://good/"));
    assert_false(match(a, n, "http://good"));
    assert_false(match(a, n, "http://good?/live/"));
    assert_false(match(a, n, "http://good/%6cive/demo"));

    /* dot segments, plain and encoded, anywhere in the path */
    assert_false(match(a, n, "http://good/live/../admin"));
    assert_false(match(a, n, "http://good/live/.."));
    assert_false(match(a, n, "http://good/live/./demo"));
    assert_false(match(a, n, "http://good/live/."));
    assert_false(match(a, n, "http://good/live/%2e%2e/admin"));
    assert_false(match(a, n, "http://good/live/%2E%2E/admin"));
    assert_false(match(a, n, "http://good/live/.%2e/admin"));
    assert_false(match(a, n, "http://good/live/%2e./admin"));
    assert_false(match(a, n, "http://good/live/%2e/demo"));
    assert_false(match(a, n, "http://good/live/..;x/admin"));
    assert_false(match(a, n, "http://good/live/..?x"));

    /* encoded slashes and backslashes */
    assert_false(match(a, n, "http://good/live/..%2f..%2fevil"));
    assert_false(match(a, n, "http://good/live/a%2Fb"));
    assert_false(match(a, n, "http://good/live/a%5cb"));
    assert_false(match(a, n, "http://good/live/..%5C..%5Cevil"));
    assert_false(match(a, n, "http://good/..%2f..%2fevil"));

    /* a prefix of "/" allows every safe path of the host */
    assert_true(match(a, n, "http://other/"));
    assert_true(match(a, n, "http://other"));
    assert_true(match(a, n, "http://other?x"));
    assert_true(match(a, n, "http://other/any/thing"));
    assert_true(match(a, n, "http://other//double"));
    assert_false(match(a, n, "http://other/../x"));
}


static size_t
snapshot(char *text, size_t cap, const char *const *urls)
{
    int     len;
    size_t  i, used;

    used = (size_t) snprintf(text, cap, "tuneslot-snapshot\t1\n"
                             "written_ms\t1763712000000\ninterval_ms\t1000\n");

    for (i = 0; urls[i] != NULL; i++) {
        len = snprintf(text + used, cap - used,
                       "slot\tdemo\tb%zu\tup\t0\t100\t100\t100\t\t"
                       "1763712000000\t%s\n", i, urls[i]);
        assert_true(len > 0 && (size_t) len < cap - used);
        used += (size_t) len;
    }

    len = snprintf(text + used, cap - used, "end\n");
    assert_true(len == 4);

    return used + 4;
}


static void
test_image_allow(void **state)
{
    char                        text[2048];
    size_t                      len, size, n, i, ranked;
    uint32_t                    first, refused, slot, order[8];
    uint64_t                    digest;
    tune_allow_t                a[MAX_PREFIXES];
    tune_decode_err_t           err;
    const tune_image_t         *img;
    const tune_image_slot_t    *slots;
    const tune_image_stream_t  *st;

    static const char *const  urls[] = {
        "http://evil.example/demo",
        "http://good.example:8000/demo",
        "http://good.example:8000@evil/demo",
        "http://good.example:8000/../demo",
        NULL
    };

    static const char *const  prefixes[] = {
        "http://good.example:8000/", NULL
    };

    static const char *const  elsewhere[] = {
        "http://other/", NULL
    };

    (void) state;

    len = snapshot(text, sizeof(text), urls);
    size = tune_snapshot_decode(text, len, 7, image, sizeof(image), &err);
    assert_int_not_equal(size, 0);

    img = tune_image_get(image, size);
    assert_non_null(img);
    assert_int_equal(img->nrefused, 0);

    n = list(a, prefixes);

    assert_int_equal(tune_image_refused_digest(img), 0);

    refused = tune_image_allow(image, size, a, n, &first);
    assert_int_equal(refused, 3);
    assert_int_equal(first, 0);
    assert_int_equal(img->nrefused, 3);

    digest = tune_image_refused_digest(img);
    assert_int_not_equal(digest, 0);

    /* the same list marks the same slots: the same digest */
    assert_int_equal(tune_image_allow(image, size, a, n, &first), 3);
    assert_true(tune_image_refused_digest(img) == digest);

    slots = tune_image_slots(img);
    assert_true(slots[0].flags & TUNE_SLOT_REFUSED);
    assert_false(slots[1].flags & TUNE_SLOT_REFUSED);
    assert_true(slots[2].flags & TUNE_SLOT_REFUSED);
    assert_true(slots[3].flags & TUNE_SLOT_REFUSED);

    /* refused slots are never drawn nor ranked, whatever the random value */
    st = tune_image_find_stream(img, "demo", 4);
    assert_non_null(st);

    for (i = 0; i < 64; i++) {
        assert_int_equal(tune_select_slot(img, st, NULL,
                                          (uint32_t) (i * 0x04000000u),
                                          &slot), TUNE_OK);
        assert_int_equal(slot, 1);
    }

    ranked = tune_rank_slots(img, st, NULL, UINT32_MAX, order, 8);
    assert_int_equal(ranked, 1);
    assert_int_equal(order[0], 1);

    /* marked again with no list: everything is allowed again */
    refused = tune_image_allow(image, size, a, 0, &first);
    assert_int_equal(refused, 0);
    assert_int_equal(first, UINT32_MAX);
    assert_int_equal(img->nrefused, 0);
    assert_int_equal(tune_image_refused_digest(img), 0);

    for (i = 0; i < 4; i++) {
        assert_false(slots[i].flags & TUNE_SLOT_REFUSED);
    }

    assert_int_equal(tune_rank_slots(img, st, NULL, UINT32_MAX, order, 8), 4);

    /* only refused slots: the stream has nothing to offer */
    n = list(a, elsewhere);
    refused = tune_image_allow(image, size, a, n, &first);
    assert_int_equal(refused, 4);
    assert_int_equal(first, 0);

    /* another set of refused slots: another digest */
    assert_true(tune_image_refused_digest(img) != digest);
    assert_int_equal(tune_select_slot(img, st, NULL, 0, &slot),
                     TUNE_ERR_NO_SLOT);

    /* not an image: nothing happens */
    assert_int_equal(tune_image_allow(image, 8, a, n, &first), 0);
    assert_int_equal(first, UINT32_MAX);
}


static void
test_log_escape(void **state)
{
    char    out[64];
    size_t  len;

    (void) state;

    len = tune_log_escape(out, sizeof(out), "http://x/a", 10);
    assert_int_equal(len, 10);
    assert_string_equal(out, "http://x/a");

    len = tune_log_escape(out, sizeof(out), "a\r\nb\"c\\\0\x7f\xff", 10);
    assert_string_equal(out, "a\\x0d\\x0ab\\x22c\\x5c\\x00\\x7f\\xff");
    assert_int_equal(len, strlen(out));

    /* cut with "...", never past cap, never half an escape */
    len = tune_log_escape(out, 8, "abcdefghij", 10);
    assert_string_equal(out, "abcd...");
    assert_int_equal(len, 7);

    len = tune_log_escape(out, 8, "abcd", 4);
    assert_string_equal(out, "abcd");

    len = tune_log_escape(out, 10, "a\r\n", 3);
    assert_string_equal(out, "a\\x0d...");

    assert_int_equal(tune_log_escape(out, 3, "a", 1), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_match_media_schemes),
        cmocka_unit_test(test_match_authority),
        cmocka_unit_test(test_match_ipv6_and_ports),
        cmocka_unit_test(test_match_path),
        cmocka_unit_test(test_image_allow),
        cmocka_unit_test(test_log_escape),
    };

    return cmocka_run_group_tests_name("core.allow", tests, NULL, NULL);
}
