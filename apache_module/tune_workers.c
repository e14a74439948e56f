/*
 * Copyright (C) tuneslot developers
 *
 * The workers of this httpd for TuneProxyReserve, read from the MPM's
 * limits and the scoreboard the way mod_status counts them: a worker is
 * busy when it serves a request (reading, writing, keep-alive, logging,
 * closing), idle when SERVER_READY, and a slot that is DEAD, STARTING or
 * IDLE_KILL serves nothing.  What a worker of a process going down
 * gracefully (an old generation after a restart, or a surplus child)
 * costs depends on the MPM, as httpd 2.4's prefork.c, worker.c and event.c
 * count them:
 *
 *   prefork   A graceful restart marks every live child SERVER_GRACEFUL,
 *             busy ones too, and a child streaming to a listener keeps that
 *             status until its connection ends.  New children start only
 *             in SERVER_DEAD slots, so a graceful child is busy here: it
 *             holds one of the MaxRequestWorkers slots.
 *
 *   worker    A quiescing process keeps its scoreboard slot, and a new
 *             process may take that slot but only its thread entries that
 *             are DEAD or GRACEFUL (threads gone): the busy threads of a
 *             quiescing process count against MaxRequestWorkers as any.
 *
 *   event     Only processes not quiescing count against MaxRequestWorkers
 *             (MaxRequestWorkers / ThreadsPerChild of them), and a new one
 *             starts only in a slot no process holds: quiescing processes
 *             are not walked, but their slots are not free, and the
 *             capacity is what the active processes have and the free
 *             slots still let start (httpd logs "scoreboard is full" when
 *             old generations fill ServerLimit).
 *
 * Under prefork and worker only the MPM's first MaxRequestWorkers slots
 * (processes) are walked: its maintenance never starts a process beyond
 * them.  The cost is a walk of those processes times ThreadsPerChild
 * status bytes, less for processes not running; it stops as soon as the
 * count reaches the limit the caller gives.  Nothing is locked: the
 * scoreboard is read as mod_status reads it, a count that may be a request
 * or two behind.
 */


#define MTUNE_RESERVE_HTTPD
#include "tune_reserve.h"
#include "mod_tune.h"

#include "ap_mpm.h"
#include "scoreboard.h"


/* how the MPM runs its workers, from ap_mpm_query() */
typedef enum {
    MTUNE_MPM_PROCESSES = 0,        /* one worker a process: prefork */
    MTUNE_MPM_THREADS,              /* threads, one a connection: worker */
    MTUNE_MPM_ASYNC                 /* threads, idle connections without
                                       one: event */
} mtune_mpm_e;


typedef struct {
    mtune_mpm_e               kind;
    int                       server_limit;  /* scoreboard slots */
    int                       daemons;       /* processes it may run */
    int                       threads;       /* ThreadsPerChild */
} mtune_mpm_t;


static apr_status_t mtune_workers_mpm(mtune_mpm_t *mpm);
static int mtune_workers_counted(const mtune_mpm_t *mpm, int status);


apr_status_t
mtune_workers_capacity(mtune_workers_t *w)
{
    int             i;
    uint32_t        active, free_slots;
    mtune_mpm_t     mpm;
    process_score  *ps;

    if (mtune_workers_mpm(&mpm) != APR_SUCCESS) {
        return APR_ENOTIMPL;
    }

    w->max = (uint32_t) mpm.daemons * (uint32_t) mpm.threads;
    w->capacity = w->max;

    if (mpm.kind != MTUNE_MPM_ASYNC) {
        return APR_SUCCESS;
    }

    active = 0;
    free_slots = 0;

    for (i = 0; i < mpm.server_limit; i++) {
        ps = ap_get_scoreboard_process(i);

        if (ps == NULL || ps->pid == 0) {
            free_slots++;

        } else if (!ps->quiescing) {
            active++;
        }
    }

    w->capacity = mtune_reserve_obtainable(active, (uint32_t) mpm.daemons,
                                           free_slots,
                                           (uint32_t) mpm.threads);

    return APR_SUCCESS;
}


apr_status_t
mtune_workers_busy(uint32_t limit, uint32_t *busy)
{
    int             i, j, processes;
    uint32_t        n;
    mtune_mpm_t     mpm;
    worker_score   *ws;
    process_score  *ps;

    if (mtune_workers_mpm(&mpm) != APR_SUCCESS) {
        return APR_ENOTIMPL;
    }

    /* prefork and worker start processes in their first slots only */
    processes = (mpm.kind == MTUNE_MPM_ASYNC) ? mpm.server_limit
                                              : mpm.daemons;

    n = 0;

    for (i = 0; i < processes && n < limit; i++) {
        ps = ap_get_scoreboard_process(i);

        /*
         * The workers' own statuses say who is busy, whatever the slot's
         * pid: prefork's parent writes a child's pid only once fork()
         * returns to it, and the child may be serving by then (a listener
         * went uncounted that way under ASan on a loaded machine).  A
         * process that is gone has its workers marked dead by the parent.
         */
        if (ps != NULL && ps->pid != 0 && ps->quiescing
            && mpm.kind == MTUNE_MPM_ASYNC)
        {
            continue;
        }

        for (j = 0; j < mpm.threads; j++) {
            ws = ap_get_scoreboard_worker_from_indexes(i, j);

            if (ws != NULL && mtune_workers_counted(&mpm, ws->status)) {
                n++;
            }
        }
    }

    *busy = n;

    return APR_SUCCESS;
}


static apr_status_t
mtune_workers_mpm(mtune_mpm_t *mpm)
{
    int  threaded, async, thread_limit;

    if (!ap_exists_scoreboard_image()
        || ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) != APR_SUCCESS
        || ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &mpm->server_limit)
           != APR_SUCCESS
        || ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &thread_limit)
           != APR_SUCCESS
        || ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &mpm->daemons) != APR_SUCCESS
        || ap_mpm_query(AP_MPMQ_MAX_THREADS, &mpm->threads) != APR_SUCCESS
        || mpm->daemons <= 0 || mpm->server_limit <= 0)
    {
        return APR_ENOTIMPL;
    }

    if (threaded == AP_MPMQ_NOT_SUPPORTED) {
        mpm->kind = MTUNE_MPM_PROCESSES;

    } else if (ap_mpm_query(AP_MPMQ_IS_ASYNC, &async) == APR_SUCCESS
               && async)
    {
        mpm->kind = MTUNE_MPM_ASYNC;

    } else {
        mpm->kind = MTUNE_MPM_THREADS;
    }

    /* prefork answers 1 thread; an MPM without threads may answer 0.  The
     * scoreboard has thread_limit entries per process; the threads of a
     * running process are its first ThreadsPerChild */
    if (mpm->threads <= 0) {
        mpm->threads = 1;
    }

    if (thread_limit > 0 && mpm->threads > thread_limit) {
        mpm->threads = thread_limit;
    }

    if (mpm->daemons > mpm->server_limit) {
        mpm->daemons = mpm->server_limit;
    }

    return APR_SUCCESS;
}


/*
 * Whether a worker of that status holds one of the workers the MPM may run:
 * SERVER_GRACEFUL is a thread gone under worker and event (a new process
 * starts one in its place), but under prefork a child finishing its
 * connection after a graceful restart.
 */

static int
mtune_workers_counted(const mtune_mpm_t *mpm, int status)
{
    switch (status) {
    case SERVER_DEAD:
    case SERVER_STARTING:
    case SERVER_READY:
    case SERVER_IDLE_KILL:
        return 0;

    case SERVER_GRACEFUL:
        return mpm->kind == MTUNE_MPM_PROCESSES;

    default:
        return 1;
    }
}
