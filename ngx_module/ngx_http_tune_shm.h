
/*
 * Copyright (C) tuneslot developers
 */


#ifndef _NGX_HTTP_TUNE_SHM_H_INCLUDED_
#define _NGX_HTTP_TUNE_SHM_H_INCLUDED_


#include "ngx_http_tune_module.h"
#include <tune_snapshot.h>
#include <tune_herd.h>


#define NGX_HTTP_TUNE_ERROR_LEN   64


/*
 * What the refresher last saw of Redis, for a status page.  Times named
 * _msec are ngx_current_msec values (CLOCK_MONOTONIC, comparable across
 * the workers of one nginx); _ms are unix time in ms.
 */
typedef struct {
    /* the refresher is connected (and authenticated): 1, else 0 */
    ngx_uint_t                connected;

    /* the last reply Redis gave that was not an error; 0: none yet */
    ngx_msec_t                reply_msec;
    int64_t                   reply_ms;

    /* failed contacts (connect, timeout, error reply) since the last
     * good reply */
    ngx_uint_t                failures;

    /*
     * When the installed generation last changed.  For the first snapshot
     * installed after nginx started it is set back by the snapshot's age
     * (now minus written_ms by the wall clock, at least 0), so a snapshot
     * that stopped changing an hour ago is not taken as fresh.  Compare as
     * (ngx_msec_int_t) (ngx_current_msec - installed_msec).  0 with no
     * image.
     */
    ngx_msec_t                installed_msec;

    /* the last failure, a static or short copied text, never a
     * credential; "" when none yet */
    u_char                    error[NGX_HTTP_TUNE_ERROR_LEN];
} ngx_http_tune_state_t;


/*
 * The zone shared by all workers of one nginx: the refresh lease, the
 * refresher's state, the herd table (tune_herd.h, one flat buffer of
 * tune_zone_size / NGX_HTTP_TUNE_HERD_SHARE bytes), the metrics' counters
 * (tune_metrics.h, tune_zone_size / NGX_HTTP_TUNE_METRICS_SHARE bytes)
 * and the decoded snapshot
 * image (tune_snapshot.h), under the slab pool's mutex.
 * lease_until is an ngx_current_msec value.  cycle counts the
 * configurations that used the zone (1, then one more at each reload), so
 * workers of the newest take the lease from a holder of an older one.
 */
struct ngx_http_tune_sh_s {
    uint32_t                  layout;          /* NGX_HTTP_TUNE_SH_LAYOUT */
    ngx_pid_t                 refresher;       /* lease holder, 0: none */
    ngx_msec_t                lease_until;
    ngx_uint_t                refresher_cycle; /* the holder's */
    ngx_uint_t                cycle;           /* the newest */

    ngx_http_tune_state_t     state;
    tune_herd_t              *herd;
    tune_metrics_t           *metrics;         /* tune_metrics.h's table */

    size_t                    image_cap;
    u_char                   *image;           /* image_cap bytes */
};


/*
 * Changes with the layout of the zone, the herd table's entries included
 * (TUNE_HERD_MAGIC: old workers go on using the table through a reload, so
 * a new entry layout needs a new zone).  Larger than any pid, so a zone made
 * before the field existed (its first field was the lease holder's pid)
 * never matches.
 */
#define NGX_HTTP_TUNE_SH_LAYOUT   0x54554e38    /* "TUN8" */

#define NGX_HTTP_TUNE_ZONE_MIN    ngx_max(64 * 1024, 8 * ngx_pagesize)


ngx_int_t ngx_http_tune_init_zone(ngx_shm_zone_t *shm_zone, void *data);

/*
 * Takes or renews the refresh lease; NGX_DECLINED if another live worker of
 * this configuration or a newer one has it.  A holder of an older one (a
 * reload) is passed over at once: it stops at its next tick.
 */
ngx_int_t ngx_http_tune_shm_lease(ngx_http_tune_zone_t *zone,
    ngx_msec_t lease);

/* The calling worker holds the lease */
ngx_uint_t ngx_http_tune_shm_leading(ngx_http_tune_zone_t *zone);
void ngx_http_tune_shm_release(ngx_http_tune_zone_t *zone);

/* The generation of the image held, 0 when none */
uint64_t ngx_http_tune_shm_generation(ngx_http_tune_zone_t *zone);

/* Installs a decoded image of "size" bytes; NGX_DECLINED unless this
 * worker still holds the lease */
ngx_int_t ngx_http_tune_shm_install(ngx_http_tune_zone_t *zone,
    const u_char *img, size_t size);

/*
 * The refresher records a contact: error NULL for a good reply (or a
 * connection made), else what failed.  connected: the connection's state
 * after it.  Recorded for the lease holder only.
 */
void ngx_http_tune_shm_contact(ngx_http_tune_zone_t *zone,
    ngx_uint_t connected, const char *error);


#endif /* _NGX_HTTP_TUNE_SHM_H_INCLUDED_ */
