/*
 * Copyright (C) tuneslot developers
 *
 * TuneProxyReserve: whether a proxied tune-in may take a worker for as long
 * as its listener stays, or must be answered without one (README.md, "Proxy
 * mode").  The decision from counts is pure (tune_reserve.c, unit-tested
 * without httpd); the counts come from the scoreboard (tune_workers.c).
 */

#ifndef MTUNE_RESERVE_H
#define MTUNE_RESERVE_H


#include <stdint.h>


/* the largest TuneProxyReserve number: ap_mpm's own hard limits are below */
#define TUNE_RESERVE_MAX          100000
#define TUNE_RESERVE_PERCENT_MAX  99


/* The workers of this httpd as the scoreboard shows them */
typedef struct {
    uint32_t                  max;           /* MaxRequestWorkers as the MPM
                                                counts it: what a percentage
                                                is of */
    uint32_t                  capacity;      /* may serve at once: max, less
                                                what cannot be started now;
                                                0 none */
    uint32_t                  busy;          /* serving a request now, the
                                                asking one included */
} mtune_workers_t;


/*
 * The workers to keep free: value itself, or with percent value% of
 * capacity, rounded up (so 10% of 8 is 1, never 0).
 */
uint32_t mtune_reserve_needed(uint32_t value, int percent, uint32_t capacity);

/*
 * 1 when at least `needed` workers stay free while the tune-in asking (its
 * worker already among w->busy) holds its worker; 0 when it must be answered
 * without one.  needed 0 keeps nothing back; a capacity of 0 (no worker
 * can be had) breaks any other reserve.  A caller that cannot tell the
 * capacity does not ask.
 */
int mtune_reserve_kept(const mtune_workers_t *w, uint32_t needed);

/*
 * How far busy workers need to be counted before the answer is known:
 * the smallest busy count that breaks the reserve (UINT32_MAX: none does).
 */
uint32_t mtune_reserve_busy_limit(uint32_t capacity, uint32_t needed);

/*
 * The capacity of an MPM that starts processes only in free scoreboard
 * slots and counts only its active processes against MaxRequestWorkers
 * (event): the threads of the `active` processes, and those of the
 * processes it may still start, as many as the active-process limit
 * allows and the scoreboard has free slots for (old generations still
 * serving keep theirs).
 */
uint32_t mtune_reserve_obtainable(uint32_t active, uint32_t active_limit,
    uint32_t free_slots, uint32_t threads);


#ifdef MTUNE_RESERVE_HTTPD

#include "httpd.h"

/*
 * From the MPM and the scoreboard (tune_workers.c).  w->max is
 * MaxRequestWorkers as the MPM counts it (event, worker: the processes it
 * may run at once times ThreadsPerChild; prefork: MaxRequestWorkers).
 * w->capacity is what can serve at once: under prefork and worker the
 * same, workers of processes not started yet included (busy workers of an
 * old generation are counted as busy instead); under event the threads of
 * its active processes and of those it can still start (not beyond the
 * free scoreboard slots).  Busy workers are counted up to limit at the
 * most: beyond it the verdict is known.  Both return APR_ENOTIMPL when
 * httpd has no scoreboard or no limits to say.
 */
apr_status_t mtune_workers_capacity(mtune_workers_t *w);
apr_status_t mtune_workers_busy(uint32_t limit, uint32_t *busy);

#endif


#endif /* MTUNE_RESERVE_H */
