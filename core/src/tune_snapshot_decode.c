/*
 * Decoding snapshot text (redis/SCHEMA.md) into a flat image.
 *
 * The text comes from Redis and is treated as hostile: every line is
 * validated before a single byte of the caller's buffer is written, every
 * offset is computed in 64 bits and checked against 32-bit image limits,
 * and nothing is ever written at or past cap.
 *
 * Image layout (all table offsets 8-byte aligned):
 *
 *     tune_image_t | streams | slots | backends | string bytes | pad to 8
 *
 * Streams are sorted bytewise by name, slots are grouped by stream with the
 * text order kept inside a stream, backends keep the text order.  Stream
 * names are stored once per stream; all other strings once per record.
 *
 * Decoding runs without allocation in four passes:
 *
 * 1. validate every line, count slots and backends and their string bytes,
 *    and require the end line last, so that a cut text is refused;
 * 2. write one sort key per slot line into the buffer, where the stream
 *    table will go, and qsort() them by (stream name, position in text);
 *    that gives the number of streams and so the exact image size;
 * 3. move the sorted keys to the tail of the future slot table and write
 *    the streams and slots front to back; slot k ends at or before key k+1
 *    starts (a key is smaller than a slot), so no key is overwritten before
 *    it is read;
 * 4. write the backends, the padding and finally the header.
 *
 * The size computed in pass 2 is exact, so decoding succeeds with cap equal
 * to the size it returns: a host may decode into scratch memory and copy
 * exactly that many bytes into shared memory.
 */

#include <stdlib.h>

#include "tune_snapshot.h"
#include "tune_name.h"
#include "tune_url.h"
#include "tune_internal.h"


#define TUNE_FIELDS_MAX       11        /* a slot line, the longest record */
#define TUNE_SLOT_PREFIX_LEN  5         /* "slot\t": the stream follows */

#define tune_align8(n)        (((n) + 7) & ~(uint64_t) 7)

#define tune_span_is(s, lit)                                                  \
    ((s).len == sizeof(lit) - 1 && memcmp((s).p, lit, sizeof(lit) - 1) == 0)


typedef struct {
    const char       *p;
    size_t            len;
} tune_span_t;


typedef struct {
    const char       *text;
    size_t            len;
    size_t            pos;
    unsigned          line;         /* number of the line last returned */
} tune_lines_t;


typedef struct {
    tune_span_t       f[TUNE_FIELDS_MAX];
    size_t            n;            /* fields on the line, may exceed max */
} tune_fields_t;


typedef enum {
    TUNE_REC_UNKNOWN = 0,
    TUNE_REC_HEADER,
    TUNE_REC_WRITTEN,
    TUNE_REC_INTERVAL,
    TUNE_REC_BACKEND,
    TUNE_REC_SLOT,
    TUNE_REC_END
} tune_rec_t;


typedef struct {
    tune_span_t       stream;
    tune_span_t       backend;
    tune_span_t       region;
    tune_span_t       url;
    uint32_t          health;
    uint32_t          listeners;
    uint32_t          capacity;
    uint32_t          free;
    uint32_t          weight;
    int64_t           polled_ms;
} tune_slot_rec_t;


typedef struct {
    tune_span_t       name;
    tune_span_t       reason;
    uint32_t          health;
    int64_t           polled_ms;
} tune_backend_rec_t;


/* lives in the caller's buffer between passes 2 and 3 only */
typedef struct {
    const char       *line;         /* a "slot" line of the text */
    uint32_t          line_len;
    uint32_t          stream_len;
} tune_sort_key_t;


typedef struct {
    int64_t           written_ms;
    uint32_t          interval_ms;
    uint64_t          nslots;
    uint64_t          nbackends;
    uint64_t          str_bytes;    /* all strings except stream names */
} tune_scan_t;


_Static_assert(sizeof(tune_image_t) % 8 == 0,
               "the stream table must start 8-byte aligned");
_Static_assert(sizeof(tune_sort_key_t) <= sizeof(tune_image_slot_t),
               "pass 3 relies on a sort key being no larger than a slot");
_Static_assert(sizeof(tune_image_slot_t) % _Alignof(tune_sort_key_t) == 0,
               "sort keys at the tail of the slot table must be aligned");


static int tune_lines_next(tune_lines_t *it, tune_span_t *line);
static void tune_split(tune_span_t line, tune_fields_t *fl);
static tune_rec_t tune_rec_type(tune_span_t word);
static int tune_fail(tune_decode_err_t *err, unsigned line, tune_rc_t rc,
    const char *reason);
static tune_rc_t tune_parse_u64(tune_span_t s, uint64_t max, uint64_t *out);
static int tune_number(tune_span_t s, uint64_t max, uint64_t *out,
    unsigned line, tune_decode_err_t *err, const char *reason);
static int tune_limit(tune_span_t s, uint32_t *out, unsigned line,
    tune_decode_err_t *err, const char *reason);
static int tune_parse_header(const tune_fields_t *fl, unsigned line,
    tune_scan_t *sc, tune_decode_err_t *err);
static int tune_parse_backend(const tune_fields_t *fl, unsigned line,
    tune_backend_rec_t *b, tune_decode_err_t *err);
static int tune_parse_slot(const tune_fields_t *fl, unsigned line,
    tune_slot_rec_t *s, tune_decode_err_t *err);
static int tune_scan(const char *text, size_t len, tune_scan_t *sc,
    tune_decode_err_t *err);
static int tune_key_cmp(const void *one, const void *two);
static tune_str_t tune_put_str(char *b, uint64_t *cur, tune_span_t s);


/* The next line without its '\n'; the last line may lack the '\n'. */
static int
tune_lines_next(tune_lines_t *it, tune_span_t *line)
{
    const char  *p, *nl;

    if (it->pos >= it->len) {
        return 0;
    }

    p = it->text + it->pos;
    nl = memchr(p, '\n', it->len - it->pos);

    line->p = p;
    line->len = (nl != NULL) ? (size_t) (nl - p) : it->len - it->pos;

    it->pos += line->len + (nl != NULL);
    it->line++;

    return 1;
}


static void
tune_split(tune_span_t line, tune_fields_t *fl)
{
    size_t  i, start;

    fl->n = 0;
    start = 0;

    for (i = 0; i <= line.len; i++) {
        if (i < line.len && line.p[i] != '\t') {
            continue;
        }

        /* fields past the maximum are only counted: the line is wrong */
        if (fl->n < TUNE_FIELDS_MAX) {
            fl->f[fl->n].p = line.p + start;
            fl->f[fl->n].len = i - start;
        }

        fl->n++;
        start = i + 1;
    }
}


static tune_rec_t
tune_rec_type(tune_span_t word)
{
    if (tune_span_is(word, "slot")) {
        return TUNE_REC_SLOT;
    }

    if (tune_span_is(word, "backend")) {
        return TUNE_REC_BACKEND;
    }

    if (tune_span_is(word, "tuneslot-snapshot")) {
        return TUNE_REC_HEADER;
    }

    if (tune_span_is(word, "written_ms")) {
        return TUNE_REC_WRITTEN;
    }

    if (tune_span_is(word, "interval_ms")) {
        return TUNE_REC_INTERVAL;
    }

    if (tune_span_is(word, "end")) {
        return TUNE_REC_END;
    }

    return TUNE_REC_UNKNOWN;
}


static int
tune_fail(tune_decode_err_t *err, unsigned line, tune_rc_t rc,
    const char *reason)
{
    err->line = line;
    err->rc = rc;
    err->reason = reason;

    return -1;
}


/*
 * SCHEMA.md numbers: plain decimal, no sign, no spaces, no leading zero
 * except "0" itself.  Anything else is TUNE_ERR_SYNTAX, a well-formed
 * number above max TUNE_ERR_RANGE.
 */
static tune_rc_t
tune_parse_u64(tune_span_t s, uint64_t max, uint64_t *out)
{
    size_t    i;
    uint64_t  v, d;

    if (s.len == 0 || (s.p[0] == '0' && s.len > 1)) {
        return TUNE_ERR_SYNTAX;
    }

    v = 0;

    for (i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') {
            return TUNE_ERR_SYNTAX;
        }
    }

    for (i = 0; i < s.len; i++) {
        d = (uint64_t) (s.p[i] - '0');

        if (v > (max - d) / 10) {
            return TUNE_ERR_RANGE;
        }

        v = v * 10 + d;
    }

    *out = v;

    return TUNE_OK;
}


static int
tune_number(tune_span_t s, uint64_t max, uint64_t *out, unsigned line,
    tune_decode_err_t *err, const char *reason)
{
    tune_rc_t  rc;

    rc = tune_parse_u64(s, max, out);

    if (rc != TUNE_OK) {
        return tune_fail(err, line, rc, reason);
    }

    return 0;
}


/* capacity and free: 0..4294967294 or "unlimited" (TUNE_UNLIMITED) */
static int
tune_limit(tune_span_t s, uint32_t *out, unsigned line,
    tune_decode_err_t *err, const char *reason)
{
    uint64_t  v;

    if (tune_span_is(s, "unlimited")) {
        *out = TUNE_UNLIMITED;
        return 0;
    }

    if (tune_number(s, TUNE_UNLIMITED - 1, &v, line, err, reason) != 0) {
        return -1;
    }

    *out = (uint32_t) v;

    return 0;
}


/* lines 1..3: "tuneslot-snapshot 1", "written_ms N", "interval_ms N" */
static int
tune_parse_header(const tune_fields_t *fl, unsigned line, tune_scan_t *sc,
    tune_decode_err_t *err)
{
    uint64_t     v;
    tune_span_t  version;
    tune_rec_t   type;

    type = tune_rec_type(fl->f[0]);

    switch (line) {

    case 1:
        if (type != TUNE_REC_HEADER) {
            return tune_fail(err, line, TUNE_ERR_SYNTAX,
                             "first line is not a tuneslot-snapshot header");
        }

        /*
         * Any well-formed number other than 1 is another major version,
         * whatever else that version's header may carry.
         */

        if (fl->n >= 2) {
            version = fl->f[1];

            if (tune_parse_u64(version, UINT64_MAX, &v) != TUNE_ERR_SYNTAX
                && !tune_span_is(version, "1"))
            {
                return tune_fail(err, line, TUNE_ERR_VERSION,
                                 "unsupported snapshot major version");
            }
        }

        if (fl->n != 2) {
            return tune_fail(err, line, TUNE_ERR_SYNTAX,
                             "header: wrong number of fields");
        }

        if (!tune_span_is(fl->f[1], "1")) {
            return tune_fail(err, line, TUNE_ERR_SYNTAX,
                             "header: malformed version");
        }

        return 0;

    case 2:
        if (type != TUNE_REC_WRITTEN) {
            return tune_fail(err, line, TUNE_ERR_SYNTAX,
                             "line 2 is not written_ms");
        }

        if (fl->n != 2) {
            return tune_fail(err, line, TUNE_ERR_SYNTAX,
                             "written_ms: wrong number of fields");
        }

        if (tune_number(fl->f[1], INT64_MAX, &v, line, err,
                        "written_ms: bad number")
            != 0)
        {
            return -1;
        }

        sc->written_ms = (int64_t) v;

        return 0;

    default:
        if (type != TUNE_REC_INTERVAL) {
            return tune_fail(err, line, TUNE_ERR_SYNTAX,
                             "line 3 is not interval_ms");
        }

        if (fl->n != 2) {
            return tune_fail(err, line, TUNE_ERR_SYNTAX,
                             "interval_ms: wrong number of fields");
        }

        if (tune_number(fl->f[1], UINT32_MAX, &v, line, err,
                        "interval_ms: bad number")
            != 0)
        {
            return -1;
        }

        sc->interval_ms = (uint32_t) v;

        return 0;
    }
}


/* backend <name> <health> <polled_ms> [<reason>] */
static int
tune_parse_backend(const tune_fields_t *fl, unsigned line,
    tune_backend_rec_t *b, tune_decode_err_t *err)
{
    uint64_t   v;
    tune_rc_t  rc;

    if (fl->n != 4 && fl->n != 5) {
        return tune_fail(err, line, TUNE_ERR_SYNTAX,
                         "backend: wrong number of fields");
    }

    b->name = fl->f[1];

    rc = tune_name_check(b->name.p, b->name.len);
    if (rc != TUNE_OK) {
        return tune_fail(err, line, rc, "backend: bad name");
    }

    if (fl->f[2].len == 0) {
        return tune_fail(err, line, TUNE_ERR_EMPTY, "backend: empty health");
    }

    b->health = (uint32_t) tune_health_parse(fl->f[2].p, fl->f[2].len);

    if (tune_number(fl->f[3], INT64_MAX, &v, line, err,
                    "backend: bad polled_ms")
        != 0)
    {
        return -1;
    }

    b->polled_ms = (int64_t) v;

    /* a missing reason and an empty one both mean "no reason" */

    if (fl->n == 5) {
        b->reason = fl->f[4];

    } else {
        b->reason.p = fl->f[3].p + fl->f[3].len;
        b->reason.len = 0;
    }

    rc = tune_reason_check(b->reason.p, b->reason.len);
    if (rc != TUNE_OK) {
        return tune_fail(err, line, rc, "backend: bad reason");
    }

    return 0;
}


/*
 * slot <stream> <backend> <health> <listeners> <capacity> <free> <weight>
 *      <region> <polled_ms> <url>
 */
static int
tune_parse_slot(const tune_fields_t *fl, unsigned line, tune_slot_rec_t *s,
    tune_decode_err_t *err)
{
    uint64_t   v;
    tune_rc_t  rc;

    if (fl->n != TUNE_FIELDS_MAX) {
        return tune_fail(err, line, TUNE_ERR_SYNTAX,
                         "slot: wrong number of fields");
    }

    s->stream = fl->f[1];

    rc = tune_name_check(s->stream.p, s->stream.len);
    if (rc != TUNE_OK) {
        return tune_fail(err, line, rc, "slot: bad stream name");
    }

    s->backend = fl->f[2];

    rc = tune_name_check(s->backend.p, s->backend.len);
    if (rc != TUNE_OK) {
        return tune_fail(err, line, rc, "slot: bad backend name");
    }

    if (fl->f[3].len == 0) {
        return tune_fail(err, line, TUNE_ERR_EMPTY, "slot: empty health");
    }

    s->health = (uint32_t) tune_health_parse(fl->f[3].p, fl->f[3].len);

    if (tune_number(fl->f[4], TUNE_UNLIMITED - 1, &v, line, err,
                    "slot: bad listeners")
        != 0)
    {
        return -1;
    }

    s->listeners = (uint32_t) v;

    if (tune_limit(fl->f[5], &s->capacity, line, err, "slot: bad capacity")
        != 0)
    {
        return -1;
    }

    if (tune_limit(fl->f[6], &s->free, line, err, "slot: bad free") != 0) {
        return -1;
    }

    if (tune_number(fl->f[7], TUNE_WEIGHT_MAX, &v, line, err,
                    "slot: bad weight")
        != 0)
    {
        return -1;
    }

    s->weight = (uint32_t) v;

    s->region = fl->f[8];

    rc = tune_region_check(s->region.p, s->region.len);
    if (rc != TUNE_OK) {
        return tune_fail(err, line, rc, "slot: bad region");
    }

    if (tune_number(fl->f[9], INT64_MAX, &v, line, err,
                    "slot: bad polled_ms")
        != 0)
    {
        return -1;
    }

    s->polled_ms = (int64_t) v;

    s->url = fl->f[10];

    rc = tune_url_check(s->url.p, s->url.len);
    if (rc != TUNE_OK) {
        return tune_fail(err, line, rc, "slot: bad url");
    }

    return 0;
}


/* pass 1: validate everything, count records and string bytes */
static int
tune_scan(const char *text, size_t len, tune_scan_t *sc,
    tune_decode_err_t *err)
{
    int                 end;
    size_t              i;
    unsigned char       c;
    tune_span_t         line;
    tune_lines_t        it;
    tune_fields_t       fl;
    tune_slot_rec_t     s;
    tune_backend_rec_t  b;

    it.text = text;
    it.len = len;
    it.pos = 0;
    it.line = 0;
    end = 0;

    while (tune_lines_next(&it, &line)) {

        /*
         * Nothing may follow the end line, not even an empty line: text
         * after it is not part of the snapshot the writer closed (two
         * snapshots glued together, say), and taking it would be a guess.
         */

        if (end) {
            return tune_fail(err, it.line, TUNE_ERR_SYNTAX, "line after end");
        }

        if (line.len == 0) {
            return tune_fail(err, it.line, TUNE_ERR_SYNTAX, "empty line");
        }

        /*
         * SCHEMA.md: no field of any line, known or not, may hold a control
         * character; this also catches CR from a CRLF-converted text.
         */

        for (i = 0; i < line.len; i++) {
            c = (unsigned char) line.p[i];

            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return tune_fail(err, it.line, TUNE_ERR_BAD_CHAR,
                                 "control character");
            }
        }

        tune_split(line, &fl);

        if (it.line <= 3) {
            if (tune_parse_header(&fl, it.line, sc, err) != 0) {
                return -1;
            }

            continue;
        }

        switch (tune_rec_type(fl.f[0])) {

        case TUNE_REC_SLOT:
            if (tune_parse_slot(&fl, it.line, &s, err) != 0) {
                return -1;
            }

            sc->nslots++;
            sc->str_bytes += s.backend.len + s.url.len + s.region.len;
            break;

        case TUNE_REC_BACKEND:
            if (tune_parse_backend(&fl, it.line, &b, err) != 0) {
                return -1;
            }

            sc->nbackends++;
            sc->str_bytes += b.name.len + b.reason.len;
            break;

        case TUNE_REC_END:
            if (fl.n != 1) {
                return tune_fail(err, it.line, TUNE_ERR_SYNTAX,
                                 "end: wrong number of fields");
            }

            end = 1;
            break;

        case TUNE_REC_HEADER:
        case TUNE_REC_WRITTEN:
        case TUNE_REC_INTERVAL:
            /* e.g. two snapshots glued together: refuse, do not merge */
            return tune_fail(err, it.line, TUNE_ERR_SYNTAX,
                             "header record after line 3");

        case TUNE_REC_UNKNOWN:
            /*
             * A record type of a later minor version is skipped, but it
             * must look like one: a line whose TABs became spaces, or a
             * blank one, is damage, not news.
             */

            if (fl.f[0].len == 0) {
                return tune_fail(err, it.line, TUNE_ERR_SYNTAX,
                                 "empty record type");
            }

            for (i = 0; i < fl.f[0].len; i++) {
                if (!tune_is_name_byte((unsigned char) fl.f[0].p[i])) {
                    return tune_fail(err, it.line, TUNE_ERR_SYNTAX,
                                     "malformed record type");
                }
            }

            break;
        }
    }

    switch (it.line) {
    case 0:
        return tune_fail(err, 1, TUNE_ERR_SYNTAX, "missing header line");
    case 1:
        return tune_fail(err, 2, TUNE_ERR_SYNTAX, "missing written_ms line");
    case 2:
        return tune_fail(err, 3, TUNE_ERR_SYNTAX, "missing interval_ms line");
    default:
        break;
    }

    /*
     * A text cut anywhere, even inside a slot's URL, may still be all
     * valid lines; only the end line tells a whole snapshot from the first
     * part of one.
     */

    if (!end) {
        return tune_fail(err, it.line + 1, TUNE_ERR_SYNTAX,
                         "no end line: snapshot truncated");
    }

    return 0;
}


static int
tune_key_cmp(const void *one, const void *two)
{
    int                     c;
    const tune_sort_key_t  *a, *b;

    a = one;
    b = two;

    c = tune_bytes_cmp(a->line + TUNE_SLOT_PREFIX_LEN, a->stream_len,
                       b->line + TUNE_SLOT_PREFIX_LEN, b->stream_len);

    if (c != 0) {
        return c;
    }

    /* qsort() is not stable: the position in the text keeps slot order */
    return (a->line > b->line) - (a->line < b->line);
}


static tune_str_t
tune_put_str(char *b, uint64_t *cur, tune_span_t s)
{
    tune_str_t  str;

    str.off = (uint32_t) *cur;
    str.len = (uint32_t) s.len;

    if (s.len > 0) {
        memcpy(b + *cur, s.p, s.len);
    }

    *cur += s.len;

    return str;
}


size_t
tune_snapshot_decode(const char *text, size_t len, uint64_t generation,
    void *buf, size_t cap, tune_decode_err_t *err)
{
    char                  *b;
    uint64_t               k, n, ns, nb, stream_bytes, cur, keys_size;
    uint64_t               streams_off, slots_off, slots_end, backends_off;
    uint64_t               strings_off, size;
    tune_span_t            line, prev;
    tune_scan_t            sc;
    tune_lines_t           it;
    tune_fields_t          fl;
    tune_image_t           hdr;
    tune_sort_key_t        key, *keys;
    tune_slot_rec_t        s;
    tune_decode_err_t      dummy;
    tune_backend_rec_t     br;
    tune_image_slot_t      slot;
    tune_image_stream_t    stream;
    tune_image_backend_t   backend;

    if (err == NULL) {
        err = &dummy;
    }

    err->line = 0;
    err->rc = TUNE_OK;
    err->reason = "ok";

    if (text == NULL) {
        len = 0;
    }

    /*
     * Offsets in the image are 32-bit, so longer text cannot fit; it also
     * keeps every count and sum below in 64 bits.  (A shift, not a compare
     * with UINT32_MAX, which is always false where size_t has 32 bits.)
     */
    if ((uint64_t) len >> 32 != 0) {
        tune_fail(err, 0, TUNE_ERR_RANGE, "snapshot text over 4 GiB");
        return 0;
    }

    if ((uintptr_t) buf % 8 != 0) {
        tune_fail(err, 0, TUNE_ERR_NO_SPACE, "buffer not 8-byte aligned");
        return 0;
    }

    /* pass 1 */

    memset(&sc, 0, sizeof(sc));

    if (tune_scan(text, len, &sc, err) != 0) {
        return 0;
    }

    n = sc.nslots;
    nb = sc.nbackends;
    b = buf;

    /* pass 2: the sort keys fit wherever the image itself would */

    streams_off = sizeof(tune_image_t);
    keys_size = n * sizeof(tune_sort_key_t);

    if (streams_off + keys_size > cap) {
        tune_fail(err, 0, TUNE_ERR_NO_SPACE, "buffer too small for the image");
        return 0;
    }

    keys = (tune_sort_key_t *) (b + streams_off);
    k = 0;

    it.text = text;
    it.len = len;
    it.pos = 0;
    it.line = 0;

    while (k < n && tune_lines_next(&it, &line)) {
        if (it.line <= 3) {
            continue;
        }

        tune_split(line, &fl);

        if (tune_rec_type(fl.f[0]) == TUNE_REC_SLOT) {
            keys[k].line = line.p;
            keys[k].line_len = (uint32_t) line.len;
            keys[k].stream_len = (uint32_t) fl.f[1].len;
            k++;
        }
    }

    if (n > 0) {
        qsort(keys, (size_t) n, sizeof(tune_sort_key_t), tune_key_cmp);
    }

    ns = 0;
    stream_bytes = 0;

    for (k = 0; k < n; k++) {
        if (k == 0
            || tune_bytes_cmp(keys[k - 1].line + TUNE_SLOT_PREFIX_LEN,
                              keys[k - 1].stream_len,
                              keys[k].line + TUNE_SLOT_PREFIX_LEN,
                              keys[k].stream_len)
               != 0)
        {
            ns++;
            stream_bytes += keys[k].stream_len;
        }
    }

    /* all terms are below 2^38 (len <= 2^32), no 64-bit overflow */

    slots_off = tune_align8(streams_off + ns * sizeof(tune_image_stream_t));
    slots_end = slots_off + n * sizeof(tune_image_slot_t);
    backends_off = tune_align8(slots_end);
    strings_off = backends_off + nb * sizeof(tune_image_backend_t);
    size = tune_align8(strings_off + sc.str_bytes + stream_bytes);

    if (size > UINT32_MAX) {
        tune_fail(err, 0, TUNE_ERR_RANGE, "image would be over 4 GiB");
        return 0;
    }

    if (size > cap) {
        tune_fail(err, 0, TUNE_ERR_NO_SPACE, "buffer too small for the image");
        return 0;
    }

    /* pass 3: see the comment at the top for why this order is safe */

    if (n > 0) {
        memmove(b + slots_end - keys_size, keys, (size_t) keys_size);
        keys = (tune_sort_key_t *) (b + slots_end - keys_size);
    }

    cur = strings_off;
    ns = 0;
    prev.p = NULL;
    prev.len = 0;
    memset(&stream, 0, sizeof(stream));

    for (k = 0; k < n; k++) {
        key = keys[k];

        line.p = key.line;
        line.len = key.line_len;
        tune_split(line, &fl);

        if (tune_parse_slot(&fl, 0, &s, err) != 0) {
            /* pass 1 accepted this very line: cannot happen */
            return 0;
        }

        if (k == 0
            || tune_bytes_cmp(prev.p, prev.len, s.stream.p, s.stream.len) != 0)
        {
            if (k > 0) {
                memcpy(b + streams_off + (ns - 1) * sizeof(stream), &stream,
                       sizeof(stream));
            }

            ns++;
            prev = s.stream;

            memset(&stream, 0, sizeof(stream));
            stream.name = tune_put_str(b, &cur, s.stream);
            stream.first_slot = (uint32_t) k;
        }

        stream.nslots++;

        memset(&slot, 0, sizeof(slot));
        slot.backend = tune_put_str(b, &cur, s.backend);
        slot.url = tune_put_str(b, &cur, s.url);
        slot.region = tune_put_str(b, &cur, s.region);
        slot.listeners = s.listeners;
        slot.capacity = s.capacity;
        slot.free = s.free;
        slot.weight = s.weight;
        slot.health = s.health;
        slot.scheme = tune_url_scheme(s.url.p, s.url.len);
        slot.polled_ms = s.polled_ms;

        memcpy(b + slots_off + k * sizeof(slot), &slot, sizeof(slot));
    }

    if (n > 0) {
        memcpy(b + streams_off + (ns - 1) * sizeof(stream), &stream,
               sizeof(stream));
    }

    /* pass 4 */

    it.pos = 0;
    it.line = 0;
    k = 0;

    while (k < nb && tune_lines_next(&it, &line)) {
        if (it.line <= 3) {
            continue;
        }

        tune_split(line, &fl);

        if (tune_rec_type(fl.f[0]) != TUNE_REC_BACKEND) {
            continue;
        }

        if (tune_parse_backend(&fl, it.line, &br, err) != 0) {
            return 0;
        }

        memset(&backend, 0, sizeof(backend));
        backend.name = tune_put_str(b, &cur, br.name);
        backend.reason = tune_put_str(b, &cur, br.reason);
        backend.health = br.health;
        backend.polled_ms = br.polled_ms;

        memcpy(b + backends_off + k * sizeof(backend), &backend,
               sizeof(backend));
        k++;
    }

    /* padding is zeroed so equal texts give byte-identical images */

    memset(b + streams_off + ns * sizeof(stream), 0,
           (size_t) (slots_off - streams_off - ns * sizeof(stream)));
    memset(b + slots_end, 0, (size_t) (backends_off - slots_end));
    memset(b + cur, 0, (size_t) (size - cur));

    memset(&hdr, 0, sizeof(hdr));
    hdr.magic = TUNE_IMAGE_MAGIC;
    hdr.size = (uint32_t) size;
    hdr.generation = generation;
    hdr.written_ms = sc.written_ms;
    hdr.interval_ms = sc.interval_ms;
    hdr.nstreams = (uint32_t) ns;
    hdr.nslots = (uint32_t) n;
    hdr.nbackends = (uint32_t) nb;
    hdr.streams_off = (uint32_t) streams_off;
    hdr.slots_off = (uint32_t) slots_off;
    hdr.backends_off = (uint32_t) backends_off;

    memcpy(b, &hdr, sizeof(hdr));

    return (size_t) size;
}
