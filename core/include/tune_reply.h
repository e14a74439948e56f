/*
 * A Redis reply as core/ reads it: the host's client library (hiredis in
 * all three components) parses the protocol, and the host hands each reply
 * over in this form (tune_hiredis.h does it for hiredis), so that the
 * protocol machines of tune_link.h and tune_refresh.h know no client
 * library.  Nothing here is owned: every pointer is the host's, valid for
 * the one call it is passed to.
 */

#ifndef TUNE_REPLY_H
#define TUNE_REPLY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif


typedef enum {
    TUNE_REPLY_STRING = 1,       /* a bulk string: str, len */
    TUNE_REPLY_ARRAY,            /* elements, element (NULL when nested) */
    TUNE_REPLY_INTEGER,          /* integer */
    TUNE_REPLY_NIL,
    TUNE_REPLY_STATUS,           /* "+OK": str, len */
    TUNE_REPLY_ERROR,            /* "-ERR ...": str, len */
    TUNE_REPLY_OTHER             /* a RESP3 type core has no use for */
} tune_reply_type_t;


typedef struct tune_reply_s  tune_reply_t;

struct tune_reply_s {
    tune_reply_type_t         type;
    long long                 integer;
    const char               *str;
    size_t                    len;

    /*
     * An array's elements, one level deep: the replies core reads (MGET,
     * the herd script's, and later ROLE's first element) nest no deeper,
     * so an array inside an array keeps its count with element NULL.
     */
    size_t                    elements;
    const tune_reply_t       *element;
};


/* the most elements a host converts: a herd claim's reply (2 per slot) */
#define TUNE_REPLY_ELEMENTS_MAX  512


#ifdef __cplusplus
}
#endif

#endif /* TUNE_REPLY_H */
