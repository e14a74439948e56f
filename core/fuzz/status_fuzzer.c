/*
 * libFuzzer target: the status document (tune_status.h) of any snapshot
 * text a front-end may decode, or of none when the text is refused, with a
 * Redis error text and address made of the input's own bytes (anything a
 * server may say), herd control on or off and Redis known or not by the
 * input's length, and a tune-in counted on every stream.  Besides "no crash, nothing outside the
 * buffers" (ASan, UBSan), it checks what tune_status.h promises:
 *
 *   - written into exactly tune_status_size() bytes the document is never
 *     cut, and its length is what a write without a buffer says;
 *   - a byte less than the length is told as such, and nothing is written
 *     past the buffer;
 *   - the document is one valid JSON value in ASCII, then "\n"
 *     (core/tests/json_check.h).
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tune_status.h"
#include "../tests/json_check.h"


/* the front-end's wall clock: a real one, whatever the snapshot says */
#define NOW           INT64_C(1763712001000)
#define W             2000u


static _Alignas(8) unsigned char  table[4096];


/* one tune-in on the first slot of every stream, as a host's would be */
static void
take_one_each(tune_herd_t *herd, const tune_image_t *img, int64_t now,
    uint32_t window)
{
    uint32_t                    i;
    const tune_image_stream_t  *st;

    st = tune_image_streams(img);

    for (i = 0; i < img->nstreams; i++) {
        if (st[i].nslots) {
            tune_herd_take(herd, img, &st[i], st[i].first_slot, now, window);
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                 *out;
    void                 *buf;
    size_t                cap, bound, len, n;
    tune_herd_t          *herd;
    tune_status_in_t      in;
    tune_decode_err_t     err;
    tune_status_redis_t   redis;

    cap = TUNE_IMAGE_SIZE_MAX(size);
    buf = malloc(cap);
    if (buf == NULL) {
        return 0;
    }

    herd = tune_herd_init(table, sizeof(table));
    if (herd == NULL) {
        abort();
    }

    memset(&in, 0, sizeof(in));
    memset(&redis, 0, sizeof(redis));

    redis.error = (const char *) data;
    redis.error_len = size < 64 ? size : 64;
    redis.address = (const char *) data + size / 2;
    redis.address_len = size - size / 2 < 100 ? size - size / 2 : 100;
    redis.connected = (size & 4) != 0;
    redis.failures = size;
    redis.refresher = (int64_t) size - 1000;

    n = tune_snapshot_decode((const char *) data, size, size, buf, cap,
                             &err);

    in.img = n ? tune_image_get(buf, n) : NULL;
    in.age_ms = (int64_t) size * 7 - 500;
    in.stale_ms = size > 0 ? data[0] * 10 : 0;
    in.redis = (size & 2) ? NULL : &redis;
    in.herd = herd;
    in.window = (size & 1) ? W : 0;
    in.now_ms = NOW;

    if (in.img) {
        take_one_each(herd, in.img, in.now_ms, in.window);
    }

    bound = tune_status_size(&in);
    if (bound == 0 || bound == SIZE_MAX) {
        abort();
    }

    out = malloc(bound);
    if (out == NULL) {
        free(buf);
        return 0;
    }

    len = tune_status_write(&in, out, bound);

    if (len > bound || len != tune_status_write(&in, NULL, 0)
        || !json_check(out, len))
    {
        abort();
    }

    /* a byte short: told, and nothing written past it (ASan) */
    free(out);
    out = malloc(len - 1);

    if (out != NULL) {
        if (tune_status_write(&in, out, len - 1) != len) {
            abort();
        }

        free(out);
    }

    free(buf);

    return 0;
}
