/*
 * Listen URLs.  They end up verbatim in a Location header, so the check is
 * about what may safely be sent, not about full RFC 3986 validity: a
 * hostile or broken Redis must not be able to split a response or send a
 * listener to a URL without a host.
 */

#include "tune_url.h"
#include "tune_internal.h"


static size_t tune_url_scheme_len(const char *url, size_t len);


/* 7 for "http://", 8 for "https://", 0 for anything else */
static size_t
tune_url_scheme_len(const char *url, size_t len)
{
    if (len >= 7 && memcmp(url, "http://", 7) == 0) {
        return 7;
    }

    if (len >= 8 && memcmp(url, "https://", 8) == 0) {
        return 8;
    }

    return 0;
}


tune_rc_t
tune_url_check(const char *url, size_t len)
{
    size_t         i, start, end, host;
    unsigned char  c;

    if (url == NULL || len == 0) {
        return TUNE_ERR_EMPTY;
    }

    if (len > TUNE_URL_MAX) {
        return TUNE_ERR_TOO_LONG;
    }

    /*
     * bytes first: a CR or a space is the most important thing to report,
     * so a '#' before one must not hide it
     */

    for (i = 0; i < len; i++) {
        c = (unsigned char) url[i];

        if (!tune_is_url_byte(c)) {
            return TUNE_ERR_BAD_CHAR;
        }
    }

    if (memchr(url, '#', len) != NULL) {
        return TUNE_ERR_BAD_URL;
    }

    start = tune_url_scheme_len(url, len);

    if (start == 0) {
        return TUNE_ERR_BAD_SCHEME;
    }

    /* the authority runs up to the path or the query */

    for (end = start; end < len; end++) {
        if (url[end] == '/' || url[end] == '?') {
            break;
        }
    }

    /*
     * The host is what is left of the authority without "userinfo@" and
     * without ":port"; "http://:8000/" or "http://user@/" have none.
     */

    host = start;

    for (i = start; i < end; i++) {
        if (url[i] == '@') {
            host = i + 1;
        }
    }

    if (host == end || url[host] == ':') {
        return TUNE_ERR_BAD_URL;
    }

    return TUNE_OK;
}


tune_rc_t
tune_url_join(char *out, size_t cap, size_t *out_len,
    const char *base, size_t base_len, const char *mount, size_t mount_len)
{
    size_t     i, total;
    tune_rc_t  rc;

    if (out_len != NULL) {
        *out_len = 0;
    }

    if (out != NULL && cap > 0) {
        out[0] = '\0';
    }

    rc = tune_url_check(base, base_len);

    if (rc != TUNE_OK) {
        return rc;
    }

    if (memchr(base, '?', base_len) != NULL) {
        return TUNE_ERR_BAD_URL;
    }

    /*
     * The check above guarantees a non-empty authority without '/', so
     * stripping slashes never reaches into "http://host".
     */

    while (base[base_len - 1] == '/') {
        base_len--;
    }

    if (mount == NULL || mount_len == 0) {
        return TUNE_ERR_EMPTY;
    }

    if (mount_len > TUNE_URL_MAX) {
        return TUNE_ERR_TOO_LONG;
    }

    for (i = 0; i < mount_len; i++) {
        if (!tune_is_url_byte((unsigned char) mount[i])) {
            return TUNE_ERR_BAD_CHAR;
        }

        if (mount[i] == '?' || mount[i] == '#') {
            return TUNE_ERR_BAD_MOUNT;
        }
    }

    /* "//x" would join with two slashes and reads as an authority */

    if (mount[0] != '/' || (mount_len > 1 && mount[1] == '/')) {
        return TUNE_ERR_BAD_MOUNT;
    }

    /*
     * Dot segments: a listener's client or a proxy on the way may resolve
     * them and end up somewhere else than the mount the scheduler polled.
     */

    for (i = 0; i < mount_len; i++) {
        if (mount[i] != '/') {
            continue;
        }

        if (mount_len - i >= 3 && memcmp(mount + i, "/./", 3) == 0) {
            return TUNE_ERR_BAD_MOUNT;
        }

        if (mount_len - i >= 4 && memcmp(mount + i, "/../", 4) == 0) {
            return TUNE_ERR_BAD_MOUNT;
        }

        if ((mount_len - i == 2 && mount[i + 1] == '.')
            || (mount_len - i == 3 && mount[i + 1] == '.'
                && mount[i + 2] == '.'))
        {
            return TUNE_ERR_BAD_MOUNT;
        }
    }

    /* both are at most TUNE_URL_MAX, so the sum cannot overflow */

    total = base_len + mount_len;

    if (total > TUNE_URL_MAX) {
        return TUNE_ERR_TOO_LONG;
    }

    if (out == NULL || cap <= total) {
        if (out_len != NULL) {
            *out_len = total;
        }

        return TUNE_ERR_NO_SPACE;
    }

    memcpy(out, base, base_len);
    memcpy(out + base_len, mount, mount_len);
    out[total] = '\0';

    /*
     * Holds by construction; checked anyway because the header promises it
     * and a front-end will put this string into a Location header.
     */

    rc = tune_url_check(out, total);

    if (rc != TUNE_OK) {
        out[0] = '\0';
        return rc;
    }

    if (out_len != NULL) {
        *out_len = total;
    }

    return TUNE_OK;
}
