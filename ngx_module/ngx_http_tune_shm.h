
/*
 * Copyright (C) tuneslot developers
 */


#ifndef _NGX_HTTP_TUNE_SHM_H_INCLUDED_
#define _NGX_HTTP_TUNE_SHM_H_INCLUDED_


#include "ngx_http_tune_module.h"
#include <tune_snapshot.h>


/*
 * The zone shared by all workers of one nginx: the decoded snapshot image
 * (tune_snapshot.h) and the refresh lease, under the slab pool's mutex.
 * lease_until is an ngx_current_msec value (CLOCK_MONOTONIC, so comparable
 * across workers).
 */
struct ngx_http_tune_sh_s {
    ngx_pid_t                 refresher;       /* lease holder, 0: none */
    ngx_msec_t                lease_until;

    size_t                    image_cap;
    u_char                   *image;           /* image_cap bytes */
};


#define NGX_HTTP_TUNE_ZONE_MIN    ngx_max(64 * 1024, 8 * ngx_pagesize)


ngx_int_t ngx_http_tune_init_zone(ngx_shm_zone_t *shm_zone, void *data);

/* Takes or renews the refresh lease; NGX_DECLINED if another worker has it */
ngx_int_t ngx_http_tune_shm_lease(ngx_http_tune_zone_t *zone,
    ngx_msec_t lease);
void ngx_http_tune_shm_release(ngx_http_tune_zone_t *zone);

/* The generation of the image held, 0 when none */
uint64_t ngx_http_tune_shm_generation(ngx_http_tune_zone_t *zone);

/* Installs a decoded image of "size" bytes; NGX_DECLINED unless this
 * worker still holds the lease */
ngx_int_t ngx_http_tune_shm_install(ngx_http_tune_zone_t *zone,
    const u_char *img, size_t size);


#endif /* _NGX_HTTP_TUNE_SHM_H_INCLUDED_ */
