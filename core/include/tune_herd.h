/*
 * Herd accounting: the one implementation of the "Herd control" rules of
 * redis/SCHEMA.md, shared by ngx_http_tune_module and mod_tune.
 *
 * Between two poll rounds the snapshot's free counts do not move, so every
 * tune-in a front-end sends to a slot is counted as a reservation there
 * until a poll of that slot taken at least W (the herd window) after it.
 * A front-end (all workers or children of one nginx or Apache) keeps its
 * own reservations in a herd table; across front-ends, the one process
 * that talks to Redis claims credits with redis/herd_claim.lua, and the
 * request path spends credits only, never waiting for Redis.  While Redis
 * does not answer, a front-end keeps to what Redis's last answers left it
 * (redis/SCHEMA.md says when the free count alone bounds instead).
 *
 * The table lives in caller memory (shared memory in both modules) and
 * holds no pointers, so it may be mapped at any address.  Nothing here
 * locks: the caller serialises every call on one table with its own mutex.
 * Times are unix ms of the front-end's wall clock (hosts run NTP); W is
 * in ms, TUNE_HERD_WINDOW_MIN..TUNE_HERD_WINDOW_MAX, or 0 for "herd
 * control off" (then avail is the snapshot's free count and nothing is
 * counted or claimed).
 */

#ifndef TUNE_HERD_H
#define TUNE_HERD_H

#include "tune_contract.h"
#include "tune_snapshot.h"
#include "tune_name.h"

#ifdef __cplusplus
extern "C" {
#endif


/* reservations are counted in buckets of this many ms (the contract's) */
#define TUNE_HERD_BUCKET_MS     100

/* how often the claiming process claims while credits are spent (ms) */
#define TUNE_HERD_TICK_MS       50

/* bounds of W: the window and a snapshot lagging 3 s behind the tune-ins
 * must fit in the buckets a table keeps (80, 8 s) */
#define TUNE_HERD_WINDOW_MIN    100
#define TUNE_HERD_WINDOW_MAX    5000

/* Redis forgets a slot's reservations this long after the last claim */
#define TUNE_HERD_TTL_MS        60000

#define TUNE_HERD_KEY_PREFIX    TUNE_KEY_HERD_PREFIX

/* the longest herd key: prefix, stream, ":", backend */
#define TUNE_HERD_KEY_MAX                                                    \
    (sizeof(TUNE_HERD_KEY_PREFIX) - 1 + TUNE_NAME_MAX + 1 + TUNE_NAME_MAX)

/* a front-end id (ARGV[4] of the script): 1..128 of [A-Za-z0-9._:-] */
#define TUNE_HERD_ID_MAX        128


typedef struct tune_herd_s  tune_herd_t;


/* ---- the table ----------------------------------------------------- */

/* Bytes for a table with room for n slots */
size_t tune_herd_size(size_t n);

/*
 * Makes an empty table in buf (cap bytes, 8-byte aligned), with as many
 * entries as fit; NULL when not even one does.
 */
tune_herd_t *tune_herd_init(void *buf, size_t cap);

/* The table made in buf by tune_herd_init(), or NULL if it is not one */
tune_herd_t *tune_herd_get(void *buf, size_t cap);

/* How many slots the table has room for */
size_t tune_herd_capacity(const tune_herd_t *herd);


/* ---- the request path ---------------------------------------------- */

/*
 * avail[i] for the i-th slot of the stream, for tune_select_opts_t: 0 when
 * this front-end may not send a listener there now (not up, weight 0,
 * full, or, with credits from Redis in use, no credit in hand while Redis
 * may be saying the slot is short; see redis/SCHEMA.md, "Herd control"),
 * else the free count less the tune-ins not yet seen by a poll (at least 1
 * while a credit is in hand), which the draw weighs by; TUNE_UNLIMITED for
 * an unlimited slot.
 */
void tune_herd_avail(tune_herd_t *herd, const tune_image_t *img,
    const tune_image_stream_t *stream, int64_t now, uint32_t window,
    uint32_t *avail);

/*
 * tune_herd_avail() for a look that stands for tuneins tune-ins (at least
 * 1): a host that answered some of them from the counts it remembered
 * (tune_choose.h) reports them here.  A slot without credits is marked as
 * asked for by its part of them, as the draw would have sent them: its
 * free x weight over that of every slot they could go to (a slot with a
 * hundredth of the stream's room is asked for once in a hundred
 * tune-ins, and claims credits then).  Only slots of the schemes the
 * tune-ins may be sent to (TUNE_SCHEME_* bits, 0: any) are marked: credits
 * claimed for the others could never be spent on them.
 */
void tune_herd_avail_for(tune_herd_t *herd, const tune_image_t *img,
    const tune_image_stream_t *stream, int64_t now, uint32_t window,
    uint32_t tuneins, uint32_t schemes, uint32_t *avail);

/*
 * The i-th slot of the stream drawn from counts a host remembered: its
 * avail exactly as tune_herd_avail() would give it now (0 for an i out of
 * range), and, when that is not 0, one tune-in taken there as
 * tune_herd_take() would.  Unlike tune_herd_avail() it marks no slot as
 * asked for: the host reports its tune-ins with its next full look
 * (tune_herd_avail_for()).
 */
uint32_t tune_herd_take_if_room(tune_herd_t *herd, const tune_image_t *img,
    const tune_image_stream_t *stream, uint32_t i, int64_t now,
    uint32_t window);

/*
 * Records one tune-in sent to slot (an index into tune_image_slots(img));
 * stream may be NULL (it is then looked up).  Spends a credit if one is in
 * hand, else the tune-in is reported to Redis as sent without one.
 */
void tune_herd_take(tune_herd_t *herd, const tune_image_t *img,
    const tune_image_stream_t *stream, uint32_t slot, int64_t now,
    uint32_t window);

/* For a status page: this front-end's pending reservations and the
 * credits it holds for the slot; stream may be NULL */
void tune_herd_slot_state(tune_herd_t *herd, const tune_image_t *img,
    const tune_image_stream_t *stream, uint32_t slot, int64_t now,
    uint32_t window, uint32_t *pending, uint32_t *credits);

/* 1 while credits from Redis are in use, 0 while only this front-end's
 * own tune-ins are counted */
int tune_herd_global(const tune_herd_t *herd, int64_t now);


/* ---- the claiming process ------------------------------------------ */

/* One slot's part of a claim, built by tune_herd_claims() */
typedef struct {
    uint32_t          entry;        /* index in the table */
    uint64_t          key;          /* the entry's hash */
    int64_t           polled_ms;
    uint32_t          free;
    uint32_t          want;         /* 0: the fair share */
    uint32_t          back;         /* unspent credits given back */
    int64_t           back_bucket;  /* ... to this bucket */
    uint32_t          debt;         /* tune-ins sent without a credit */
    uint32_t          stock;        /* credits kept meanwhile */
    size_t            redis_key_len;
    char              redis_key[TUNE_HERD_KEY_MAX];
} tune_herd_claim_t;


/*
 * The slots of img that need credits now (spent some since the last claim,
 * found none, or hold a fair share about to expire), at most max; they
 * are marked as claiming until tune_herd_granted(), tune_herd_unclaimed(),
 * tune_herd_takeover() or tune_herd_local().  Returns how many were
 * written to out (0 with W 0).
 */
size_t tune_herd_claims(tune_herd_t *herd, const tune_image_t *img,
    int64_t now, uint32_t window, tune_herd_claim_t *out, size_t max);


/* entries of the argument vector for n claims (tune_herd_args()) */
#define TUNE_HERD_ARGC(n)       (1 + (n) + 4 + 7 * (n))

/* bytes of text buffer that always suffice for n claims */
#define TUNE_HERD_ARGS_BUF(n)   ((5 + 7 * (n)) * 24 + TUNE_HERD_ID_MAX)

/*
 * A front-end's id for the script, into buf (TUNE_HERD_ID_MAX bytes): the
 * host name's bytes the script takes ([A-Za-z0-9._-], others left out, at
 * most 90), ":", the server's kind ("nginx", "apache": at most 16 bytes)
 * and ":", the pid of the process that claims.  Returns its length.
 */
size_t tune_herd_id(char *buf, const char *host, size_t host_len,
    const char *kind, long pid);

/*
 * The script's arguments after EVALSHA sha (or EVAL text): numkeys, the n
 * keys, now, W, the TTL, the front-end id (id_len bytes, see
 * TUNE_HERD_ID_MAX; callers make it of host name and pid), then seven
 * numbers per claim.  argv/argvlen need TUNE_HERD_ARGC(n) entries; the
 * numbers and a copy of id are written to buf (cap bytes, no NULs;
 * TUNE_HERD_ARGS_BUF(n) suffice) and keys point into the claims, which
 * must outlive argv.  Returns the number of arguments written, 0 when buf
 * is too small or id is not a valid one.
 */
size_t tune_herd_args(const tune_herd_claim_t *claims, size_t n, int64_t now,
    uint32_t window, const char *id, size_t id_len, char *buf, size_t cap,
    const char **argv, size_t *argvlen);

/*
 * The script answered: reply[2 * i] credits granted to claims[i] and
 * reply[2 * i + 1] the bucket they were recorded in, each >= 0 (the caller
 * checks the reply's shape; TUNE_ERR_RANGE when a value is negative,
 * nothing applied then).  sent_ms: when the claim was sent.  Credits from
 * Redis are in use for half a window from then.
 */
tune_rc_t tune_herd_granted(tune_herd_t *herd, const tune_herd_claim_t *claims,
    size_t n, uint32_t window, int64_t sent_ms, const int64_t *reply);

/* The claims never reached the script (NOSCRIPT): credits in stock stay,
 * the tune-ins without a credit go with the next claim */
void tune_herd_unclaimed(tune_herd_t *herd, const tune_herd_claim_t *claims,
    size_t n);

/* Another process took over the claiming: claims in flight are not
 * waited for (their credits in stock stay: Redis reserved them; a fair
 * share they gave back goes, and what was spent of it since is reported
 * as sent without a credit) */
void tune_herd_takeover(tune_herd_t *herd);

/* Redis is away or the script failed: drop every credit; each slot is
 * then bounded by what Redis's last answers left this front-end */
void tune_herd_local(tune_herd_t *herd);

/* tune_herd_local() for a claim Redis answered with an error (an ACL, a
 * script error, NOREPLICAS), not one that never got an answer: with polls
 * still coming, Redis is read but refuses the script (redis/SCHEMA.md) */
void tune_herd_refused(tune_herd_t *herd);

/* How many claims Redis refused (tune_herd_refused()) since the table was
 * made: a count that only grows, for status pages and tests */
uint32_t tune_herd_refusals(const tune_herd_t *herd);


/* redis/herd_claim.lua, the one copy of the script; len set to its length */
const char *tune_herd_script(size_t *len);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_HERD_H */
