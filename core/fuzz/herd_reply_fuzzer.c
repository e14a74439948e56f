/*
 * libFuzzer target: herd accounting driven by any sequence of events, with
 * the herd script's replies (tune_herd_granted()) taken from the input as
 * Redis would send them: any 64-bit integers.
 *
 * The input: a byte for the table's size, one for W, one per slot of a
 * fixed image (its free count, or down, weight 0, unlimited), then events,
 * a byte each plus its arguments: time passes (or steps back), a poll,
 * avail, a tune-in, a claim with its arguments, a reply, a claim that
 * never arrived, a take-over, Redis lost.  Besides "no crash, nothing
 * outside the table's buffer" (ASan, UBSan), it checks what tune_herd.h
 * promises:
 *
 *   - avail is 0 for a slot not up, of weight 0 or full, the free count
 *     with W 0 or an unlimited slot, never above the free count, and with
 *     credits from Redis in use only where a credit is in hand, or else
 *     (claims late) the free count less the pending, as in local mode;
 *   - a tune-in with a credit in hand spends exactly one;
 *   - claims name real, offerable, limited slots, each entry once and
 *     none already in flight, with keys of the contract's shape, and the
 *     script's arguments fit the documented bounds, all decimal numbers;
 *   - a reply with a negative value is refused and changes nothing; any
 *     other gives a slot at most what was asked (a fair share at most
 *     TUNE_HERD_FAIR_MAX);
 *   - the table stays one (tune_herd_get()).
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tune_herd.h"
#include "tune_snapshot.h"


#define NOW0          INT64_C(1763712001000)
#define MAX_ENTRIES   8
#define MAX_CLAIMS    16
#define FAIR_MAX      4096          /* TUNE_HERD_FAIR_MAX of tune_herd.c */
#define MAX_WANT      65536
#define TABLE_COPY_MAX  (MAX_ENTRIES * 1024)

static const char  snapshot[] =
    "tuneslot-snapshot\t1\n"
    "written_ms\t1763712000500\n"
    "interval_ms\t1000\n"
    "backend\tice-a\tup\t1763712000400\n"
    "backend\tice-b\tup\t1763712000400\n"
    "backend\tice-c\tup\t1763712000400\n"
    "backend\tice-d\tup\t1763712000400\n"
    "slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1763712000400\t"
    "http://a.example.net:8000/demo\n"
    "slot\tdemo\tice-b\tup\t0\t10\t10\t100\teu\t1763712000400\t"
    "http://b.example.net:8000/demo\n"
    "slot\tdemo\tice-c\tup\t0\t10\t10\t200\tus\t1763712000400\t"
    "http://c.example.net:8000/demo\n"
    "slot\tdemo\tice-d\tup\t0\t10\t10\t100\t\t1763712000400\t"
    "http://d.example.net:8000/demo\n"
    "slot\tnews\tice-a\tup\t0\t10\t10\t100\teu\t1763712000400\t"
    "http://a.example.net:8000/news\n"
    "slot\tnews\tice-b\tup\t0\t10\t10\t100\teu\t1763712000400\t"
    "http://b.example.net:8000/news\n"
    "end\n";


typedef struct {
    const uint8_t      *p;
    size_t              left;
} input_t;


typedef struct {
    tune_herd_t        *herd;
    void               *buf;
    size_t              cap;
    tune_image_t       *img;
    int64_t             now;
    uint32_t            window;
    tune_herd_claim_t   claims[MAX_CLAIMS];   /* the claim in flight */
    size_t              nclaims;
    int64_t             sent_ms;
} state_t;


static uint64_t  image_buf[TUNE_IMAGE_SIZE_MAX(sizeof(snapshot)) / 8 + 1];
static size_t    image_size;


static uint64_t
next(input_t *in, size_t n)
{
    uint64_t  v;

    v = 0;

    while (n-- > 0 && in->left > 0) {
        v = (v << 8) | *in->p++;
        in->left--;
    }

    return v;
}


static void
check_table(state_t *st)
{
    if (tune_herd_get(st->buf, st->cap) != st->herd
        || tune_herd_capacity(st->herd) == 0
        || tune_herd_capacity(st->herd) > MAX_ENTRIES)
    {
        abort();
    }
}


static const tune_image_stream_t *
stream_of(const tune_image_t *img, uint32_t slot)
{
    uint32_t                    i;
    const tune_image_stream_t  *streams = tune_image_streams(img);

    for (i = 0; i < img->nstreams; i++) {
        if (slot >= streams[i].first_slot
            && slot < streams[i].first_slot + streams[i].nslots)
        {
            return &streams[i];
        }
    }

    abort();
}


static void
check_avail(state_t *st, const tune_image_stream_t *stream)
{
    uint32_t                  i, avail[8], pending, credits;
    const tune_image_slot_t  *s;

    tune_herd_avail(st->herd, st->img, stream, st->now, st->window, avail);

    for (i = 0; i < stream->nslots; i++) {
        s = tune_image_slots(st->img) + stream->first_slot + i;

        if (s->health != TUNE_HEALTH_UP || s->weight == 0 || s->free == 0) {
            if (avail[i] != 0) {
                abort();
            }
            continue;
        }

        if (s->free == TUNE_UNLIMITED || st->window == 0) {
            if (avail[i] != s->free) {
                abort();
            }
            continue;
        }

        if (avail[i] > s->free) {
            abort();
        }

        /* (with fewer entries than slots, a slot may go uncounted) */
        if (avail[i] > 0 && tune_herd_global(st->herd, st->now)
            && tune_herd_capacity(st->herd) >= st->img->nslots)
        {
            tune_herd_slot_state(st->herd, st->img, stream,
                                 stream->first_slot + i, st->now, st->window,
                                 &pending, &credits);
            /*
             * Without a credit, only a slot Redis said has room to spare
             * is offered (its claims are late), counted by this front-end
             * alone: never beyond its free less its pending.
             */
            if (credits == 0
                && avail[i] != (pending < s->free ? s->free - pending : 0))
            {
                abort();
            }
        }
    }
}


static void
take(state_t *st, uint32_t slot)
{
    uint32_t                    p0, c0, p1, c1;
    const tune_image_stream_t  *stream;

    slot %= st->img->nslots;
    stream = stream_of(st->img, slot);

    tune_herd_slot_state(st->herd, st->img, stream, slot, st->now, st->window,
                         &p0, &c0);
    tune_herd_take(st->herd, st->img, (slot & 1) ? stream : NULL, slot,
                   st->now, st->window);
    tune_herd_slot_state(st->herd, st->img, stream, slot, st->now, st->window,
                         &p1, &c1);

    if (tune_herd_global(st->herd, st->now) && c0 > 0) {
        if (c1 != c0 - 1) {
            abort();
        }

    } else if (c1 != c0) {
        abort();
    }
}


/* the claim's key names a slot that may be claimed for; returns it */
static const tune_image_slot_t *
claim_slot(state_t *st, const tune_herd_claim_t *c)
{
    size_t                      plen, len;
    uint32_t                    i;
    const char                 *name, *backend;
    const tune_image_slot_t    *s;
    const tune_image_stream_t  *stream;

    plen = sizeof(TUNE_HERD_KEY_PREFIX) - 1;

    if (c->redis_key_len > TUNE_HERD_KEY_MAX || c->redis_key_len < plen
        || memcmp(c->redis_key, TUNE_HERD_KEY_PREFIX, plen) != 0)
    {
        abort();
    }

    for (i = 0; i < st->img->nslots; i++) {
        s = tune_image_slots(st->img) + i;
        stream = stream_of(st->img, i);
        name = tune_image_str(st->img, stream->name);
        backend = tune_image_str(st->img, s->backend);
        len = plen + stream->name.len + 1 + s->backend.len;

        if (len == c->redis_key_len
            && memcmp(c->redis_key + plen, name, stream->name.len) == 0
            && c->redis_key[plen + stream->name.len] == ':'
            && memcmp(c->redis_key + plen + stream->name.len + 1, backend,
                      s->backend.len) == 0)
        {
            return s;
        }
    }

    abort();
}


static void
check_args(state_t *st, const tune_herd_claim_t *claims, size_t n)
{
    char         buf[TUNE_HERD_ARGS_BUF(MAX_CLAIMS)];
    size_t       i, k, a, used, argvlen[TUNE_HERD_ARGC(MAX_CLAIMS)];
    const char  *argv[TUNE_HERD_ARGC(MAX_CLAIMS)];
    static const char  id[] = "fuzz.host:1234";

    a = tune_herd_args(claims, n, st->now, st->window, id, sizeof(id) - 1,
                       buf, TUNE_HERD_ARGS_BUF(n), argv, argvlen);
    if (a != TUNE_HERD_ARGC(n)) {
        abort();
    }

    used = 0;

    for (i = 0; i < a; i++) {
        if (i >= 1 && i <= n) {
            /* the keys point into the claims */
            if (argv[i] != claims[i - 1].redis_key
                || argvlen[i] != claims[i - 1].redis_key_len)
            {
                abort();
            }
            continue;
        }

        if (argv[i] < buf || argv[i] + argvlen[i] > buf + sizeof(buf)
            || argvlen[i] == 0)
        {
            abort();
        }

        used += argvlen[i];

        if (i == n + 4) {
            if (argvlen[i] != sizeof(id) - 1
                || memcmp(argv[i], id, argvlen[i]) != 0)
            {
                abort();
            }
            continue;
        }

        for (k = (argv[i][0] == '-'); k < argvlen[i]; k++) {
            if (argv[i][k] < '0' || argv[i][k] > '9') {
                abort();
            }
        }
    }

    /* a buffer one byte short is refused, not overrun */
    if (used > 0
        && tune_herd_args(claims, n, st->now, st->window, id, sizeof(id) - 1,
                          buf, used - 1, argv, argvlen) != 0)
    {
        abort();
    }

    /* an id outside the script's set is refused */
    if (tune_herd_args(claims, n, st->now, st->window, "a b", 3, buf,
                       sizeof(buf), argv, argvlen) != 0)
    {
        abort();
    }
}


static void
claim(state_t *st, size_t max)
{
    size_t                    i, j, n;
    tune_herd_claim_t         more[MAX_CLAIMS];
    const tune_image_slot_t  *s;

    if (st->nclaims > 0) {
        /* one claim at a time, as the claiming process does */
        return;
    }

    max %= MAX_CLAIMS + 1;
    n = tune_herd_claims(st->herd, st->img, st->now, st->window, st->claims,
                         max);

    if (n > max || (st->window == 0 && n != 0)) {
        abort();
    }

    for (i = 0; i < n; i++) {
        s = claim_slot(st, &st->claims[i]);

        if (s->health != TUNE_HEALTH_UP || s->weight == 0 || s->free == 0
            || s->free == TUNE_UNLIMITED || st->claims[i].free != s->free
            || st->claims[i].polled_ms != s->polled_ms
            || st->claims[i].want > MAX_WANT
            || st->claims[i].entry >= tune_herd_capacity(st->herd))
        {
            abort();
        }

        for (j = 0; j < i; j++) {
            if (st->claims[j].entry == st->claims[i].entry) {
                abort();
            }
        }
    }

    check_args(st, st->claims, n);

    /* what is in flight is not claimed again */
    j = tune_herd_claims(st->herd, st->img, st->now, st->window, more,
                         MAX_CLAIMS);
    for (i = 0; i < j; i++) {
        size_t  k;

        for (k = 0; k < n; k++) {
            if (more[i].entry == st->claims[k].entry) {
                abort();
            }
        }
    }

    /* those go back as never sent */
    tune_herd_unclaimed(st->herd, more, j);

    st->nclaims = n;
    st->sent_ms = st->now;
}


static void
reply(state_t *st, input_t *in)
{
    int                          negative;
    size_t                       i;
    int64_t                      r[2 * MAX_CLAIMS];
    uint32_t                     c0[MAX_CLAIMS], c1, p, limit;
    tune_rc_t                    rc;
    const tune_image_slot_t     *s;
    const tune_image_stream_t   *stream;
    static uint8_t               before[TABLE_COPY_MAX];

    negative = 0;

    for (i = 0; i < 2 * st->nclaims; i++) {
        /* a byte of length: small counts are the common case */
        r[i] = (int64_t) next(in, 1 + next(in, 1) % 8);
        negative |= (r[i] < 0);
    }

    for (i = 0; i < st->nclaims; i++) {
        s = claim_slot(st, &st->claims[i]);
        stream = stream_of(st->img, (uint32_t) (s - tune_image_slots(st->img)));
        tune_herd_slot_state(st->herd, st->img, stream,
                             (uint32_t) (s - tune_image_slots(st->img)),
                             st->now, st->window, &p, &c0[i]);
    }

    memcpy(before, st->buf, st->cap);

    rc = tune_herd_granted(st->herd, st->claims, st->nclaims, st->window,
                           st->sent_ms, r);

    if (negative) {
        if (rc != TUNE_ERR_RANGE || memcmp(before, st->buf, st->cap) != 0) {
            abort();
        }

        /* the host gives up on Redis's word */
        tune_herd_local(st->herd);
        st->nclaims = 0;
        return;
    }

    if (rc != TUNE_OK) {
        abort();
    }

    for (i = 0; i < st->nclaims; i++) {
        s = claim_slot(st, &st->claims[i]);
        stream = stream_of(st->img, (uint32_t) (s - tune_image_slots(st->img)));
        tune_herd_slot_state(st->herd, st->img, stream,
                             (uint32_t) (s - tune_image_slots(st->img)),
                             st->now, st->window, &p, &c1);

        limit = st->claims[i].want ? st->claims[i].want : FAIR_MAX;

        if ((uint64_t) c1 > (uint64_t) c0[i] + limit) {
            abort();
        }
    }

    st->nclaims = 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t              b;
    size_t               entries;
    uint32_t             i, windows[] = { 0, 100, 250, 1000, 3000, 5000 };
    input_t              in;
    state_t              st;
    tune_decode_err_t    err;
    tune_image_slot_t   *slots;

    if (image_size == 0) {
        image_size = tune_snapshot_decode(snapshot, sizeof(snapshot) - 1, 1,
                                          image_buf, sizeof(image_buf), &err);
        /* the table must fit the copy reply() keeps of it */
        if (image_size == 0 || tune_herd_size(MAX_ENTRIES) > TABLE_COPY_MAX) {
            abort();
        }
    }

    in.p = data;
    in.left = size;

    memset(&st, 0, sizeof(st));

    /*
     * A fresh image each run, the slots' counts from the input; image and
     * table in buffers of their exact sizes, so ASan sees a byte past them.
     */
    st.img = malloc(image_size);
    if (st.img == NULL) {
        return 0;
    }
    memcpy(st.img, image_buf, image_size);
    slots = (tune_image_slot_t *) tune_image_slots(st.img);

    entries = 1 + next(&in, 1) % MAX_ENTRIES;
    st.window = windows[next(&in, 1) % (sizeof(windows) / sizeof(windows[0]))];
    st.now = NOW0;

    for (i = 0; i < st.img->nslots; i++) {
        b = (uint8_t) next(&in, 1);

        switch (b) {
        case 255:
            slots[i].free = TUNE_UNLIMITED;
            slots[i].capacity = TUNE_UNLIMITED;
            break;
        case 254:
            slots[i].health = TUNE_HEALTH_DOWN;
            break;
        case 253:
            slots[i].weight = 0;
            break;
        default:
            slots[i].free = b;
            slots[i].capacity = b + slots[i].listeners;
        }
    }

    st.cap = tune_herd_size(entries);
    st.buf = malloc(st.cap);
    if (st.buf == NULL) {
        free(st.img);
        return 0;
    }

    st.herd = tune_herd_init(st.buf, st.cap);
    if (st.herd == NULL || tune_herd_capacity(st.herd) != entries) {
        abort();
    }

    while (in.left > 0) {
        b = (uint8_t) next(&in, 1);

        switch (b % 10) {

        case 0:     /* time passes, up to 25.5 s */
            st.now += (int64_t) next(&in, 1) * 100;
            break;

        case 1:     /* the wall clock steps back a little */
            st.now -= (int64_t) next(&in, 1) * 10;
            break;

        case 2:     /* a poll: the snapshot catches up */
            for (i = 0; i < st.img->nslots; i++) {
                slots[i].polled_ms = st.now - (int64_t) next(&in, 1) * 10;
            }
            break;

        case 3:
            check_avail(&st, tune_image_streams(st.img)
                             + next(&in, 1) % st.img->nstreams);
            break;

        case 4:
            take(&st, (uint32_t) next(&in, 1));
            break;

        case 5:
            claim(&st, next(&in, 1));
            break;

        case 6:
            reply(&st, &in);
            break;

        case 7:     /* the claim never reached the script */
            tune_herd_unclaimed(st.herd, st.claims, st.nclaims);
            st.nclaims = 0;
            break;

        case 8:     /* another process took the claiming over */
            tune_herd_takeover(st.herd);
            st.nclaims = 0;
            break;

        case 9:     /* Redis is away */
            tune_herd_local(st.herd);
            st.nclaims = 0;
            break;
        }

        check_table(&st);
    }

    free(st.buf);
    free(st.img);

    return 0;
}
