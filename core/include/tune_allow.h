/*
 * The allowlist of listen URLs (nginx tune_allow, Apache TuneAllow): the
 * URL prefixes, from the front-end's own configuration, that a slot's URL
 * must start with before a listener is redirected there, given it in a
 * playlist, or proxied to it.  Without one, every URL in Redis is used
 * (Redis is trusted); with one, a hostile or broken Redis can no longer
 * send listeners anywhere else.
 *
 * A prefix is "http://" or "https://" (or one of the media schemes,
 * "rtmp://", "rtmps://", "rtsp://", "rtsps://"), a host (a name of letters, digits,
 * '.' and '-' without empty labels, or an IPv6 literal in brackets), an
 * optional ":port", and a path that starts and ends with '/':
 *
 *     http://10.0.0.5:8000/        https://relay.example.net/live/
 *
 * A URL matches a prefix when, after passing tune_url_check():
 *
 *   - its scheme is the prefix's;
 *   - its authority holds no userinfo ('@') and no '%', and its host
 *     equals the prefix's host, ASCII case ignored ("good.example." with a
 *     trailing dot, "0x0a.0.0.5" for "10.0.0.5" or "[0::1]" for "[::1]"
 *     are other spellings and do not match);
 *   - its port, explicit or the scheme's default (80, 443, 1935, 554, ...:
 *     tune_scheme_port()), is the
 *     prefix's; an empty port ("http://host:/") does not match;
 *   - its path (up to the query; "" counts as "/") starts with the
 *     prefix's path, byte for byte, and holds no "%2f" or "%5c" (any case)
 *     and no dot segment: a segment that is "." or ".." once "%2e" is read
 *     as '.', also when ';' parameters follow it ("..;x").  A browser, a
 *     player or a proxy on the way could resolve those and leave the
 *     prefix.
 *
 * Hosts keep the prefixes' text (pointers into it) and pass it as an array;
 * the core allocates nothing.
 */

#ifndef TUNE_ALLOW_H
#define TUNE_ALLOW_H

#include "tune_core.h"
#include "tune_snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef struct {
    const char       *host;         /* in the prefix's text; "[..]" for */
    size_t            host_len;     /*   an IPv6 literal */
    const char       *path;         /* in the prefix's text, "/" .. "/" */
    size_t            path_len;
    uint32_t          port;         /* explicit or the scheme's default */
    uint32_t          scheme;       /* TUNE_SCHEME_* (tune_url.h) */
} tune_allow_t;


/*
 * Parses one prefix (len bytes of text, which must outlive *prefix).
 * TUNE_OK, or an error code with *reason set to a static text saying what
 * is wrong, for the host's configuration error.
 */
tune_rc_t tune_allow_parse(const char *text, size_t len, tune_allow_t *prefix,
    const char **reason);


/* 1 when url passes tune_url_check() and matches one of the n prefixes. */
int tune_allow_match(const tune_allow_t *prefixes, size_t n, const char *url,
    size_t len);


/*
 * Marks each slot of the image in buf (size bytes, as tune_snapshot_decode()
 * returned it) whose URL matches none of the n prefixes with
 * TUNE_SLOT_REFUSED, clears the mark of every other slot, and sets the
 * image's nrefused.  With n 0 every slot is allowed.  Returns the number of
 * slots refused; *first (may be NULL) gets the index of the first refused
 * slot in tune_image_slots(), or UINT32_MAX for none.  A refused slot is
 * never selected, ranked or given herd credits, as if it were down.
 * Marking is idempotent: an image may be marked again with another list.
 */
uint32_t tune_image_allow(void *buf, size_t size, const tune_allow_t *prefixes,
    size_t n, uint32_t *first);


/*
 * A digest of which slots of a marked image are refused (their backend
 * names and URLs, in order), 0 when none is: a front-end warns again only
 * when it changes, not at every generation of a misconfiguration that
 * lasts.
 */
uint64_t tune_image_refused_digest(const tune_image_t *img);


/*
 * Copies len bytes of s into out (cap bytes, NUL-terminated) for a log
 * line between double quotes: printable ASCII as it is, '"', '\\' and every
 * other byte as "\xHH", and "..." in place of what does not fit, so no
 * control byte ever reaches a log.  Returns the length written without the
 * NUL; 0 when cap is below 4.
 */
size_t tune_log_escape(char *out, size_t cap, const char *s, size_t len);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_ALLOW_H */
