/*
 * Private helpers shared by the core's translation units.  Everything here
 * is static inline so that each unit (and each unit test) links only the
 * files it really uses.
 */

#ifndef TUNE_INTERNAL_H
#define TUNE_INTERNAL_H

#include <string.h>

#include "tune_core.h"
#include "tune_snapshot.h"


/*
 * [A-Za-z0-9._-], written out rather than with <ctype.h>: isalnum() depends
 * on the locale, and a name must mean the same in every host.
 */
static inline int
tune_is_name_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}


/*
 * The bytes a listen URL may contain (tune_url.h): printable ASCII without
 * space and without the characters RFC 3986 never allows unescaped.  '#' is
 * a valid byte here; callers refuse it on their own, with a better code.
 */
static inline int
tune_is_url_byte(unsigned char c)
{
    if (c < 0x21 || c > 0x7e) {
        return 0;
    }

    switch (c) {
    case '"': case '<': case '>': case '\\': case '^': case '`':
    case '{': case '|': case '}':
        return 0;
    default:
        return 1;
    }
}


/* Bytewise order, shorter first on a common prefix: the image's order. */
static inline int
tune_bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int  c;

    c = memcmp(a, b, alen < blen ? alen : blen);

    if (c != 0) {
        return c;
    }

    return (alen > blen) - (alen < blen);
}


/* tune_snapshot_fields.c: field rules shared by the formatter and decoder */

tune_rc_t tune_region_check(const char *region, size_t len);
tune_rc_t tune_reason_check(const char *reason, size_t len);

/* "up" .. "draining", or TUNE_HEALTH_UNKNOWN for any other word */
tune_health_t tune_health_parse(const char *word, size_t len);


#endif /* TUNE_INTERNAL_H */
