
/*
 * Copyright (C) tuneslot developers
 */


#ifndef _NGX_HTTP_TUNE_MODULE_H_INCLUDED_
#define _NGX_HTTP_TUNE_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* key names: see redis/SCHEMA.md */
#define NGX_HTTP_TUNE_KEY_SNAPSHOT    "{tuneslot:v1}:snapshot"
#define NGX_HTTP_TUNE_KEY_GENERATION  "{tuneslot:v1}:generation"

#define NGX_HTTP_TUNE_REDIS_PORT      6379
#define NGX_HTTP_TUNE_REDIS_DB_MAX    65535


typedef struct ngx_http_tune_sh_s  ngx_http_tune_sh_t;


typedef struct {
    ngx_slab_pool_t          *shpool;
    ngx_http_tune_sh_t       *sh;
} ngx_http_tune_zone_t;


typedef struct {
    /* tune_redis: a host (resolved at configuration time) or a socket */
    ngx_str_t                 redis_addr;      /* NUL-terminated */
    ngx_int_t                 redis_port;      /* 0: unix socket */
    ngx_str_t                 redis_text;      /* as written, for logs */
    ngx_str_t                 redis_user;      /* user=, ACL user; or empty */
    ngx_str_t                 redis_password;  /* password=; never logged */
    ngx_uint_t                redis_db;        /* db=, 0: no SELECT */
    ngx_msec_t                herd_window;     /* tune_herd_window */

    ngx_msec_t                refresh;         /* tune_refresh */
    ngx_msec_t                redis_timeout;   /* tune_redis_timeout */
    size_t                    zone_size;       /* tune_zone_size */

    ngx_shm_zone_t           *shm_zone;

    /* where the first "tune" is, to name it when tune_redis is missing */
    u_char                   *tune_file;
    ngx_uint_t                tune_line;
} ngx_http_tune_main_conf_t;


typedef struct {
    ngx_flag_t                enable;          /* tune */
} ngx_http_tune_loc_conf_t;


extern ngx_module_t  ngx_http_tune_module;


/* A plain prefix location ("location /tune/"): not exact, regex or named */
static ngx_inline ngx_uint_t
ngx_http_tune_prefix_location(ngx_http_core_loc_conf_t *clcf)
{
#if (NGX_PCRE)
    if (clcf->regex) {
        return 0;
    }
#endif

    return !clcf->named && !clcf->exact_match;
}


/* ngx_http_tune_handler.c */
ngx_int_t ngx_http_tune_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_TUNE_MODULE_H_INCLUDED_ */
