/*
 * Playlist rendering (tune_playlist.h).  Every input is checked first, so
 * rendering itself cannot fail; it writes through the counting sink of
 * tune_wbuf.h, which keeps counting past cap: that is how the exact length
 * of a playlist that does not fit is known without a second code path.
 */

#include <string.h>

#include "tune_playlist.h"
#include "tune_wbuf.h"


static tune_rc_t tune_pl_check(const char *s, size_t len, int required);
static void tune_pl_lit(tune_wbuf_t *b, const char *s);
static void tune_pl_text(tune_wbuf_t *b, const char *s, size_t n,
    int xml);
static void tune_pl_title(tune_wbuf_t *b, const char *stream,
    size_t stream_len, const tune_playlist_entry_t *e, int xml);
static void tune_pl_m3u_entry(tune_wbuf_t *b, const char *stream,
    size_t stream_len, const tune_playlist_entry_t *e, size_t number);
static void tune_pl_pls_entry(tune_wbuf_t *b, const char *stream,
    size_t stream_len, const tune_playlist_entry_t *e, size_t number);
static void tune_pl_pls_tail(tune_wbuf_t *b, size_t n);
static void tune_pl_xspf_entry(tune_wbuf_t *b, const char *stream,
    size_t stream_len, const tune_playlist_entry_t *e, size_t number);
static void tune_pl_xspf_tail(tune_wbuf_t *b, size_t n);


/*
 * A format: its suffix, its content type, and how it is written: the head;
 * for a format that names the playlist, the stream name (as XML) and the
 * rest of the head; each entry (numbered from 1); the tail.
 */
typedef struct {
    const char       *suffix;
    size_t            suffix_len;
    const char       *content_type;
    const char       *head;
    const char       *head_after_name;  /* NULL: the playlist is unnamed */
    void            (*entry)(tune_wbuf_t *b, const char *stream,
                        size_t stream_len, const tune_playlist_entry_t *e,
                        size_t number);
    void            (*tail)(tune_wbuf_t *b, size_t n);  /* NULL: none */
} tune_pl_format_t;


/* indexed by tune_playlist_format_t; TUNE_PLAYLIST_NONE is all NULL */
static const tune_pl_format_t  tune_pl_formats[] = {
    [TUNE_PLAYLIST_M3U] = {
        ".m3u", 4, "audio/x-mpegurl",
        "#EXTM3U\n", NULL,
        tune_pl_m3u_entry, NULL
    },
    [TUNE_PLAYLIST_PLS] = {
        ".pls", 4, "audio/x-scpls",
        "[playlist]\n", NULL,
        tune_pl_pls_entry, tune_pl_pls_tail
    },
    [TUNE_PLAYLIST_XSPF] = {
        ".xspf", 5, "application/xspf+xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\">\n"
        "  <title>",
        "</title>\n  <trackList>\n",
        tune_pl_xspf_entry, tune_pl_xspf_tail
    },
};

#define TUNE_PL_NFORMATS                                                      \
    (sizeof(tune_pl_formats) / sizeof(tune_pl_formats[0]))


const char *
tune_playlist_content_type(tune_playlist_format_t format)
{
    /* an enum may hold any int: compare as unsigned to catch negatives */
    if ((unsigned) format >= TUNE_PL_NFORMATS) {
        return NULL;
    }

    return tune_pl_formats[format].content_type;
}


tune_playlist_format_t
tune_playlist_suffix(const char *name, size_t len, size_t *stem_len)
{
    size_t                   f;
    const tune_pl_format_t  *pf;

    *stem_len = len;

    if (name == NULL) {
        return TUNE_PLAYLIST_NONE;
    }

    for (f = 0; f < TUNE_PL_NFORMATS; f++) {
        pf = &tune_pl_formats[f];

        if (pf->suffix != NULL && len > pf->suffix_len
            && memcmp(name + len - pf->suffix_len, pf->suffix,
                      pf->suffix_len) == 0)
        {
            *stem_len = len - pf->suffix_len;
            return (tune_playlist_format_t) f;
        }
    }

    return TUNE_PLAYLIST_NONE;
}


/*
 * Printable ASCII only.  That keeps CR, LF and other control bytes out of
 * the line-based formats, and bytes above 0x7e, which might not be UTF-8,
 * out of the XML.  A NULL string counts as empty.
 */
static tune_rc_t
tune_pl_check(const char *s, size_t len, int required)
{
    size_t  i;

    if (s == NULL || len == 0) {
        return required ? TUNE_ERR_EMPTY : TUNE_OK;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7e) {
            return TUNE_ERR_BAD_CHAR;
        }
    }

    return TUNE_OK;
}


static void
tune_pl_lit(tune_wbuf_t *b, const char *s)
{
    tune_wbuf_put(b, s, strlen(s));
}


/* A checked value, as character data of XML when xml is set. */
static void
tune_pl_text(tune_wbuf_t *b, const char *s, size_t n, int xml)
{
    size_t       i, run;
    const char  *entity;

    if (!xml) {
        tune_wbuf_put(b, s, n);
        return;
    }

    run = 0;

    for (i = 0; i < n; i++) {
        switch (s[i]) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&apos;";
            break;
        default:
            continue;
        }

        tune_wbuf_put(b, s + run, i - run);
        tune_pl_lit(b, entity);
        run = i + 1;
    }

    tune_wbuf_put(b, s + run, n - run);
}


static void
tune_pl_title(tune_wbuf_t *b, const char *stream, size_t stream_len,
    const tune_playlist_entry_t *e, int xml)
{
    if (e->title != NULL && e->title_len != 0) {
        tune_pl_text(b, e->title, e->title_len, xml);
        return;
    }

    tune_pl_text(b, stream, stream_len, xml);

    if (e->backend != NULL && e->backend_len != 0) {
        tune_pl_lit(b, " (");
        tune_pl_text(b, e->backend, e->backend_len, xml);
        tune_pl_lit(b, ")");
    }
}


static void
tune_pl_m3u_entry(tune_wbuf_t *b, const char *stream, size_t stream_len,
    const tune_playlist_entry_t *e, size_t number)
{
    (void) number;

    /* -1: a live stream has no length */
    tune_pl_lit(b, "#EXTINF:-1,");
    tune_pl_title(b, stream, stream_len, e, 0);
    tune_pl_lit(b, "\n");
    tune_wbuf_put(b, e->url, e->url_len);
    tune_pl_lit(b, "\n");
}


static void
tune_pl_pls_entry(tune_wbuf_t *b, const char *stream, size_t stream_len,
    const tune_playlist_entry_t *e, size_t number)
{
    tune_pl_lit(b, "File");
    tune_wbuf_put_u64(b, number);
    tune_pl_lit(b, "=");
    tune_wbuf_put(b, e->url, e->url_len);
    tune_pl_lit(b, "\nTitle");
    tune_wbuf_put_u64(b, number);
    tune_pl_lit(b, "=");
    tune_pl_title(b, stream, stream_len, e, 0);
    tune_pl_lit(b, "\nLength");
    tune_wbuf_put_u64(b, number);
    tune_pl_lit(b, "=-1\n");
}


static void
tune_pl_pls_tail(tune_wbuf_t *b, size_t n)
{
    tune_pl_lit(b, "NumberOfEntries=");
    tune_wbuf_put_u64(b, n);
    tune_pl_lit(b, "\nVersion=2\n");
}


static void
tune_pl_xspf_entry(tune_wbuf_t *b, const char *stream, size_t stream_len,
    const tune_playlist_entry_t *e, size_t number)
{
    (void) number;

    tune_pl_lit(b, "    <track>\n      <location>");
    tune_pl_text(b, e->url, e->url_len, 1);
    tune_pl_lit(b, "</location>\n      <title>");
    tune_pl_title(b, stream, stream_len, e, 1);
    tune_pl_lit(b, "</title>\n    </track>\n");
}


static void
tune_pl_xspf_tail(tune_wbuf_t *b, size_t n)
{
    (void) n;

    tune_pl_lit(b, "  </trackList>\n</playlist>\n");
}


size_t
tune_playlist_render(tune_playlist_format_t format, const char *stream,
    size_t stream_len, const tune_playlist_entry_t *entries, size_t n,
    char *out, size_t cap, tune_rc_t *rc)
{
    size_t                        i;
    tune_rc_t                     r;
    tune_wbuf_t                   b;
    const tune_pl_format_t       *pf;
    const tune_playlist_entry_t  *e;

    if (tune_playlist_content_type(format) == NULL) {
        *rc = TUNE_ERR_RANGE;
        return 0;
    }

    r = tune_pl_check(stream, stream_len, 1);

    if (r == TUNE_OK && n != 0 && entries == NULL) {
        r = TUNE_ERR_EMPTY;
    }

    for (i = 0; r == TUNE_OK && i < n; i++) {
        e = &entries[i];

        r = tune_pl_check(e->url, e->url_len, 1);

        if (r == TUNE_OK) {
            r = tune_pl_check(e->title, e->title_len, 0);
        }

        if (r == TUNE_OK) {
            r = tune_pl_check(e->backend, e->backend_len, 0);
        }
    }

    if (r != TUNE_OK) {
        *rc = r;
        return 0;
    }

    tune_wbuf_init(&b, out, cap);
    pf = &tune_pl_formats[format];

    tune_pl_lit(&b, pf->head);

    if (pf->head_after_name != NULL) {
        tune_pl_text(&b, stream, stream_len, 1);
        tune_pl_lit(&b, pf->head_after_name);
    }

    for (i = 0; i < n; i++) {
        pf->entry(&b, stream, stream_len, &entries[i], i + 1);
    }

    if (pf->tail != NULL) {
        pf->tail(&b, n);
    }

    if (b.overflow) {
        *rc = TUNE_ERR_TOO_LONG;
        return 0;
    }

    *rc = TUNE_OK;
    return b.len;
}
