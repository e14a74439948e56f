/*
 * Stream and backend names (docs/names.md).  A name ends up in URLs, Redis
 * keys, log lines and file-like mount paths, so the allowed set is small on
 * purpose and nothing is ever "cleaned up": a bad name is refused.
 */

#include "tune_name.h"
#include "tune_internal.h"


tune_rc_t
tune_name_check(const char *name, size_t len)
{
    size_t  i;
    int     dot_dot;

    if (name == NULL || len == 0) {
        return TUNE_ERR_EMPTY;
    }

    if (len > TUNE_NAME_MAX) {
        return TUNE_ERR_TOO_LONG;
    }

    /*
     * The whole name is scanned before the dot rules are applied, so the
     * code returned is the first rule broken in the order docs/names.md
     * lists them, not the first offending byte.
     */

    dot_dot = 0;

    for (i = 0; i < len; i++) {
        if (!tune_is_name_byte((unsigned char) name[i])) {
            return TUNE_ERR_BAD_CHAR;
        }

        if (name[i] == '.' && i > 0 && name[i - 1] == '.') {
            dot_dot = 1;
        }
    }

    if (name[0] == '.') {
        return TUNE_ERR_LEADING_DOT;
    }

    if (dot_dot) {
        return TUNE_ERR_DOT_DOT;
    }

    return TUNE_OK;
}
