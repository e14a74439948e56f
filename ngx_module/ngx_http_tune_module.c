
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_module.h"
#include "ngx_http_tune_redis.h"
#include "ngx_http_tune_shm.h"
#include "ngx_http_tune_herd.h"

#include <tune_url.h>
#include <tune_allow.h>


typedef struct {
    ngx_conf_post_handler_pt  post_handler;
    char                     *name;
    ngx_msec_t                low;
    ngx_msec_t                high;
} ngx_http_tune_msec_bounds_t;


static void *ngx_http_tune_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_tune_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_tune_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_tune_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_tune_redis_sentinels(ngx_conf_t *cf,
    ngx_http_tune_main_conf_t *tmcf, ngx_str_t *list);
static ngx_uint_t ngx_http_tune_redis_word(ngx_str_t *word);
static char *ngx_http_tune_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tune_allow(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tune(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_tune_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tune_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_tune_postconfiguration(ngx_conf_t *cf);
static ngx_uint_t ngx_http_tune_zone_asked(ngx_conf_t *cf, ngx_str_t *name);
static char *ngx_http_tune_stale(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tune_mode(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tune_full(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tune_check_tries(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_tune_preconfiguration(ngx_conf_t *cf);
static void ngx_http_tune_note_use(ngx_conf_t *cf, const char *directive);
static char *ngx_http_tune_check_msec(ngx_conf_t *cf, void *post, void *data);
static char *ngx_http_tune_check_zone_size(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_tune_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_tune_init_process(ngx_cycle_t *cycle);
static void ngx_http_tune_exit_process(ngx_cycle_t *cycle);


static ngx_http_tune_msec_bounds_t  ngx_http_tune_refresh_bounds = {
    ngx_http_tune_check_msec, "tune_refresh", 10, 60000
};

static ngx_http_tune_msec_bounds_t  ngx_http_tune_timeout_bounds = {
    ngx_http_tune_check_msec, "tune_redis_timeout", 10, 60000
};

static ngx_http_tune_msec_bounds_t  ngx_http_tune_herd_window_bounds = {
    ngx_http_tune_check_msec, "tune_herd_window",
    TUNE_HERD_WINDOW_MIN, TUNE_HERD_WINDOW_MAX
};

static ngx_conf_post_t  ngx_http_tune_zone_size_post = {
    ngx_http_tune_check_zone_size
};

static ngx_conf_post_t  ngx_http_tune_tries_post = {
    ngx_http_tune_check_tries
};


static ngx_conf_enum_t  ngx_http_tune_modes[] = {
    { ngx_string("redirect"), NGX_HTTP_TUNE_MODE_REDIRECT },
    { ngx_string("proxy"), NGX_HTTP_TUNE_MODE_PROXY },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_tune_https_fallbacks[] = {
    { ngx_string("full"), NGX_HTTP_TUNE_HTTPS_FULL },
    { ngx_string("proxy"), NGX_HTTP_TUNE_HTTPS_PROXY },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_tune_commands[] = {

    { ngx_string("tune_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_tune_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tune_allow"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_tune_allow,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tune_refresh"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_tune_main_conf_t, refresh),
      &ngx_http_tune_refresh_bounds },

    { ngx_string("tune_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_tune_main_conf_t, redis_timeout),
      &ngx_http_tune_timeout_bounds },

    { ngx_string("tune_zone_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_tune_main_conf_t, zone_size),
      &ngx_http_tune_zone_size_post },

    /* herd control (ngx_http_tune_herd.c) */
    { ngx_string("tune_herd_window"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_tune_main_conf_t, herd_window),
      &ngx_http_tune_herd_window_bounds },

    { ngx_string("tune"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tune,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tune_mode"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tune_mode,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tune_loc_conf_t, mode),
      &ngx_http_tune_modes },

    { ngx_string("tune_stale"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tune_stale,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tune_region"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tune_loc_conf_t, region),
      NULL },

    { ngx_string("tune_full"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tune_full,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tune_proxy_tries"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tune_loc_conf_t, proxy_tries),
      &ngx_http_tune_tries_post },

    /* schemes and HTTPS tune-ins (ngx_http_tune_https.c) */
    { ngx_string("tune_schemes"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_tune_schemes_set,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tune_https_only"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tune_loc_conf_t, https_only),
      NULL },

    { ngx_string("tune_https_fallback"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tune_loc_conf_t, https_fallback),
      &ngx_http_tune_https_fallbacks },

    { ngx_string("tune_https_proxies"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_tune_https_proxies,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tune_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tune_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tune_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tune_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tune_metrics_streams"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_tune_main_conf_t, metrics_streams),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tune_module_ctx = {
    ngx_http_tune_preconfiguration,        /* preconfiguration */
    ngx_http_tune_postconfiguration,       /* postconfiguration */

    ngx_http_tune_create_main_conf,        /* create main configuration */
    ngx_http_tune_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_tune_create_loc_conf,         /* create location configuration */
    ngx_http_tune_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_tune_module = {
    NGX_MODULE_V1,
    &ngx_http_tune_module_ctx,             /* module context */
    ngx_http_tune_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_tune_init_module,             /* init module */
    ngx_http_tune_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_tune_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_tune_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tune_main_conf_t));
    if (tmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     tmcf->redis_addr = { 0, NULL };
     *     tmcf->redis_port = 0;
     *     tmcf->redis_text = { 0, NULL };
     *     tmcf->allow = NULL;
     *     tmcf->shm_zone = NULL;
     *     tmcf->tune_file = NULL;
     *     tmcf->tune_line = 0;
     */

    tmcf->refresh = NGX_CONF_UNSET_MSEC;
    tmcf->redis_timeout = NGX_CONF_UNSET_MSEC;
    tmcf->zone_size = NGX_CONF_UNSET_SIZE;
    tmcf->herd_window = NGX_CONF_UNSET_MSEC;
    tmcf->metrics_streams = NGX_CONF_UNSET;

    return tmcf;
}


static char *
ngx_http_tune_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_tune_main_conf_t *tmcf = conf;

    ngx_str_t              name = ngx_string("tune_snapshot");
    ngx_http_tune_zone_t  *zone;

    ngx_conf_init_msec_value(tmcf->refresh, 250);
    ngx_conf_init_msec_value(tmcf->redis_timeout, 1000);
    ngx_conf_init_size_value(tmcf->zone_size, 1024 * 1024);
    ngx_conf_init_msec_value(tmcf->herd_window, 2000);
    ngx_conf_init_value(tmcf->metrics_streams, 1);

    if (tmcf->redis_text.len == 0) {

        if (tmcf->tune_file) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%s\" in %s:%ui requires \"tune_redis\" "
                          "in the http block",
                          tmcf->tune_directive, tmcf->tune_file,
                          tmcf->tune_line);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_tune_zone_asked(cf, &name)) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"tune_stream\" (ngx_stream_tune_module) in a "
                          "stream block before this http block requires "
                          "\"tune_redis\" in the http block");
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    /*
     * The metrics' counters come on top of tune_zone_size, so the snapshot
     * and the herd table have what they had before there were any
     */
    tmcf->shm_zone = ngx_shared_memory_add(cf, &name,
                                           tmcf->zone_size
                                           + tmcf->zone_size
                                             / NGX_HTTP_TUNE_METRICS_SHARE,
                                           &ngx_http_tune_module);
    if (tmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_tune_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->version = NGX_HTTP_TUNE_SH_LAYOUT;
    zone->herd_window = tmcf->herd_window;
    zone->size = tmcf->zone_size;

    /* a reload marks the image it keeps by the new tune_allow */
    zone->allow = tmcf->allow;

    tmcf->shm_zone->init = ngx_http_tune_init_zone;
    tmcf->shm_zone->data = zone;

    return NGX_CONF_OK;
}


static void *
ngx_http_tune_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_tune_loc_conf_t  *tlcf;

    tlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tune_loc_conf_t));
    if (tlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     tlcf->region = NULL;
     *     tlcf->full = NULL;
     *     tlcf->next_handler = NULL;
     *     tlcf->own_pages = 0;
     *     tlcf->file = NULL;
     *     tlcf->line = 0;
     */

    tlcf->enable = NGX_CONF_UNSET;
    tlcf->status = NGX_CONF_UNSET;
    tlcf->metrics = NGX_CONF_UNSET;
    tlcf->mode = NGX_CONF_UNSET_UINT;
    tlcf->stale = NGX_CONF_UNSET_MSEC;
    tlcf->full_set = NGX_CONF_UNSET;
    tlcf->proxy_tries = NGX_CONF_UNSET_UINT;
    tlcf->schemes = NGX_CONF_UNSET_UINT;
    tlcf->https_only = NGX_CONF_UNSET;
    tlcf->https_fallback = NGX_CONF_UNSET_UINT;
    tlcf->https_proxies = NGX_CONF_UNSET_PTR;

    return tlcf;
}


static char *
ngx_http_tune_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tune_loc_conf_t *prev = parent;
    ngx_http_tune_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /*
     * "tune" and "tune_status" set a content handler: they are not
     * inherited, like "return", except by the "if" and "limit_except"
     * blocks of the location, which are the location itself
     */
    if (conf->enable == NGX_CONF_UNSET && clcf->noname && prev->enable == 1) {
        conf->enable = 2;
    }

    ngx_conf_init_value(conf->enable, 0);
    ngx_conf_init_value(conf->status, 0);
    ngx_conf_init_value(conf->metrics, 0);

    ngx_conf_merge_uint_value(conf->mode, prev->mode,
                              NGX_HTTP_TUNE_MODE_REDIRECT);
    ngx_conf_merge_msec_value(conf->stale, prev->stale, 60000);
    ngx_conf_merge_uint_value(conf->proxy_tries, prev->proxy_tries, 3);
    ngx_conf_merge_uint_value(conf->schemes, prev->schemes,
                              TUNE_SCHEMES_WEB);
    ngx_conf_merge_value(conf->https_only, prev->https_only, 1);
    ngx_conf_merge_uint_value(conf->https_fallback, prev->https_fallback,
                              NGX_HTTP_TUNE_HTTPS_FULL);
    ngx_conf_merge_ptr_value(conf->https_proxies, prev->https_proxies, NULL);

    if (conf->region == NULL) {
        conf->region = prev->region;
    }

    if (conf->full_set == NGX_CONF_UNSET) {
        conf->full_set = prev->full_set;
        conf->full = prev->full;
    }

    if (conf->enable == 2) {
        return ngx_http_tune_proxy_inherit(cf, conf, prev);
    }

    if (conf->enable) {
        return ngx_http_tune_proxy_merge(cf, conf);
    }

    return NGX_CONF_OK;
}


/*
 * ngx_stream_tune_module asked for the zone (its stream block came first):
 * it has no size unless this block's tune_redis gives it one
 */

static ngx_uint_t
ngx_http_tune_zone_asked(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *shm_zone;

    part = &cf->cycle->shared_memory.part;
    shm_zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            shm_zone = part->elts;
            i = 0;
        }

        if (shm_zone[i].tag == &ngx_http_tune_module
            && shm_zone[i].shm.name.len == name->len
            && ngx_strncmp(shm_zone[i].shm.name.data, name->data, name->len)
               == 0)
        {
            return 1;
        }
    }
}


static ngx_int_t
ngx_http_tune_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_tune_add_variables(cf);
}


static char *
ngx_http_tune_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tune_main_conf_t *tmcf = conf;

    u_char      *p;
    ngx_str_t   *value, name, arg, sentinels;
    ngx_int_t    db;
    ngx_url_t    u;
    ngx_uint_t   i, first, db_set;
    const char  *why;

    if (tmcf->redis_text.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* "tune_redis sentinel=... master=...": no address of its own, its
     * words in any order */
    first = ngx_http_tune_redis_word(&value[1]) ? 1 : 2;

    /*
     * The parameters first: a bad one is reported before any DNS lookup.
     * No message quotes a value after "=": it may be a password.
     */
    tmcf->redis_db = 0;
    db_set = 0;
    ngx_str_null(&sentinels);

    for (i = first; i < cf->args->nelts; i++) {

        p = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');

        if (p == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of the "
                               "\"tune_redis\" directive, expected "
                               "password=, user=, db=, sentinel=, "
                               "master=, sentinel_user= or "
                               "sentinel_password=", &value[i]);
            return NGX_CONF_ERROR;
        }

        name.data = value[i].data;
        name.len = p - value[i].data;
        arg.data = p + 1;
        arg.len = value[i].data + value[i].len - arg.data;

        if (name.len == 8 && ngx_strncmp(name.data, "password", 8) == 0) {
            if (tmcf->redis_password.data) {
                goto duplicate;
            }

            if (arg.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "empty password in the \"tune_redis\" "
                                   "directive");
                return NGX_CONF_ERROR;
            }

            tmcf->redis_password = arg;
            continue;
        }

        if (name.len == 4 && ngx_strncmp(name.data, "user", 4) == 0) {
            if (tmcf->redis_user.data) {
                goto duplicate;
            }

            if (arg.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "empty user in the \"tune_redis\" "
                                   "directive");
                return NGX_CONF_ERROR;
            }

            tmcf->redis_user = arg;
            continue;
        }

        if (name.len == 2 && ngx_strncmp(name.data, "db", 2) == 0) {
            if (db_set) {
                goto duplicate;
            }

            db_set = 1;
            db = ngx_atoi(arg.data, arg.len);

            if (db == NGX_ERROR || db > NGX_HTTP_TUNE_REDIS_DB_MAX) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid db \"%V\" in the \"tune_redis\" "
                                   "directive, expected 0..%d",
                                   &arg, NGX_HTTP_TUNE_REDIS_DB_MAX);
                return NGX_CONF_ERROR;
            }

            tmcf->redis_db = db;
            continue;
        }

        if (name.len == 8 && ngx_strncmp(name.data, "sentinel", 8) == 0) {
            if (sentinels.data) {
                goto duplicate;
            }

            if (first == 2) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"sentinel=\" of the \"tune_redis\" "
                                   "directive replaces the address: give "
                                   "one or the other");
                return NGX_CONF_ERROR;
            }

            sentinels = arg;
            continue;
        }

        if (name.len == 6 && ngx_strncmp(name.data, "master", 6) == 0) {
            if (tmcf->redis_master.data) {
                goto duplicate;
            }

            why = tune_link_master_name_check((const char *) arg.data,
                                              arg.len);
            if (why) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"master=\" of the \"tune_redis\" "
                                   "directive: %s", why);
                return NGX_CONF_ERROR;
            }

            tmcf->redis_master = arg;
            continue;
        }

        if (name.len == 17
            && ngx_strncmp(name.data, "sentinel_password", 17) == 0)
        {
            if (tmcf->redis_sentinel_password.data) {
                goto duplicate;
            }

            if (arg.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "empty sentinel_password in the "
                                   "\"tune_redis\" directive");
                return NGX_CONF_ERROR;
            }

            tmcf->redis_sentinel_password = arg;
            continue;
        }

        if (name.len == 13
            && ngx_strncmp(name.data, "sentinel_user", 13) == 0)
        {
            if (tmcf->redis_sentinel_user.data) {
                goto duplicate;
            }

            if (arg.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "empty sentinel_user in the "
                                   "\"tune_redis\" directive");
                return NGX_CONF_ERROR;
            }

            tmcf->redis_sentinel_user = arg;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" of the \"tune_redis\" "
                           "directive, expected password=, user=, db=, "
                           "sentinel=, master=, sentinel_user= or "
                           "sentinel_password=", &name);
        return NGX_CONF_ERROR;
    }

    if (tmcf->redis_user.data && tmcf->redis_password.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"user=\" of the \"tune_redis\" directive "
                           "requires \"password=\"");
        return NGX_CONF_ERROR;
    }

    if (first == 1 && sentinels.data == NULL && tmcf->redis_master.data == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the \"tune_redis\" directive needs an address or "
                           "\"sentinel=\" before its parameters");
        return NGX_CONF_ERROR;
    }

    if (sentinels.data == NULL
        && (tmcf->redis_master.data || tmcf->redis_sentinel_user.data
            || tmcf->redis_sentinel_password.data))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"master=\", \"sentinel_user=\" and "
                           "\"sentinel_password=\" of the \"tune_redis\" "
                           "directive require \"sentinel=\"");
        return NGX_CONF_ERROR;
    }

    if (sentinels.data) {
        if (tmcf->redis_master.data == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"sentinel=\" of the \"tune_redis\" "
                               "directive requires \"master=\"");
            return NGX_CONF_ERROR;
        }

        if (tmcf->redis_sentinel_user.data
            && tmcf->redis_sentinel_password.data == NULL)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"sentinel_user=\" of the \"tune_redis\" "
                               "directive requires \"sentinel_password=\"");
            return NGX_CONF_ERROR;
        }

        return ngx_http_tune_redis_sentinels(cf, tmcf, &sentinels);
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.default_port = NGX_HTTP_TUNE_REDIS_PORT;

    /* resolved now: a worker must never block on DNS */
    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s in \"%V\" of the \"tune_redis\" directive",
                           u.err ? u.err : "invalid address", &u.url);
        return NGX_CONF_ERROR;
    }

    if (u.uri.len || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid address \"%V\" of the \"tune_redis\" "
                           "directive, expected host[:port] or unix:/path",
                           &u.url);
        return NGX_CONF_ERROR;
    }

    tmcf->redis_text = value[1];

#if (NGX_HAVE_UNIX_DOMAIN)
    if (u.family == AF_UNIX) {
        struct sockaddr_un  *saun;

        saun = (struct sockaddr_un *) u.addrs[0].sockaddr;

        /* a worker's working directory is not the configuration's */
        if (saun->sun_path[0] != '/') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the socket path in \"%V\" of the "
                               "\"tune_redis\" directive must be absolute",
                               &u.url);
            return NGX_CONF_ERROR;
        }

        tmcf->redis_addr.len = ngx_strlen(saun->sun_path);
        tmcf->redis_addr.data = ngx_pnalloc(cf->pool,
                                            tmcf->redis_addr.len + 1);
        if (tmcf->redis_addr.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(tmcf->redis_addr.data, saun->sun_path,
                   tmcf->redis_addr.len + 1);
        tmcf->redis_port = 0;

        return NGX_CONF_OK;
    }
#endif

    if (u.naddrs > 1) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\" of the \"tune_redis\" directive resolves "
                           "to several addresses, using %V",
                           &u.url, &u.addrs[0].name);
    }

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    tmcf->redis_addr.data = p;
    tmcf->redis_addr.len = ngx_sock_ntop(u.addrs[0].sockaddr,
                                         u.addrs[0].socklen, p,
                                         NGX_SOCKADDR_STRLEN, 0);
    p[tmcf->redis_addr.len] = '\0';
    tmcf->redis_port = u.port;

    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "duplicate parameter \"%V\" in the \"tune_redis\" "
                       "directive", &name);
    return NGX_CONF_ERROR;
}


/* Whether a word of tune_redis is one of its parameters, not an address */

static ngx_uint_t
ngx_http_tune_redis_word(ngx_str_t *word)
{
    ngx_uint_t         i;
    static ngx_str_t   names[] = {
        ngx_string("password="), ngx_string("user="), ngx_string("db="),
        ngx_string("sentinel="), ngx_string("master="),
        ngx_string("sentinel_user="), ngx_string("sentinel_password=")
    };

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (word->len >= names[i].len
            && ngx_strncmp(word->data, names[i].data, names[i].len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * sentinel=host[:port][,host[:port]...]: each resolved now (a worker must
 * never block on DNS), its first address kept, 26379 by default.
 */

static char *
ngx_http_tune_redis_sentinels(ngx_conf_t *cf, ngx_http_tune_main_conf_t *tmcf,
    ngx_str_t *list)
{
    u_char                *p, *last, *comma, *text;
    ngx_url_t              u;
    tune_link_sentinel_t  *s;

    tmcf->redis_sentinels = ngx_array_create(cf->pool, 3,
                                             sizeof(tune_link_sentinel_t));
    if (tmcf->redis_sentinels == NULL) {
        return NGX_CONF_ERROR;
    }

    last = list->data + list->len;

    for (p = list->data; p <= last; p = comma + 1) {

        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url.data = p;
        u.url.len = comma - p;
        u.default_port = NGX_HTTP_TUNE_SENTINEL_PORT;

        if (u.url.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty Sentinel address in \"sentinel=\" of "
                               "the \"tune_redis\" directive");
            return NGX_CONF_ERROR;
        }

        if (tmcf->redis_sentinels->nelts == TUNE_LINK_SENTINELS_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "more than %d Sentinels in \"sentinel=\" of "
                               "the \"tune_redis\" directive",
                               TUNE_LINK_SENTINELS_MAX);
            return NGX_CONF_ERROR;
        }

        if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in \"%V\" of \"sentinel=\" of the "
                               "\"tune_redis\" directive",
                               u.err ? u.err : "invalid address", &u.url);
            return NGX_CONF_ERROR;
        }

        if (u.uri.len || u.naddrs == 0 || u.family == AF_UNIX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid Sentinel address \"%V\" of the "
                               "\"tune_redis\" directive, expected "
                               "host[:port]", &u.url);
            return NGX_CONF_ERROR;
        }

        if (u.naddrs > 1) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "Sentinel \"%V\" of the \"tune_redis\" "
                               "directive resolves to several addresses, "
                               "using %V", &u.url, &u.addrs[0].name);
        }

        text = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (text == NULL) {
            return NGX_CONF_ERROR;
        }

        text[ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, text,
                           NGX_SOCKADDR_STRLEN, 0)] = '\0';

        s = ngx_array_push(tmcf->redis_sentinels);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        s->host = (const char *) text;
        s->port = u.port;
    }

    /* the words of log lines: which master, and that Sentinels find it */
    p = ngx_pnalloc(cf->pool, sizeof("master \"\" via Sentinel")
                              + tmcf->redis_master.len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    tmcf->redis_text.data = p;
    tmcf->redis_text.len = ngx_sprintf(p, "master \"%V\" via Sentinel%Z",
                                       &tmcf->redis_master)
                           - p - 1;

    return NGX_CONF_OK;
}


/*
 * tune_allow prefix ...: the URL prefixes (tune_allow.h) a slot's URL must
 * start with to be offered; repeatable, the lists add up.
 */

static char *
ngx_http_tune_allow(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tune_main_conf_t *tmcf = conf;

    u_char        *p;
    ngx_str_t     *value;
    tune_rc_t      rc;
    ngx_uint_t     i;
    const char    *reason;
    tune_allow_t  *a;
    u_char         text[256];

    if (tmcf->allow == NULL) {
        tmcf->allow = ngx_array_create(cf->pool, 4, sizeof(tune_allow_t));
        if (tmcf->allow == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        a = ngx_array_push(tmcf->allow);
        if (a == NULL) {
            return NGX_CONF_ERROR;
        }

        /* the prefix lives in cf->pool, as long as the configuration */
        rc = tune_allow_parse((const char *) value[i].data, value[i].len, a,
                              &reason);

        if (rc != TUNE_OK) {
            /* a quoted "\r\n" in the file must not split the message */
            p = text;
            p += tune_log_escape((char *) text, sizeof(text),
                                 (const char *) value[i].data, value[i].len);

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid prefix \"%*s\" in the \"tune_allow\" "
                               "directive: %s", p - text, text, reason);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tune(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tune_loc_conf_t *tlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (tlcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    if (tlcf->status == 1) {
        return "cannot be used in a location with \"tune_status\"";
    }

    if (tlcf->metrics == 1) {
        return "cannot be used in a location with \"tune_metrics\"";
    }

    tlcf->enable = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /*
     * In "location /tune" the stream of "/tunedemo" would be "demo" and the
     * one of "/tune/demo" would be "/demo": only a prefix ending in "/"
     * has one meaning.
     */
    if (ngx_http_tune_prefix_location(clcf)
        && (clcf->name.len == 0
            || clcf->name.data[clcf->name.len - 1] != '/'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tune\" in a prefix location requires the "
                           "prefix to end with \"/\", as in "
                           "\"location %V/\"", &clcf->name);
        return NGX_CONF_ERROR;
    }

    /* proxy_pass may come first: proxy mode hands over to it */
    if (clcf->handler) {
        tlcf->next_handler = clcf->handler;
    }

    clcf->handler = ngx_http_tune_handler;

    tlcf->file = cf->conf_file->file.name.data;
    tlcf->line = cf->conf_file->line;

    ngx_http_tune_note_use(cf, "tune");

    return NGX_CONF_OK;
}


/* "tune" and "tune_status" need tune_redis: remember where the first is */

static void
ngx_http_tune_note_use(ngx_conf_t *cf, const char *directive)
{
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tune_module);

    if (tmcf->tune_file == NULL) {
        tmcf->tune_file = cf->conf_file->file.name.data;
        tmcf->tune_line = cf->conf_file->line;
        tmcf->tune_directive = directive;
    }
}


static char *
ngx_http_tune_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tune_loc_conf_t *tlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (tlcf->status != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    if (tlcf->enable == 1) {
        return "cannot be used in a location with \"tune\"";
    }

    if (tlcf->metrics == 1) {
        return "cannot be used in a location with \"tune_metrics\"";
    }

    tlcf->status = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tune_status_handler;

    ngx_http_tune_note_use(cf, "tune_status");

    return NGX_CONF_OK;
}


static char *
ngx_http_tune_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tune_loc_conf_t *tlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (tlcf->metrics != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    if (tlcf->enable == 1) {
        return "cannot be used in a location with \"tune\"";
    }

    if (tlcf->status == 1) {
        return "cannot be used in a location with \"tune_status\"";
    }

    tlcf->metrics = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tune_metrics_handler;

    ngx_http_tune_note_use(cf, "tune_metrics");

    return NGX_CONF_OK;
}


/* every request is offered to the counters once its story is complete */

static ngx_int_t
ngx_http_tune_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_tune_metrics_log;

    return ngx_http_tune_https_init(cf);
}


/* tune_mode redirect | proxy: nginx's enum slot, with a better reason */

static char *
ngx_http_tune_mode(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *value;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "redirect") != 0
        && ngx_strcmp(value[1].data, "proxy") != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" of \"tune_mode\", "
                           "expected \"redirect\" or \"proxy\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    return ngx_conf_set_enum_slot(cf, cmd, conf);
}


/* tune_stale time | off */

static char *
ngx_http_tune_stale(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tune_loc_conf_t *tlcf = conf;

    ngx_str_t  *value;

    if (tlcf->stale != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        tlcf->stale = 0;
        return NGX_CONF_OK;
    }

    tlcf->stale = ngx_parse_time(&value[1], 0);

    if (tlcf->stale == (ngx_msec_t) NGX_ERROR) {
        return "has an invalid time, expected a time such as \"1m\" "
               "or \"off\"";
    }

    if (tlcf->stale < 1000) {
        return "must be at least 1s (or \"off\"): a snapshot is written "
               "once per poll interval";
    }

    return NGX_CONF_OK;
}


/* tune_full 503 | URL */

static char *
ngx_http_tune_full(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tune_loc_conf_t *tlcf = conf;

    tune_rc_t                          trc;
    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (tlcf->full_set != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    tlcf->full_set = 1;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "503") == 0) {
        tlcf->full = NULL;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[1].data, "http://", 7) != 0
        && ngx_strncmp(value[1].data, "https://", 8) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" of \"tune_full\", "
                           "expected \"503\" or an http:// or https:// URL",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    tlcf->full = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (tlcf->full == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = tlcf->full;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* without variables it can be checked now, as a snapshot URL is */
    if (tlcf->full->lengths == NULL) {
        trc = tune_url_check((const char *) value[1].data, value[1].len);

        if (trc != TUNE_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid URL \"%V\" of \"tune_full\": %s",
                               &value[1], tune_rc_reason(trc));
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tune_check_msec(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_tune_msec_bounds_t  *bounds = post;
    ngx_msec_t                   *msp = data;

    /* "tune_herd_window 0" turns herd control off */
    if (*msp == 0 && bounds == &ngx_http_tune_herd_window_bounds) {
        return NGX_CONF_OK;
    }

    if (*msp < bounds->low || *msp > bounds->high) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" must be between %Mms and %Mms",
                           bounds->name, bounds->low, bounds->high);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tune_check_tries(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *np = data;

    if (*np < 1 || *np > NGX_HTTP_TUNE_MAX_TRIES) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tune_proxy_tries\" must be between 1 and %d",
                           NGX_HTTP_TUNE_MAX_TRIES);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tune_check_zone_size(ngx_conf_t *cf, void *post, void *data)
{
    size_t  *sp = data;

    if (*sp < NGX_HTTP_TUNE_ZONE_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tune_zone_size\" must be at least %uzk",
                           (size_t) NGX_HTTP_TUNE_ZONE_MIN / 1024);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * In the master, once the configuration is in effect: without tune_allow,
 * say once that Redis decides where listeners go.
 */

static ngx_int_t
ngx_http_tune_init_module(ngx_cycle_t *cycle)
{
    ngx_http_tune_main_conf_t  *tmcf;

    tmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tune_module);

    /* NULL: no http block; no zone: no tune_redis, nothing is read */
    if (tmcf == NULL || tmcf->shm_zone == NULL || tmcf->allow != NULL) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "tune: no \"tune_allow\": every listen URL in redis at %V "
                  "is used as it is; list the backends' URL prefixes with "
                  "\"tune_allow\" to refuse any other", &tmcf->redis_text);

    return NGX_OK;
}


static ngx_int_t
ngx_http_tune_init_process(ngx_cycle_t *cycle)
{
    ngx_http_tune_main_conf_t  *tmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    tmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tune_module);

    if (tmcf == NULL || tmcf->shm_zone == NULL) {
        return NGX_OK;
    }

    return ngx_http_tune_refresher_start(cycle, tmcf);
}


static void
ngx_http_tune_exit_process(ngx_cycle_t *cycle)
{
    /* closes the socket and lets another worker take over the lease */
    ngx_http_tune_refresher_stop(cycle);
}
