/*
 * The request-side choice (tune_choose.h): every outcome and its reason,
 * Retry-After, staleness, the slots a proxied tune-in tried already ("no
 * other slot is up"), herd counting and peeking, the ranking of a
 * playlist.  Images are decoded from snapshot text; the work memory is
 * allocated at exactly the size asked for, so a sanitized build catches a
 * pick that writes past it.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tune_choose.h"
#include "tune_url.h"


#define T0          1763712000000LL
#define W           2000u


typedef struct {
    const char  *stream;
    const char  *backend;
    const char  *health;
    const char  *free;           /* a number or "unlimited" */
    unsigned     weight;
    const char  *region;
} spec_t;


static _Alignas(8) unsigned char  image[1 << 16];
static _Alignas(8) unsigned char  table[1 << 16];


/* An image of the slots of spec, with interval_ms interval; the i-th
 * slot's URL has scheme[i] (NULL: all http) */
static const tune_image_t *
decode_schemes(const spec_t *spec, size_t n, uint32_t interval,
    const char *const *scheme)
{
    int                  len;
    char                 text[4096];
    size_t               i, used;
    tune_decode_err_t    err;
    const tune_image_t  *img;

    used = (size_t) snprintf(text, sizeof(text),
                             "tuneslot-snapshot\t1\nwritten_ms\t%lld\n"
                             "interval_ms\t%u\n", (long long) T0, interval);

    for (i = 0; i < n; i++) {
        len = snprintf(text + used, sizeof(text) - used,
                       "slot\t%s\t%s\t%s\t0\t%s\t%s\t%u\t%s\t%lld\t"
                       "%s://%s.example.net/%s\n",
                       spec[i].stream, spec[i].backend, spec[i].health,
                       spec[i].free, spec[i].free, spec[i].weight,
                       spec[i].region ? spec[i].region : "",
                       (long long) T0,
                       scheme ? scheme[i] : "http",
                       spec[i].backend, spec[i].stream);
        assert_true(len > 0 && (size_t) len < sizeof(text) - used);
        used += (size_t) len;
    }

    assert_true(used + 4 < sizeof(text));
    memcpy(text + used, "end\n", 4);
    used += 4;

    assert_int_not_equal(tune_snapshot_decode(text, used, 1, image,
                                              sizeof(image), &err), 0);

    img = tune_image_get(image, sizeof(image));
    assert_non_null(img);

    return img;
}


static const tune_image_t *
decode(const spec_t *spec, size_t n, uint32_t interval)
{
    return decode_schemes(spec, n, interval, NULL);
}


/* "demo": a, b up with 10 free each, c down; "news": a */
static const spec_t  demo[] = {
    { "demo", "a", "up", "10", 100, "eu" },
    { "demo", "b", "up", "10", 100, "us" },
    { "demo", "c", "down", "10", 100, "eu" },
    { "news", "a", "up", "10", 100, "eu" },
};

#define DEMO        (sizeof(demo) / sizeof(demo[0]))


static void
request(tune_choice_req_t *req, const char *stream)
{
    memset(req, 0, sizeof(tune_choice_req_t));

    req->stream = stream;
    req->stream_len = strlen(stream);
    req->now_ms = T0;
}


/*
 * Both phases as a host calls them, the work memory malloc()ed at the size
 * begin asked for; *work keeps it for the ranking (the caller frees it).
 */
static tune_choice_outcome_t
choose(const tune_image_t *img, const tune_choice_req_t *req,
    tune_choice_t *ch, void **work)
{
    void                   *mem;
    tune_choice_outcome_t   rc;

    mem = NULL;

    rc = tune_choose_begin(img, req, ch);
    assert_int_equal(rc, ch->outcome);

    if (rc == TUNE_CHOICE_OK) {
        assert_non_null(ch->stream);
        assert_true(ch->work_size > 0);

        mem = malloc(ch->work_size);
        assert_non_null(mem);

        rc = tune_choose_pick(img, req, ch, mem);
        assert_int_equal(rc, ch->outcome);
    }

    if (work) {
        *work = mem;

    } else {
        free(mem);
    }

    return rc;
}


/* the backend name of the chosen slot */
static const char *
chosen(const tune_image_t *img, const tune_choice_t *ch)
{
    static char               name[64];
    const tune_image_slot_t  *s;

    assert_int_equal(ch->outcome, TUNE_CHOICE_OK);
    assert_true(ch->slot < img->nslots);

    s = tune_image_slots(img) + ch->slot;
    assert_true(s->backend.len < sizeof(name));

    memcpy(name, tune_image_str(img, s->backend), s->backend.len);
    name[s->backend.len] = '\0';

    return name;
}


/* ---- outcomes -------------------------------------------------------- */

static void
test_no_snapshot(void **state)
{
    tune_choice_t      ch;
    tune_choice_req_t  req;

    (void) state;

    request(&req, "demo");

    assert_int_equal(choose(NULL, &req, &ch, NULL), TUNE_CHOICE_NO_SNAPSHOT);
    assert_string_equal(ch.reason, "no snapshot received yet");
    assert_int_equal(ch.retry_after, 1);
    assert_null(ch.stream);
    assert_int_equal(ch.work_size, 0);
}


static void
test_not_found(void **state)
{
    tune_choice_t       ch;
    tune_choice_req_t   req;
    const tune_image_t *img;

    (void) state;

    img = decode(demo, DEMO, 2500);

    request(&req, "nosuch");
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_NOT_FOUND);
    assert_null(ch.reason);
    assert_int_equal(ch.retry_after, 3);

    /* a prefix of a name, an empty name, no name */
    request(&req, "dem");
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_NOT_FOUND);
    request(&req, "");
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_NOT_FOUND);
    req.stream = NULL;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_NOT_FOUND);
}


/* Retry-After: the interval in seconds rounded up, at least 1 */
static void
test_retry_after(void **state)
{
    size_t              i;
    tune_choice_t       ch;
    tune_choice_req_t   req;
    const tune_image_t *img;

    static const struct {
        uint32_t  interval;
        uint32_t  seconds;
    } cases[] = {
        { 0, 1 }, { 1, 1 }, { 999, 1 }, { 1000, 1 }, { 1001, 2 },
        { 2000, 2 }, { 60000, 60 }, { UINT32_MAX, 4294968 },
    };

    (void) state;

    request(&req, "demo");

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        img = decode(demo, DEMO, cases[i].interval);

        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_int_equal(ch.retry_after, cases[i].seconds);
    }
}


static void
test_stale(void **state)
{
    tune_choice_t       ch;
    tune_choice_req_t   req;
    const tune_image_t *img;

    (void) state;

    img = decode(demo, DEMO, 1000);
    request(&req, "demo");

    req.stale_ms = 60000;
    req.age_ms = 60001;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_STALE);
    assert_string_equal(ch.reason, "the snapshot is stale");
    assert_int_equal(ch.retry_after, 1);
    assert_int_equal(ch.work_size, 0);

    /* up to the limit itself it is served */
    req.age_ms = 60000;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);

    /* 0: never stale */
    req.stale_ms = 0;
    req.age_ms = INT64_MAX;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);

    /* an unknown stream is not found, stale or not */
    request(&req, "nosuch");
    req.stale_ms = 1;
    req.age_ms = 2;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_NOT_FOUND);
}


static void
test_full(void **state)
{
    tune_choice_t       ch;
    tune_choice_req_t   req;
    const tune_image_t *img;

    static const spec_t  full[] = {
        { "demo", "a", "up", "0", 100, "" },
        { "demo", "b", "up", "0", 100, "" },
        { "demo", "c", "down", "10", 100, "" },
    };

    (void) state;

    img = decode(full, 3, 1000);
    request(&req, "demo");

    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_FULL);
    assert_string_equal(ch.reason, "every slot is full");
    assert_int_equal(ch.slot, UINT32_MAX);
}


static void
test_no_slot(void **state)
{
    tune_choice_t       ch;
    tune_choice_req_t   req;
    const tune_image_t *img;

    static const spec_t  down[] = {
        { "demo", "a", "down", "10", 100, "" },
        { "demo", "b", "nosource", "10", 100, "" },
        { "demo", "c", "up", "10", 0, "" },
    };

    (void) state;

    img = decode(down, 3, 1000);
    request(&req, "demo");

    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_NO_SLOT);
    assert_string_equal(ch.reason, "no slot is up");
}


static void
test_ok(void **state)
{
    tune_choice_t       ch;
    tune_choice_req_t   req;
    const tune_image_t *img;

    (void) state;

    img = decode(demo, DEMO, 1000);
    request(&req, "demo");

    /* the draw follows rnd: the first candidate, the last */
    req.rnd = 0;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_null(ch.reason);
    assert_string_equal(chosen(img, &ch), "a");
    assert_ptr_equal(ch.stream, tune_image_find_stream(img, "demo", 4));
    assert_null(ch.ranked);
    assert_int_equal(ch.nranked, 0);

    req.rnd = UINT32_MAX;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_string_equal(chosen(img, &ch), "b");

    /* another stream's "a" */
    request(&req, "news");
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_string_equal(chosen(img, &ch), "a");
    assert_ptr_equal(ch.stream, tune_image_find_stream(img, "news", 4));
}


static void
test_region(void **state)
{
    uint32_t            rnd;
    tune_choice_t       ch;
    tune_choice_req_t   req;
    const tune_image_t *img;

    (void) state;

    img = decode(demo, DEMO, 1000);
    request(&req, "demo");

    req.region = "us";
    req.region_len = 2;

    for (rnd = 0; rnd < 0xf0000000u; rnd += 0x10000000u) {
        req.rnd = rnd;
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_string_equal(chosen(img, &ch), "b");
    }

    /* a region with no slot up: any slot */
    req.region = "ap";
    req.rnd = 0;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_string_equal(chosen(img, &ch), "a");

    /* a region of length 0 is none, whatever the pointer */
    req.region = "us";
    req.region_len = 0;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_string_equal(chosen(img, &ch), "a");
}


/* ---- proxy retries: the slots tried already --------------------------- */

static void
test_tried_skipped(void **state)
{
    uint32_t             rnd;
    tune_choice_t        ch;
    tune_choice_req_t    req;
    const tune_image_t  *img;
    tune_choice_name_t   tried[2];

    (void) state;

    img = decode(demo, DEMO, 1000);
    request(&req, "demo");

    tried[0].data = "a";
    tried[0].len = 1;
    req.tried = tried;
    req.ntried = 1;

    for (rnd = 0; rnd < 0xf0000000u; rnd += 0x10000000u) {
        req.rnd = rnd;
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_string_equal(chosen(img, &ch), "b");
    }

    /* names compare whole: "b" is not "bb", nor "a" "" */
    tried[0].data = "bb";
    tried[0].len = 2;
    tried[1].data = "";
    tried[1].len = 0;
    req.ntried = 2;
    req.rnd = UINT32_MAX;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_string_equal(chosen(img, &ch), "b");
}


/* The proxy tried every slot that is up: no *other* slot is up */
static void
test_no_other_slot(void **state)
{
    tune_choice_t        ch;
    tune_choice_req_t    req;
    const tune_image_t  *img;
    tune_choice_name_t   tried[2];

    (void) state;

    img = decode(demo, DEMO, 1000);
    request(&req, "demo");

    tried[0].data = "a";
    tried[0].len = 1;
    tried[1].data = "b";
    tried[1].len = 1;
    req.tried = tried;
    req.ntried = 2;

    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_NO_SLOT);
    assert_string_equal(ch.reason, "no other slot is up");
    assert_int_equal(ch.slot, UINT32_MAX);

    /* one tried, the rest down: the same words */
    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "10", 100, "" },
                     { "demo", "b", "down", "10", 100, "" },
                 }, 2, 1000);
    req.ntried = 1;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_NO_SLOT);
    assert_string_equal(ch.reason, "no other slot is up");

    /* the first try of the same request: no slot at all */
    req.ntried = 0;
    req.tried = NULL;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_string_equal(chosen(img, &ch), "a");
}


/* The untried slots are full: full, not "no other slot" */
static void
test_tried_rest_full(void **state)
{
    tune_choice_t        ch;
    tune_choice_req_t    req;
    const tune_image_t  *img;
    tune_choice_name_t   tried;

    (void) state;

    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "10", 100, "" },
                     { "demo", "b", "up", "0", 100, "" },
                 }, 2, 1000);
    request(&req, "demo");

    tried.data = "a";
    tried.len = 1;
    req.tried = &tried;
    req.ntried = 1;

    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_FULL);
    assert_string_equal(ch.reason, "every slot is full");
}


/* ---- herd accounting ------------------------------------------------- */

static uint32_t
pending(tune_herd_t *herd, const tune_image_t *img, uint32_t slot)
{
    uint32_t  p, c;

    tune_herd_slot_state(herd, img, NULL, slot, T0 + 10, W, &p, &c);

    return p;
}


static void
test_herd_counts(void **state)
{
    unsigned             i;
    tune_herd_t         *herd;
    tune_choice_t        ch;
    tune_choice_req_t    req;
    const tune_image_t  *img;

    (void) state;

    herd = tune_herd_init(table, sizeof(table));
    assert_non_null(herd);

    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "3", 100, "" },
                 }, 1, 1000);
    request(&req, "demo");

    req.herd = herd;
    req.window = W;
    req.now_ms = T0 + 10;

    /* three tune-ins fill it (no credits: this front-end's count alone) */
    for (i = 0; i < 3; i++) {
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_int_equal(pending(herd, img, ch.slot), i + 1);
    }

    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_FULL);
    assert_string_equal(ch.reason, "every slot is full");
    assert_int_equal(pending(herd, img, 0), 3);

    /* window 0: herd control off, the snapshot's count as it is */
    req.window = 0;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_int_equal(pending(herd, img, 0), 3);
}


/* A HEAD, or a proxied playlist: answered, never counted */
static void
test_peek_not_counted(void **state)
{
    unsigned             i;
    tune_herd_t         *herd;
    tune_choice_t        ch;
    tune_choice_req_t    req;
    const tune_image_t  *img;

    (void) state;

    herd = tune_herd_init(table, sizeof(table));
    assert_non_null(herd);

    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "1", 100, "" },
                 }, 1, 1000);
    request(&req, "demo");

    req.herd = herd;
    req.window = W;
    req.now_ms = T0 + 10;
    req.peek = 1;

    for (i = 0; i < 5; i++) {
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_int_equal(pending(herd, img, 0), 0);
    }

    /* the one real tune-in takes the last place */
    req.peek = 0;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_int_equal(pending(herd, img, 0), 1);
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_FULL);

    /* a peek at a full stream is told so too */
    req.peek = 1;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_FULL);
}


/* ---- the memory of the herd's counts --------------------------------- */

/* malloc()ed at exactly its size, so a sanitized build catches a write
 * past it; freed with free() */
static tune_choice_memo_t *
new_memo(uint32_t nstreams, uint32_t nslots)
{
    void                *buf;
    tune_choice_memo_t  *memo;

    buf = malloc(tune_choice_memo_size(nstreams, nslots));
    assert_non_null(buf);

    memo = tune_choice_memo_init(buf, nstreams, nslots);
    assert_ptr_equal(memo, buf);

    return memo;
}


/* A plain tune-in of "demo" at now, counted in herd, with memo (or none) */
static void
memo_request(tune_choice_req_t *req, tune_herd_t *herd,
    tune_choice_memo_t *memo, int64_t now)
{
    request(req, "demo");

    req->herd = herd;
    req->window = W;
    req->memo = memo;
    req->now_ms = now;
}


/*
 * Two workers, each with its memory, share one table: their tune-ins come
 * in turn, several in each millisecond, so each draws from counts the
 * other has since spent.  No slot takes more than its free count, and the
 * stream fills up exactly: the memory only ever changes the draw's weights.
 */
static void
test_memo_bound(void **state)
{
    unsigned             i, ok;
    uint32_t             rnd;
    tune_herd_t         *herd;
    tune_choice_t        ch;
    tune_choice_req_t    req;
    const tune_image_t  *img;
    tune_choice_memo_t  *memo[2];

    (void) state;

    herd = tune_herd_init(table, sizeof(table));
    assert_non_null(herd);

    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "3", 100, "" },
                     { "demo", "b", "up", "5", 100, "" },
                     { "demo", "c", "up", "4", 100, "" },
                 }, 3, 1000);

    memo[0] = new_memo(img->nstreams, img->nslots);
    memo[1] = new_memo(img->nstreams, img->nslots);

    memo_request(&req, herd, NULL, T0 + 10);

    for (i = 0, ok = 0, rnd = 12345; i < 40; i++) {
        req.now_ms = T0 + 10 + i / 8;
        req.memo = memo[i % 2];
        /* the first draws go to a, whose 3 places go first */
        rnd = (i < 12) ? 0 : rnd * 1103515245u + 12345u;
        req.rnd = rnd;

        if (choose(img, &req, &ch, NULL) == TUNE_CHOICE_OK) {
            ok++;

        } else {
            assert_int_equal(ch.outcome, TUNE_CHOICE_FULL);
        }
    }

    assert_int_equal(ok, 12);
    assert_int_equal(pending(herd, img, 0), 3);
    assert_int_equal(pending(herd, img, 1), 5);
    assert_int_equal(pending(herd, img, 2), 4);

    free(memo[0]);
    free(memo[1]);
}


/* Six tune-ins of one millisecond, the first with a full look, the rest
 * from the memory: the slot without credits is asked for by its part of
 * all six, as without the memory (the claim wants as many credits) */
static uint32_t
want_after_dry_tuneins(tune_choice_memo_t *memo)
{
    int64_t              reply[4];
    unsigned             i;
    tune_herd_t         *herd;
    tune_choice_t        ch;
    tune_herd_claim_t    claims[4];
    tune_choice_req_t    req;
    const tune_image_t  *img;

    herd = tune_herd_init(table, sizeof(table));
    assert_non_null(herd);

    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "100", 100, "" },
                     { "demo", "b", "up", "100", 100, "" },
                 }, 2, 1000);

    /* the fair shares: none for a, 50 for b */
    assert_int_equal(tune_herd_claims(herd, img, T0, W, claims, 4), 2);
    reply[0] = 0;
    reply[1] = T0 / TUNE_HERD_BUCKET_MS;
    reply[2] = 50;
    reply[3] = T0 / TUNE_HERD_BUCKET_MS;
    assert_int_equal(tune_herd_granted(herd, claims, 2, W, T0, reply),
                     TUNE_OK);

    memo_request(&req, herd, memo, T0 + 5);

    for (i = 0; i < 6; i++) {
        req.rnd = i * 0x2aaaaaabu;
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_string_equal(chosen(img, &ch), "b");
    }

    /* the next millisecond's full look reports them */
    req.now_ms = T0 + 6;
    req.peek = 1;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);

    assert_int_equal(tune_herd_claims(herd, img, T0 + 7, W, claims, 4), 1);
    assert_memory_equal(claims[0].redis_key + claims[0].redis_key_len - 2,
                        ":a", 2);

    free(memo);

    return claims[0].want;
}


/*
 * The slot's fair share was whole (Redis said it has room to spare) and is
 * spent: without credits it is still offered, counted by this front-end,
 * and each tune-in asks once for it, from the memory as without it, the
 * draws that found it without credits included.  What the claim wants.
 */
static uint32_t
want_after_plenty_tuneins(tune_choice_memo_t *memo)
{
    int64_t              reply[2];
    unsigned             i;
    tune_herd_t         *herd;
    tune_choice_t        ch;
    tune_herd_claim_t    claims[4];
    tune_choice_req_t    req;
    const tune_image_t  *img;

    herd = tune_herd_init(table, sizeof(table));
    assert_non_null(herd);

    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "100000", 100, "" },
                 }, 1, 1000);

    assert_int_equal(tune_herd_claims(herd, img, T0, W, claims, 4), 1);
    reply[0] = 4096;
    reply[1] = T0 / TUNE_HERD_BUCKET_MS;
    assert_int_equal(tune_herd_granted(herd, claims, 1, W, T0, reply),
                     TUNE_OK);

    for (i = 0; i < 4096; i++) {
        tune_herd_take(herd, img, tune_image_streams(img), 0, T0 + 1, W);
    }

    memo_request(&req, herd, memo, T0 + 5);

    for (i = 0; i < 6; i++) {
        req.rnd = i * 0x2aaaaaabu;
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    }

    req.now_ms = T0 + 6;
    req.peek = 1;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);

    assert_int_equal(tune_herd_claims(herd, img, T0 + 7, W, claims, 4), 1);

    free(memo);

    return claims[0].want;
}


static void
test_memo_asked(void **state)
{
    uint32_t  with, without;

    (void) state;

    without = want_after_dry_tuneins(NULL);
    with = want_after_dry_tuneins(new_memo(1, 2));

    /*
     * Four credits for each tune-in that would have gone there: half of
     * the seven looks, the peek's among them (a has half the room), 3.5
     * rounded up.  Each used to ask for every slot without credits: 4 x 7.
     */
    assert_int_equal(without, 4 * 4);
    assert_int_equal(with, without);

    /* the slot drawn had no credits: its asks are counted once each */
    without = want_after_plenty_tuneins(NULL);
    with = want_after_plenty_tuneins(new_memo(1, 1));

    assert_int_equal(without, 4 * (4096 + 6 + 7));
    assert_int_equal(with, without);
}


/* An image with more slots than the memory has room for is chosen from
 * without it, and a new image in the same millisecond is answered by its
 * own counts */
static void
test_memo_images(void **state)
{
    unsigned             i;
    tune_herd_t         *herd;
    tune_choice_t        ch;
    tune_choice_req_t    req;
    const tune_image_t  *img;
    tune_choice_memo_t  *memo;

    (void) state;

    herd = tune_herd_init(table, sizeof(table));
    assert_non_null(herd);

    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "2", 100, "" },
                     { "demo", "b", "up", "2", 100, "" },
                 }, 2, 1000);

    memo = new_memo(1, 1);
    assert_false(tune_choice_memo_fits(memo, img));
    assert_false(tune_choice_memo_fits(NULL, img));

    memo_request(&req, herd, memo, T0 + 10);

    for (i = 0; i < 4; i++) {
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    }

    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_FULL);

    free(memo);

    /*
     * One image: a has 1 free, b 5; the tune-in takes a's last place, and
     * the memory says a is full.  The next image, in the same millisecond,
     * gives a room again: it is looked at in full, and rnd 0 (the first
     * slot's share) draws a; from the old image's counts it would be b.
     */
    herd = tune_herd_init(table, sizeof(table));
    memo = new_memo(1, 2);
    req.herd = herd;
    req.memo = memo;
    req.rnd = 0;

    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "1", 100, "" },
                     { "demo", "b", "up", "5", 100, "" },
                 }, 2, 1000);
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_string_equal(chosen(img, &ch), "a");

    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "5", 100, "" },
                     { "demo", "b", "up", "5", 100, "" },
                 }, 2, 1000);
    ((tune_image_t *) img)->generation = 2;

    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_string_equal(chosen(img, &ch), "a");

    /*
     * A hand-made image whose stream points past the slot table offers
     * nothing, with the memory as without it (a sanitized build would see
     * a copy of its counts land outside the memory)
     */
    ((tune_image_stream_t *) tune_image_streams(img))->first_slot = 1000000;
    ((tune_image_t *) img)->generation = 3;

    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_NO_SLOT);

    free(memo);
}


/*
 * The slot drawn from the memory has no room left (another worker took x's
 * places since the memory was read, and x is half of what it remembers):
 * the full look must draw afresh.  Drawing with the bits that landed in x's
 * share would send those tune-ins to x's neighbour b and never to c, which
 * has half the room.  2,000 trials with rnd spread evenly: c's part of the
 * tune-ins is about a half (a quarter from the memory, a quarter of the
 * full looks); with the bits reused it is a quarter.
 */
static void
test_memo_fallback_draw(void **state)
{
    unsigned             i, k, to_c;
    tune_herd_t         *herd;
    tune_choice_t        ch;
    tune_choice_req_t    req;
    const tune_image_t  *img;
    tune_choice_memo_t  *memo;

    (void) state;

    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "3", 100, "" },
                     { "demo", "x", "up", "200", 100, "" },
                     { "demo", "b", "up", "98", 100, "" },
                     { "demo", "c", "up", "100", 100, "" },
                 }, 4, 1000);

    memo = new_memo(1, 4);

    for (i = 0, to_c = 0; i < 2000; i++) {
        herd = tune_herd_init(table, sizeof(table));
        assert_non_null(herd);
        tune_choice_memo_init(memo, 1, 4);

        memo_request(&req, herd, memo, T0 + 10);

        /* the full look that fills the memory takes a's first place */
        req.rnd = 0;
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_string_equal(chosen(img, &ch), "a");

        /* another worker takes every place of x */
        for (k = 0; k < 200; k++) {
            tune_herd_take(herd, img, NULL, 1, T0 + 10, W);
        }

        assert_int_equal(pending(herd, img, 1), 200);

        req.rnd = (uint32_t) ((uint64_t) i * 0x100000000ULL / 2000);
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_string_not_equal(chosen(img, &ch), "x");

        to_c += (strcmp(chosen(img, &ch), "c") == 0);
    }

    assert_in_range(to_c, 800, 1200);

    free(memo);
}


/*
 * While the memory is fresh, a peek counts nothing, a ranking is a ranking,
 * a retry never goes back to a slot it tried, and the region is preferred:
 * a has far more room than b, so a draw from the memory that skipped any of
 * these would answer a.
 */
static void
test_memo_requests(void **state)
{
    void                *work;
    unsigned             i;
    tune_herd_t         *herd;
    tune_choice_t        ch;
    tune_choice_req_t    req;
    tune_choice_name_t   tried;
    const tune_image_t  *img;
    tune_choice_memo_t  *memo;

    (void) state;

    herd = tune_herd_init(table, sizeof(table));
    assert_non_null(herd);
    memo = new_memo(1, 2);

    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "100000", 100, "eu" },
                     { "demo", "b", "up", "50", 100, "us" },
                 }, 2, 1000);

    memo_request(&req, herd, memo, T0 + 10);

    /* the full look that fills the memory, then its tune-ins */
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);

    for (i = 0; i < 10; i++) {
        req.rnd = i * 0x19999999u;
        req.region = "us";
        req.region_len = 2;
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_string_equal(chosen(img, &ch), "b");
        req.region = NULL;
        req.region_len = 0;

        tried.data = "a";
        tried.len = 1;
        req.tried = &tried;
        req.ntried = 1;
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_string_equal(chosen(img, &ch), "b");
        req.tried = NULL;
        req.ntried = 0;
    }

    assert_int_equal(pending(herd, img, 1), 20);

    req.peek = 1;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_int_equal(pending(herd, img, 0) + pending(herd, img, 1), 21);
    req.peek = 0;

    req.rank = 1;
    assert_int_equal(choose(img, &req, &ch, &work), TUNE_CHOICE_OK);
    assert_int_equal(ch.nranked, 2);
    free(work);

    free(memo);
}


/* ---- the ranking ----------------------------------------------------- */

static const char *const  web[] = { "http", "https" };


/*
 * A listener sent only to slots of some schemes (an HTTPS tune-in to
 * https:// slots): the others are never drawn, ranked or counted; when
 * they alone have room the outcome says so, and nothing is counted.
 */
static void
test_schemes(void **state)
{
    void                *work;
    unsigned             i;
    uint32_t             rnd;
    tune_herd_t         *herd;
    tune_choice_t        ch;
    tune_choice_req_t    req;
    const tune_image_t  *img;

    (void) state;

    herd = tune_herd_init(table, sizeof(table));
    assert_non_null(herd);

    img = decode_schemes((const spec_t[]) {
                             { "demo", "a", "up", "50", 100, "" },
                             { "demo", "b", "up", "2", 100, "" },
                             { "demo", "c", "up", "50", 100, "" },
                             { "demo", "d", "up", "50", 100, "" },
                             { "demo", "e", "down", "50", 100, "" },
                         }, 5, 1000,
                         (const char *const []) {
                             "http", "https", "rtmp", "https", "https"
                         });

    assert_int_equal(tune_image_slots(img)[0].scheme, TUNE_SCHEME_HTTP);
    assert_int_equal(tune_image_slots(img)[1].scheme, TUNE_SCHEME_HTTPS);
    assert_int_equal(tune_image_slots(img)[2].scheme, TUNE_SCHEME_RTMP);

    request(&req, "demo");
    req.schemes = TUNE_SCHEME_HTTPS;
    req.rank = 1;

    /* any draw: b or d, ranked among themselves only */
    for (rnd = 0; rnd < 0xf0000000u; rnd += 0x08000000u) {
        req.rnd = rnd;
        assert_int_equal(choose(img, &req, &ch, &work), TUNE_CHOICE_OK);
        assert_true(ch.slot == 1 || ch.slot == 3);
        assert_int_equal(ch.nranked, 2);
        assert_int_equal(ch.ranked[1], ch.slot == 1 ? 3 : 1);
        free(work);
    }

    /* the web schemes, as a plain HTTP tune-in: never the rtmp:// slot */
    req.schemes = TUNE_SCHEMES_WEB;
    req.rank = 0;

    for (rnd = 0; rnd < 0xf0000000u; rnd += 0x01000000u) {
        req.rnd = rnd;
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_int_not_equal(ch.slot, 2);
    }

    /* 0: any scheme */
    req.schemes = 0;
    req.rnd = UINT32_MAX / 2;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    assert_int_equal(ch.slot, 2);

    /* counted: the https:// slots fill, then the outcome names the scheme,
     * and the tune-in that got it is not counted anywhere */
    req.schemes = TUNE_SCHEME_HTTPS;
    req.herd = herd;
    req.window = W;
    req.now_ms = T0 + 10;

    for (i = 0; i < 52; i++) {
        req.rnd = i * 0x9e3779b9u;
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
    }

    assert_int_equal(pending(herd, img, 1), 2);
    assert_int_equal(pending(herd, img, 3), 50);

    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OTHER_SCHEME);
    assert_string_equal(ch.reason,
                        "no slot of the listener's scheme has room");
    assert_int_equal(pending(herd, img, 0), 0);
    assert_int_equal(pending(herd, img, 2), 0);

    /* with every slot of every scheme full, it is full */
    req.schemes = 0;

    for (i = 0; i < 100; i++) {
        req.rnd = i * 0x9e3779b9u;
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_true(ch.slot == 0 || ch.slot == 2);
    }

    req.schemes = TUNE_SCHEME_HTTPS;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_FULL);
    assert_string_equal(ch.reason, "every slot is full");

    /* no slot of the scheme is up, one of another has room: other scheme;
     * none of any is up: no slot */
    img = decode_schemes((const spec_t[]) {
                             { "demo", "a", "up", "5", 100, "" },
                             { "demo", "b", "down", "5", 100, "" },
                         }, 2, 1000, web);
    request(&req, "demo");
    req.schemes = TUNE_SCHEME_HTTPS;
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OTHER_SCHEME);

    img = decode_schemes((const spec_t[]) {
                             { "demo", "a", "down", "5", 100, "" },
                             { "demo", "b", "down", "5", 100, "" },
                         }, 2, 1000, web);
    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_NO_SLOT);
}


/*
 * With credits from Redis, a slot without any is marked as asked for by
 * the tune-ins that found it so, and the next claim tops it up: only a
 * slot of a scheme they could be sent to.  HTTPS tune-ins finding the
 * https:// slot dry ask for it, never for the http:// one.
 */
static void
test_schemes_asked(void **state)
{
    int64_t              reply[4];
    unsigned             i;
    tune_herd_t         *herd;
    tune_choice_t        ch;
    tune_herd_claim_t    claims[4];
    tune_choice_req_t    req;
    const tune_image_t  *img;

    (void) state;

    herd = tune_herd_init(table, sizeof(table));
    assert_non_null(herd);

    img = decode_schemes((const spec_t[]) {
                             { "demo", "a", "up", "100", 100, "" },
                             { "demo", "b", "up", "100", 100, "" },
                         }, 2, 1000, web);

    /* no fair share for either: both dry */
    assert_int_equal(tune_herd_claims(herd, img, T0, W, claims, 4), 2);
    reply[0] = 0;
    reply[1] = T0 / TUNE_HERD_BUCKET_MS;
    reply[2] = 0;
    reply[3] = T0 / TUNE_HERD_BUCKET_MS;
    assert_int_equal(tune_herd_granted(herd, claims, 2, W, T0, reply),
                     TUNE_OK);

    request(&req, "demo");
    req.herd = herd;
    req.window = W;
    req.schemes = TUNE_SCHEME_HTTPS;

    for (i = 0; i < 3; i++) {
        req.now_ms = T0 + 5 + i;
        req.rnd = i * 0x2aaaaaabu;
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_FULL);
    }

    /* the https:// slot alone is claimed for */
    assert_int_equal(tune_herd_claims(herd, img, T0 + 10, W, claims, 4), 1);
    assert_memory_equal(claims[0].redis_key + claims[0].redis_key_len - 2,
                        ":b", 2);
}


/* The same through a worker's memory: its draws from counts remembered
 * keep to the schemes asked for too */
static void
test_schemes_memo(void **state)
{
    unsigned             i;
    tune_herd_t         *herd;
    tune_choice_t        ch;
    tune_choice_req_t    req;
    const tune_image_t  *img;
    tune_choice_memo_t  *memo;

    (void) state;

    herd = tune_herd_init(table, sizeof(table));
    assert_non_null(herd);

    img = decode_schemes((const spec_t[]) {
                             { "demo", "a", "up", "500", 100, "" },
                             { "demo", "b", "up", "20", 100, "" },
                         }, 2, 1000, web);

    memo = new_memo(img->nstreams, img->nslots);

    memo_request(&req, herd, memo, T0 + 10);
    req.schemes = TUNE_SCHEME_HTTPS;

    for (i = 0; i < 20; i++) {
        req.rnd = i * 0x9e3779b9u;
        assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OK);
        assert_int_equal(ch.slot, 1);
    }

    assert_int_equal(choose(img, &req, &ch, NULL), TUNE_CHOICE_OTHER_SCHEME);
    assert_int_equal(pending(herd, img, 0), 0);
    assert_int_equal(pending(herd, img, 1), 20);

    free(memo);
}


static void
test_ranked(void **state)
{
    void                *work;
    size_t               plain;
    uint32_t             rnd;
    tune_choice_t        ch;
    tune_choice_req_t    req;
    const tune_image_t  *img;
    tune_choice_name_t   tried;

    (void) state;

    img = decode((const spec_t[]) {
                     { "demo", "a", "up", "300", 100, "" },
                     { "demo", "b", "up", "200", 100, "" },
                     { "demo", "c", "down", "900", 100, "" },
                     { "demo", "d", "up", "100", 100, "" },
                 }, 4, 1000);
    request(&req, "demo");

    assert_int_equal(tune_choose_begin(img, &req, &ch), TUNE_CHOICE_OK);
    plain = ch.work_size;

    req.rank = 1;
    assert_int_equal(tune_choose_begin(img, &req, &ch), TUNE_CHOICE_OK);
    assert_true(ch.work_size >= plain + 4 * sizeof(uint32_t));

    /* the draw first, then the others that are up by score; c never */
    for (rnd = 0; rnd < 0xf0000000u; rnd += 0x08000000u) {
        req.rnd = rnd;
        assert_int_equal(choose(img, &req, &ch, &work), TUNE_CHOICE_OK);
        assert_int_equal(ch.nranked, 3);
        assert_non_null(ch.ranked);
        assert_int_equal(ch.ranked[0], ch.slot);

        switch (ch.slot) {
        case 0:
            assert_int_equal(ch.ranked[1], 1);
            assert_int_equal(ch.ranked[2], 3);
            break;
        case 1:
            assert_int_equal(ch.ranked[1], 0);
            assert_int_equal(ch.ranked[2], 3);
            break;
        case 3:
            assert_int_equal(ch.ranked[1], 0);
            assert_int_equal(ch.ranked[2], 1);
            break;
        default:
            fail_msg("slot %u drawn", ch.slot);
        }

        free(work);
    }

    /* the slots tried are not ranked either */
    tried.data = "a";
    tried.len = 1;
    req.tried = &tried;
    req.ntried = 1;
    req.rnd = 0;

    assert_int_equal(choose(img, &req, &ch, &work), TUNE_CHOICE_OK);
    assert_int_equal(ch.nranked, 2);
    assert_int_equal(ch.ranked[0], 1);
    assert_int_equal(ch.ranked[1], 3);
    free(work);

    /* no slot: no ranking */
    req.tried = (const tune_choice_name_t[]) {
                    { "a", 1 }, { "b", 1 }, { "d", 1 },
                };
    req.ntried = 3;
    assert_int_equal(choose(img, &req, &ch, &work), TUNE_CHOICE_NO_SLOT);
    assert_null(ch.ranked);
    assert_int_equal(ch.nranked, 0);
    free(work);
}


/* A large stream: the work memory holds every slot's entries */
static void
test_large_stream(void **state)
{
    int                  len;
    char                *text;
    void                *work, *buf;
    size_t               i, used, cap, n;
    tune_choice_t        ch;
    tune_decode_err_t    err;
    tune_choice_req_t    req;
    const tune_image_t  *img;
    tune_choice_name_t   tried;

    (void) state;

    n = 1000;
    cap = 100 * n + 128;
    text = malloc(cap);
    assert_non_null(text);

    used = (size_t) snprintf(text, cap, "tuneslot-snapshot\t1\n"
                             "written_ms\t%lld\ninterval_ms\t1000\n",
                             (long long) T0);

    for (i = 0; i < n; i++) {
        len = snprintf(text + used, cap - used,
                       "slot\tbig\tb%zu\tup\t0\t%zu\t%zu\t100\t\t%lld\t"
                       "http://b%zu.example.net/big\n", i, i + 1, i + 1,
                       (long long) T0, i);
        assert_true(len > 0 && (size_t) len < cap - used);
        used += (size_t) len;
    }

    memcpy(text + used, "end\n", 4);
    used += 4;

    cap = TUNE_IMAGE_SIZE_MAX(used);
    buf = aligned_alloc(8, (cap + 7) & ~(size_t) 7);
    assert_non_null(buf);
    assert_int_not_equal(tune_snapshot_decode(text, used, 1, buf, cap, &err),
                         0);
    img = tune_image_get(buf, cap);
    assert_non_null(img);

    request(&req, "big");
    req.rank = 1;
    req.rnd = UINT32_MAX;
    tried.data = "b999";
    tried.len = 4;
    req.tried = &tried;
    req.ntried = 1;

    assert_int_equal(choose(img, &req, &ch, &work), TUNE_CHOICE_OK);
    assert_int_equal(ch.nranked, n - 1);
    assert_int_equal(ch.ranked[0], ch.slot);
    assert_int_equal(ch.ranked[1], ch.slot == 998 ? 997 : 998);
    free(work);

    free(buf);
    free(text);
}


int
main(void)
{
    const struct CMUnitTest  outcome_tests[] = {
        cmocka_unit_test(test_no_snapshot),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_no_slot),
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_region),
    };

    const struct CMUnitTest  tried_tests[] = {
        cmocka_unit_test(test_tried_skipped),
        cmocka_unit_test(test_no_other_slot),
        cmocka_unit_test(test_tried_rest_full),
    };

    const struct CMUnitTest  herd_tests[] = {
        cmocka_unit_test(test_herd_counts),
        cmocka_unit_test(test_peek_not_counted),
        cmocka_unit_test(test_memo_bound),
        cmocka_unit_test(test_memo_asked),
        cmocka_unit_test(test_memo_images),
        cmocka_unit_test(test_memo_requests),
        cmocka_unit_test(test_memo_fallback_draw),
    };

    const struct CMUnitTest  rank_tests[] = {
        cmocka_unit_test(test_ranked),
        cmocka_unit_test(test_schemes),
        cmocka_unit_test(test_schemes_memo),
        cmocka_unit_test(test_schemes_asked),
        cmocka_unit_test(test_large_stream),
    };

    int  failed;

    failed = cmocka_run_group_tests_name("core.choose.outcome", outcome_tests,
                                         NULL, NULL);
    failed += cmocka_run_group_tests_name("core.choose.tried", tried_tests,
                                          NULL, NULL);
    failed += cmocka_run_group_tests_name("core.choose.herd", herd_tests,
                                          NULL, NULL);
    failed += cmocka_run_group_tests_name("core.choose.rank", rank_tests,
                                          NULL, NULL);

    return failed;
}
