/*
 * Copyright (C) tuneslot developers
 *
 * The segment every child process (and thread) of one Apache shares: the
 * refresh lease, what the refresher last saw of Redis, the herd table
 * (core/include/tune_herd.h) and the decoded snapshot image
 * (core/include/tune_snapshot.h), under one process-shared mutex.
 *
 * It is made once by the parent and kept across graceful restarts (it
 * lives in the process pool, found again through ap_retained_data), so new
 * children find the snapshot and the herd counts of the old ones.
 */

#ifndef MTUNE_SHM_H
#define MTUNE_SHM_H


#include "mod_tune.h"

#include <tune_allow.h>
#include <tune_snapshot.h>
#include <tune_herd.h>
#include <tune_metrics.h>


#define TUNE_ERROR_LEN   64


/* What the refresher last saw of Redis, for tune-status */
typedef struct {
    int                       connected;      /* and authenticated */
    int64_t                   reply_mono;     /* last good reply; 0: none */
    int64_t                   reply_ms;       /* ... by the wall clock */
    uint32_t                  failures;       /* since the last good reply */
    int                       outage;         /* told of it already */

    /*
     * When the generation held last changed (mtune_mono_ms()).  The first
     * image installed in a new segment is set back by its age by the wall
     * clock, so a snapshot that stopped changing an hour ago is not taken
     * as fresh after a start.  0 with no image.
     */
    int64_t                   installed_mono;

    /* the last failure, static or short copied text, never a credential */
    char                      error[TUNE_ERROR_LEN];
} mtune_state_t;


typedef struct mtune_shm_s  mtune_shm_t;


/*
 * In post_config: the segment of the size configured, made or found again
 * (a new one if the size changed).  The generation of this configuration
 * is recorded, so children of the new one take the lease over at once.
 */
apr_status_t mtune_shm_setup(server_rec *s, apr_off_t size, mtune_shm_t **shm);

/* The segment of this process, NULL before post_config */
mtune_shm_t *mtune_shm_current(void);

/*
 * Locks the segment.  When the process that held the lock died holding it
 * (a child killed mid-request), the lock is taken over and the image is
 * dropped, since it may be half written; the next refresh installs it
 * again.
 */
void mtune_shm_lock(mtune_shm_t *shm);
void mtune_shm_unlock(mtune_shm_t *shm);


/* ---- with the lock held ------------------------------------------ */

/* The image held, or NULL */
const tune_image_t *mtune_shm_image(mtune_shm_t *shm);
tune_herd_t *mtune_shm_herd(mtune_shm_t *shm);
tune_metrics_t *mtune_shm_metrics(mtune_shm_t *shm);

/* What tune-status shows and tune-metrics' gauges read, pointing into the
 * segment, for r's location: the segment locked (tune_status.c) */
void mtune_status_in(request_rec *r, mtune_shm_t *shm, tune_status_in_t *in,
    tune_status_redis_t *redis);
mtune_state_t *mtune_shm_state(mtune_shm_t *shm);

/* How long the snapshot held has not changed, ms */
int64_t mtune_shm_age(mtune_shm_t *shm, int64_t now_mono);

/* The holder of the refresh lease (0: none) */
pid_t mtune_shm_refresher(mtune_shm_t *shm);


/* ---- the refresher (these take the lock) ------------------------ */

/*
 * Takes or renews the refresh lease for this process until now + lease;
 * APR_SUCCESS when this process holds it, APR_EBUSY when another live one
 * of the configuration in force does, APR_EGENERAL when this process does
 * not hold it and its configuration is older than the one in force (a child
 * finishing its requests after a graceful restart: it keeps a lease it
 * holds until a child of the new configuration takes it, and never takes
 * one).  *took is set to 1 when the lease changed hands to this process.
 */
apr_status_t mtune_shm_lease(mtune_shm_t *shm, unsigned generation,
    int64_t now_mono, int64_t lease, int *took);
void mtune_shm_release(mtune_shm_t *shm);

/* The generation of the image held, 0 when none */
uint64_t mtune_shm_generation(mtune_shm_t *shm);

/* Bytes an image may take */
size_t mtune_shm_image_cap(mtune_shm_t *shm);

/* Installs a decoded image of size bytes; APR_EBUSY unless this process
 * still holds the lease */
apr_status_t mtune_shm_install(mtune_shm_t *shm, const void *img, size_t size);

/*
 * Marks the image held by a new configuration's TuneAllow (n prefixes),
 * so an image kept across a restart is offered by the list in force.
 */
void mtune_shm_allow(mtune_shm_t *shm, const tune_allow_t *prefixes, size_t n);

/*
 * A contact with Redis: error NULL for a good reply, else what failed.  An
 * outage is recorded (state->outage) from the first failure to the next
 * good reply, so that a child taking the lead meanwhile does not tell of
 * it again.  Recorded for the lease holder only.
 */
void mtune_shm_contact(mtune_shm_t *shm, int connected, const char *error);


#endif /* MTUNE_SHM_H */
