/*
 * Copyright (C) tuneslot developers
 */


#include "tune_conf.h"

#include "http_main.h"

#include <tune_url.h>

#include <time.h>


/* what the configuration being read asks of the hooks */
static const char  *mtune_used_where;         /* "file:line" of the first */
static const char  *mtune_proxy_where;


apr_interval_time_t
mtune_conf_refresh(const mtune_srv_conf_t *sc)
{
    return (sc->refresh != TUNE_UNSET)
           ? sc->refresh : apr_time_from_msec(TUNE_DEFAULT_REFRESH_MS);
}


apr_interval_time_t
mtune_conf_redis_timeout(const mtune_srv_conf_t *sc)
{
    return (sc->redis_timeout != TUNE_UNSET)
           ? sc->redis_timeout
           : apr_time_from_msec(TUNE_DEFAULT_REDIS_TIMEOUT_MS);
}


uint32_t
mtune_conf_herd_window_ms(const mtune_srv_conf_t *sc)
{
    return (sc->herd_window != TUNE_UNSET)
           ? (uint32_t) apr_time_as_msec(sc->herd_window)
           : TUNE_DEFAULT_HERD_WINDOW_MS;
}


apr_off_t
mtune_conf_shm_size(const mtune_srv_conf_t *sc)
{
    return (sc->shm_size != TUNE_UNSET) ? sc->shm_size
                                        : TUNE_DEFAULT_SHM_SIZE;
}


apr_interval_time_t
mtune_conf_stale(const mtune_dir_conf_t *dc)
{
    return (dc->stale != TUNE_UNSET)
           ? dc->stale : apr_time_from_msec(TUNE_DEFAULT_STALE_MS);
}


mtune_mode_e
mtune_conf_mode(const mtune_dir_conf_t *dc)
{
    return dc->mode ? dc->mode : TUNE_MODE_REDIRECT;
}


uint32_t
mtune_conf_schemes(const mtune_dir_conf_t *dc)
{
    return dc->schemes ? dc->schemes : TUNE_SCHEMES_WEB;
}


int
mtune_conf_proxy_tries(const mtune_dir_conf_t *dc)
{
    return (dc->proxy_tries != TUNE_UNSET) ? dc->proxy_tries
                                           : TUNE_DEFAULT_PROXY_TRIES;
}


uint32_t
mtune_conf_proxy_reserve(const mtune_dir_conf_t *dc, int *percent,
    mtune_reserve_e *action)
{
    if (dc->reserve == TUNE_UNSET) {
        *percent = 0;
        *action = TUNE_RESERVE_REDIRECT;
        return TUNE_DEFAULT_PROXY_RESERVE;
    }

    *percent = dc->reserve_percent;
    *action = dc->reserve_action;

    return (uint32_t) dc->reserve;
}


mtune_srv_conf_t *
mtune_main_conf(void)
{
    server_rec  *s;

    s = ap_server_conf;

    return s ? ap_get_module_config(s->module_config, &tune_module) : NULL;
}


void
mtune_conf_forget_use(void)
{
    mtune_used_where = NULL;
    mtune_proxy_where = NULL;
}


void
mtune_conf_note_use(cmd_parms *cmd, int proxy)
{
    const char  *where;

    if (mtune_used_where && (!proxy || mtune_proxy_where)) {
        return;
    }

    where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                         cmd->directive->line_num);

    if (mtune_used_where == NULL) {
        mtune_used_where = where;
    }

    if (proxy && mtune_proxy_where == NULL) {
        mtune_proxy_where = where;
    }
}


const char *
mtune_conf_used(void)
{
    return mtune_used_where;
}


const char *
mtune_conf_proxy_used(void)
{
    return mtune_proxy_where;
}


int64_t
mtune_wall_ms(void)
{
    return apr_time_as_msec(apr_time_now());
}


int64_t
mtune_mono_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
