/*
 * tuneslot core: shared by ngx_http_tune_module, mod_tune and tuneslotd.
 *
 * The core is host-agnostic and pure: no logging, no global state, no
 * allocation.  Callers pass buffers; functions return a tune_rc_t and, where
 * useful, a static message the host logs in its own way.
 */

#ifndef TUNE_CORE_H
#define TUNE_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif


/* tuneslot's version, for what the front-ends report of themselves (the
 * top CMakeLists.txt checks that its project() says the same) */
#define TUNE_VERSION  "0.1.0"


typedef enum {
    TUNE_OK = 0,
    TUNE_ERR_EMPTY,          /* a required value is empty */
    TUNE_ERR_TOO_LONG,       /* over the documented length limit */
    TUNE_ERR_BAD_CHAR,       /* a byte outside the allowed set */
    TUNE_ERR_DOT_DOT,        /* ".." anywhere in a name */
    TUNE_ERR_LEADING_DOT,    /* a name starting with "." */
    TUNE_ERR_BAD_SCHEME,     /* a URL scheme not of tune_url.h's */
    TUNE_ERR_BAD_URL,        /* URL structurally wrong (host, query, ...) */
    TUNE_ERR_BAD_MOUNT,      /* mount not starting with "/" or malformed */
    TUNE_ERR_NO_SPACE,       /* caller's buffer too small */
    TUNE_ERR_SYNTAX,         /* snapshot text malformed */
    TUNE_ERR_VERSION,        /* snapshot of an unsupported major version */
    TUNE_ERR_RANGE,          /* number out of range */
    TUNE_ERR_NOT_FOUND,      /* no such stream */
    TUNE_ERR_NO_SLOT,        /* stream known, but no slot may be offered */
    TUNE_ERR_FULL            /* stream known, its offerable slots are full */
} tune_rc_t;


/* A short, static, human-readable reason for a return code. */
const char *tune_rc_reason(tune_rc_t rc);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_CORE_H */
