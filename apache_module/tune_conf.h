/*
 * Copyright (C) tuneslot developers
 *
 * The configuration as the module's files read it: the settings in effect
 * with their defaults filled in, the main server's settings, what the
 * configuration asks of the hooks; and the clocks.  mod_tune.c parses the
 * directives into the types of mod_tune.h; the other files read them
 * through here, never through mod_tune.c.
 */

#ifndef MTUNE_CONF_H
#define MTUNE_CONF_H


#include "mod_tune.h"


/* the nginx module's defaults, so a mixed fleet behaves as one */
#define TUNE_DEFAULT_REFRESH_MS        250
#define TUNE_DEFAULT_REDIS_TIMEOUT_MS  1000
#define TUNE_DEFAULT_HERD_WINDOW_MS    2000
#define TUNE_DEFAULT_STALE_MS          60000
#define TUNE_DEFAULT_SHM_SIZE          (1024 * 1024)
#define TUNE_DEFAULT_PROXY_TRIES       3
#define TUNE_DEFAULT_PROXY_RESERVE     5         /* workers, redirect */


/* The configuration in effect, with the defaults filled in */
apr_interval_time_t mtune_conf_refresh(const mtune_srv_conf_t *sc);
apr_interval_time_t mtune_conf_redis_timeout(const mtune_srv_conf_t *sc);
uint32_t mtune_conf_herd_window_ms(const mtune_srv_conf_t *sc);
apr_off_t mtune_conf_shm_size(const mtune_srv_conf_t *sc);
apr_interval_time_t mtune_conf_stale(const mtune_dir_conf_t *dc);
mtune_mode_e mtune_conf_mode(const mtune_dir_conf_t *dc);
int mtune_conf_proxy_tries(const mtune_dir_conf_t *dc);
/* TuneSchemes: TUNE_SCHEME_* bits, http:// and https:// by default */
uint32_t mtune_conf_schemes(const mtune_dir_conf_t *dc);

/* TuneProxyReserve: the number (of workers, or percent of the capacity
 * with *percent), and the answer when it would be broken */
uint32_t mtune_conf_proxy_reserve(const mtune_dir_conf_t *dc, int *percent,
    mtune_reserve_e *action);

/* The main server's settings: the one Redis, the one segment */
mtune_srv_conf_t *mtune_main_conf(void);


/*
 * What the configuration being read asks of the hooks: the first
 * directive that makes a location answer tune-ins (Tune On, TuneMode) and
 * the first TuneMode proxy, as "file:line".  Forgotten in pre_config, noted
 * by the directives, read from check_config on.
 */
void mtune_conf_forget_use(void);
void mtune_conf_note_use(cmd_parms *cmd, int proxy);
const char *mtune_conf_used(void);            /* NULL: none */
const char *mtune_conf_proxy_used(void);      /* NULL: none */


/* Clocks: wall (unix ms) and monotonic (ms, comparable across processes;
 * CLOCK_MONOTONIC) */
int64_t mtune_wall_ms(void);
int64_t mtune_mono_ms(void);


#endif /* MTUNE_CONF_H */
