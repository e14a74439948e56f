/*
 * libFuzzer target: a stream name as a front-end takes it from a request
 * path (after the web server's percent-decoding): tune_playlist_suffix()
 * splits off ".m3u", ".pls" or ".xspf", and tune_name_check() judges what
 * is left, the way both front-ends do it.
 *
 * Besides "no crash" it checks the rules of docs/names.md against a model
 * written apart from tune_name.c (same verdict, and the code of the first
 * rule broken in the documented order), that an accepted name holds only
 * [A-Za-z0-9._-], is 1..TUNE_NAME_MAX bytes, starts with no "." and holds
 * no "..", and that the suffix split is exact and round-trips: the stem
 * with any suffix appended splits back into the same stem.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tune_name.h"
#include "tune_playlist.h"


static const char  allowed[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

static const struct {
    tune_playlist_format_t   format;
    const char              *suffix;
} suffixes[] = {
    { TUNE_PLAYLIST_M3U, ".m3u" },
    { TUNE_PLAYLIST_PLS, ".pls" },
    { TUNE_PLAYLIST_XSPF, ".xspf" },
};

#define NSUFFIXES  (sizeof(suffixes) / sizeof(suffixes[0]))


/* docs/names.md, rule by rule, in its order */
static tune_rc_t
model_check(const char *name, size_t len)
{
    size_t  i;

    if (len == 0) {
        return TUNE_ERR_EMPTY;
    }

    if (len > TUNE_NAME_MAX) {
        return TUNE_ERR_TOO_LONG;
    }

    for (i = 0; i < len; i++) {
        /* sizeof - 1: the NUL of the literal is no name byte */
        if (memchr(allowed, name[i], sizeof(allowed) - 1) == NULL) {
            return TUNE_ERR_BAD_CHAR;
        }
    }

    if (name[0] == '.') {
        return TUNE_ERR_LEADING_DOT;
    }

    for (i = 0; i + 1 < len; i++) {
        if (name[i] == '.' && name[i + 1] == '.') {
            return TUNE_ERR_DOT_DOT;
        }
    }

    return TUNE_OK;
}


static void
check_name(const char *name, size_t len)
{
    size_t     i;
    tune_rc_t  rc;

    rc = tune_name_check(name, len);

    if (rc != model_check(name, len)) {
        abort();
    }

    if (rc != TUNE_OK) {
        return;
    }

    /* what every user of an accepted name relies on */
    if (len == 0 || len > TUNE_NAME_MAX || name[0] == '.') {
        abort();
    }

    for (i = 0; i < len; i++) {
        if (memchr(allowed, name[i], sizeof(allowed) - 1) == NULL
            || name[i] == '\0' || name[i] == '/' || name[i] == '%'
            || (i > 0 && name[i] == '.' && name[i - 1] == '.'))
        {
            abort();
        }
    }
}


/* the suffix split: exact, and the stem takes every suffix back */
static size_t
check_suffix(const char *name, size_t len)
{
    char                    buf[TUNE_NAME_MAX + 8];
    size_t                  i, stem, stem2, n;
    tune_playlist_format_t  format;

    format = tune_playlist_suffix(name, len, &stem);

    if (format == TUNE_PLAYLIST_NONE) {
        if (stem != len) {
            abort();
        }

        /* none of the suffixes ends the name, or it is all there is */
        for (i = 0; i < NSUFFIXES; i++) {
            n = strlen(suffixes[i].suffix);

            if (len > n && memcmp(name + len - n, suffixes[i].suffix, n) == 0)
            {
                abort();
            }
        }

        return stem;
    }

    for (i = 0; i < NSUFFIXES; i++) {
        if (suffixes[i].format == format) {
            break;
        }
    }

    if (i == NSUFFIXES) {
        abort();
    }

    n = strlen(suffixes[i].suffix);

    if (stem == 0 || stem + n != len
        || memcmp(name + stem, suffixes[i].suffix, n) != 0
        || tune_playlist_content_type(format) == NULL)
    {
        abort();
    }

    /* the stem with each suffix in turn */
    if (stem <= TUNE_NAME_MAX) {
        for (i = 0; i < NSUFFIXES; i++) {
            n = strlen(suffixes[i].suffix);
            memcpy(buf, name, stem);
            memcpy(buf + stem, suffixes[i].suffix, n);

            if (tune_playlist_suffix(buf, stem + n, &stem2)
                    != suffixes[i].format
                || stem2 != stem)
            {
                abort();
            }
        }
    }

    return stem;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t       stem;
    const char  *name = (const char *) data;

    /* the whole name, as a host that looks it up first would */
    check_name(name, size);

    /* the front-ends' way: the suffix off, then the rules */
    stem = check_suffix(name, size);
    check_name(name, stem);

    return 0;
}
