/*
 * Copyright (C) tuneslot developers
 *
 * The workers of this httpd for TuneProxyReserve, read from the MPM's
 * limits and the scoreboard the way mod_status counts them: a worker is
 * busy when it serves a request (reading, writing, keep-alive, logging,
 * closing), idle when SERVER_READY, and a slot that is DEAD, STARTING or
 * IDLE_KILL serves nothing.  Processes going down gracefully (an old
 * generation after a restart, or a surplus child of event or worker) no
 * longer accept connections and are not counted: under event and worker
 * they do not count against MaxRequestWorkers either.  Prefork never marks
 * a child quiescing: each of its busy children takes one of the
 * MaxRequestWorkers slots.
 *
 * The cost is a walk of ServerLimit processes times ThreadsPerChild status
 * bytes, less for processes not running; it stops as soon as the count
 * reaches the limit the caller gives.  Nothing is locked: the scoreboard is
 * read as mod_status reads it, a count that may be a request or two behind.
 */


#define MTUNE_RESERVE_HTTPD
#include "tune_reserve.h"
#include "mod_tune.h"

#include "ap_mpm.h"
#include "scoreboard.h"


apr_status_t
mtune_workers_capacity(uint32_t *capacity)
{
    int  daemons, threads;

    if (!ap_exists_scoreboard_image()
        || ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &daemons) != APR_SUCCESS
        || ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS
        || daemons <= 0)
    {
        return APR_ENOTIMPL;
    }

    /* prefork answers 1 thread; an MPM without threads may answer 0 */
    if (threads <= 0) {
        threads = 1;
    }

    *capacity = (uint32_t) daemons * (uint32_t) threads;

    return APR_SUCCESS;
}


apr_status_t
mtune_workers_busy(uint32_t limit, uint32_t *busy)
{
    int             i, j, server_limit, thread_limit, threads;
    uint32_t        n;
    worker_score   *ws;
    process_score  *ps;

    if (!ap_exists_scoreboard_image()
        || ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &server_limit)
           != APR_SUCCESS
        || ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &thread_limit)
           != APR_SUCCESS
        || ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS)
    {
        return APR_ENOTIMPL;
    }

    /* the scoreboard has thread_limit entries per process; the threads of
     * a running process are its first ThreadsPerChild */
    if (threads <= 0 || threads > thread_limit) {
        threads = thread_limit;
    }

    n = 0;

    for (i = 0; i < server_limit && n < limit; i++) {
        ps = ap_get_scoreboard_process(i);

        if (ps == NULL || ps->pid == 0 || ps->quiescing) {
            continue;
        }

        for (j = 0; j < threads; j++) {
            ws = ap_get_scoreboard_worker_from_indexes(i, j);

            if (ws == NULL) {
                continue;
            }

            switch (ws->status) {
            case SERVER_DEAD:
            case SERVER_STARTING:
            case SERVER_READY:
            case SERVER_IDLE_KILL:
            case SERVER_GRACEFUL:
                break;
            default:
                n++;
            }
        }
    }

    *busy = n;

    return APR_SUCCESS;
}
