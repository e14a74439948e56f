/*
 * Playlist rendering (tune_playlist.h).  Every input is checked first, so
 * rendering itself cannot fail; it writes through a counting buffer that
 * keeps going past cap, which is how the exact length of a playlist that
 * does not fit is known without a second code path.
 */

#include <string.h>

#include "tune_playlist.h"


/* The output so far: len counts every byte, written or not. */
typedef struct {
    char             *out;
    size_t            cap;
    size_t            len;
    unsigned          overflow;     /* len would pass SIZE_MAX */
} tune_pl_buf_t;


static tune_rc_t tune_pl_check(const char *s, size_t len, int required);
static void tune_pl_put(tune_pl_buf_t *b, const char *s, size_t n);
static void tune_pl_lit(tune_pl_buf_t *b, const char *s);
static void tune_pl_num(tune_pl_buf_t *b, size_t v);
static void tune_pl_text(tune_pl_buf_t *b, const char *s, size_t n,
    int xml);
static void tune_pl_title(tune_pl_buf_t *b, const char *stream,
    size_t stream_len, const tune_playlist_entry_t *e, int xml);
static void tune_pl_m3u(tune_pl_buf_t *b, const char *stream,
    size_t stream_len, const tune_playlist_entry_t *entries, size_t n);
static void tune_pl_pls(tune_pl_buf_t *b, const char *stream,
    size_t stream_len, const tune_playlist_entry_t *entries, size_t n);
static void tune_pl_xspf(tune_pl_buf_t *b, const char *stream,
    size_t stream_len, const tune_playlist_entry_t *entries, size_t n);


typedef struct {
    const char             *suffix;
    size_t                  len;
    tune_playlist_format_t  format;
} tune_pl_suffix_t;

static const tune_pl_suffix_t  tune_pl_suffixes[] = {
    { ".m3u", 4, TUNE_PLAYLIST_M3U },
    { ".pls", 4, TUNE_PLAYLIST_PLS },
    { ".xspf", 5, TUNE_PLAYLIST_XSPF },
};


const char *
tune_playlist_content_type(tune_playlist_format_t format)
{
    switch (format) {
    case TUNE_PLAYLIST_M3U:
        return "audio/x-mpegurl";
    case TUNE_PLAYLIST_PLS:
        return "audio/x-scpls";
    case TUNE_PLAYLIST_XSPF:
        return "application/xspf+xml";
    case TUNE_PLAYLIST_NONE:
        break;
    }

    return NULL;
}


tune_playlist_format_t
tune_playlist_suffix(const char *name, size_t len, size_t *stem_len)
{
    size_t                   i;
    const tune_pl_suffix_t  *sf;

    *stem_len = len;

    if (name == NULL) {
        return TUNE_PLAYLIST_NONE;
    }

    for (i = 0; i < sizeof(tune_pl_suffixes) / sizeof(tune_pl_suffixes[0]);
         i++)
    {
        sf = &tune_pl_suffixes[i];

        if (len > sf->len
            && memcmp(name + len - sf->len, sf->suffix, sf->len) == 0)
        {
            *stem_len = len - sf->len;
            return sf->format;
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
tune_pl_put(tune_pl_buf_t *b, const char *s, size_t n)
{
    size_t  room;

    if (b->overflow || n == 0) {
        return;
    }

    if (n > SIZE_MAX - b->len) {
        b->overflow = 1;
        return;
    }

    if (b->len < b->cap) {
        room = b->cap - b->len;
        memcpy(b->out + b->len, s, n < room ? n : room);
    }

    b->len += n;
}


static void
tune_pl_lit(tune_pl_buf_t *b, const char *s)
{
    tune_pl_put(b, s, strlen(s));
}


static void
tune_pl_num(tune_pl_buf_t *b, size_t v)
{
    char   digits[24], *p;

    p = digits + sizeof(digits);

    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);

    tune_pl_put(b, p, (size_t) (digits + sizeof(digits) - p));
}


/* A checked value, as character data of XML when xml is set. */
static void
tune_pl_text(tune_pl_buf_t *b, const char *s, size_t n, int xml)
{
    size_t       i, run;
    const char  *entity;

    if (!xml) {
        tune_pl_put(b, s, n);
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

        tune_pl_put(b, s + run, i - run);
        tune_pl_lit(b, entity);
        run = i + 1;
    }

    tune_pl_put(b, s + run, n - run);
}


static void
tune_pl_title(tune_pl_buf_t *b, const char *stream, size_t stream_len,
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
tune_pl_m3u(tune_pl_buf_t *b, const char *stream, size_t stream_len,
    const tune_playlist_entry_t *entries, size_t n)
{
    size_t  i;

    tune_pl_lit(b, "#EXTM3U\n");

    for (i = 0; i < n; i++) {
        /* -1: a live stream has no length */
        tune_pl_lit(b, "#EXTINF:-1,");
        tune_pl_title(b, stream, stream_len, &entries[i], 0);
        tune_pl_lit(b, "\n");
        tune_pl_put(b, entries[i].url, entries[i].url_len);
        tune_pl_lit(b, "\n");
    }
}


static void
tune_pl_pls(tune_pl_buf_t *b, const char *stream, size_t stream_len,
    const tune_playlist_entry_t *entries, size_t n)
{
    size_t  i;

    tune_pl_lit(b, "[playlist]\n");

    for (i = 0; i < n; i++) {
        tune_pl_lit(b, "File");
        tune_pl_num(b, i + 1);
        tune_pl_lit(b, "=");
        tune_pl_put(b, entries[i].url, entries[i].url_len);
        tune_pl_lit(b, "\nTitle");
        tune_pl_num(b, i + 1);
        tune_pl_lit(b, "=");
        tune_pl_title(b, stream, stream_len, &entries[i], 0);
        tune_pl_lit(b, "\nLength");
        tune_pl_num(b, i + 1);
        tune_pl_lit(b, "=-1\n");
    }

    tune_pl_lit(b, "NumberOfEntries=");
    tune_pl_num(b, n);
    tune_pl_lit(b, "\nVersion=2\n");
}


static void
tune_pl_xspf(tune_pl_buf_t *b, const char *stream, size_t stream_len,
    const tune_playlist_entry_t *entries, size_t n)
{
    size_t  i;

    tune_pl_lit(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<playlist version=\"1\" xmlns=\"http://xspf.org/ns/0/\">\n"
                   "  <title>");
    tune_pl_text(b, stream, stream_len, 1);
    tune_pl_lit(b, "</title>\n  <trackList>\n");

    for (i = 0; i < n; i++) {
        tune_pl_lit(b, "    <track>\n      <location>");
        tune_pl_text(b, entries[i].url, entries[i].url_len, 1);
        tune_pl_lit(b, "</location>\n      <title>");
        tune_pl_title(b, stream, stream_len, &entries[i], 1);
        tune_pl_lit(b, "</title>\n    </track>\n");
    }

    tune_pl_lit(b, "  </trackList>\n</playlist>\n");
}


size_t
tune_playlist_render(tune_playlist_format_t format, const char *stream,
    size_t stream_len, const tune_playlist_entry_t *entries, size_t n,
    char *out, size_t cap, tune_rc_t *rc)
{
    size_t                        i;
    tune_rc_t                     r;
    tune_pl_buf_t                 b;
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

    b.out = out;
    b.cap = out != NULL ? cap : 0;
    b.len = 0;
    b.overflow = 0;

    switch (format) {
    case TUNE_PLAYLIST_M3U:
        tune_pl_m3u(&b, stream, stream_len, entries, n);
        break;
    case TUNE_PLAYLIST_PLS:
        tune_pl_pls(&b, stream, stream_len, entries, n);
        break;
    case TUNE_PLAYLIST_XSPF:
        tune_pl_xspf(&b, stream, stream_len, entries, n);
        break;
    case TUNE_PLAYLIST_NONE:
        break;                              /* refused above */
    }

    if (b.overflow) {
        *rc = TUNE_ERR_TOO_LONG;
        return 0;
    }

    *rc = TUNE_OK;
    return b.len;
}
