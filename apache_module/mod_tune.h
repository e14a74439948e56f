/*
 * Copyright (C) tuneslot developers
 *
 * mod_tune: the Apache httpd 2.4 front-end of tuneslot (README.md).
 */

#ifndef MOD_TUNE_H
#define MOD_TUNE_H


#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_expr.h"

#include "apr_strings.h"

#include <tune_core.h>


#define TUNE_HANDLER          "tune"
#define TUNE_STATUS_HANDLER   "tune-status"

#define TUNE_UNSET            -1

/* the nginx module's defaults, so a mixed fleet behaves as one */
#define TUNE_DEFAULT_REFRESH_MS        250
#define TUNE_DEFAULT_REDIS_TIMEOUT_MS  1000
#define TUNE_DEFAULT_HERD_WINDOW_MS    2000
#define TUNE_DEFAULT_STALE_MS          60000
#define TUNE_DEFAULT_SHM_SIZE          (1024 * 1024)
#define TUNE_DEFAULT_PROXY_TRIES       3

#define TUNE_SHM_SIZE_MIN              (64 * 1024)
#define TUNE_PROXY_TRIES_MAX           8


typedef enum {
    TUNE_MODE_UNSET = 0,
    TUNE_MODE_REDIRECT,
    TUNE_MODE_PROXY
} tune_mode_e;


/* Where Redis is and how to speak to it (TuneRedis) */
typedef struct {
    const char               *host;          /* NULL: a unix socket */
    int                       port;
    const char               *path;          /* unix socket */
    const char               *user;          /* NULL: none */
    const char               *password;      /* NULL: none; never logged */
    int                       db;            /* -1: none (SELECT not sent) */
    const char               *display;       /* for log lines: no secret */
} tune_redis_addr_t;


/* Server-wide settings (main server only; virtual hosts inherit) */
typedef struct {
    tune_redis_addr_t        *redis;          /* NULL: TuneRedis not set */
    apr_interval_time_t       refresh;        /* -1: unset */
    apr_interval_time_t       redis_timeout;
    apr_interval_time_t       herd_window;    /* 0: herd control off */
    apr_off_t                 shm_size;
    apr_array_header_t       *allow;          /* TuneAllow: tune_allow_t;
                                                 NULL: every URL */
} tune_srv_conf_t;


/* Per directory (<Location>) */
typedef struct {
    int                       enabled;        /* Tune On|Off, -1 unset */
    tune_mode_e               mode;
    apr_interval_time_t       stale;          /* 0: off, -1: unset */
    ap_expr_info_t           *region;         /* NULL: none */
    int                       region_set;
    ap_expr_info_t           *full;           /* NULL: answer 503 */
    int                       full_set;
    int                       proxy_tries;    /* -1: unset */
} tune_dir_conf_t;


extern module AP_MODULE_DECLARE_DATA tune_module;

/* LogLevel tune:debug applies to every file of the module (mod_tune.c
 * gets it from AP_DECLARE_MODULE) */
#ifndef TUNE_DECLARES_MODULE
APLOG_USE_MODULE(tune);
#endif


/* The configuration in effect, with the defaults filled in */
apr_interval_time_t tune_conf_refresh(const tune_srv_conf_t *sc);
apr_interval_time_t tune_conf_redis_timeout(const tune_srv_conf_t *sc);
uint32_t tune_conf_herd_window_ms(const tune_srv_conf_t *sc);
apr_interval_time_t tune_conf_stale(const tune_dir_conf_t *dc);
tune_mode_e tune_conf_mode(const tune_dir_conf_t *dc);
int tune_conf_proxy_tries(const tune_dir_conf_t *dc);

/* The main server's settings: the one Redis, the one segment */
tune_srv_conf_t *tune_main_conf(void);


/* Clocks: wall (unix ms) and monotonic (ms, comparable across processes) */
int64_t tune_wall_ms(void);
int64_t tune_mono_ms(void);


#endif /* MOD_TUNE_H */
