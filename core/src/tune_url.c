/*
 * Listen URLs.  They end up verbatim in a Location header, so the check is
 * about what may safely be sent, not about full RFC 3986 validity: a
 * hostile or broken Redis must not be able to split a response or send a
 * listener to a URL without a host.
 */

#include "tune_url.h"
#include "tune_internal.h"




/*
 * The schemes a listen URL may have, longest prefix of a family first
 * ("https://" is not "http://" followed by "s//").
 */
typedef struct {
    const char  *prefix;
    size_t       len;
    uint32_t     bit;
    const char  *name;
    const char  *port;          /* the default one */
} tune_url_scheme_t;

static const tune_url_scheme_t  tune_url_schemes[] = {
    { "http://",  7, TUNE_SCHEME_HTTP,  "http",  "80" },
    { "https://", 8, TUNE_SCHEME_HTTPS, "https", "443" },
    { "rtmp://",  7, TUNE_SCHEME_RTMP,  "rtmp",  "1935" },
    { "rtmps://", 8, TUNE_SCHEME_RTMPS, "rtmps", "443" },
    { "rtsp://",  7, TUNE_SCHEME_RTSP,  "rtsp",  "554" },
    { "rtsps://", 8, TUNE_SCHEME_RTSPS, "rtsps", "322" },
};

#define TUNE_URL_NSCHEMES                                                    \
    (sizeof(tune_url_schemes) / sizeof(tune_url_schemes[0]))


static const tune_url_scheme_t *tune_url_scheme_find(const char *url,
    size_t len);
static void tune_url_authority(const char *url, size_t len, size_t start,
    size_t *host, size_t *end);


/* url's entry in tune_url_schemes[], NULL for none of ours */
static const tune_url_scheme_t *
tune_url_scheme_find(const char *url, size_t len)
{
    size_t  i;

    for (i = 0; i < TUNE_URL_NSCHEMES; i++) {
        if (url != NULL && len >= tune_url_schemes[i].len
            && memcmp(url, tune_url_schemes[i].prefix,
                      tune_url_schemes[i].len) == 0)
        {
            return &tune_url_schemes[i];
        }
    }

    return NULL;
}


/*
 * The authority of url, from start (after "scheme://") up to the path or
 * the query (*end), and where its host begins: after the last '@', that
 * is, without "userinfo@" (*host).
 */
static void
tune_url_authority(const char *url, size_t len, size_t start, size_t *host,
    size_t *end)
{
    size_t  i;

    for (*end = start; *end < len; (*end)++) {
        if (url[*end] == '/' || url[*end] == '?') {
            break;
        }
    }

    *host = start;

    for (i = start; i < *end; i++) {
        if (url[i] == '@') {
            *host = i + 1;
        }
    }
}


uint32_t
tune_url_scheme(const char *url, size_t len)
{
    const tune_url_scheme_t  *sc;

    sc = tune_url_scheme_find(url, len);

    return sc ? sc->bit : 0;
}


uint32_t
tune_scheme_by_name(const char *name, size_t len)
{
    size_t  i;

    if (name == NULL) {
        return 0;
    }

    for (i = 0; i < TUNE_URL_NSCHEMES; i++) {
        if (len == tune_url_schemes[i].len - 3
            && memcmp(name, tune_url_schemes[i].name, len) == 0)
        {
            return tune_url_schemes[i].bit;
        }
    }

    return 0;
}


uint32_t
tune_url_scheme_caseless(const char *url, size_t len, size_t *scheme_len)
{
    size_t  i, k;

    for (i = 0; url != NULL && i < TUNE_URL_NSCHEMES; i++) {
        if (len < tune_url_schemes[i].len) {
            continue;
        }

        for (k = 0; k < tune_url_schemes[i].len; k++) {
            if ((url[k] | ((url[k] >= 'A' && url[k] <= 'Z') ? 0x20 : 0))
                != tune_url_schemes[i].prefix[k])
            {
                break;
            }
        }

        if (k == tune_url_schemes[i].len) {
            if (scheme_len != NULL) {
                *scheme_len = k;
            }

            return tune_url_schemes[i].bit;
        }
    }

    return 0;
}


uint32_t
tune_scheme_port(uint32_t bit)
{
    size_t       i;
    uint32_t     port;
    const char  *p;

    for (i = 0; i < TUNE_URL_NSCHEMES; i++) {
        if (tune_url_schemes[i].bit == bit) {
            port = 0;

            for (p = tune_url_schemes[i].port; *p; p++) {
                port = port * 10 + (uint32_t) (*p - '0');
            }

            return port;
        }
    }

    return 0;
}


const char *
tune_scheme_name(uint32_t bit)
{
    size_t  i;

    for (i = 0; i < TUNE_URL_NSCHEMES; i++) {
        if (tune_url_schemes[i].bit == bit) {
            return tune_url_schemes[i].name;
        }
    }

    return NULL;
}


tune_rc_t
tune_url_check(const char *url, size_t len)
{
    size_t                    i, start, end, host;
    unsigned char             c;
    const tune_url_scheme_t  *sc;

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

    sc = tune_url_scheme_find(url, len);

    if (sc == NULL) {
        return TUNE_ERR_BAD_SCHEME;
    }

    start = sc->len;

    /*
     * The host is what is left of the authority without "userinfo@" and
     * without ":port"; "http://:8000/" or "http://user@/" have none.
     */

    tune_url_authority(url, len, start, &host, &end);

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


tune_rc_t
tune_url_endpoint(const char *url, size_t len, char *out, size_t cap,
    size_t *out_len)
{
    size_t                    i, end, host, colon, host_len, port_len;
    uint32_t                  port;
    tune_rc_t                 rc;
    const char               *port_text;
    const tune_url_scheme_t  *sc;

    if (out_len != NULL) {
        *out_len = 0;
    }

    if (out != NULL && cap > 0) {
        out[0] = '\0';
    }

    rc = tune_url_check(url, len);

    if (rc != TUNE_OK) {
        return rc;
    }

    sc = tune_url_scheme_find(url, len);

    tune_url_authority(url, len, sc->len, &host, &end);

    /* the port's ':' is the last one, after an IPv6 literal's ']' */

    colon = end;

    for (i = end; i > host; i--) {
        if (url[i - 1] == ']') {
            break;
        }

        if (url[i - 1] == ':') {
            colon = i - 1;
            break;
        }
    }

    if (url[host] == '[' && (colon == host || url[colon - 1] != ']')) {
        return TUNE_ERR_BAD_URL;
    }

    host_len = colon - host;

    if (colon < end) {
        port_text = url + colon + 1;
        port_len = end - colon - 1;

    } else {
        port_text = sc->port;
        port_len = strlen(sc->port);
    }

    /* 1..65535 in decimal ("080" is 80, as browsers and nginx read it):
     * anything else is no address to connect to */

    if (port_len == 0 || port_len > 5) {
        return TUNE_ERR_BAD_URL;
    }

    port = 0;

    for (i = 0; i < port_len; i++) {
        if (port_text[i] < '0' || port_text[i] > '9') {
            return TUNE_ERR_BAD_URL;
        }

        port = port * 10 + (uint32_t) (port_text[i] - '0');
    }

    if (port == 0 || port > 65535) {
        return TUNE_ERR_BAD_URL;
    }

    if (out_len != NULL) {
        *out_len = host_len + 1 + port_len;
    }

    if (out == NULL || cap <= host_len + 1 + port_len) {
        return TUNE_ERR_NO_SPACE;
    }

    memcpy(out, url + host, host_len);
    out[host_len] = ':';
    memcpy(out + host_len + 1, port_text, port_len);
    out[host_len + 1 + port_len] = '\0';

    return TUNE_OK;
}
