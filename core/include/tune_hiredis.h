/*
 * hiredis's reply as core's (tune_reply.h): the one conversion, for the
 * hosts that link hiredis (both modules and tuneslotd).  Header-only, so
 * that core/ itself links no client library.
 */

#ifndef TUNE_HIREDIS_H
#define TUNE_HIREDIS_H

#include "tune_reply.h"

#include <string.h>
#include <hiredis/hiredis.h>


static inline void
tune_hiredis_scalar(const redisReply *r, tune_reply_t *out)
{
    out->integer = 0;
    out->str = NULL;
    out->len = 0;
    out->elements = 0;
    out->element = NULL;

    switch (r->type) {

    case REDIS_REPLY_STRING:
        out->type = TUNE_REPLY_STRING;
        break;

    case REDIS_REPLY_STATUS:
        out->type = TUNE_REPLY_STATUS;
        break;

    case REDIS_REPLY_ERROR:
        out->type = TUNE_REPLY_ERROR;
        break;

    case REDIS_REPLY_INTEGER:
        out->type = TUNE_REPLY_INTEGER;
        out->integer = r->integer;
        return;

    case REDIS_REPLY_NIL:
        out->type = TUNE_REPLY_NIL;
        return;

    case REDIS_REPLY_ARRAY:
        out->type = TUNE_REPLY_ARRAY;
        out->elements = r->elements;
        return;

    default:
        out->type = TUNE_REPLY_OTHER;
        return;
    }

    out->str = r->str;
    out->len = r->len;
}


/*
 * r into *out, its elements (one level) into elems, which has room for max
 * of them; an array longer than that keeps its count and gets element NULL,
 * which every reader of core takes as a reply of the wrong shape.
 */
static inline void
tune_hiredis_reply(const redisReply *r, tune_reply_t *out, tune_reply_t *elems,
    size_t max)
{
    size_t  i;

    tune_hiredis_scalar(r, out);

    if (r->type != REDIS_REPLY_ARRAY || r->elements > max) {
        return;
    }

    for (i = 0; i < r->elements; i++) {
        tune_hiredis_scalar(r->element[i], &elems[i]);
    }

    out->element = elems;
}


/*
 * A context's error as a log line says it: a read or connect that timed
 * out (SO_RCVTIMEO gives EAGAIN's text) is "timed out".
 */
static inline const char *
tune_hiredis_error(const char *errstr)
{
    if (errstr == NULL || errstr[0] == '\0') {
        return "connection closed";
    }

    if (strstr(errstr, "temporarily unavailable")
        || strstr(errstr, "timed out"))
    {
        return "timed out";
    }

    return errstr;
}


#endif /* TUNE_HIREDIS_H */
