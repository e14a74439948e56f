/*
 * A strict JSON checker for the tests and fuzz targets of documents the
 * core writes (tune_status.h): RFC 8259's grammar, ASCII only, no
 * whitespace between tokens (the core writes none), nesting to a fixed
 * depth.  Static functions, so each test that includes it links nothing
 * more.
 */

#ifndef TUNE_JSON_CHECK_H
#define TUNE_JSON_CHECK_H

#include <stddef.h>
#include <string.h>


#define JSON_CHECK_DEPTH  16


typedef struct {
    const char       *p;
    const char       *end;
} json_check_t;


static int json_check_value(json_check_t *j, int depth);


static int
json_check_lit(json_check_t *j, const char *lit)
{
    size_t  n;

    n = strlen(lit);

    if ((size_t) (j->end - j->p) < n || memcmp(j->p, lit, n) != 0) {
        return 0;
    }

    j->p += n;

    return 1;
}


static int
json_check_digits(json_check_t *j)
{
    const char  *start;

    start = j->p;

    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        j->p++;
    }

    return j->p > start;
}


static int
json_check_number(json_check_t *j)
{
    if (j->p < j->end && *j->p == '-') {
        j->p++;
    }

    if (j->p < j->end && *j->p == '0') {
        j->p++;

    } else if (!json_check_digits(j)) {
        return 0;
    }

    if (j->p < j->end && *j->p == '.') {
        j->p++;

        if (!json_check_digits(j)) {
            return 0;
        }
    }

    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;

        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }

        if (!json_check_digits(j)) {
            return 0;
        }
    }

    return 1;
}


static int
json_check_string(json_check_t *j)
{
    int            i;
    unsigned char  c;

    if (!json_check_lit(j, "\"")) {
        return 0;
    }

    while (j->p < j->end) {
        c = (unsigned char) *j->p++;

        if (c == '"') {
            return 1;
        }

        if (c < 0x20 || c > 0x7e) {
            return 0;
        }

        if (c != '\\') {
            continue;
        }

        if (j->p == j->end) {
            return 0;
        }

        c = (unsigned char) *j->p++;

        if (strchr("\"\\/bfnrt", c) != NULL && c != '\0') {
            continue;
        }

        if (c != 'u' || j->end - j->p < 4) {
            return 0;
        }

        for (i = 0; i < 4; i++, j->p++) {
            if (strchr("0123456789abcdefABCDEF", *j->p) == NULL
                || *j->p == '\0')
            {
                return 0;
            }
        }
    }

    return 0;
}


/* members of an object (keys) or elements of an array, up to close */
static int
json_check_items(json_check_t *j, int depth, int keys, const char *close)
{
    if (json_check_lit(j, close)) {
        return 1;
    }

    for ( ;; ) {
        if (keys && !(json_check_string(j) && json_check_lit(j, ":"))) {
            return 0;
        }

        if (!json_check_value(j, depth + 1)) {
            return 0;
        }

        if (json_check_lit(j, close)) {
            return 1;
        }

        if (!json_check_lit(j, ",")) {
            return 0;
        }
    }
}


static int
json_check_value(json_check_t *j, int depth)
{
    if (depth > JSON_CHECK_DEPTH || j->p == j->end) {
        return 0;
    }

    switch (*j->p) {
    case '{':
        j->p++;
        return json_check_items(j, depth, 1, "}");
    case '[':
        j->p++;
        return json_check_items(j, depth, 0, "]");
    case '"':
        return json_check_string(j);
    case 't':
        return json_check_lit(j, "true");
    case 'f':
        return json_check_lit(j, "false");
    case 'n':
        return json_check_lit(j, "null");
    default:
        return json_check_number(j);
    }
}


/* 1 when text is one JSON value and a final "\n", nothing else */
static int
json_check(const char *text, size_t len)
{
    json_check_t  j;

    j.p = text;
    j.end = text + len;

    return json_check_value(&j, 0) && json_check_lit(&j, "\n")
           && j.p == j.end;
}


#endif /* TUNE_JSON_CHECK_H */
