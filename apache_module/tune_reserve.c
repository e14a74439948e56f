/*
 * Copyright (C) tuneslot developers
 *
 * TuneProxyReserve's decision from counts: no httpd here, so that the unit
 * test (tests/test_reserve.c) links this file alone.
 */


#include "tune_reserve.h"


uint32_t
mtune_reserve_needed(uint32_t value, int percent, uint32_t capacity)
{
    uint64_t  n;

    if (!percent) {
        return value;
    }

    /* rounded up: a reserve asked for is never rounded away */
    n = ((uint64_t) capacity * value + 99) / 100;

    return (uint32_t) n;
}


int
mtune_reserve_kept(const mtune_workers_t *w, uint32_t needed)
{
    if (needed == 0) {
        return 1;
    }

    /* busy counts the asking tune-in's worker: it stays taken */
    if (w->busy >= w->capacity) {
        return 0;
    }

    return w->capacity - w->busy >= needed;
}


uint32_t
mtune_reserve_busy_limit(uint32_t capacity, uint32_t needed)
{
    if (needed == 0) {
        return UINT32_MAX;
    }

    /* capacity - busy < needed  <=>  busy > capacity - needed */
    return (needed > capacity) ? 0 : capacity - needed + 1;
}


uint32_t
mtune_reserve_obtainable(uint32_t active, uint32_t active_limit,
    uint32_t free_slots, uint32_t threads)
{
    uint64_t  startable, n;

    /* a restart may lower the limit below the processes still active */
    startable = (active < active_limit) ? active_limit - active : 0;

    if (startable > free_slots) {
        startable = free_slots;
    }

    n = ((uint64_t) active + startable) * threads;

    return (n > UINT32_MAX) ? UINT32_MAX : (uint32_t) n;
}
