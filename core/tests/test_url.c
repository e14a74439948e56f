/*
 * tune_url_check() and tune_url_join().
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tune_url.h"


#define CHECK(lit)  tune_url_check(lit, sizeof(lit) - 1)


static void
test_check_valid(void **state)
{
    (void) state;

    assert_int_equal(CHECK("http://a.example.net:8000/demo"), TUNE_OK);
    assert_int_equal(CHECK("https://a.example.net/demo"), TUNE_OK);
    assert_int_equal(CHECK("http://x"), TUNE_OK);
    assert_int_equal(CHECK("http://x/"), TUNE_OK);
    assert_int_equal(CHECK("http://[::1]:8000/demo"), TUNE_OK);
    assert_int_equal(CHECK("http://10.0.0.1:8000/a/b.mp3"), TUNE_OK);
    assert_int_equal(CHECK("http://x/demo?token=a%20b&c=d"), TUNE_OK);
    assert_int_equal(CHECK("http://x?q"), TUNE_OK);
    assert_int_equal(CHECK("http://user:pw@x/demo"), TUNE_OK);
    assert_int_equal(CHECK("http://x/~a/'b'/(c)/*;,=+$!"), TUNE_OK);
}


static void
test_check_scheme(void **state)
{
    (void) state;

    assert_int_equal(CHECK("ftp://x/demo"), TUNE_ERR_BAD_SCHEME);
    assert_int_equal(CHECK("HTTP://x/demo"), TUNE_ERR_BAD_SCHEME);
    assert_int_equal(CHECK("http:/x/demo"), TUNE_ERR_BAD_SCHEME);
    assert_int_equal(CHECK("http:x"), TUNE_ERR_BAD_SCHEME);
    assert_int_equal(CHECK("//x/demo"), TUNE_ERR_BAD_SCHEME);
    assert_int_equal(CHECK("/demo"), TUNE_ERR_BAD_SCHEME);
    assert_int_equal(CHECK("javascript:alert(1)"), TUNE_ERR_BAD_SCHEME);
    assert_int_equal(CHECK("https:/"), TUNE_ERR_BAD_SCHEME);
}


/* the media servers' schemes are listen URLs too, each with its bit */
static void
test_schemes(void **state)
{
    size_t       i;
    const char  *name;

    static const struct {
        const char  *url;
        uint32_t     bit;
    } urls[] = {
        { "http://x/demo", TUNE_SCHEME_HTTP },
        { "https://x/demo", TUNE_SCHEME_HTTPS },
        { "rtmp://x:1935/live/demo", TUNE_SCHEME_RTMP },
        { "rtmps://x/live/demo", TUNE_SCHEME_RTMPS },
        { "rtsp://x:8554/demo", TUNE_SCHEME_RTSP },
        { "rtsps://x/demo", TUNE_SCHEME_RTSPS },
    };

    (void) state;

    for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        assert_int_equal(tune_url_check(urls[i].url, strlen(urls[i].url)),
                         TUNE_OK);
        assert_int_equal(tune_url_scheme(urls[i].url, strlen(urls[i].url)),
                         urls[i].bit);

        name = tune_scheme_name(urls[i].bit);
        assert_non_null(name);
        assert_int_equal(strncmp(urls[i].url, name, strlen(name)), 0);
        assert_int_equal(tune_scheme_by_name(name, strlen(name)),
                         urls[i].bit);
    }

    assert_int_equal(tune_url_scheme("ftp://x/", 8), 0);
    assert_int_equal(tune_url_scheme("rtmp:/x", 7), 0);
    assert_int_equal(tune_url_scheme("rtmp", 4), 0);
    assert_int_equal(tune_url_scheme(NULL, 0), 0);
    assert_int_equal(tune_scheme_by_name("RTMP", 4), 0);
    assert_int_equal(tune_scheme_by_name("rtmpt", 5), 0);
    assert_int_equal(tune_scheme_by_name("http://", 7), 0);
    assert_int_equal(tune_scheme_by_name("", 0), 0);
    assert_null(tune_scheme_name(0));
    assert_null(tune_scheme_name(TUNE_SCHEMES_WEB));

    assert_int_equal(CHECK("RTMP://x/live"), TUNE_ERR_BAD_SCHEME);
    assert_int_equal(CHECK("rtmpt://x/live"), TUNE_ERR_BAD_SCHEME);
    assert_int_equal(CHECK("rtmp://"), TUNE_ERR_BAD_URL);
    assert_int_equal(CHECK("rtsp://:554/x"), TUNE_ERR_BAD_URL);
}


static tune_rc_t
endpoint(const char *url, char *out, size_t cap)
{
    return tune_url_endpoint(url, strlen(url), out, cap, NULL);
}


/* where an L4 proxy connects for a slot */
static void
test_endpoint(void **state)
{
    size_t  len;
    char    out[64];

    (void) state;

    assert_int_equal(endpoint("rtmp://127.0.0.1:19350/live/demo", out,
                              sizeof(out)), TUNE_OK);
    assert_string_equal(out, "127.0.0.1:19350");
    assert_int_equal(endpoint("rtmp://media.example.net/live/demo", out,
                              sizeof(out)), TUNE_OK);
    assert_string_equal(out, "media.example.net:1935");
    assert_int_equal(endpoint("rtsp://cam.example.net?x", out, sizeof(out)),
                     TUNE_OK);
    assert_string_equal(out, "cam.example.net:554");
    assert_int_equal(endpoint("rtsps://cam.example.net/", out, sizeof(out)),
                     TUNE_OK);
    assert_string_equal(out, "cam.example.net:322");
    assert_int_equal(endpoint("rtmps://u:p@m.example.net/a", out,
                              sizeof(out)), TUNE_OK);
    assert_string_equal(out, "m.example.net:443");
    assert_int_equal(endpoint("http://[::1]:8000/demo", out, sizeof(out)),
                     TUNE_OK);
    assert_string_equal(out, "[::1]:8000");
    assert_int_equal(endpoint("https://[2001:db8::1]/demo", out,
                              sizeof(out)), TUNE_OK);
    assert_string_equal(out, "[2001:db8::1]:443");

    assert_int_equal(endpoint("rtmp://x:0/a", out, sizeof(out)),
                     TUNE_ERR_BAD_URL);
    assert_int_equal(endpoint("rtmp://x:65536/a", out, sizeof(out)),
                     TUNE_ERR_BAD_URL);
    assert_int_equal(endpoint("rtmp://x:01935/a", out, sizeof(out)),
                     TUNE_OK);
    assert_string_equal(out, "x:01935");
    assert_int_equal(endpoint("rtmp://x:00000/a", out, sizeof(out)),
                     TUNE_ERR_BAD_URL);
    assert_int_equal(endpoint("rtmp://x:19a5/a", out, sizeof(out)),
                     TUNE_ERR_BAD_URL);
    assert_int_equal(endpoint("rtmp://x:/a", out, sizeof(out)),
                     TUNE_ERR_BAD_URL);
    assert_int_equal(endpoint("rtmp://[::1/a", out, sizeof(out)),
                     TUNE_ERR_BAD_URL);
    assert_int_equal(endpoint("ftp://x/a", out, sizeof(out)),
                     TUNE_ERR_BAD_SCHEME);
    assert_int_equal(endpoint("rtmp://x:1/a", out, 3), TUNE_ERR_NO_SPACE);
    assert_int_equal(tune_url_endpoint("rtmp://x:1/a", 12, out, 3, &len),
                     TUNE_ERR_NO_SPACE);
    assert_int_equal(len, 3);
    assert_int_equal(tune_url_endpoint("rtmp://x:1/a", 12, out, 4, &len),
                     TUNE_OK);
    assert_string_equal(out, "x:1");
}


static void
test_check_host(void **state)
{
    (void) state;

    assert_int_equal(CHECK("http://"), TUNE_ERR_BAD_URL);
    assert_int_equal(CHECK("https://"), TUNE_ERR_BAD_URL);
    assert_int_equal(CHECK("http:///demo"), TUNE_ERR_BAD_URL);
    assert_int_equal(CHECK("http://?x"), TUNE_ERR_BAD_URL);
    assert_int_equal(CHECK("http://:8000/demo"), TUNE_ERR_BAD_URL);
    assert_int_equal(CHECK("http://user@/demo"), TUNE_ERR_BAD_URL);
    assert_int_equal(CHECK("http://user@:80/demo"), TUNE_ERR_BAD_URL);
    assert_int_equal(CHECK("http://x/demo#frag"), TUNE_ERR_BAD_URL);
    assert_int_equal(CHECK("http://x#"), TUNE_ERR_BAD_URL);

    /* a CR after a '#' is still reported as what it is (fuzz_listen_url) */
    assert_int_equal(CHECK("http://x/#\r\nX: y"), TUNE_ERR_BAD_CHAR);
}


static void
test_check_bytes(void **state)
{
    int          c, allowed;
    char         url[16];
    const char  *bad = "\"<>\\^`{|}";

    (void) state;

    assert_int_equal(CHECK("http://x/de mo"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("http://x/demo\r\nSet-Cookie: a=b"),
                     TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("http://x/demo\n"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("http://x/demo\r"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("http://x/de\0mo"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("http://x/de\tmo"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("http://x/caf\xc3\xa9"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("http://x/\x7f"), TUNE_ERR_BAD_CHAR);
    /* a bad byte is reported before a bad scheme */
    assert_int_equal(CHECK("ftp://x/a b"), TUNE_ERR_BAD_CHAR);

    /* every byte in the path position */
    for (c = 0; c < 256; c++) {
        memcpy(url, "http://x/a", 10);
        url[10] = (char) c;

        allowed = c >= 0x21 && c <= 0x7e && strchr(bad, c) == NULL;

        if (c == '#') {
            assert_int_equal(tune_url_check(url, 11), TUNE_ERR_BAD_URL);

        } else {
            assert_int_equal(tune_url_check(url, 11),
                             allowed ? TUNE_OK : TUNE_ERR_BAD_CHAR);
        }
    }
}


static void
test_check_length(void **state)
{
    char  url[TUNE_URL_MAX + 2];

    (void) state;

    assert_int_equal(tune_url_check("", 0), TUNE_ERR_EMPTY);
    assert_int_equal(tune_url_check(NULL, 0), TUNE_ERR_EMPTY);

    memcpy(url, "http://x/", 9);
    memset(url + 9, 'a', sizeof(url) - 9);

    assert_int_equal(tune_url_check(url, TUNE_URL_MAX), TUNE_OK);
    assert_int_equal(tune_url_check(url, TUNE_URL_MAX + 1),
                     TUNE_ERR_TOO_LONG);

    /* only len bytes are looked at: the CR after them does not count */
    assert_int_equal(tune_url_check("http://x/a\r\n", 10), TUNE_OK);
}


static void
join_ok(const char *base, const char *mount, const char *expect)
{
    char       out[64];
    size_t     len;
    tune_rc_t  rc;

    memset(out, 'Z', sizeof(out));
    len = 12345;

    rc = tune_url_join(out, sizeof(out), &len, base, strlen(base),
                       mount, strlen(mount));

    assert_int_equal(rc, TUNE_OK);
    assert_string_equal(out, expect);
    assert_int_equal(len, strlen(expect));
    assert_int_equal(tune_url_check(out, len), TUNE_OK);
}


static tune_rc_t
join_rc(const char *base, const char *mount)
{
    char       out[64];
    size_t     len;
    tune_rc_t  rc;

    memset(out, 'Z', sizeof(out));

    rc = tune_url_join(out, sizeof(out), &len, base, strlen(base),
                       mount, strlen(mount));

    if (rc != TUNE_OK) {
        /* a failed join leaves an empty string, never half a URL */
        assert_int_equal(out[0], '\0');
    }

    return rc;
}


static void
test_join(void **state)
{
    (void) state;

    join_ok("http://a.example.net:8000", "/demo",
            "http://a.example.net:8000/demo");
    join_ok("http://a.example.net:8000/", "/demo",
            "http://a.example.net:8000/demo");
    join_ok("http://a.example.net:8000///", "/demo",
            "http://a.example.net:8000/demo");
    join_ok("https://cdn.example.net/radio", "/demo.mp3",
            "https://cdn.example.net/radio/demo.mp3");
    join_ok("https://cdn.example.net/radio/", "/a/b",
            "https://cdn.example.net/radio/a/b");
    join_ok("http://x", "/", "http://x/");
    join_ok("http://x", "/a.b/..c/.d/e.", "http://x/a.b/..c/.d/e.");
    join_ok("http://x", "/a/", "http://x/a/");
    join_ok("rtmp://media.example.net:1935", "/live/demo",
            "rtmp://media.example.net:1935/live/demo");
    join_ok("rtsp://media.example.net/", "/demo",
            "rtsp://media.example.net/demo");
}


static void
test_join_bad_base(void **state)
{
    (void) state;

    assert_int_equal(join_rc("", "/demo"), TUNE_ERR_EMPTY);
    assert_int_equal(join_rc("ftp://x", "/demo"), TUNE_ERR_BAD_SCHEME);
    assert_int_equal(join_rc("x:8000", "/demo"), TUNE_ERR_BAD_SCHEME);
    assert_int_equal(join_rc("http://", "/demo"), TUNE_ERR_BAD_URL);
    assert_int_equal(join_rc("http:///", "/demo"), TUNE_ERR_BAD_URL);
    assert_int_equal(join_rc("http://:80", "/demo"), TUNE_ERR_BAD_URL);
    assert_int_equal(join_rc("http://x?a=b", "/demo"), TUNE_ERR_BAD_URL);
    assert_int_equal(join_rc("http://x/?", "/demo"), TUNE_ERR_BAD_URL);
    assert_int_equal(join_rc("http://x/#a", "/demo"), TUNE_ERR_BAD_URL);
    assert_int_equal(join_rc("http://x/a b", "/demo"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(join_rc("http://x\r\n", "/demo"), TUNE_ERR_BAD_CHAR);
}


static void
test_join_bad_mount(void **state)
{
    (void) state;

    assert_int_equal(join_rc("http://x", ""), TUNE_ERR_EMPTY);
    assert_int_equal(join_rc("http://x", "demo"), TUNE_ERR_BAD_MOUNT);
    assert_int_equal(join_rc("http://x", "//evil.example/x"),
                     TUNE_ERR_BAD_MOUNT);
    assert_int_equal(join_rc("http://x", "/demo?x=1"), TUNE_ERR_BAD_MOUNT);
    assert_int_equal(join_rc("http://x", "/demo#a"), TUNE_ERR_BAD_MOUNT);
    assert_int_equal(join_rc("http://x", "/../admin"), TUNE_ERR_BAD_MOUNT);
    assert_int_equal(join_rc("http://x", "/a/../b"), TUNE_ERR_BAD_MOUNT);
    assert_int_equal(join_rc("http://x", "/./a"), TUNE_ERR_BAD_MOUNT);
    assert_int_equal(join_rc("http://x", "/a/./b"), TUNE_ERR_BAD_MOUNT);
    assert_int_equal(join_rc("http://x", "/a/.."), TUNE_ERR_BAD_MOUNT);
    assert_int_equal(join_rc("http://x", "/a/."), TUNE_ERR_BAD_MOUNT);
    assert_int_equal(join_rc("http://x", "/.."), TUNE_ERR_BAD_MOUNT);
    assert_int_equal(join_rc("http://x", "/."), TUNE_ERR_BAD_MOUNT);
    assert_int_equal(join_rc("http://x", "/de mo"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(join_rc("http://x", "/demo\r\nX: y"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(join_rc("http://x", "/a|b"), TUNE_ERR_BAD_CHAR);
}


static void
test_join_space(void **state)
{
    char       out[32], big[TUNE_URL_MAX + 16];
    size_t     len;
    tune_rc_t  rc;

    (void) state;

    /* "http://x/demo" is 13 bytes: 14 with the NUL fit, 13 do not */

    memset(out, 'Z', sizeof(out));
    rc = tune_url_join(out, 14, &len, "http://x/", 9, "/demo", 5);
    assert_int_equal(rc, TUNE_OK);
    assert_string_equal(out, "http://x/demo");
    assert_int_equal(out[14], 'Z');

    memset(out, 'Z', sizeof(out));
    len = 0;
    rc = tune_url_join(out, 13, &len, "http://x/", 9, "/demo", 5);
    assert_int_equal(rc, TUNE_ERR_NO_SPACE);
    assert_int_equal(len, 13);
    assert_int_equal(out[0], '\0');
    assert_int_equal(out[1], 'Z');
    assert_int_equal(out[13], 'Z');

    rc = tune_url_join(out, 0, &len, "http://x", 8, "/demo", 5);
    assert_int_equal(rc, TUNE_ERR_NO_SPACE);
    assert_int_equal(out[1], 'Z');

    rc = tune_url_join(NULL, 0, &len, "http://x", 8, "/demo", 5);
    assert_int_equal(rc, TUNE_ERR_NO_SPACE);
    assert_int_equal(len, 13);

    /* out_len may be NULL */
    rc = tune_url_join(out, sizeof(out), NULL, "http://x", 8, "/demo", 5);
    assert_int_equal(rc, TUNE_OK);
    assert_string_equal(out, "http://x/demo");

    /* the joined URL must stay within TUNE_URL_MAX */

    memset(big, 'a', sizeof(big));
    big[0] = '/';

    rc = tune_url_join(NULL, 0, &len, "http://x", 8, big, TUNE_URL_MAX - 8);
    assert_int_equal(rc, TUNE_ERR_NO_SPACE);
    assert_int_equal(len, TUNE_URL_MAX);

    rc = tune_url_join(NULL, 0, &len, "http://x", 8, big, TUNE_URL_MAX - 7);
    assert_int_equal(rc, TUNE_ERR_TOO_LONG);

    rc = tune_url_join(NULL, 0, &len, "http://x", 8, big, TUNE_URL_MAX + 1);
    assert_int_equal(rc, TUNE_ERR_TOO_LONG);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_valid),
        cmocka_unit_test(test_check_scheme),
        cmocka_unit_test(test_schemes),
        cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_check_host),
        cmocka_unit_test(test_check_bytes),
        cmocka_unit_test(test_check_length),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_join_bad_base),
        cmocka_unit_test(test_join_bad_mount),
        cmocka_unit_test(test_join_space),
    };

    return cmocka_run_group_tests_name("core.url", tests, NULL, NULL);
}
