/*
 * libFuzzer target: tune_playlist_render() and tune_playlist_suffix() on
 * any values.  The input is a format byte, then length-prefixed fields (one
 * length byte each, 255 standing for a NULL pointer): the stream name, then
 * url, title and backend of each entry, 16 entries at most.  Besides "no
 * crash, no write past cap" (ASan, UBSan), it checks what the header
 * promises: the length is exact and does not depend on cap, the output is
 * printable ASCII with only its own line breaks, and XSPF markup is only
 * the renderer's own (every < > " ' and & of a value became an entity).
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tune_playlist.h"


#define MAX_ENTRIES  16


typedef struct {
    const uint8_t  *p;
    size_t          left;
} input_t;


/* The next field, or 0 at the end of the input. */
static int
field(input_t *in, const char **s, size_t *len)
{
    size_t  n;

    if (in->left == 0) {
        return 0;
    }

    n = in->p[0];
    in->p++;
    in->left--;

    if (n == 255) {
        *s = NULL;
        *len = 3;                   /* a length without bytes behind it */
        return 1;
    }

    if (n > in->left) {
        n = in->left;
    }

    *s = (const char *) in->p;
    *len = n;
    in->p += n;
    in->left -= n;

    return 1;
}


static size_t
count(const char *s, size_t len, char c)
{
    size_t  i, k;

    for (i = 0, k = 0; i < len; i++) {
        k += (s[i] == c);
    }

    return k;
}


/* Only the renderer's own structure: line breaks and, in XSPF, markup. */
static void
check_output(tune_playlist_format_t format, const char *out, size_t len,
    size_t n)
{
    size_t  i, lines, markup;

    for (i = 0; i < len; i++) {
        if (out[i] != '\n'
            && ((unsigned char) out[i] < 0x20
                || (unsigned char) out[i] > 0x7e))
        {
            abort();
        }
    }

    if (len == 0 || out[len - 1] != '\n') {
        abort();
    }

    lines = count(out, len, '\n');

    switch (format) {
    case TUNE_PLAYLIST_M3U:
        if (lines != 1 + 2 * n) {
            abort();
        }
        break;

    case TUNE_PLAYLIST_PLS:
        if (lines != 3 + 3 * n) {
            abort();
        }
        break;

    case TUNE_PLAYLIST_XSPF:
        markup = 7 + 6 * n;

        if (lines != 6 + 4 * n
            || count(out, len, '<') != markup
            || count(out, len, '>') != markup
            || count(out, len, '"') != 8
            || count(out, len, '\'') != 0)
        {
            abort();
        }

        /* every & starts one of the five entities */
        for (i = 0; i < len; i++) {
            if (out[i] != '&') {
                continue;
            }

            if (!(len - i >= 5 && memcmp(out + i, "&amp;", 5) == 0)
                && !(len - i >= 4 && memcmp(out + i, "&lt;", 4) == 0)
                && !(len - i >= 4 && memcmp(out + i, "&gt;", 4) == 0)
                && !(len - i >= 6 && memcmp(out + i, "&quot;", 6) == 0)
                && !(len - i >= 6 && memcmp(out + i, "&apos;", 6) == 0))
            {
                abort();
            }
        }
        break;

    case TUNE_PLAYLIST_NONE:
        abort();
    }
}


static void
check_suffix(const char *name, size_t len)
{
    size_t                  stem;
    tune_playlist_format_t  format;

    format = tune_playlist_suffix(name, len, &stem);

    if (format == TUNE_PLAYLIST_NONE) {
        if (stem != len) {
            abort();
        }
        return;
    }

    if (stem == 0 || stem >= len || len - stem > 5
        || tune_playlist_content_type(format) == NULL)
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                    *out;
    size_t                   n, len, got, stream_len;
    input_t                  in;
    tune_rc_t                rc, rc2;
    const char              *stream;
    tune_playlist_entry_t    e[MAX_ENTRIES];
    tune_playlist_format_t   format;

    if (size < 1) {
        return 0;
    }

    format = (tune_playlist_format_t) (data[0] % 5);   /* 4: unknown */
    in.p = data + 1;
    in.left = size - 1;

    if (!field(&in, &stream, &stream_len)) {
        return 0;
    }

    if (stream != NULL) {
        check_suffix(stream, stream_len);
    }

    memset(e, 0, sizeof(e));

    for (n = 0; n < MAX_ENTRIES; n++) {
        if (!field(&in, &e[n].url, &e[n].url_len)) {
            break;
        }

        /* title and backend may be left out at the end of the input */
        if (field(&in, &e[n].title, &e[n].title_len)) {
            (void) field(&in, &e[n].backend, &e[n].backend_len);
        }
    }

    len = tune_playlist_render(format, stream, stream_len, e, n, NULL, 0,
                               &rc);

    if (len == 0) {
        if (rc == TUNE_OK) {
            abort();
        }
        return 0;
    }

    if (rc != TUNE_OK) {
        abort();
    }

    /* exactly len bytes hold it all; one less gets a prefix, and len */
    out = malloc(len);
    if (out == NULL) {
        return 0;
    }

    got = tune_playlist_render(format, stream, stream_len, e, n, out, len,
                               &rc2);
    if (got != len || rc2 != TUNE_OK) {
        abort();
    }

    check_output(format, out, len, n);

    got = tune_playlist_render(format, stream, stream_len, e, n, out, len - 1,
                               &rc2);
    if (got != len || rc2 != TUNE_OK) {
        abort();
    }

    free(out);
    return 0;
}
