/*
 * libFuzzer target: the allowlist (tune_allow.h), which judges listen URLs
 * read from Redis before a listener is sent to them.
 *
 * The input is a length byte n, then the text: its first n bytes are
 * parsed as a prefix (the front-end's configuration), the rest is the URL
 * (from Redis, so hostile).  Besides "no crash, no read past the text", a
 * URL the prefix lets through is checked against the header's rules with a
 * model written apart from tune_allow.c: it passes tune_url_check(); its
 * scheme is the prefix's; its authority (up to the first '/', '?' or the
 * end) holds no '@', '%' or '\\', is the prefix's host, ASCII case ignored,
 * then ":port" or nothing, the port being the prefix's (or the scheme's
 * default when the URL has none); its path starts with the prefix's path;
 * and no "%2f", "%5c" or dot segment ("." or "..", "%2e" read as '.', ';'
 * parameters ignored) is in its path.  A parsed prefix itself must have a
 * path that starts and ends with '/'.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tune_allow.h"
#include "tune_url.h"


static unsigned char
lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char) (c - 'A' + 'a') : c;
}


static int
same_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t  i;

    if (alen != blen) {
        return 0;
    }

    for (i = 0; i < alen; i++) {
        if (lower((unsigned char) a[i]) != lower((unsigned char) b[i])) {
            return 0;
        }
    }

    return 1;
}


static int
holds_nocase(const char *s, size_t len, const char *what)
{
    size_t  i, n;

    n = strlen(what);

    for (i = 0; i + n <= len; i++) {
        if (same_nocase(s + i, n, what, n)) {
            return 1;
        }
    }

    return 0;
}


/* a segment of the path that is "." or "..", "%2e" read as '.' */
static int
dot_segment(const char *seg, size_t len)
{
    size_t  i, dots;

    /* parameters after ';' do not make it another segment */
    for (i = 0; i < len; i++) {
        if (seg[i] == ';') {
            len = i;
            break;
        }
    }

    dots = 0;
    i = 0;

    while (i < len) {
        if (seg[i] == '.') {
            i++;

        } else if (i + 3 <= len && same_nocase(seg + i, 3, "%2e", 3)) {
            i += 3;

        } else {
            return 0;
        }

        dots++;
    }

    return dots == 1 || dots == 2;
}


static void
model(const tune_allow_t *p, const char *url, size_t len)
{
    size_t       i, start, auth_end, host_end, path_end, seg;
    uint32_t     port;
    const char  *path, *name;

    if (tune_url_check(url, len) != TUNE_OK) {
        abort();
    }

    /* the prefix's scheme, spelt out apart from tune_url.c's table */
    switch (p->scheme) {
    case TUNE_SCHEME_HTTP:  name = "http://";  break;
    case TUNE_SCHEME_HTTPS: name = "https://"; break;
    case TUNE_SCHEME_RTMP:  name = "rtmp://";  break;
    case TUNE_SCHEME_RTMPS: name = "rtmps://"; break;
    case TUNE_SCHEME_RTSP:  name = "rtsp://";  break;
    case TUNE_SCHEME_RTSPS: name = "rtsps://"; break;
    default:                abort();
    }

    start = strlen(name);

    if (len < start || !same_nocase(url, start, name, start)) {
        abort();
    }

    for (auth_end = start; auth_end < len; auth_end++) {
        if (url[auth_end] == '/' || url[auth_end] == '?') {
            break;
        }
    }

    for (i = start; i < auth_end; i++) {
        if (url[i] == '@' || url[i] == '%' || url[i] == '\\') {
            abort();
        }
    }

    if (auth_end - start < p->host_len
        || !same_nocase(url + start, p->host_len, p->host, p->host_len))
    {
        abort();
    }

    host_end = start + p->host_len;

    if (host_end == auth_end) {
        switch (p->scheme) {
        case TUNE_SCHEME_HTTP:  port = 80;   break;
        case TUNE_SCHEME_RTMP:  port = 1935; break;
        case TUNE_SCHEME_RTSP:  port = 554;  break;
        case TUNE_SCHEME_RTSPS: port = 322;  break;
        default:                port = 443;  break;
        }

    } else {
        if (url[host_end] != ':' || host_end + 1 == auth_end) {
            abort();
        }

        port = 0;

        for (i = host_end + 1; i < auth_end; i++) {
            if (url[i] < '0' || url[i] > '9' || port > 65535) {
                abort();
            }

            port = port * 10 + (uint32_t) (url[i] - '0');
        }
    }

    if (port != p->port) {
        abort();
    }

    /* the path, up to the query; none counts as "/" */
    for (path_end = auth_end; path_end < len; path_end++) {
        if (url[path_end] == '?') {
            break;
        }
    }

    path = url + auth_end;

    if (path_end == auth_end) {
        if (p->path_len != 1) {
            abort();
        }

        return;
    }

    if (path_end - auth_end < p->path_len
        || memcmp(path, p->path, p->path_len) != 0)
    {
        abort();
    }

    if (holds_nocase(path, path_end - auth_end, "%2f")
        || holds_nocase(path, path_end - auth_end, "%5c"))
    {
        abort();
    }

    seg = auth_end + 1;

    for (i = auth_end + 1; i <= path_end; i++) {
        if (i == path_end || url[i] == '/') {
            if (dot_segment(url + seg, i - seg)) {
                abort();
            }

            seg = i + 1;
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t         n;
    char          *text;
    const char    *reason;
    tune_allow_t   prefix;

    if (size == 0) {
        return 0;
    }

    n = data[0];

    if (n > size - 1) {
        n = size - 1;
    }

    /* a copy of its own, so ASan sees any read past the text */
    text = malloc(size - 1 ? size - 1 : 1);
    if (text == NULL) {
        return 0;
    }

    memcpy(text, data + 1, size - 1);

    reason = NULL;

    if (tune_allow_parse(text, n, &prefix, &reason) != TUNE_OK) {
        if (reason == NULL) {
            abort();
        }

        free(text);
        return 0;
    }

    if (prefix.path_len == 0 || prefix.path[0] != '/'
        || prefix.path[prefix.path_len - 1] != '/'
        || prefix.host_len == 0 || prefix.port == 0 || prefix.port > 65535)
    {
        abort();
    }

    if (tune_allow_match(&prefix, 1, text + n, size - 1 - n)) {
        model(&prefix, text + n, size - 1 - n);
    }

    /* no prefix, no match */
    if (tune_allow_match(&prefix, 0, text + n, size - 1 - n)) {
        abort();
    }

    free(text);

    return 0;
}
