/*
 * Field rules of redis/SCHEMA.md that the formatter and the decoder share,
 * so that whatever tuneslotd writes the front-ends read back.
 */

#include "tune_snapshot.h"
#include "tune_internal.h"


static const struct {
    const char     *word;
    size_t          len;
    tune_health_t   health;
} tune_health_words[] = {
    { "up", 2, TUNE_HEALTH_UP },
    { "down", 4, TUNE_HEALTH_DOWN },
    { "nosource", 8, TUNE_HEALTH_NOSOURCE },
    { "draining", 8, TUNE_HEALTH_DRAINING },
};


const char *
tune_health_name(tune_health_t health)
{
    size_t  i;

    for (i = 0; i < sizeof(tune_health_words) / sizeof(tune_health_words[0]);
         i++)
    {
        if (tune_health_words[i].health == health) {
            return tune_health_words[i].word;
        }
    }

    return "unknown";
}


tune_health_t
tune_health_parse(const char *word, size_t len)
{
    size_t  i;

    for (i = 0; i < sizeof(tune_health_words) / sizeof(tune_health_words[0]);
         i++)
    {
        if (tune_health_words[i].len == len
            && memcmp(tune_health_words[i].word, word, len) == 0)
        {
            return tune_health_words[i].health;
        }
    }

    return TUNE_HEALTH_UNKNOWN;
}


/* empty, or 1..TUNE_REGION_MAX bytes of [A-Za-z0-9._-] (no dot rules) */
tune_rc_t
tune_region_check(const char *region, size_t len)
{
    size_t  i;

    if (len > TUNE_REGION_MAX) {
        return TUNE_ERR_TOO_LONG;
    }

    for (i = 0; i < len; i++) {
        if (!tune_is_name_byte((unsigned char) region[i])) {
            return TUNE_ERR_BAD_CHAR;
        }
    }

    return TUNE_OK;
}


/* at most TUNE_REASON_MAX bytes of printable ASCII, space included */
tune_rc_t
tune_reason_check(const char *reason, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (len > TUNE_REASON_MAX) {
        return TUNE_ERR_TOO_LONG;
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) reason[i];

        if (c < 0x20 || c > 0x7e) {
            return TUNE_ERR_BAD_CHAR;
        }
    }

    return TUNE_OK;
}
