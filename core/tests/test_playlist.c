/*
 * tune_playlist_render(), tune_playlist_suffix() and
 * tune_playlist_content_type(): the exact bytes of each format, escaping,
 * the refusal of control bytes and the buffer contract.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tune_playlist.h"


#define S(lit)  lit, sizeof(lit) - 1

#define ENTRY(url, title, backend)                                            \
    { url, sizeof(url) - 1, title, sizeof(title) - 1,                         \
      backend, sizeof(backend) - 1 }


/* Two slots of "demo": one named by its backend, one with its own title. */
static const tune_playlist_entry_t  two[] = {
    ENTRY("http://a.example.net:8000/demo", "", "ice-a"),
    ENTRY("https://b.example.net/demo", "Demo FM", "ice-b"),
};


/* A render that must be refused with want. */
static void
assert_refused(tune_playlist_format_t format, const char *stream,
    size_t stream_len, const tune_playlist_entry_t *entries, size_t n,
    tune_rc_t want)
{
    char       out[1024];
    tune_rc_t  rc;

    rc = TUNE_OK;
    assert_int_equal(tune_playlist_render(format, stream, stream_len,
                                          entries, n, out, sizeof(out), &rc),
                     0);
    assert_int_equal(rc, want);
}


/* Renders into a buffer and checks the result against want, exactly. */
static void
assert_renders(tune_playlist_format_t format, const char *stream,
    const tune_playlist_entry_t *entries, size_t n, const char *want)
{
    char       out[4096];
    size_t     len;
    tune_rc_t  rc;

    rc = TUNE_ERR_SYNTAX;
    len = tune_playlist_render(format, stream, strlen(stream), entries, n,
                               out, sizeof(out), &rc);

    assert_int_equal(rc, TUNE_OK);
    assert_true(len < sizeof(out));
    out[len] = '\0';
    assert_string_equal(out, want);
}


static void
test_m3u(void **state)
{
    (void) state;

    assert_renders(TUNE_PLAYLIST_M3U, "demo", two, 2,
        "#EXTM3U\n"
        "#EXTINF:-1,demo (ice-a)\n"
        "http://a.example.net:8000/demo\n"
        "#EXTINF:-1,Demo FM\n"
        "https://b.example.net/demo\n");
}


static void
test_pls(void **state)
{
    (void) state;

    assert_renders(TUNE_PLAYLIST_PLS, "demo", two, 2,
        "[playlist]\n"
        "File1=http://a.example.net:8000/demo\n"
        "Title1=demo (ice-a)\n"
        "Length1=-1\n"
        "File2=https://b.example.net/demo\n"
        "Title2=Demo FM\n"
        "Length2=-1\n"
        "NumberOfEntries=2\n"
        "Version=2\n");
}


static void
test_xspf(void **state)
{
    (void) state;

    assert_renders(TUNE_PLAYLIST_XSPF, "demo", two, 2,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\">\n"
        "  <title>demo</title>\n"
        "  <trackList>\n"
        "    <track>\n"
        "      <location>http://a.example.net:8000/demo</location>\n"
        "      <title>demo (ice-a)</title>\n"
        "    </track>\n"
        "    <track>\n"
        "      <location>https://b.example.net/demo</location>\n"
        "      <title>Demo FM</title>\n"
        "    </track>\n"
        "  </trackList>\n"
        "</playlist>\n");
}


static void
test_xspf_escapes(void **state)
{
    const tune_playlist_entry_t  e[] = {
        ENTRY("http://x/d?a=1&b='2'&c=\"<3>\"", "R&B <live> \"'\"",
              "b&b"),
        ENTRY("http://y/&amp;", "", "<b>"),
    };

    (void) state;

    assert_renders(TUNE_PLAYLIST_XSPF, "a&b", e, 2,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\">\n"
        "  <title>a&amp;b</title>\n"
        "  <trackList>\n"
        "    <track>\n"
        "      <location>http://x/d?a=1&amp;b=&apos;2&apos;&amp;c="
        "&quot;&lt;3&gt;&quot;</location>\n"
        "      <title>R&amp;B &lt;live&gt; &quot;&apos;&quot;</title>\n"
        "    </track>\n"
        "    <track>\n"
        "      <location>http://y/&amp;amp;</location>\n"
        "      <title>a&amp;b (&lt;b&gt;)</title>\n"
        "    </track>\n"
        "  </trackList>\n"
        "</playlist>\n");

    /* the line formats take the same values as they are */
    assert_renders(TUNE_PLAYLIST_M3U, "a&b", e, 2,
        "#EXTM3U\n"
        "#EXTINF:-1,R&B <live> \"'\"\n"
        "http://x/d?a=1&b='2'&c=\"<3>\"\n"
        "#EXTINF:-1,a&b (<b>)\n"
        "http://y/&amp;\n");
}


static void
test_empty_list(void **state)
{
    (void) state;

    assert_renders(TUNE_PLAYLIST_M3U, "demo", NULL, 0, "#EXTM3U\n");

    assert_renders(TUNE_PLAYLIST_PLS, "demo", NULL, 0,
        "[playlist]\n"
        "NumberOfEntries=0\n"
        "Version=2\n");

    assert_renders(TUNE_PLAYLIST_XSPF, "demo", two, 0,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\">\n"
        "  <title>demo</title>\n"
        "  <trackList>\n"
        "  </trackList>\n"
        "</playlist>\n");
}


static void
test_title_defaults(void **state)
{
    const tune_playlist_entry_t  e[] = {
        { S("http://x/demo"), NULL, 0, NULL, 0 },
        { S("http://y/demo"), NULL, 7, NULL, 3 },       /* NULL wins */
        { S("http://z/demo"), "", 0, S("ice-z") },
        { S("http://w/demo"), S("Mine"), S("ice-w") },  /* title wins */
    };

    (void) state;

    assert_renders(TUNE_PLAYLIST_M3U, "news.en", e, 4,
        "#EXTM3U\n"
        "#EXTINF:-1,news.en\n"
        "http://x/demo\n"
        "#EXTINF:-1,news.en\n"
        "http://y/demo\n"
        "#EXTINF:-1,news.en (ice-z)\n"
        "http://z/demo\n"
        "#EXTINF:-1,Mine\n"
        "http://w/demo\n");
}


static void
test_pls_numbers_past_nine(void **state)
{
    char                    out[4096];
    size_t                  i, len;
    tune_rc_t               rc;
    tune_playlist_entry_t   e[12];

    (void) state;

    for (i = 0; i < 12; i++) {
        e[i] = two[i % 2];
    }

    len = tune_playlist_render(TUNE_PLAYLIST_PLS, S("demo"), e, 12,
                               out, sizeof(out) - 1, &rc);
    assert_int_equal(rc, TUNE_OK);
    out[len] = '\0';

    assert_non_null(strstr(out, "\nLength9=-1\nFile10=https://b.example"));
    assert_non_null(strstr(out, "\nTitle12=Demo FM\nLength12=-1\n"
                                "NumberOfEntries=12\nVersion=2\n"));
    assert_null(strstr(out, "File13"));
}


/*
 * Every cap from 0 to the length and beyond: the same length each time,
 * the first cap bytes of the playlist in out, nothing written past cap.
 */
static void
test_buffer_contract(void **state)
{
    char                    full[2048], out[2048];
    size_t                  len, got, cap;
    tune_rc_t               rc;
    tune_playlist_format_t  f;

    (void) state;

    for (f = TUNE_PLAYLIST_M3U; f <= TUNE_PLAYLIST_XSPF; f++) {
        len = tune_playlist_render(f, S("demo"), two, 2, NULL, 0, &rc);
        assert_int_equal(rc, TUNE_OK);
        assert_true(len > 0 && len < sizeof(full));

        /* a NULL out with a cap is taken as no buffer */
        assert_int_equal(tune_playlist_render(f, S("demo"), two, 2, NULL, 99,
                                              &rc),
                         len);

        assert_int_equal(tune_playlist_render(f, S("demo"), two, 2, full,
                                              len, &rc),
                         len);

        for (cap = 0; cap <= len + 2; cap++) {
            memset(out, '#', sizeof(out));
            rc = TUNE_ERR_SYNTAX;

            got = tune_playlist_render(f, S("demo"), two, 2, out, cap, &rc);

            assert_int_equal(got, len);
            assert_int_equal(rc, TUNE_OK);
            assert_memory_equal(out, full, cap < len ? cap : len);
            assert_int_equal(out[cap < len ? cap : len], '#');
        }
    }
}


static void
test_refuses_control_bytes(void **state)
{
    size_t                  i, k;
    tune_playlist_entry_t   e[2];
    const char             *bad[] = {
        "http://x/a\r\nSet-Cookie: x", "http://x/a\n", "http://x/\ta",
        "http://x/\x7f", "http://x/\x80", "http://x/\xc3\xa9",
        "http://x/\x1b[0m",
    };

    (void) state;

    /* in a URL, a title, a backend, the stream name */

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (k = 0; k < 3; k++) {
            e[0] = two[0];
            e[1] = two[1];

            switch (k) {
            case 0:
                e[1].url = bad[i];
                e[1].url_len = strlen(bad[i]);
                break;
            case 1:
                e[1].title = bad[i];
                e[1].title_len = strlen(bad[i]);
                break;
            default:
                e[0].backend = bad[i];
                e[0].backend_len = strlen(bad[i]);
                break;
            }

            assert_refused(TUNE_PLAYLIST_PLS, S("demo"), e, 2,
                           TUNE_ERR_BAD_CHAR);
        }

        assert_refused(TUNE_PLAYLIST_M3U, bad[i], strlen(bad[i]), two, 2,
                       TUNE_ERR_BAD_CHAR);
    }

    /* a NUL inside the given length is a control byte too */
    e[0] = two[0];
    e[0].url = "http://x\0/";
    e[0].url_len = 10;
    assert_refused(TUNE_PLAYLIST_XSPF, S("demo"), e, 1, TUNE_ERR_BAD_CHAR);

    /* an unused backend is still checked: no byte is trusted */
    e[0] = two[1];
    e[0].backend = "a\nb";
    e[0].backend_len = 3;
    assert_refused(TUNE_PLAYLIST_M3U, S("demo"), e, 1, TUNE_ERR_BAD_CHAR);
}


static void
test_refuses_empty_and_bad_format(void **state)
{
    tune_playlist_entry_t   e[1];

    (void) state;

    assert_refused(TUNE_PLAYLIST_M3U, "", 0, two, 2, TUNE_ERR_EMPTY);
    assert_refused(TUNE_PLAYLIST_M3U, NULL, 4, two, 2, TUNE_ERR_EMPTY);

    e[0] = two[0];
    e[0].url_len = 0;
    assert_refused(TUNE_PLAYLIST_PLS, S("demo"), e, 1, TUNE_ERR_EMPTY);

    e[0].url = NULL;
    e[0].url_len = 5;
    assert_refused(TUNE_PLAYLIST_PLS, S("demo"), e, 1, TUNE_ERR_EMPTY);

    assert_refused(TUNE_PLAYLIST_XSPF, S("demo"), NULL, 1, TUNE_ERR_EMPTY);

    assert_refused(TUNE_PLAYLIST_NONE, S("demo"), two, 2, TUNE_ERR_RANGE);
    assert_refused((tune_playlist_format_t) 99, S("demo"), two, 2,
                   TUNE_ERR_RANGE);
    assert_refused((tune_playlist_format_t) -1, S("demo"), two, 2,
                   TUNE_ERR_RANGE);
}


static void
test_suffix(void **state)
{
    size_t   i, stem;
    const struct {
        const char              *name;
        size_t                   len;
        tune_playlist_format_t   format;
        size_t                   stem;
    } cases[] = {
        { S("demo.m3u"), TUNE_PLAYLIST_M3U, 4 },
        { S("demo.pls"), TUNE_PLAYLIST_PLS, 4 },
        { S("demo.xspf"), TUNE_PLAYLIST_XSPF, 4 },
        { S("a.pls.m3u"), TUNE_PLAYLIST_M3U, 5 },
        { S("x.xspf"), TUNE_PLAYLIST_XSPF, 1 },

        /* no playlist: the whole name is the stem */
        { S("demo"), TUNE_PLAYLIST_NONE, 4 },
        { S("demo.M3U"), TUNE_PLAYLIST_NONE, 8 },
        { S("demo.m3u8"), TUNE_PLAYLIST_NONE, 9 },
        { S("demo.m3u."), TUNE_PLAYLIST_NONE, 9 },
        { S("demom3u"), TUNE_PLAYLIST_NONE, 7 },
        { S(".m3u"), TUNE_PLAYLIST_NONE, 4 },     /* no empty stream */
        { S("pls"), TUNE_PLAYLIST_NONE, 3 },
        { S(""), TUNE_PLAYLIST_NONE, 0 },
        { NULL, 0, TUNE_PLAYLIST_NONE, 0 },

        /* only len bytes are looked at */
        { "demo.m3u", 7, TUNE_PLAYLIST_NONE, 7 },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        stem = 12345;
        assert_int_equal(tune_playlist_suffix(cases[i].name, cases[i].len,
                                              &stem),
                         cases[i].format);
        assert_int_equal(stem, cases[i].stem);
    }
}


static void
test_content_type(void **state)
{
    (void) state;

    assert_string_equal(tune_playlist_content_type(TUNE_PLAYLIST_M3U),
                        "audio/x-mpegurl");
    assert_string_equal(tune_playlist_content_type(TUNE_PLAYLIST_PLS),
                        "audio/x-scpls");
    assert_string_equal(tune_playlist_content_type(TUNE_PLAYLIST_XSPF),
                        "application/xspf+xml");
    assert_null(tune_playlist_content_type(TUNE_PLAYLIST_NONE));
    assert_null(tune_playlist_content_type((tune_playlist_format_t) 42));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_m3u),
        cmocka_unit_test(test_pls),
        cmocka_unit_test(test_xspf),
        cmocka_unit_test(test_xspf_escapes),
        cmocka_unit_test(test_empty_list),
        cmocka_unit_test(test_title_defaults),
        cmocka_unit_test(test_pls_numbers_past_nine),
        cmocka_unit_test(test_buffer_contract),
        cmocka_unit_test(test_refuses_control_bytes),
        cmocka_unit_test(test_refuses_empty_and_bad_format),
        cmocka_unit_test(test_suffix),
        cmocka_unit_test(test_content_type),
    };

    return cmocka_run_group_tests_name("core.playlist", tests, NULL, NULL);
}
