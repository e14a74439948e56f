/*
 * Reading a decoded image.  Images are produced by tune_snapshot_decode()
 * and live in memory the host trusts (its own or a shared zone), so
 * tune_image_get() checks only what lets the table accessors stay inside
 * the image: magic, size and the table bounds, all in O(1).
 */

#include "tune_snapshot.h"
#include "tune_name.h"
#include "tune_internal.h"


const tune_image_t *
tune_image_get(const void *buf, size_t cap)
{
    uint64_t             streams_end, slots_end, backends_end;
    const tune_image_t  *img;

    if (buf == NULL || (uintptr_t) buf % 8 != 0
        || cap < sizeof(tune_image_t))
    {
        return NULL;
    }

    img = buf;

    if (img->magic != TUNE_IMAGE_MAGIC
        || img->size < sizeof(tune_image_t) || img->size > cap
        || img->size % 8 != 0)
    {
        return NULL;
    }

    if (img->streams_off < sizeof(tune_image_t) || img->streams_off % 8 != 0
        || img->slots_off % 8 != 0 || img->backends_off % 8 != 0)
    {
        return NULL;
    }

    /* 64-bit sums: 32-bit counts times small sizes cannot overflow them */

    streams_end = (uint64_t) img->streams_off
                  + (uint64_t) img->nstreams * sizeof(tune_image_stream_t);
    slots_end = (uint64_t) img->slots_off
                + (uint64_t) img->nslots * sizeof(tune_image_slot_t);
    backends_end = (uint64_t) img->backends_off
                   + (uint64_t) img->nbackends * sizeof(tune_image_backend_t);

    if (streams_end > img->slots_off || slots_end > img->backends_off
        || backends_end > img->size)
    {
        return NULL;
    }

    return img;
}


const tune_image_stream_t *
tune_image_streams(const tune_image_t *img)
{
    return (const tune_image_stream_t *)
               ((const char *) img + img->streams_off);
}


const tune_image_slot_t *
tune_image_slots(const tune_image_t *img)
{
    return (const tune_image_slot_t *) ((const char *) img + img->slots_off);
}


const tune_image_backend_t *
tune_image_backends(const tune_image_t *img)
{
    return (const tune_image_backend_t *)
               ((const char *) img + img->backends_off);
}


const char *
tune_image_str(const tune_image_t *img, tune_str_t s)
{
    return (const char *) img + s.off;
}


const tune_image_stream_t *
tune_image_find_stream(const tune_image_t *img, const char *name, size_t len)
{
    int                         c;
    uint32_t                    lo, hi, mid;
    const tune_image_stream_t  *streams;

    /* no stream has an empty or over-long name: do not even look */
    if (img == NULL || name == NULL || len == 0 || len > TUNE_NAME_MAX) {
        return NULL;
    }

    streams = tune_image_streams(img);
    lo = 0;
    hi = img->nstreams;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        c = tune_bytes_cmp(name, len,
                           tune_image_str(img, streams[mid].name),
                           streams[mid].name.len);

        if (c == 0) {
            return &streams[mid];
        }

        if (c < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


uint64_t
tune_generation_parse(const char *text, size_t len)
{
    size_t    i;
    uint64_t  n;

    /* 19 digits always fit in 64 bits */
    if (text == NULL || len == 0 || len > 19) {
        return 0;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return 0;
        }

        n = n * 10 + (uint64_t) (text[i] - '0');
    }

    return n;
}
