/*
 * The allowlist of listen URLs (tune_allow.h).
 *
 * Matching is deliberately narrower than what a browser accepts: a URL
 * that could be read in two ways (userinfo, percent-encoded bytes in the
 * host, encoded slashes, dot segments) is refused rather than interpreted,
 * so that what matched here is what a player, a proxy or mod_proxy reaches.
 * Refusing a good URL costs a slot and a warning; accepting a bad one sends
 * listeners elsewhere.
 */

#include "tune_allow.h"
#include "tune_url.h"
#include "tune_internal.h"


/* the parts of an absolute URL, spans into it */
typedef struct {
    const char       *host;
    size_t            host_len;
    const char       *port;         /* after ':', NULL: none */
    size_t            port_len;
    const char       *path;         /* up to '?' or the end, may be "" */
    size_t            path_len;
    uint32_t          scheme;       /* TUNE_SCHEME_* */
} tune_url_parts_t;


static const char *tune_allow_split(const char *url, size_t len,
    tune_url_parts_t *u);
static const char *tune_allow_host(const char *host, size_t len);
static int tune_allow_port(const char *port, size_t len, uint32_t scheme,
    uint32_t *out);
static int tune_allow_path_safe(const char *path, size_t len);
static int tune_allow_dots(const char *seg, size_t len);
static int tune_allow_pct(const char *p, size_t left, char hi, char lo);
static int tune_allow_one(const tune_allow_t *a, const tune_url_parts_t *u);


static inline unsigned char
tune_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char) (c | 0x20) : c;
}


static int
tune_caseeq(const char *a, const char *b, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (tune_lower((unsigned char) a[i]) != tune_lower((unsigned char) b[i]))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * Splits "scheme://authority[/path][?query]" into its parts; NULL, or the
 * reason the URL cannot be matched (or, for a prefix, why it is wrong).
 * The authority ends at the first '/' or '?': tune_url_check() has refused
 * '\\' and '#', which browsers would also end it at.
 */
static const char *
tune_allow_split(const char *url, size_t len, tune_url_parts_t *u)
{
    size_t       i, start, end;
    const char  *close;

    u->scheme = tune_url_scheme_caseless(url, len, &start);

    if (u->scheme == 0) {
        /* "ftp://", "javascript:": a colon before any '/' ends a scheme */
        for (i = 0; i < len && url[i] != '/'; i++) {
            if (url[i] == ':') {
                return "a scheme other than http://, https://, rtmp://, "
                       "rtmps://, rtsp:// or rtsps://";
            }
        }

        return "no scheme: it starts with http:// or https:// (or rtmp://, "
               "rtmps://, rtsp://, rtsps://)";
    }

    for (end = start; end < len; end++) {
        if (url[end] == '/' || url[end] == '?') {
            break;
        }
    }

    for (i = start; i < end; i++) {
        if (url[i] == '@') {
            return "userinfo (\"user@\") before the host";
        }

        if (url[i] == '%') {
            return "a percent-encoded host";
        }
    }

    u->host = url + start;
    u->port = NULL;
    u->port_len = 0;

    if (start < end && url[start] == '[') {
        close = memchr(url + start, ']', end - start);
        if (close == NULL) {
            return "an IPv6 literal without ']'";
        }

        u->host_len = (size_t) (close - u->host) + 1;

    } else {
        close = memchr(url + start, ':', end - start);
        u->host_len = (close != NULL) ? (size_t) (close - u->host)
                                      : end - start;
    }

    if (u->host_len == 0) {
        return "no host";
    }

    i = start + u->host_len;

    if (i < end) {
        if (url[i] != ':') {
            return "bytes after the IPv6 literal";
        }

        u->port = url + i + 1;
        u->port_len = end - i - 1;
    }

    u->path = url + end;

    for (i = end; i < len && url[i] != '?'; i++) {
        /* void */
    }

    u->path_len = i - end;

    return NULL;
}


/* NULL when host is a name or an IPv6 literal a prefix may hold */
static const char *
tune_allow_host(const char *host, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (len > 255) {
        return "a host longer than 255 bytes";
    }

    if (host[0] == '[') {
        /* "[" hex digits, ':' and '.' (a v4 tail) "]", no zone id */
        for (i = 1; i + 1 < len; i++) {
            c = (unsigned char) host[i];

            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                  || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
            {
                return "an IPv6 literal with a byte other than hex digits, "
                       "':' and '.'";
            }
        }

        return (len > 2) ? NULL : "an empty IPv6 literal";
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) host[i];

        if (c == '.') {
            if (i == 0 || i == len - 1 || host[i - 1] == '.') {
                return "a host with an empty label (a leading, trailing or "
                       "double dot)";
            }

            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-'))
        {
            return "a host with a byte other than letters, digits, '.' "
                   "and '-'";
        }
    }

    return NULL;
}


/* 1 and *out the port, explicit or the scheme's; 0 for a bad one */
static int
tune_allow_port(const char *port, size_t len, uint32_t scheme, uint32_t *out)
{
    size_t    i;
    uint32_t  n;

    if (port == NULL) {
        *out = tune_scheme_port(scheme);
        return 1;
    }

    /* leading zeros are read as browsers read them: "080" is 80 */
    if (len == 0 || len > 10) {
        return 0;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (port[i] < '0' || port[i] > '9') {
            return 0;
        }

        n = n * 10 + (uint32_t) (port[i] - '0');

        if (n > 65535) {
            return 0;
        }
    }

    if (n == 0) {
        return 0;
    }

    *out = n;

    return 1;
}


/* 1 when p (left bytes) starts with "%" hi lo, case ignored */
static int
tune_allow_pct(const char *p, size_t left, char hi, char lo)
{
    return left >= 3 && p[0] == '%' && p[1] == hi
           && tune_lower((unsigned char) p[2]) == (unsigned char) lo;
}


/* 1 when a segment (up to its ';' parameters) is "." or "..", "%2e" too */
static int
tune_allow_dots(const char *seg, size_t len)
{
    size_t  i, dots;

    dots = 0;
    i = 0;

    while (i < len && seg[i] != ';') {
        if (seg[i] == '.') {
            i++;

        } else if (tune_allow_pct(seg + i, len - i, '2', 'e')) {
            i += 3;

        } else {
            return 0;
        }

        dots++;
    }

    return dots == 1 || dots == 2;
}


/* 1 when the path holds no encoded slash or backslash and no dot segment */
static int
tune_allow_path_safe(const char *path, size_t len)
{
    size_t  i, seg;

    for (i = 0; i < len; i++) {
        if (tune_allow_pct(path + i, len - i, '2', 'f')
            || tune_allow_pct(path + i, len - i, '5', 'c'))
        {
            return 0;
        }
    }

    seg = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && path[i] != '/') {
            continue;
        }

        if (tune_allow_dots(path + seg, i - seg)) {
            return 0;
        }

        seg = i + 1;
    }

    return 1;
}


tune_rc_t
tune_allow_parse(const char *text, size_t len, tune_allow_t *prefix,
    const char **reason)
{
    size_t             i;
    const char        *why;
    tune_url_parts_t   u;

    *reason = NULL;

    if (text == NULL || len == 0) {
        *reason = "an empty prefix";
        return TUNE_ERR_EMPTY;
    }

    if (len > TUNE_URL_MAX) {
        *reason = "longer than a listen URL may be";
        return TUNE_ERR_TOO_LONG;
    }

    for (i = 0; i < len; i++) {
        if (!tune_is_url_byte((unsigned char) text[i])) {
            *reason = "a byte that no listen URL holds (a control byte "
                      "such as CR or LF, a space, a quote, '\\', '<', '>', "
                      "'^', '`', '{', '|', '}' or non-ASCII)";
            return TUNE_ERR_BAD_CHAR;
        }

        if (text[i] == '?') {
            *reason = "a query ('?')";
            return TUNE_ERR_BAD_URL;
        }

        if (text[i] == '#') {
            *reason = "a fragment ('#')";
            return TUNE_ERR_BAD_URL;
        }
    }

    why = tune_allow_split(text, len, &u);

    if (why != NULL) {
        *reason = why;
        return TUNE_ERR_BAD_URL;
    }

    why = tune_allow_host(u.host, u.host_len);

    if (why != NULL) {
        *reason = why;
        return TUNE_ERR_BAD_URL;
    }

    if (!tune_allow_port(u.port, u.port_len, u.scheme, &prefix->port)) {
        *reason = "a port that is not a number from 1 to 65535";
        return TUNE_ERR_BAD_URL;
    }

    if (u.path_len == 0) {
        *reason = "no path: end the prefix with '/' (\"http://host/\")";
        return TUNE_ERR_BAD_URL;
    }

    if (u.path[u.path_len - 1] != '/') {
        *reason = "a path not ending in '/'";
        return TUNE_ERR_BAD_URL;
    }

    if (!tune_allow_path_safe(u.path, u.path_len)) {
        *reason = "a dot segment or an encoded slash in the path";
        return TUNE_ERR_BAD_URL;
    }

    prefix->host = u.host;
    prefix->host_len = u.host_len;
    prefix->path = u.path;
    prefix->path_len = u.path_len;
    prefix->scheme = u.scheme;

    return TUNE_OK;
}


static int
tune_allow_one(const tune_allow_t *a, const tune_url_parts_t *u)
{
    uint32_t  port;

    if (a->scheme != u->scheme
        || a->host_len != u->host_len
        || !tune_caseeq(a->host, u->host, u->host_len))
    {
        return 0;
    }

    if (!tune_allow_port(u->port, u->port_len, u->scheme, &port)
        || port != a->port)
    {
        return 0;
    }

    /* "http://host" and "http://host?q" are "/" to every client */
    if (u->path_len == 0) {
        return a->path_len == 1;
    }

    return u->path_len >= a->path_len
           && memcmp(u->path, a->path, a->path_len) == 0;
}


int
tune_allow_match(const tune_allow_t *prefixes, size_t n, const char *url,
    size_t len)
{
    size_t            i;
    tune_url_parts_t  u;

    if (tune_url_check(url, len) != TUNE_OK) {
        return 0;
    }

    if (tune_allow_split(url, len, &u) != NULL) {
        return 0;
    }

    if (!tune_allow_path_safe(u.path, u.path_len)) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (tune_allow_one(&prefixes[i], &u)) {
            return 1;
        }
    }

    return 0;
}


uint32_t
tune_image_allow(void *buf, size_t size, const tune_allow_t *prefixes,
    size_t n, uint32_t *first)
{
    uint32_t            i, refused;
    tune_image_t       *img;
    tune_image_slot_t  *s;

    if (first != NULL) {
        *first = UINT32_MAX;
    }

    /* the image is the caller's own, so dropping const is sound */
    img = (tune_image_t *) tune_image_get(buf, size);
    if (img == NULL) {
        return 0;
    }

    s = (tune_image_slot_t *) tune_image_slots(img);
    refused = 0;

    for (i = 0; i < img->nslots; i++, s++) {

        s->flags &= ~TUNE_SLOT_REFUSED;

        if (n == 0) {
            continue;
        }

        /* a URL outside the image (a hand-made one) matches nothing */
        if ((uint64_t) s->url.off + s->url.len <= img->size
            && tune_allow_match(prefixes, n, tune_image_str(img, s->url),
                                s->url.len))
        {
            continue;
        }

        s->flags |= TUNE_SLOT_REFUSED;

        if (refused++ == 0 && first != NULL) {
            *first = i;
        }
    }

    img->nrefused = refused;

    return refused;
}


uint64_t
tune_image_refused_digest(const tune_image_t *img)
{
    int                       any;
    uint32_t                  i;
    uint64_t                  h;
    const tune_image_slot_t  *s;

    /* FNV-1a, each string followed by a separator no name or URL holds */
#define tune_digest(p, n)                                                    \
    do {                                                                     \
        const unsigned char  *b_ = (const unsigned char *) (p);             \
        size_t                k_;                                            \
        for (k_ = 0; k_ < (n); k_++) {                                       \
            h = (h ^ b_[k_]) * 0x100000001b3ull;                             \
        }                                                                    \
        h = (h ^ 0x0a) * 0x100000001b3ull;                                   \
    } while (0)

    h = 0xcbf29ce484222325ull;
    any = 0;

    s = tune_image_slots(img);

    for (i = 0; i < img->nslots; i++, s++) {

        if (!(s->flags & TUNE_SLOT_REFUSED)
            || (uint64_t) s->url.off + s->url.len > img->size
            || (uint64_t) s->backend.off + s->backend.len > img->size)
        {
            continue;
        }

        any = 1;
        tune_digest(tune_image_str(img, s->backend), s->backend.len);
        tune_digest(tune_image_str(img, s->url), s->url.len);
    }

#undef tune_digest

    /* 0 means "none refused": a set that hashes to it is told apart */
    return any ? (h ? h : 1) : 0;
}


size_t
tune_log_escape(char *out, size_t cap, const char *s, size_t len)
{
    size_t         i, o, need;
    unsigned char  c;

    static const char  hex[] = "0123456789abcdef";

    if (out == NULL || cap < 4) {
        return 0;
    }

    o = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];
        need = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? 1 : 4;

        /* room is always left for "..." and the NUL */
        if (o + need > cap - 4) {
            break;
        }

        if (need == 1) {
            out[o++] = (char) c;
            continue;
        }

        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 0xf];
    }

    if (i < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }

    out[o] = '\0';

    return o;
}
