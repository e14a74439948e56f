/*
 * Stream and backend name rules (documented in docs/names.md).
 *
 * A name is 1..TUNE_NAME_MAX bytes of [A-Za-z0-9._-], does not start with
 * "." and does not contain "..".  Everything else is rejected: "/", "%",
 * spaces, control characters, bytes >= 0x80.  The check runs on the name
 * after the host has percent-decoded the request path, so "%2e%2e" arrives
 * here as ".." and "%0d%0a" as CR LF, and both are refused.
 */

#ifndef TUNE_NAME_H
#define TUNE_NAME_H

#include "tune_core.h"

#ifdef __cplusplus
extern "C" {
#endif


#define TUNE_NAME_MAX     128


/* TUNE_OK, or the first rule the name breaks. */
tune_rc_t tune_name_check(const char *name, size_t len);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_NAME_H */
