/*
 * Listen URLs: built by tuneslotd from a backend's public base URL and a
 * stream's mount, and checked again by the front-ends before they put one
 * in a Location header (a hostile Redis must not inject headers).
 *
 * A safe URL is "http://", "https://", "rtmp://", "rtmps://", "rtsp://" or
 * "rtsps://" (lowercase), a non-empty authority, then an optional path; every byte is printable ASCII 0x21..0x7e except '"', '<',
 * '>', '\\', '^', '`', '{', '|', '}' (no spaces, no CR/LF); no '#'; at most
 * TUNE_URL_MAX bytes.
 */

#ifndef TUNE_URL_H
#define TUNE_URL_H

#include "tune_core.h"

#ifdef __cplusplus
extern "C" {
#endif


#define TUNE_URL_MAX      2048


/*
 * A listen URL's scheme, one bit each, so that a host can name the set of
 * schemes it sends listeners to (tune_select_opts_t, tune_choice_req_t).
 * An HTTP front-end redirects to the web ones; an L4 proxy such as nginx's
 * stream module hands a connection to the media ones.
 */
#define TUNE_SCHEME_HTTP    0x01u
#define TUNE_SCHEME_HTTPS   0x02u
#define TUNE_SCHEME_RTMP    0x04u
#define TUNE_SCHEME_RTMPS   0x08u
#define TUNE_SCHEME_RTSP    0x10u
#define TUNE_SCHEME_RTSPS   0x20u

#define TUNE_SCHEMES_WEB    (TUNE_SCHEME_HTTP | TUNE_SCHEME_HTTPS)
#define TUNE_SCHEMES_MEDIA  (TUNE_SCHEME_RTMP | TUNE_SCHEME_RTMPS          \
                             | TUNE_SCHEME_RTSP | TUNE_SCHEME_RTSPS)

/* a set of schemes no slot is of (where 0 would mean any) */
#define TUNE_SCHEMES_NONE   0x80000000u


/* The TUNE_SCHEME_* bit of url's scheme; 0 when it has none of them. */
uint32_t tune_url_scheme(const char *url, size_t len);

/* The bit of a scheme named without "://" ("https"); 0 for an unknown one */
uint32_t tune_scheme_by_name(const char *name, size_t len);

/* "https" for TUNE_SCHEME_HTTPS; NULL for anything but one known bit */
const char *tune_scheme_name(uint32_t bit);

/* The bit of url's scheme read without regard to ASCII case ("HTTP://"),
 * and in *scheme_len (unless NULL) its length with "://"; 0 for none */
uint32_t tune_url_scheme_caseless(const char *url, size_t len,
    size_t *scheme_len);

/* A scheme's default port (80 for TUNE_SCHEME_HTTP); 0 for no known bit */
uint32_t tune_scheme_port(uint32_t bit);


/* TUNE_OK if url may be sent as a Location header value as it is. */
tune_rc_t tune_url_check(const char *url, size_t len);


/*
 * Joins base ("http://host:port", or another scheme of ours, with an optional path, no query) and mount
 * ("/name", no query) with exactly one "/" between them, into out (cap
 * bytes, NUL-terminated).  *out_len gets the length without the NUL (also
 * on TUNE_ERR_NO_SPACE, where it is the length that did not fit).
 * Base must have no '?'; mount must start with "/", have no '?', and contain
 * no "/../" or "/./" segment.  The result passes tune_url_check().
 */
tune_rc_t tune_url_join(char *out, size_t cap, size_t *out_len,
    const char *base, size_t base_len, const char *mount, size_t mount_len);


/*
 * The address an L4 proxy (nginx's stream proxy_pass) connects to for url,
 * as "host:port" in out (cap bytes, NUL-terminated): url's host as written
 * (an IPv6 literal with its brackets, a user part left out), and its port,
 * or its scheme's default one when it has none (http 80, https 443, rtmp
 * 1935, rtmps 443, rtsp 554, rtsps 322).  TUNE_ERR_BAD_URL for a port that
 * is not 1..65535 in decimal (leading zeros read away) or a bracket left
 * open; url must pass tune_url_check().  *out_len as tune_url_join() sets
 * it.
 */
tune_rc_t tune_url_endpoint(const char *url, size_t len, char *out,
    size_t cap, size_t *out_len);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_URL_H */
