/*
 * libFuzzer target: tune_snapshot_decode() on any bytes, as a front-end gets
 * them from Redis.  Besides "no crash, no read outside the text or the
 * buffer" (ASan, UBSan), it checks what the header promises: an accepted
 * text decodes again into exactly its size, one byte less is NO_SPACE, and
 * every string of the image lies inside it.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tune_snapshot.h"


static void
check_str(const tune_image_t *img, tune_str_t s)
{
    if ((uint64_t) s.off + s.len > img->size) {
        abort();
    }
}


static void
walk(const tune_image_t *img)
{
    const tune_image_stream_t   *streams = tune_image_streams(img);
    const tune_image_slot_t     *slots = tune_image_slots(img);
    const tune_image_backend_t  *backends = tune_image_backends(img);
    uint32_t                     i;

    for (i = 0; i < img->nstreams; i++) {
        check_str(img, streams[i].name);
        if ((uint64_t) streams[i].first_slot + streams[i].nslots
            > img->nslots)
        {
            abort();
        }
        /* the stream table is sorted: binary search finds every name */
        if (tune_image_find_stream(img,
                tune_image_str(img, streams[i].name), streams[i].name.len)
            != &streams[i])
        {
            abort();
        }
    }

    for (i = 0; i < img->nslots; i++) {
        check_str(img, slots[i].backend);
        check_str(img, slots[i].url);
        check_str(img, slots[i].region);
    }

    for (i = 0; i < img->nbackends; i++) {
        check_str(img, backends[i].name);
        check_str(img, backends[i].reason);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t              cap, n, m;
    void               *buf, *exact;
    tune_decode_err_t   err;

    cap = TUNE_IMAGE_SIZE_MAX(size);
    buf = malloc(cap);
    if (buf == NULL) {
        return 0;
    }

    n = tune_snapshot_decode((const char *) data, size, 7, buf, cap, &err);
    if (n == 0) {
        if (err.reason == NULL || err.rc == TUNE_OK) {
            abort();
        }
        free(buf);
        return 0;
    }

    if (n > cap || tune_image_get(buf, n) == NULL) {
        abort();
    }
    walk(tune_image_get(buf, n));

    /* exactly n bytes suffice, and give the same image */
    exact = malloc(n);
    if (exact != NULL) {
        m = tune_snapshot_decode((const char *) data, size, 7, exact, n, &err);
        if (m != n || memcmp(exact, buf, n) != 0) {
            abort();
        }
        m = tune_snapshot_decode((const char *) data, size, 7, exact, n - 1,
                                 &err);
        if (m != 0 || err.rc != TUNE_ERR_NO_SPACE) {
            abort();
        }
        free(exact);
    }

    free(buf);
    return 0;
}
