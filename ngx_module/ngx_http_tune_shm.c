
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_shm.h"
#include "ngx_http_tune_herd.h"

#include <tune_allow.h>


ngx_int_t
ngx_http_tune_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_tune_zone_t  *ozone = data;

    size_t                 len;
    ngx_http_tune_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        /*
         * Reload: keep the snapshot so tune-ins go on being answered.  A
         * zone laid out by another version of the module (its .so was
         * replaced before the reload) cannot be reused while the old
         * workers still read it.
         */
        if (ozone->sh->layout != NGX_HTTP_TUNE_SH_LAYOUT) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "tune zone \"%V\" was laid out by another "
                          "version of ngx_http_tune_module; restart nginx "
                          "instead of reloading it", &shm_zone->shm.name);
            return NGX_ERROR;
        }

        zone->shpool = ozone->shpool;
        zone->sh = ozone->sh;

        /*
         * The old workers read it too.  The image kept was marked by the
         * old tune_allow; until the next install (Redis may be away) it is
         * offered by the new one.
         */
        ngx_shmtx_lock(&zone->shpool->mutex);

        zone->cycle = ++zone->sh->cycle;

        (void) tune_image_allow(zone->sh->image, zone->sh->image_cap,
                                zone->allow ? zone->allow->elts : NULL,
                                zone->allow ? zone->allow->nelts : 0, NULL);

        ngx_shmtx_unlock(&zone->shpool->mutex);

        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        zone->cycle = zone->sh->cycle;
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

    zone->sh->layout = NGX_HTTP_TUNE_SH_LAYOUT;
    zone->sh->cycle = 1;
    zone->cycle = 1;

    /* before the image, which takes what is left */
    zone->sh->herd = ngx_http_tune_herd_create(zone->shpool, zone->size);
    if (zone->sh->herd == NULL) {
        return NGX_ERROR;
    }

    zone->sh->metrics = ngx_http_tune_metrics_create(zone->shpool,
                                                     zone->size);
    if (zone->sh->metrics == NULL) {
        return NGX_ERROR;
    }

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

    /*
     * After a reload the workers of the new configuration take the lease at
     * their first look rather than after the old holder gives it up at its
     * next tick: until one of them leads, nobody claims herd credits, and
     * under load those in stock run dry before the lease would change hands.
     */
    if (sh->refresher != ngx_pid
        && sh->refresher != 0
        && sh->refresher_cycle >= zone->cycle
        && (ngx_msec_int_t) (sh->lease_until - now) > 0)
    {
        rc = NGX_DECLINED;

    } else {
        sh->refresher = ngx_pid;
        sh->refresher_cycle = zone->cycle;
        sh->lease_until = now + lease;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


ngx_uint_t
ngx_http_tune_shm_leading(ngx_http_tune_zone_t *zone)
{
    ngx_uint_t  leading;

    ngx_shmtx_lock(&zone->shpool->mutex);
    leading = (zone->sh->refresher == ngx_pid);
    ngx_shmtx_unlock(&zone->shpool->mutex);

    return leading;
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
    int64_t              age;
    ngx_int_t            rc;
    const tune_image_t  *old, *new;

    new = (const tune_image_t *) img;

    ngx_shmtx_lock(&zone->shpool->mutex);

    /*
     * A worker that stalled past its lease may deliver a reply it asked
     * for long ago; the new holder may have installed a newer image since.
     */
    if (zone->sh->refresher == ngx_pid) {
        old = tune_image_get(zone->sh->image, zone->sh->image_cap);

        if (old == NULL) {
            /* the first since nginx started: as old as it was written */
            age = (int64_t) ngx_time() * 1000 - new->written_ms;
            age = ngx_max(age, 0);
            zone->sh->state.installed_msec = ngx_current_msec
                                             - (ngx_msec_t) age;

        } else if (old->generation != new->generation) {
            zone->sh->state.installed_msec = ngx_current_msec;
        }

        ngx_memcpy(zone->sh->image, img, size);
        rc = NGX_OK;

    } else {
        rc = NGX_DECLINED;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


void
ngx_http_tune_shm_contact(ngx_http_tune_zone_t *zone, ngx_uint_t connected,
    const char *error)
{
    ngx_time_t             *tp;
    ngx_http_tune_state_t  *state;

    state = &zone->sh->state;
    tp = ngx_timeofday();

    ngx_shmtx_lock(&zone->shpool->mutex);

    /* a worker that lost the lease has no say on the holder's connection */
    if (zone->sh->refresher != ngx_pid) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return;
    }

    state->connected = connected;

    if (error == NULL) {
        state->reply_msec = ngx_current_msec;
        state->reply_ms = (int64_t) tp->sec * 1000 + tp->msec;
        state->failures = 0;

    } else {
        state->failures++;
        (void) ngx_cpystrn(state->error, (u_char *) error,
                           NGX_HTTP_TUNE_ERROR_LEN);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}
