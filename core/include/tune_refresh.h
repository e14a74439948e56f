/*
 * The front-end's refresher, as a machine without I/O: the one copy, for
 * both modules, of what keeps a front-end's snapshot current and its herd
 * credits claimed (redis/SCHEMA.md, "Reading" and "Herd control").
 *
 * On top of a link (tune_link.h: connect, hello, deadlines, backoff) it
 * reads the generation every refresh interval, looks at the snapshot's
 * size before fetching it (STRLEN), fetches generation and text together
 * (MGET), decodes and checks the text (tune_snapshot.h, tune_allow.h) into
 * the host's scratch buffer and asks the host to install it; it rejects
 * what it cannot install once per generation and logs it once until an
 * install; and every TUNE_HERD_TICK_MS it asks the host for the herd
 * claims due, sends them to redis/herd_claim.lua and hands the grants
 * back.
 *
 * Only the process holding the host's refresh lease runs it
 * (tune_refresh_lead(), tune_refresh_resign()); the others keep a machine
 * that waits.  The host runs it as it runs a link: tune_refresh_next()
 * says what to do, the host does it and reports back.  Every TUNE_DO_HERD
 * is carried out by calling tune_refresh_herd() with the herd table
 * locked; every TUNE_DO_INSTALL is answered with tune_refresh_installed().
 *
 * At most one command of the refresh and one of the herd claims are in
 * flight at a time; nothing is sent before the hello is done.
 */

#ifndef TUNE_REFRESH_H
#define TUNE_REFRESH_H

#include "tune_link.h"
#include "tune_allow.h"
#include "tune_herd.h"

#ifdef __cplusplus
extern "C" {
#endif


/* slots in one herd claim, at most; more wait for the next tick */
#define TUNE_REFRESH_CLAIM_MAX   256


/* reconnects back off up to this, ms (or the refresh interval, if longer) */
#define TUNE_REFRESH_BACKOFF_MAX 5000

/* snapshot intervals (or refresh intervals, if longer) without a new
 * generation after which, with Sentinels, the master is asked for again: a
 * failover the connection did not notice (a partitioned old master) */
#define TUNE_REFRESH_STILL       3


typedef struct {
    /*
     * The connection.  The refresher keeps its own copy of all this, and
     * fills in what a front-end does not choose: link.script (the herd
     * script, loaded when herd control is on), the backoff (from the
     * refresh interval up to TUNE_REFRESH_BACKOFF_MAX) and link.effect
     * (tune-ins are answered from the last snapshot).
     */
    tune_link_conf_t          link;

    int64_t                   refresh_ms;    /* how often to look */
    uint32_t                  herd_window_ms;   /* 0: herd control off */

    /* this front-end's id for the claim script (TUNE_HERD_ID_MAX) */
    const char               *herd_id;
    size_t                    herd_id_len;

    /* no URL outside these prefixes is ever offered (tune_allow.h) */
    const tune_allow_t       *allow;
    size_t                    nallow;

    /* for log lines: the directive sizing the image space, the one of the
     * allowlist, and what the host is ("nginx": "this nginx's tune-ins") */
    const char               *zone_directive;
    const char               *allow_directive;
    const char               *host_name;
} tune_refresh_conf_t;


/* the herd claim's memory, needed while leading with herd control on */
typedef struct {
    tune_herd_claim_t         claims[TUNE_REFRESH_CLAIM_MAX];
    int64_t                   granted[2 * TUNE_REFRESH_CLAIM_MAX];
    const char               *argv[2 + TUNE_HERD_ARGC(TUNE_REFRESH_CLAIM_MAX)];
    size_t                    argvlen[2 + TUNE_HERD_ARGC(TUNE_REFRESH_CLAIM_MAX)];
    char                      args[TUNE_HERD_ARGS_BUF(TUNE_REFRESH_CLAIM_MAX)];
} tune_refresh_work_t;


/* what a reply in flight answers */
typedef enum {
    TUNE_REFRESH_FOR_READ = 1,   /* GET, STRLEN or MGET */
    TUNE_REFRESH_FOR_CLAIM,      /* the herd script */
    TUNE_REFRESH_FOR_SCRIPT      /* SCRIPT LOAD again, after NOSCRIPT */
} tune_refresh_for_t;


/*
 * The machine; its fields are its own, in caller memory.  It points into
 * itself (its link reads its copy of the configuration): it is not to be
 * copied or moved once initialised.
 */
typedef struct {
    tune_refresh_conf_t       conf;
    tune_link_t               link;

    unsigned                  leading:1;
    unsigned                  refetch:1;     /* whatever the generation */
    unsigned                  empty_logged:1;
    unsigned                  reject_logged:1;  /* since the last install */
    unsigned                  herd_logged:1;
    unsigned                  install_owed:1;   /* INSTALL not yet asked */
    unsigned                  installing:1;     /* ... and not answered */
    unsigned                  reload_script:1;  /* SCRIPT LOAD owed */

    unsigned                  read;          /* the read's next step */
    unsigned                  claim;         /* the claim's state */
    unsigned                  herd_ops;      /* TUNE_DO_HERD owed */

    tune_refresh_for_t        fifo[4];       /* replies awaited, in order */
    unsigned                  nfifo;

    unsigned                  connects;      /* the link's, as last seen */
    unsigned                  drops;

    int64_t                   next_read;
    int64_t                   next_claim;

    uint64_t                  held;          /* the generation installed */
    /* the generation Redis last gave (0: none), since when, and the
     * snapshots' interval: with Sentinels, one that stands still for
     * TUNE_REFRESH_STILL intervals makes the link ask them again */
    uint64_t                  seen;
    int64_t                   seen_since;
    int64_t                   interval_ms;
    uint64_t                  bad_generation;   /* rejected, not refetched */
    uint64_t                  fetching;
    uint64_t                  refused_digest;   /* of the last warned */
    int64_t                   refused_at;
    uint32_t                  refused;
    uint32_t                  refused_first;

    uint64_t                  install_generation;
    size_t                    install_size;

    void                     *scratch;       /* the decoded image */
    size_t                    scratch_cap;
    tune_refresh_work_t      *work;
    size_t                    nclaims;
    int64_t                   claim_sent_ms;
    size_t                    claim_argc;

    const char               *argv[3];       /* GET, STRLEN, MGET, SCRIPT */
    size_t                    argvlen[3];
} tune_refresh_t;


/* A machine that waits (conf is copied) */
void tune_refresh_init(tune_refresh_t *rf, const tune_refresh_conf_t *conf);

/*
 * The memory a leader needs, allocated by the process that leads only (a
 * prefork Apache has hundreds of children that never do): room to decode
 * an image of image_cap bytes (the host's image capacity) and, with herd
 * control on, the claim's.
 */
size_t tune_refresh_memory(const tune_refresh_t *rf, size_t image_cap);

/*
 * This process took the refresh lease: it connects, reads and claims from
 * now on.  held: the generation installed now (0: none); mem:
 * tune_refresh_memory() bytes, 8-byte aligned, used until the resign.
 * Herd claims of an earlier holder will never be answered: a TUNE_DO_HERD
 * follows that forgets them.
 */
void tune_refresh_lead(tune_refresh_t *rf, int64_t now, uint64_t held,
    void *mem, size_t image_cap);

/*
 * The lease is lost or the process stops: a CLOSE follows if a connection
 * is open, then the machine waits; scratch and work are no longer used.
 * Claims in flight are left for the next holder's takeover.
 */
void tune_refresh_resign(tune_refresh_t *rf);

int tune_refresh_leading(const tune_refresh_t *rf);

/* What to do next (tune_link_next(), and INSTALL and HERD) */
tune_do_t tune_refresh_next(tune_refresh_t *rf, int64_t now,
    tune_action_t *act);

void tune_refresh_connected(tune_refresh_t *rf, int64_t now);
void tune_refresh_dropped(tune_refresh_t *rf, int64_t now,
    const char *reason);
void tune_refresh_reply(tune_refresh_t *rf, int64_t now,
    const tune_reply_t *reply);

/* the INSTALL asked for was done (1), or not: the lease was lost (0) */
void tune_refresh_installed(tune_refresh_t *rf, int64_t now, int ok);

/*
 * Carries out the TUNE_DO_HERD asked for, on the host's herd table
 * (locked by the host; NULL when there is none, or when the host finds,
 * under that lock, that it no longer holds the lease: the table is the
 * new holder's then, and the host resigns) and the image installed (NULL:
 * none); wall_ms: the host's wall clock, as herd times are.
 */
void tune_refresh_herd(tune_refresh_t *rf, tune_herd_t *herd,
    const tune_image_t *img, int64_t wall_ms);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_REFRESH_H */
