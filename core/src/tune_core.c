/*
 * Return code texts.  Hosts log them next to their own context, so they are
 * short and say what was wrong, not what to do.
 */

#include "tune_core.h"


const char *
tune_rc_reason(tune_rc_t rc)
{
    /* no default: -Wswitch then flags a code added without a text */
    switch (rc) {
    case TUNE_OK:
        return "ok";
    case TUNE_ERR_EMPTY:
        return "empty value";
    case TUNE_ERR_TOO_LONG:
        return "value too long";
    case TUNE_ERR_BAD_CHAR:
        return "character not allowed";
    case TUNE_ERR_DOT_DOT:
        return "\"..\" not allowed";
    case TUNE_ERR_LEADING_DOT:
        return "leading \".\" not allowed";
    case TUNE_ERR_BAD_SCHEME:
        return "URL scheme is not http:// or https://";
    case TUNE_ERR_BAD_URL:
        return "malformed URL";
    case TUNE_ERR_BAD_MOUNT:
        return "malformed mount";
    case TUNE_ERR_NO_SPACE:
        return "buffer too small";
    case TUNE_ERR_SYNTAX:
        return "malformed snapshot";
    case TUNE_ERR_VERSION:
        return "unsupported snapshot version";
    case TUNE_ERR_RANGE:
        return "number out of range";
    case TUNE_ERR_NOT_FOUND:
        return "unknown stream";
    case TUNE_ERR_NO_SLOT:
        return "no healthy slot";
    case TUNE_ERR_FULL:
        return "every slot full";
    }

    return "unknown error";
}
