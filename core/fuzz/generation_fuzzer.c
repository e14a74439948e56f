/*
 * libFuzzer target: tune_generation_parse() on any reply text, as the
 * front-ends get the generation key's value from Redis.  A value taken for
 * a generation decides whether a snapshot is decoded and which one is
 * newer, so besides "no crash" it checks the header's promise against a
 * model: 1 to 19 decimal digits give their value, anything else 0; and a
 * round trip: a non-zero result printed in decimal is the text without its
 * leading zeros, and any value below 10^19 printed and parsed comes back.
 */

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tune_snapshot.h"


static uint64_t
model_parse(const char *text, size_t len)
{
    size_t    i;
    uint64_t  v;

    if (len < 1 || len > 19) {
        return 0;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (strchr("0123456789", text[i]) == NULL || text[i] == '\0') {
            return 0;
        }

        v = v * 10 + (uint64_t) (text[i] - '0');
    }

    return v;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char         buf[32];
    size_t       i, z;
    uint64_t     v, w;
    const char  *text = (const char *) data;

    v = tune_generation_parse(text, size);

    if (v != model_parse(text, size)) {
        abort();
    }

    if (v != 0) {
        for (z = 0; z < size && text[z] == '0'; z++) {
            /* leading zeros */
        }

        snprintf(buf, sizeof(buf), "%" PRIu64, v);

        if (strlen(buf) != size - z || memcmp(buf, text + z, size - z) != 0) {
            abort();
        }
    }

    /* the first 8 bytes as a value: printed, it parses back */
    if (size >= 8) {
        w = 0;
        for (i = 0; i < 8; i++) {
            w = (w << 8) | data[i];
        }

        snprintf(buf, sizeof(buf), "%" PRIu64, w);
        v = tune_generation_parse(buf, strlen(buf));

        if (w < UINT64_C(10000000000000000000)) {
            if (v != w) {
                abort();
            }

        } else if (v != 0) {
            /* 20 digits are not a generation */
            abort();
        }
    }

    return 0;
}
