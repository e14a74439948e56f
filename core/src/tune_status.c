/*
 * The status document (tune_status.h).  One walk writes it, through the
 * counting sink of tune_wbuf.h; the bound is the same walk in a mode where
 * every value counts as the longest it could be written (a number as 20
 * digits, a string byte as a 6-byte escape, a word as the longest word),
 * so the bound cannot drift from the document.
 */

#include <string.h>

#include "tune_status.h"
#include "tune_wbuf.h"


/* the longest a value can be written: 2^64 - 1, or a minus sign and 19
 * digits; "\u00XX" for one byte; "nosource", "draining", "shared" */
#define TUNE_ST_NUMBER_MAX   20
#define TUNE_ST_ESCAPE_MAX   6
#define TUNE_ST_WORD_MAX     8


typedef struct {
    tune_wbuf_t       w;
    unsigned          bound;        /* count the longest, write nothing */
} tune_st_t;


static void tune_st_document(tune_st_t *st, const tune_status_in_t *in);
static void tune_st_snapshot(tune_st_t *st, const tune_status_in_t *in);
static void tune_st_redis(tune_st_t *st, const tune_status_in_t *in);
static void tune_st_backends(tune_st_t *st, const tune_image_t *img);
static void tune_st_streams(tune_st_t *st, const tune_status_in_t *in);
static void tune_st_slot(tune_st_t *st, const tune_status_in_t *in,
    const tune_image_stream_t *stream, uint32_t slot, int first);
static void tune_st_count(tune_st_t *st, size_t n, size_t times);
static void tune_st_lit(tune_st_t *st, const char *s);
static void tune_st_str(tune_st_t *st, const char *s, size_t len);
static void tune_st_image_str(tune_st_t *st, const tune_image_t *img,
    tune_str_t s);
static void tune_st_word(tune_st_t *st, const char *word);
static void tune_st_bool(tune_st_t *st, int b);
static void tune_st_u64(tune_st_t *st, uint64_t v);
static void tune_st_i64(tune_st_t *st, int64_t v);
static void tune_st_limit(tune_st_t *st, uint32_t n);


size_t
tune_status_size(const tune_status_in_t *in)
{
    tune_st_t  st;

    tune_wbuf_init(&st.w, NULL, 0);
    st.bound = 1;

    tune_st_document(&st, in);

    return st.w.overflow ? SIZE_MAX : st.w.len;
}


size_t
tune_status_write(const tune_status_in_t *in, char *out, size_t cap)
{
    tune_st_t  st;

    tune_wbuf_init(&st.w, out, cap);
    st.bound = 0;

    tune_st_document(&st, in);

    return st.w.overflow ? SIZE_MAX : st.w.len;
}


static void
tune_st_document(tune_st_t *st, const tune_status_in_t *in)
{
    tune_st_lit(st, "{\"snapshot\":");
    tune_st_snapshot(st, in);

    tune_st_lit(st, ",\"redis\":");
    tune_st_redis(st, in);

    if (in->img) {
        tune_st_backends(st, in->img);
        tune_st_streams(st, in);
    }

    tune_st_lit(st, "}\n");
}


static void
tune_st_snapshot(tune_st_t *st, const tune_status_in_t *in)
{
    const tune_image_t  *img;

    img = in->img;

    if (img == NULL) {
        tune_st_lit(st, "null");
        return;
    }

    tune_st_lit(st, "{\"generation\":");
    tune_st_u64(st, img->generation);
    tune_st_lit(st, ",\"written_ms\":");
    tune_st_i64(st, img->written_ms);
    tune_st_lit(st, ",\"interval_ms\":");
    tune_st_u64(st, img->interval_ms);
    tune_st_lit(st, ",\"age_ms\":");
    tune_st_i64(st, in->age_ms);
    tune_st_lit(st, ",\"stale_after_ms\":");
    tune_st_i64(st, in->stale_ms);
    tune_st_lit(st, ",\"stale\":");
    tune_st_bool(st, in->stale_ms > 0 && in->age_ms > in->stale_ms);
    tune_st_lit(st, ",\"streams\":");
    tune_st_u64(st, img->nstreams);
    tune_st_lit(st, ",\"slots\":");
    tune_st_u64(st, img->nslots);
    tune_st_lit(st, ",\"refused\":");
    tune_st_u64(st, img->nrefused);
    tune_st_lit(st, ",\"backends\":");
    tune_st_u64(st, img->nbackends);
    tune_st_lit(st, "}");
}


/* the refresher's view of Redis; the error text never holds a secret */

static void
tune_st_redis(tune_st_t *st, const tune_status_in_t *in)
{
    const char                 *herd;
    const tune_status_redis_t  *redis;

    redis = in->redis;

    if (redis == NULL) {
        tune_st_lit(st, "null");
        return;
    }

    if (in->window == 0) {
        herd = "off";

    } else if (in->herd && tune_herd_global(in->herd, in->now_ms)) {
        herd = "shared";

    } else {
        herd = "local";
    }

    tune_st_lit(st, "{\"address\":");
    tune_st_str(st, redis->address, redis->address_len);
    tune_st_lit(st, ",\"connected\":");
    tune_st_bool(st, redis->connected);
    tune_st_lit(st, ",\"last_reply_ms\":");
    tune_st_i64(st, redis->last_reply_ms);
    tune_st_lit(st, ",\"failures\":");
    tune_st_u64(st, redis->failures);
    tune_st_lit(st, ",\"herd\":");
    tune_st_word(st, herd);
    tune_st_lit(st, ",\"refresher\":");
    tune_st_i64(st, redis->refresher);
    tune_st_lit(st, ",\"last_error\":");
    tune_st_str(st, redis->error, redis->error_len);
    tune_st_lit(st, "}");
}


static void
tune_st_backends(tune_st_t *st, const tune_image_t *img)
{
    uint32_t                     i;
    const tune_image_backend_t  *be;

    tune_st_lit(st, ",\"backends\":[");

    be = tune_image_backends(img);

    for (i = 0; i < img->nbackends; i++) {
        tune_st_lit(st, i ? ",{\"name\":" : "{\"name\":");
        tune_st_image_str(st, img, be[i].name);
        tune_st_lit(st, ",\"health\":");
        tune_st_word(st, tune_health_name(be[i].health));
        tune_st_lit(st, ",\"polled_ms\":");
        tune_st_i64(st, be[i].polled_ms);
        tune_st_lit(st, ",\"reason\":");
        tune_st_image_str(st, img, be[i].reason);
        tune_st_lit(st, "}");
    }

    tune_st_lit(st, "]");
}


static void
tune_st_streams(tune_st_t *st, const tune_status_in_t *in)
{
    uint32_t                    i, k;
    const tune_image_t         *img;
    const tune_image_stream_t  *s;

    img = in->img;

    tune_st_lit(st, ",\"streams\":[");

    s = tune_image_streams(img);

    for (i = 0; i < img->nstreams; i++) {
        tune_st_lit(st, i ? ",{\"name\":" : "{\"name\":");
        tune_st_image_str(st, img, s[i].name);
        tune_st_lit(st, ",\"slots\":[");

        /* a stream entry outside the slot table lists nothing */
        if (s[i].nslots <= img->nslots
            && s[i].first_slot <= img->nslots - s[i].nslots)
        {
            for (k = 0; k < s[i].nslots; k++) {
                tune_st_slot(st, in, &s[i], s[i].first_slot + k, k == 0);
            }
        }

        tune_st_lit(st, "]}");
    }

    tune_st_lit(st, "]");
}


static void
tune_st_slot(tune_st_t *st, const tune_status_in_t *in,
    const tune_image_stream_t *stream, uint32_t slot, int first)
{
    uint32_t                  pending, credits;
    const tune_image_t       *img;
    const tune_image_slot_t  *s;

    img = in->img;
    s = tune_image_slots(img) + slot;

    pending = 0;
    credits = 0;

    if (in->herd && !st->bound) {
        tune_herd_slot_state(in->herd, img, stream, slot, in->now_ms,
                             in->window, &pending, &credits);
    }

    tune_st_lit(st, first ? "{\"backend\":" : ",{\"backend\":");
    tune_st_image_str(st, img, s->backend);
    tune_st_lit(st, ",\"health\":");
    tune_st_word(st, tune_health_name(s->health));
    tune_st_lit(st, ",\"refused\":");
    tune_st_bool(st, (s->flags & TUNE_SLOT_REFUSED) != 0);
    tune_st_lit(st, ",\"listeners\":");
    tune_st_u64(st, s->listeners);
    tune_st_lit(st, ",\"capacity\":");
    tune_st_limit(st, s->capacity);
    tune_st_lit(st, ",\"free\":");
    tune_st_limit(st, s->free);
    tune_st_lit(st, ",\"weight\":");
    tune_st_u64(st, s->weight);
    tune_st_lit(st, ",\"region\":");
    tune_st_image_str(st, img, s->region);
    tune_st_lit(st, ",\"polled_ms\":");
    tune_st_i64(st, s->polled_ms);
    tune_st_lit(st, ",\"url\":");
    tune_st_image_str(st, img, s->url);
    tune_st_lit(st, ",\"pending\":");
    tune_st_u64(st, pending);
    tune_st_lit(st, ",\"credits\":");
    tune_st_u64(st, credits);
    tune_st_lit(st, "}");
}


/* ---- values ------------------------------------------------------------ */

/* bound mode: n bytes, times times, counted (the sink has no buffer) */
static void
tune_st_count(tune_st_t *st, size_t n, size_t times)
{
    if (times != 0 && n > (SIZE_MAX - st->w.len) / times) {
        st->w.overflow = 1;
        return;
    }

    st->w.len += n * times;
}


static void
tune_st_lit(tune_st_t *st, const char *s)
{
    tune_wbuf_put(&st->w, s, strlen(s));
}


/*
 * A JSON string.  The short escapes of RFC 8259 where there is one, else
 * \u00XX for a control byte, DEL, or a byte above 0x7f: the document stays
 * ASCII, and so valid JSON, whatever a Redis error text holds.
 */
static void
tune_st_str(tune_st_t *st, const char *s, size_t len)
{
    char                 esc[TUNE_ST_ESCAPE_MAX];
    size_t               i, start, n;
    unsigned char        c;
    static const char    hex[] = "0123456789ABCDEF";

    tune_wbuf_put(&st->w, "\"", 1);

    if (st->bound) {
        tune_st_count(st, TUNE_ST_ESCAPE_MAX, len);
        tune_wbuf_put(&st->w, "\"", 1);
        return;
    }

    if (len == 0) {
        /* s may be NULL then */
        tune_wbuf_put(&st->w, "\"", 1);
        return;
    }

    for (i = 0, start = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            continue;
        }

        tune_wbuf_put(&st->w, s + start, i - start);
        start = i + 1;

        esc[0] = '\\';
        n = 2;

        switch (c) {
        case '"':  esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            n = 6;
        }

        tune_wbuf_put(&st->w, esc, n);
    }

    tune_wbuf_put(&st->w, s + start, len - start);
    tune_wbuf_put(&st->w, "\"", 1);
}


static void
tune_st_image_str(tune_st_t *st, const tune_image_t *img, tune_str_t s)
{
    tune_st_str(st, tune_image_str(img, s), s.len);
}


/* a word of ours ("up", "shared"), quoted; never escaped */
static void
tune_st_word(tune_st_t *st, const char *word)
{
    size_t  len;

    len = strlen(word);

    tune_wbuf_put(&st->w, "\"", 1);

    if (st->bound) {
        tune_st_count(st, len > TUNE_ST_WORD_MAX ? len : TUNE_ST_WORD_MAX, 1);

    } else {
        tune_wbuf_put(&st->w, word, len);
    }

    tune_wbuf_put(&st->w, "\"", 1);
}


static void
tune_st_bool(tune_st_t *st, int b)
{
    if (st->bound) {
        tune_st_count(st, sizeof("false") - 1, 1);
        return;
    }

    tune_st_lit(st, b ? "true" : "false");
}


static void
tune_st_u64(tune_st_t *st, uint64_t v)
{
    if (st->bound) {
        tune_st_count(st, TUNE_ST_NUMBER_MAX, 1);
        return;
    }

    tune_wbuf_put_u64(&st->w, v);
}


static void
tune_st_i64(tune_st_t *st, int64_t v)
{
    if (st->bound) {
        tune_st_count(st, TUNE_ST_NUMBER_MAX, 1);
        return;
    }

    if (v < 0) {
        tune_wbuf_put(&st->w, "-", 1);

        /* -(v + 1) + 1: INT64_MIN has no positive twin */
        tune_wbuf_put_u64(&st->w, (uint64_t) -(v + 1) + 1);
        return;
    }

    tune_wbuf_put_u64(&st->w, (uint64_t) v);
}


/* a count of the snapshot, null when unlimited */
static void
tune_st_limit(tune_st_t *st, uint32_t n)
{
    if (n == TUNE_UNLIMITED && !st->bound) {
        tune_st_lit(st, "null");
        return;
    }

    tune_st_u64(st, n);
}
