/*
 * Copyright (C) tuneslot developers
 *
 * The refresher: a thread in every child process, of which the one whose
 * child holds the refresh lease (tune_shm.h) runs core's refresher
 * (<tune_refresh.h>): it reads the generation every TuneRefresh, fetches
 * and installs each new snapshot, and claims herd credits every
 * TUNE_HERD_TICK_MS.  Requests never wait for it.  The others only look at
 * the lease, so the child that holds it can exit (graceful restart,
 * MaxConnectionsPerChild) and another takes over within a refresh.
 */

#ifndef MTUNE_REFRESH_H
#define MTUNE_REFRESH_H


#include "mod_tune.h"
#include "tune_shm.h"


/* In child_init: starts the thread; it is stopped and joined when pchild
 * is destroyed (the child exits) */
void mtune_refresh_start(apr_pool_t *pchild, server_rec *s, mtune_shm_t *shm);


#endif /* MTUNE_REFRESH_H */
