/*
 * Copyright (C) tuneslot developers
 */


#include "tune_shm.h"
#include "tune_conf.h"

#include "http_core.h"
#include "apr_shm.h"

#include "http_main.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>


/*
 * Changes with the layout of mtune_shm_s, of the herd table's entries
 * (TUNE_HERD_MAGIC) and of the snapshot image's slots (TUNE_IMAGE_MAGIC):
 * children of both generations map the segment.
 */
#define TUNE_SHM_LAYOUT       0x54415035u        /* "TAP5" */

/* the herd table takes this part of the segment, the metrics' counters
 * this one */
#define TUNE_SHM_HERD_SHARE   4
#define TUNE_SHM_METRICS_SHARE  8

#define TUNE_SHM_ALIGN(n)     (((n) + 63) & ~(size_t) 63)

#define TUNE_SHM_RETAINED     "mod_tune: segment"


struct mtune_shm_s {
    uint32_t                  layout;
    uint32_t                  reserved;
    size_t                    size;

    pthread_mutex_t           mutex;          /* process-shared, robust */

    /* the configuration in force: refreshers of older ones give way */
    unsigned                  generation;

    pid_t                     refresher;      /* lease holder, 0: none */
    unsigned                  refresher_generation;   /* its configuration */
    int64_t                   lease_until;    /* mtune_mono_ms() */

    /* an image is being copied in: a holder that dies now leaves half */
    int                       installing;

    mtune_state_t             state;

    size_t                    herd_off;
    size_t                    herd_cap;
    size_t                    metrics_off;
    size_t                    metrics_cap;
    size_t                    image_off;
    size_t                    image_cap;
};


/* kept across restarts in the process pool */
typedef struct {
    apr_shm_t                *shm;
    apr_size_t                size;
} mtune_shm_retained_t;


static mtune_shm_t *mtune_shm;


static apr_status_t mtune_shm_init(mtune_shm_t *shm, size_t size);
static size_t mtune_shm_total(size_t size);
static void mtune_shm_carry(mtune_shm_t *shm, mtune_shm_t *old);
static int mtune_shm_alive(pid_t pid);


apr_status_t
mtune_shm_setup(server_rec *s, apr_off_t size, mtune_shm_t **out)
{
    apr_shm_t            *old;
    mtune_shm_t          *shm, *prev;
    apr_status_t          rv;
    mtune_shm_retained_t *kept;

    kept = ap_retained_data_get(TUNE_SHM_RETAINED);
    if (kept == NULL) {
        kept = ap_retained_data_create(TUNE_SHM_RETAINED, sizeof(*kept));
    }

    old = NULL;

    if (kept->shm) {
        prev = apr_shm_baseaddr_get(kept->shm);

        if (prev->layout == TUNE_SHM_LAYOUT
            && kept->size == (apr_size_t) size)
        {
            goto found;
        }

        /*
         * A new size, or a segment of another build of the module (a
         * graceful restart after an upgrade): a new segment.  Children of
         * the old generation keep their own mapping of the old one.
         */
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "tune: new shared memory of %" APR_OFF_T_FMT " bytes "
                     "(was %" APR_SIZE_T_FMT "%s)", size, kept->size,
                     prev->layout == TUNE_SHM_LAYOUT
                         ? "" : ", of another layout");
        old = kept->shm;
        kept->shm = NULL;
    }

    /* anonymous: inherited by every child fork()ed from now on */
    /* the metrics' counters come on top of TuneSharedMemory, so the image
     * and the herd table have what they had before there were any */
    rv = apr_shm_create(&kept->shm, mtune_shm_total((apr_size_t) size), NULL,
                        s->process->pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     "tune: could not create %" APR_OFF_T_FMT " bytes of "
                     "shared memory", size);
        kept->shm = old;
        return rv;
    }

    kept->size = (apr_size_t) size;

    rv = mtune_shm_init(apr_shm_baseaddr_get(kept->shm), kept->size);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     "tune: could not set up the shared memory's lock");
        apr_shm_destroy(kept->shm);
        kept->shm = old;
        return rv;
    }

    if (old) {
        mtune_shm_carry(apr_shm_baseaddr_get(kept->shm),
                        apr_shm_baseaddr_get(old));
        apr_shm_destroy(old);
    }

found:

    shm = apr_shm_baseaddr_get(kept->shm);

    mtune_shm_lock(shm);
    shm->generation = (unsigned) ap_state_query(AP_SQ_CONFIG_GEN);
    mtune_shm_unlock(shm);

    mtune_shm = shm;
    *out = shm;

    return APR_SUCCESS;
}


/*
 * A resized segment starts with the image of the old one (when it fits),
 * so the children of the new generation answer at once rather than 503
 * until the next refresh, and its counters.  The herd table starts empty:
 * its slots are placed by the table's size.
 */

static void
mtune_shm_carry(mtune_shm_t *shm, mtune_shm_t *old)
{
    const tune_image_t  *img;

    if (old->layout != TUNE_SHM_LAYOUT) {
        return;
    }

    mtune_shm_lock(old);

    img = mtune_shm_image(old);

    if (img && img->size <= shm->image_cap) {
        memcpy((char *) shm + shm->image_off, img, img->size);
        shm->state = old->state;
    }

    /*
     * The counts go on (a counter never goes back while Prometheus reads
     * it), series by series: the old generation's children may be adding
     * to the old table meanwhile, lock-free, and what they add after this
     * stays there (a tune-in logged then by a child of the old generation,
     * a proxied listener leaving, say, is not counted in the new table).
     */
    if (mtune_shm_metrics(old) && mtune_shm_metrics(shm)) {
        tune_metrics_merge(mtune_shm_metrics(shm), mtune_shm_metrics(old));
    }

    mtune_shm_unlock(old);
}


mtune_shm_t *
mtune_shm_current(void)
{
    return mtune_shm;
}


/* the segment for TuneSharedMemory size: that, and the counters' part */
static size_t
mtune_shm_total(size_t size)
{
    return size + TUNE_SHM_ALIGN(size / TUNE_SHM_METRICS_SHARE);
}


static apr_status_t
mtune_shm_init(mtune_shm_t *shm, size_t size)
{
    int                   err;
    size_t                header, herd, metrics;
    pthread_mutexattr_t   attr;

    memset(shm, 0, sizeof(mtune_shm_t));

    header = TUNE_SHM_ALIGN(sizeof(mtune_shm_t));
    herd = TUNE_SHM_ALIGN(size / TUNE_SHM_HERD_SHARE);
    metrics = TUNE_SHM_ALIGN(size / TUNE_SHM_METRICS_SHARE);

    if (header + herd + 4096 > size) {
        return APR_ENOMEM;
    }

    /* size is TuneSharedMemory's; the segment is larger by the counters */
    size = mtune_shm_total(size);

    shm->layout = TUNE_SHM_LAYOUT;
    shm->size = size;
    shm->herd_off = header;
    shm->herd_cap = herd;
    shm->metrics_off = header + herd;
    shm->metrics_cap = metrics;
    shm->image_off = header + herd + metrics;
    shm->image_cap = (size - shm->image_off) & ~(size_t) 7;

    if (tune_herd_init((char *) shm + shm->herd_off, shm->herd_cap) == NULL
        || tune_metrics_init((char *) shm + shm->metrics_off,
                             shm->metrics_cap) == NULL)
    {
        return APR_ENOMEM;
    }

    /*
     * Robust: a child killed while holding the lock (a crash, SIGKILL of a
     * hung child) must not stop every other process.
     */
    err = pthread_mutexattr_init(&attr);
    if (err == 0) {
        err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    }

    if (err == 0) {
        err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    }

    if (err == 0) {
        err = pthread_mutex_init(&shm->mutex, &attr);
    }

    pthread_mutexattr_destroy(&attr);

    return err;
}


void
mtune_shm_lock(mtune_shm_t *shm)
{
    int  err, half;

    err = pthread_mutex_lock(&shm->mutex);

    if (err == EOWNERDEAD) {
        /*
         * The holder died holding the lock (a crashed or killed child).
         * The herd counts are at worst one tune-in off; an image copy cut
         * short goes, and the next refresh installs it again.
         */
        half = shm->installing;

        if (half) {
            memset((char *) shm + shm->image_off, 0, sizeof(tune_image_t));
            shm->state.installed_mono = 0;
            shm->installing = 0;
        }

        pthread_mutex_consistent(&shm->mutex);

        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     "tune: a process died holding the shared memory's "
                     "lock; %s", half ? "the snapshot is read again"
                                      : "carrying on");
    }
}


void
mtune_shm_unlock(mtune_shm_t *shm)
{
    pthread_mutex_unlock(&shm->mutex);
}


const tune_image_t *
mtune_shm_image(mtune_shm_t *shm)
{
    return tune_image_get((char *) shm + shm->image_off, shm->image_cap);
}


tune_herd_t *
mtune_shm_herd(mtune_shm_t *shm)
{
    return tune_herd_get((char *) shm + shm->herd_off, shm->herd_cap);
}


tune_metrics_t *
mtune_shm_metrics(mtune_shm_t *shm)
{
    return tune_metrics_get((char *) shm + shm->metrics_off, shm->metrics_cap);
}


mtune_state_t *
mtune_shm_state(mtune_shm_t *shm)
{
    return &shm->state;
}


int64_t
mtune_shm_age(mtune_shm_t *shm, int64_t now_mono)
{
    int64_t  age;

    age = now_mono - shm->state.installed_mono;

    return age > 0 ? age : 0;
}


pid_t
mtune_shm_refresher(mtune_shm_t *shm)
{
    return shm->refresher;
}


apr_status_t
mtune_shm_lease(mtune_shm_t *shm, unsigned generation, int64_t now_mono,
    int64_t lease, int *took)
{
    pid_t         pid;
    apr_status_t  rv;

    pid = getpid();
    *took = 0;

    mtune_shm_lock(shm);

    /*
     * After a graceful restart the holder, of the older configuration,
     * keeps the lease (and the credits coming) until a child of the new one
     * takes it over, which it does at its first look rather than waiting
     * for the lease to run out: a gap between the two would leave the
     * children answering on credits that run dry under load.  The old
     * holder sees the loss before its next command.  A child of an older
     * configuration never takes the lease anew.
     */
    if (shm->refresher != pid) {

        if (generation < shm->generation) {
            rv = APR_EGENERAL;
            goto done;
        }

        if (shm->refresher != 0
            && shm->refresher_generation >= shm->generation
            && shm->lease_until > now_mono
            && mtune_shm_alive(shm->refresher))
        {
            rv = APR_EBUSY;
            goto done;
        }

        shm->refresher = pid;
        shm->refresher_generation = generation;
        *took = 1;
    }

    shm->lease_until = now_mono + lease;
    rv = APR_SUCCESS;

done:

    mtune_shm_unlock(shm);

    return rv;
}


void
mtune_shm_release(mtune_shm_t *shm)
{
    mtune_shm_lock(shm);

    if (shm->refresher == getpid()) {
        shm->refresher = 0;
        shm->lease_until = 0;
    }

    mtune_shm_unlock(shm);
}


uint64_t
mtune_shm_generation(mtune_shm_t *shm)
{
    uint64_t             generation;
    const tune_image_t  *img;

    mtune_shm_lock(shm);

    img = mtune_shm_image(shm);
    generation = img ? img->generation : 0;

    mtune_shm_unlock(shm);

    return generation;
}


size_t
mtune_shm_image_cap(mtune_shm_t *shm)
{
    return shm->image_cap;
}


apr_status_t
mtune_shm_install(mtune_shm_t *shm, const void *img, size_t size)
{
    int64_t              now, age;
    const tune_image_t  *held, *fresh;

    if (size > shm->image_cap) {
        return APR_ENOSPC;
    }

    fresh = img;

    mtune_shm_lock(shm);

    if (shm->refresher != getpid()) {
        mtune_shm_unlock(shm);
        return APR_EBUSY;
    }

    held = mtune_shm_image(shm);
    now = mtune_mono_ms();

    if (held == NULL || shm->state.installed_mono == 0) {
        /* the first after a start: as old as the scheduler wrote it */
        age = mtune_wall_ms() - fresh->written_ms;
        shm->state.installed_mono = now - (age > 0 ? age : 0);

    } else if (held->generation != fresh->generation) {
        shm->state.installed_mono = now;
    }

    shm->installing = 1;
    memcpy((char *) shm + shm->image_off, img, size);
    shm->installing = 0;

    mtune_shm_unlock(shm);

    return APR_SUCCESS;
}


void
mtune_shm_allow(mtune_shm_t *shm, const tune_allow_t *prefixes, size_t n)
{
    mtune_shm_lock(shm);

    /* no image: nothing is marked */
    (void) tune_image_allow((char *) shm + shm->image_off, shm->image_cap,
                            prefixes, n, NULL);

    mtune_shm_unlock(shm);
}


void
mtune_shm_contact(mtune_shm_t *shm, int connected, const char *error)
{
    mtune_state_t *st;

    mtune_shm_lock(shm);

    /* a child that lost the lease has no say on the holder's connection */
    if (shm->refresher != getpid()) {
        mtune_shm_unlock(shm);
        return;
    }

    st = &shm->state;
    st->connected = connected;

    if (error == NULL) {
        st->reply_mono = mtune_mono_ms();
        st->reply_ms = mtune_wall_ms();
        st->failures = 0;

    } else {
        st->failures++;
        apr_cpystrn(st->error, error, sizeof(st->error));
    }

    st->outage = (error != NULL);

    mtune_shm_unlock(shm);
}


/*
 * A lease holder that exited without giving the lease back (a crash, a
 * SIGKILL) is not waited for until the lease runs out.  A zombie, not yet
 * reaped by the parent, is as dead as a pid that is gone.
 */

static int
mtune_shm_alive(pid_t pid)
{
    int   fd;
    char  path[64], buf[128], *p;
    ssize_t  n;

    if (kill(pid, 0) != 0 && errno != EPERM) {
        return 0;
    }

    apr_snprintf(path, sizeof(path), "/proc/%" APR_PID_T_FMT "/stat", pid);

    fd = open(path, O_RDONLY);
    if (fd < 0) {
        return 1;
    }

    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);

    if (n <= 0) {
        return 1;
    }

    buf[n] = '\0';

    /* "pid (comm) S ...": the state follows the last ')' */
    p = strrchr(buf, ')');

    return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}
