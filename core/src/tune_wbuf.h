/*
 * A counting sink for text the core writes into a caller's buffer, the way
 * snprintf() does: len counts every byte the text needs, bytes are stored
 * only while they fit, and nothing is ever stored at or past cap, so a
 * caller whose buffer was short learns the exact size from len.  Used by
 * the snapshot formatter and the playlist renderer.  Static inline, like
 * tune_internal.h, so each unit links only the files it really uses.
 */

#ifndef TUNE_WBUF_H
#define TUNE_WBUF_H

#include <string.h>

#include "tune_core.h"


typedef struct {
    char             *out;
    size_t            cap;
    size_t            len;
    unsigned          overflow;     /* len would have passed SIZE_MAX */
} tune_wbuf_t;


/* A NULL out is no buffer, whatever cap says. */
static inline void
tune_wbuf_init(tune_wbuf_t *w, char *out, size_t cap)
{
    w->out = out;
    w->cap = (out != NULL) ? cap : 0;
    w->len = 0;
    w->overflow = 0;
}


static inline void
tune_wbuf_put(tune_wbuf_t *w, const char *p, size_t n)
{
    size_t  room;

    /* an empty field may come with a NULL pointer: memcpy() forbids that */
    if (n == 0 || w->overflow) {
        return;
    }

    if (n > SIZE_MAX - w->len) {
        w->overflow = 1;
        return;
    }

    if (w->len < w->cap) {
        room = w->cap - w->len;
        memcpy(w->out + w->len, p, n < room ? n : room);
    }

    w->len += n;
}


static inline void
tune_wbuf_put_u64(tune_wbuf_t *w, uint64_t v)
{
    char    digits[20];
    size_t  i;

    i = sizeof(digits);

    do {
        digits[--i] = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);

    tune_wbuf_put(w, digits + i, sizeof(digits) - i);
}


#endif /* TUNE_WBUF_H */
