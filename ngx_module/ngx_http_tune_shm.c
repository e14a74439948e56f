
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_shm.h"


ngx_int_t
ngx_http_tune_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_tune_zone_t  *ozone = data;

    size_t                 len;
    ngx_http_tune_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        /* reload: keep the snapshot so tune-ins go on being answered */
        zone->shpool = ozone->shpool;
        zone->sh = ozone->sh;
        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        return NGX_OK;
    }

    zone->sh = ngx_slab_calloc(zone->shpool, sizeof(ngx_http_tune_sh_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    len = sizeof(" in tune zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in tune zone \"%V\"%Z",
                &shm_zone->shm.name);

    /*
     * The image takes every page still free: in a fresh pool they are
     * contiguous, so one allocation of exactly that size succeeds.
     */
    zone->sh->image_cap = zone->shpool->pfree << ngx_pagesize_shift;

    zone->sh->image = ngx_slab_calloc(zone->shpool, zone->sh->image_cap);
    if (zone->sh->image == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->log_nomem = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_tune_shm_lease(ngx_http_tune_zone_t *zone, ngx_msec_t lease)
{
    ngx_int_t            rc;
    ngx_msec_t           now;
    ngx_http_tune_sh_t  *sh;

    sh = zone->sh;
    now = ngx_current_msec;

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (sh->refresher != ngx_pid
        && sh->refresher != 0
        && (ngx_msec_int_t) (sh->lease_until - now) > 0)
    {
        rc = NGX_DECLINED;

    } else {
        sh->refresher = ngx_pid;
        sh->lease_until = now + lease;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


void
ngx_http_tune_shm_release(ngx_http_tune_zone_t *zone)
{
    ngx_shmtx_lock(&zone->shpool->mutex);

    if (zone->sh->refresher == ngx_pid) {
        zone->sh->refresher = 0;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


uint64_t
ngx_http_tune_shm_generation(ngx_http_tune_zone_t *zone)
{
    uint64_t             generation;
    const tune_image_t  *img;

    ngx_shmtx_lock(&zone->shpool->mutex);

    img = tune_image_get(zone->sh->image, zone->sh->image_cap);
    generation = img ? img->generation : 0;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return generation;
}


ngx_int_t
ngx_http_tune_shm_install(ngx_http_tune_zone_t *zone, const u_char *img,
    size_t size)
{
    ngx_int_t  rc;

    ngx_shmtx_lock(&zone->shpool->mutex);

    /*
     * A worker that stalled past its lease may deliver a reply it asked
     * for long ago; the new holder may have installed a newer image since.
     */
    if (zone->sh->refresher == ngx_pid) {
        ngx_memcpy(zone->sh->image, img, size);
        rc = NGX_OK;

    } else {
        rc = NGX_DECLINED;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}
