/*
 * Listen URLs: built by tuneslotd from a backend's public base URL and a
 * stream's mount, and checked again by the front-ends before they put one
 * in a Location header (a hostile Redis must not inject headers).
 *
 * A safe URL is "http://" or "https://", a non-empty authority, then an
 * optional path; every byte is printable ASCII 0x21..0x7e except '"', '<',
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


/* TUNE_OK if url may be sent as a Location header value as it is. */
tune_rc_t tune_url_check(const char *url, size_t len);


/*
 * Joins base ("http://host:port" with an optional path, no query) and mount
 * ("/name", no query) with exactly one "/" between them, into out (cap
 * bytes, NUL-terminated).  *out_len gets the length without the NUL (also
 * on TUNE_ERR_NO_SPACE, where it is the length that did not fit).
 * Base must have no '?'; mount must start with "/", have no '?', and contain
 * no "/../" or "/./" segment.  The result passes tune_url_check().
 */
tune_rc_t tune_url_join(char *out, size_t cap, size_t *out_len,
    const char *base, size_t base_len, const char *mount, size_t mount_len);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_URL_H */
