
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_redis.h"
#include "ngx_http_tune_shm.h"


static void ngx_http_tune_refresh_tick(ngx_event_t *ev);
static void ngx_http_tune_refresh_lead(ngx_http_tune_refresher_t *t);


/*
 * The refresher of this worker process, for exit_process: a worker must
 * close its Redis socket itself before it exits, or nginx reports the
 * socket as left open.
 */
static ngx_http_tune_refresher_t  *ngx_http_tune_refresher;


ngx_int_t
ngx_http_tune_refresher_start(ngx_cycle_t *cycle,
    ngx_http_tune_main_conf_t *tmcf)
{
    tune_refresh_conf_t         conf;
    ngx_http_tune_refresher_t  *t;

    t = ngx_pcalloc(cycle->pool, sizeof(ngx_http_tune_refresher_t));
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->tmcf = tmcf;
    t->zone = tmcf->shm_zone->data;
    t->log = cycle->log;
    t->now = (int64_t) ngx_current_msec;
    t->msec = ngx_current_msec;

    ngx_memzero(&conf, sizeof(tune_refresh_conf_t));

    /* the words of the configuration are NUL-terminated */
    if (tmcf->redis_port) {
        conf.link.host = (const char *) tmcf->redis_addr.data;
        conf.link.port = (unsigned) tmcf->redis_port;

    } else {
        conf.link.path = (const char *) tmcf->redis_addr.data;
    }

    conf.link.display = (const char *) tmcf->redis_text.data;

    if (tmcf->redis_password.len) {
        conf.link.user = (const char *) tmcf->redis_user.data;
        conf.link.user_len = tmcf->redis_user.len;
        conf.link.password = (const char *) tmcf->redis_password.data;
        conf.link.password_len = tmcf->redis_password.len;
    }

    conf.link.db = (unsigned) tmcf->redis_db;
    conf.link.timeout_ms = tmcf->redis_timeout;
    conf.link.directive = "tune_redis";

    if (tmcf->redis_sentinels) {
        conf.link.sentinels = tmcf->redis_sentinels->elts;
        conf.link.nsentinels = tmcf->redis_sentinels->nelts;
        conf.link.master_name = (const char *) tmcf->redis_master.data;
        conf.link.master_name_len = tmcf->redis_master.len;

        if (tmcf->redis_sentinel_password.len) {
            conf.link.sentinel_user =
                               (const char *) tmcf->redis_sentinel_user.data;
            conf.link.sentinel_user_len = tmcf->redis_sentinel_user.len;
            conf.link.sentinel_password =
                           (const char *) tmcf->redis_sentinel_password.data;
            conf.link.sentinel_password_len =
                                          tmcf->redis_sentinel_password.len;
        }

        /* a Sentinel that does not answer at once is passed over: the
         * next may, and the request path waits on none of them */
        conf.link.sentinel_timeout_ms = tmcf->redis_timeout < 500
                                        ? tmcf->redis_timeout : 500;
    }

    conf.refresh_ms = tmcf->refresh;
    conf.herd_window_ms = (uint32_t) tmcf->herd_window;

    /* this nginx, for the fair share of idle stocks */
    conf.herd_id = t->herd_id;
    conf.herd_id_len = tune_herd_id(t->herd_id,
                                    (const char *) cycle->hostname.data,
                                    cycle->hostname.len, "nginx", ngx_pid);

    if (tmcf->allow) {
        conf.allow = tmcf->allow->elts;
        conf.nallow = tmcf->allow->nelts;
    }

    conf.zone_directive = "tune_zone_size";
    conf.allow_directive = "tune_allow";
    conf.host_name = "nginx";

    tune_refresh_init(&t->rf, &conf);

    t->tick.handler = ngx_http_tune_refresh_tick;
    t->tick.data = t;
    t->tick.log = cycle->log;
    t->tick.cancelable = 1;

    t->timer.handler = ngx_http_tune_redis_event;
    t->timer.data = t;
    t->timer.log = cycle->log;
    t->timer.cancelable = 1;

    t->drive.handler = ngx_http_tune_redis_event;
    t->drive.data = t;
    t->drive.log = cycle->log;

    /* workers start together: spread their first look at the lease */
    ngx_add_timer(&t->tick, 1 + ngx_random() % 50);

    ngx_http_tune_refresher = t;

    return NGX_OK;
}


void
ngx_http_tune_refresher_stop(ngx_cycle_t *cycle)
{
    ngx_http_tune_refresher_t  *t;

    t = ngx_http_tune_refresher;

    if (t == NULL) {
        return;
    }

    ngx_http_tune_refresher = NULL;

    if (t->tick.timer_set) {
        ngx_del_timer(&t->tick);
    }

    if (t->timer.timer_set) {
        ngx_del_timer(&t->timer);
    }

    if (t->drive.posted) {
        ngx_delete_posted_event(&t->drive);
    }

    /* the next holder's takeover settles the claims in flight */
    tune_refresh_resign(&t->rf);

    ngx_http_tune_redis_close(t);
    ngx_http_tune_shm_release(t->zone);

    if (t->mem) {
        ngx_free(t->mem);
        t->mem = NULL;
    }
}


/* Every tune_refresh: take or renew the lease, or give it up */

static void
ngx_http_tune_refresh_tick(ngx_event_t *ev)
{
    ngx_msec_t                  lease;
    ngx_http_tune_refresher_t  *t;

    t = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        ngx_http_tune_refresher_stop((ngx_cycle_t *) ngx_cycle);
        return;
    }

    /*
     * The lease outlives a few missed ticks and one slow reply, so a busy
     * holder keeps it, and a worker that died loses it soon.
     */
    lease = 3 * t->tmcf->refresh + t->tmcf->redis_timeout;

    if (ngx_http_tune_shm_lease(t->zone, lease) == NGX_OK) {

        if (!tune_refresh_leading(&t->rf)) {
            ngx_http_tune_refresh_lead(t);
        }

    } else if (tune_refresh_leading(&t->rf)) {
        /* another worker took over while this one was stuck, or a reload */
        tune_refresh_resign(&t->rf);
        ngx_http_tune_redis_drive(t);
    }

    ngx_add_timer(ev, t->tmcf->refresh);
}


static void
ngx_http_tune_refresh_lead(ngx_http_tune_refresher_t *t)
{
    size_t  cap;

    cap = t->zone->sh->image_cap;

    if (t->mem == NULL) {
        t->mem = ngx_alloc(tune_refresh_memory(&t->rf, cap), t->log);

        if (t->mem == NULL) {
            /* another worker may have the memory */
            ngx_http_tune_shm_release(t->zone);
            return;
        }
    }

    tune_refresh_lead(&t->rf, ngx_http_tune_redis_now(t),
                      ngx_http_tune_shm_generation(t->zone), t->mem, cap);

    /* an outage another worker told of (before a reload) is not told again */
    if (t->zone->sh->state.failures) {
        tune_link_outage_told(&t->rf.link);
    }

    ngx_http_tune_redis_drive(t);
}
