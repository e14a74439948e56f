
/*
 * Copyright (C) tuneslot developers
 */


#ifndef _NGX_HTTP_TUNE_SHM_H_INCLUDED_
#define _NGX_HTTP_TUNE_SHM_H_INCLUDED_


#include "ngx_http_tune_module.h"
#include "ngx_http_tune_zone.h"


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
