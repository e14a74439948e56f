
/*
 * Copyright (C) tuneslot developers
 */


/*
 * The zone ngx_http_tune_module keeps ("tune_snapshot"): its layout, and
 * the little that a reader needs of it.  Apart from the rest of that
 * module's headers, so that ngx_stream_tune_module, which reads the same
 * zone, needs neither ngx_http.h nor a symbol of that module.
 */


#ifndef _NGX_HTTP_TUNE_ZONE_H_INCLUDED_
#define _NGX_HTTP_TUNE_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <tune_snapshot.h>
#include <tune_herd.h>
#include <tune_metrics.h>


typedef struct ngx_http_tune_sh_s  ngx_http_tune_sh_t;


/*
 * A zone of this configuration (shm_zone->data), read by
 * ngx_stream_tune_module as well, which checks version first: a module
 * built from other sources may lay it out otherwise.
 */
typedef struct {
    uint32_t                  version;         /* NGX_HTTP_TUNE_SH_LAYOUT */
    ngx_msec_t                herd_window;     /* tune_herd_window */
    ngx_slab_pool_t          *shpool;
    ngx_http_tune_sh_t       *sh;
    ngx_uint_t                cycle;           /* sh->cycle in this cycle */
    ngx_array_t              *allow;           /* tune_allow_t, or NULL */
    size_t                    size;            /* tune_zone_size (the zone
                                                  is larger by the metrics'
                                                  counters) */
} ngx_http_tune_zone_t;


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
 * Changes with the layout of the zone, the herd table's entries and the
 * snapshot image's slots included (TUNE_HERD_MAGIC, TUNE_IMAGE_MAGIC: old
 * workers go on using them through a reload, so a new layout of either
 * needs a new zone).  Larger than any pid, so a zone made
 * before the field existed (its first field was the lease holder's pid)
 * never matches.
 */
#define NGX_HTTP_TUNE_SH_LAYOUT   0x54554e39    /* "TUN9" */

#define NGX_HTTP_TUNE_ZONE_MIN    ngx_max(64 * 1024, 8 * ngx_pagesize)


/*
 * How long the snapshot held has gone unchanged, by this nginx's monotonic
 * clock: the refresher notes when a new generation is installed (and sets
 * the first one after a start back by its age).  Called with the zone
 * locked.  Inline: ngx_stream_tune_module reads the zone too, without
 * linking to this module.
 */
static ngx_inline ngx_msec_t
ngx_http_tune_snapshot_age(ngx_http_tune_zone_t *zone,
    const tune_image_t *img)
{
    ngx_msec_int_t  age;

    (void) img;

    age = (ngx_msec_int_t) (ngx_current_msec
                            - zone->sh->state.installed_msec);

    return age > 0 ? (ngx_msec_t) age : 0;
}


/* Wall clock in ms, from nginx's cached time (inline: the stream module
 * has it too, without linking to this one) */
static ngx_inline int64_t
ngx_http_tune_herd_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


#endif /* _NGX_HTTP_TUNE_ZONE_H_INCLUDED_ */
