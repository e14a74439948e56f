/*
 * Copyright (C) tuneslot developers
 *
 * mod_tune: the Apache httpd 2.4 front-end of tuneslot (README.md).  The
 * types of its configuration, as mod_tune.c parses the directives into
 * them, and the module's declaration; the settings in effect are read
 * through tune_conf.h.
 */

#ifndef MOD_TUNE_H
#define MOD_TUNE_H


#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_expr.h"

#include "apr_strings.h"

#include <tune_core.h>
#include <tune_link.h>


#define TUNE_HANDLER          "tune"
#define TUNE_SENTINEL_PORT    26379
#define TUNE_STATUS_HANDLER   "tune-status"
#define TUNE_METRICS_HANDLER  "tune-metrics"

#define TUNE_UNSET            -1

#define TUNE_SHM_SIZE_MIN     (64 * 1024)
#define TUNE_PROXY_TRIES_MAX  8


typedef enum {
    TUNE_MODE_UNSET = 0,
    TUNE_MODE_REDIRECT,
    TUNE_MODE_PROXY
} mtune_mode_e;


/* TuneProxyReserve: how a tune-in that would break the reserve is answered */
typedef enum {
    TUNE_RESERVE_REDIRECT = 0,
    TUNE_RESERVE_503
} mtune_reserve_e;


/* Where Redis is and how to speak to it (TuneRedis) */
typedef struct {
    const char               *host;          /* NULL: a unix socket */
    int                       port;
    const char               *path;          /* unix socket */
    const char               *user;          /* NULL: none */
    const char               *password;      /* NULL: none; never logged */
    int                       db;            /* -1: none, the default */
    const char               *display;       /* for log lines: no secret */

    /* sentinel=: the Sentinels (tune_link_sentinel_t), host and path
     * unused; NULL: the one address above */
    apr_array_header_t       *sentinels;
    const char               *master;        /* master= */
    const char               *sentinel_user;
    const char               *sentinel_password;   /* never logged */
} mtune_redis_addr_t;


/* Server-wide settings (main server only; virtual hosts inherit) */
typedef struct {
    mtune_redis_addr_t       *redis;          /* NULL: TuneRedis not set */
    apr_interval_time_t       refresh;        /* -1: unset */
    apr_interval_time_t       redis_timeout;
    apr_interval_time_t       herd_window;    /* 0: herd control off */
    apr_off_t                 shm_size;
    apr_array_header_t       *allow;          /* TuneAllow: tune_allow_t;
                                                 NULL: every URL */
    int                       metrics_streams;  /* TuneMetricsStreams,
                                                   -1: unset (On) */
} mtune_srv_conf_t;


/* Per directory (<Location>) */
typedef struct {
    int                       enabled;        /* Tune On|Off, -1 unset */
    mtune_mode_e              mode;
    apr_interval_time_t       stale;          /* 0: off, -1: unset */
    ap_expr_info_t           *region;         /* NULL: none */
    int                       region_set;
    ap_expr_info_t           *full;           /* NULL: answer 503 */
    int                       full_set;
    int                       proxy_tries;    /* -1: unset */
    int                       reserve;        /* TuneProxyReserve: workers
                                                 or percent; -1: unset */
    int                       reserve_percent;
    mtune_reserve_e           reserve_action;
    uint32_t                  schemes;        /* TuneSchemes, 0: unset
                                                 (http and https) */
    int                       https_only;     /* TuneHttpsOnly, -1 unset
                                                 (On) */
    int                       https_fallback; /* TuneHttpsFallback,
                                                 -1 unset (full) */
    apr_array_header_t       *https_proxies;  /* TuneHttpsProxies:
                                                 apr_ipsubnet_t *; NULL:
                                                 none */
} mtune_dir_conf_t;


/* TuneHttpsFallback: what an HTTPS tune-in no https:// slot takes gets */
#define TUNE_HTTPS_FULL       0
#define TUNE_HTTPS_PROXY      1


extern module AP_MODULE_DECLARE_DATA tune_module;

/* LogLevel tune:debug applies to every file of the module (mod_tune.c
 * gets it from AP_DECLARE_MODULE) */
#ifndef TUNE_DECLARES_MODULE
APLOG_USE_MODULE(tune);
#endif


#endif /* MOD_TUNE_H */
