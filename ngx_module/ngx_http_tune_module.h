
/*
 * Copyright (C) tuneslot developers
 */


#ifndef _NGX_HTTP_TUNE_MODULE_H_INCLUDED_
#define _NGX_HTTP_TUNE_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <tune_choose.h>
#include <tune_link.h>
#include <tune_metrics.h>
#include <tune_status.h>

#include "ngx_http_tune_zone.h"


#define NGX_HTTP_TUNE_REDIS_PORT      6379
#define NGX_HTTP_TUNE_SENTINEL_PORT   26379
#define NGX_HTTP_TUNE_REDIS_DB_MAX    65535

/* the metrics' counter table takes this part of the zone */
#define NGX_HTTP_TUNE_METRICS_SHARE   8





typedef struct {
    /* tune_redis: a host (resolved at configuration time) or a socket */
    ngx_str_t                 redis_addr;      /* NUL-terminated */
    ngx_int_t                 redis_port;      /* 0: unix socket */
    ngx_str_t                 redis_text;      /* as written, for logs */
    ngx_str_t                 redis_user;      /* user=, ACL user; or empty */
    ngx_str_t                 redis_password;  /* password=; never logged */
    ngx_uint_t                redis_db;        /* db=, 0: the default */
    /* sentinel=: the Sentinels (tune_link_sentinel_t, resolved at
     * configuration time), or NULL for the one address above */
    ngx_array_t              *redis_sentinels;
    ngx_str_t                 redis_master;    /* master= */
    ngx_str_t                 redis_sentinel_user;      /* sentinel_user= */
    ngx_str_t                 redis_sentinel_password;  /* never logged */
    ngx_msec_t                herd_window;     /* tune_herd_window */
    ngx_flag_t                metrics_streams; /* tune_metrics_streams */
    ngx_array_t              *allow;           /* tune_allow: tune_allow_t,
                                                  NULL: every URL */

    ngx_msec_t                refresh;         /* tune_refresh */
    ngx_msec_t                redis_timeout;   /* tune_redis_timeout */
    size_t                    zone_size;       /* tune_zone_size */

    ngx_shm_zone_t           *shm_zone;

    /*
     * This worker's memory of the herd's counts (tune_choose.h), in its
     * own heap: made and grown by the first tune-in that needs it, after
     * the fork, so no two workers share it.
     */
    tune_choice_memo_t       *choice_memo;
    ngx_msec_t                choice_memo_retry;  /* after a failed
                                                     allocation, not before */

    /* where the first "tune" is, to name it when tune_redis is missing */
    u_char                   *tune_file;
    ngx_uint_t                tune_line;
    const char               *tune_directive;

    /* tune_https_proxies somewhere; $realip_remote_addr's index or
     * NGX_ERROR (ngx_http_tune_https.c) */
    ngx_flag_t                https_proxies_used;
    ngx_int_t                 realip_index;
} ngx_http_tune_main_conf_t;


#define NGX_HTTP_TUNE_MODE_REDIRECT   0
#define NGX_HTTP_TUNE_MODE_PROXY      1

/* tune_https_fallback: what an HTTPS tune-in no https:// slot takes gets */
#define NGX_HTTP_TUNE_HTTPS_FULL      0
#define NGX_HTTP_TUNE_HTTPS_PROXY     1


typedef struct {
    ngx_flag_t                enable;          /* tune */
    ngx_flag_t                status;          /* tune_status */
    ngx_flag_t                metrics;         /* tune_metrics */
    ngx_uint_t                mode;            /* tune_mode */
    ngx_msec_t                stale;           /* tune_stale, 0: off */
    ngx_http_complex_value_t *region;          /* tune_region */
    ngx_http_complex_value_t *full;            /* tune_full URL, NULL: 503 */
    ngx_flag_t                full_set;
    ngx_uint_t                proxy_tries;     /* tune_proxy_tries */
    ngx_uint_t                schemes;         /* tune_schemes */
    ngx_flag_t                https_only;      /* tune_https_only */
    ngx_uint_t                https_fallback;  /* tune_https_fallback */
    ngx_array_t              *https_proxies;   /* tune_https_proxies:
                                                  ngx_cidr_t, NULL: none */
    ngx_uint_t                own_pages;       /* retry pages added, bits */
    ngx_array_t              *pages_before;    /* error_pages before them */
    ngx_array_t              *pages;           /* ... and with them */

    /* where "tune" is, for errors found when merging */
    u_char                   *file;
    ngx_uint_t                line;

    /*
     * proxy mode: the content handler the location would have without
     * "tune" (proxy_pass and friends); tune chooses, then hands over
     */
    ngx_http_handler_pt       next_handler;
} ngx_http_tune_loc_conf_t;


/* what a stream name ends with, to be answered as a playlist */
typedef enum {
    NGX_HTTP_TUNE_ANSWER_STREAM = 0,
    NGX_HTTP_TUNE_ANSWER_M3U,
    NGX_HTTP_TUNE_ANSWER_PLS,
    NGX_HTTP_TUNE_ANSWER_XSPF
} ngx_http_tune_answer_e;


#define NGX_HTTP_TUNE_MAX_TRIES       8


/*
 * One tune-in.  Kept across the internal redirects of proxy mode (nginx
 * clears module contexts there; ngx_http_tune_get_ctx() finds it again
 * through the request pool's cleanup list), so variables and retries see
 * the whole story.
 */
typedef struct {
    ngx_http_request_t       *request;
    ngx_str_t                 stream;
    ngx_str_t                 backend;         /* of the slot chosen last */
    ngx_str_t                 url;             /* its URL, or tune_full's */
    ngx_str_t                 outcome;         /* $tune_outcome */

    /* proxy mode: backends tried so far, the last one is "backend", and
     * where each one's upstream states begin in r->upstream_states */
    ngx_str_t                 tried[NGX_HTTP_TUNE_MAX_TRIES];
    ngx_uint_t                state_start[NGX_HTTP_TUNE_MAX_TRIES];
    ngx_uint_t                ntried;

    /* TUNE_SCHEME_* bits of the slots this listener may be sent to */
    uint32_t                  schemes;

    /* the location (its "tune") that handed over: retries come back there */
    u_char                   *file;
    ngx_uint_t                line;

    unsigned                  proxying:1;      /* handed to next_handler */
    unsigned                  peek:1;          /* choose, reserve nothing */
    unsigned                  icy_checked:1;
    unsigned                  known:1;         /* the snapshot had stream */
    unsigned                  counted:1;       /* in the metrics */
    unsigned                  fallback:1;      /* tune_https_fallback proxy
                                                  may take over */
    unsigned                  https:1;         /* an HTTPS tune-in, kept to
                                                  https:// slots */

    /* the upstream's own callbacks, wrapped for ICY status lines */
    ngx_int_t               (*process_header)(ngx_http_request_t *r);
    ngx_int_t               (*reinit_request)(ngx_http_request_t *r);
} ngx_http_tune_ctx_t;


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
ngx_int_t ngx_http_tune_overflow(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx);
ngx_int_t ngx_http_tune_redirect(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx);
ngx_int_t ngx_http_tune_no_store(ngx_http_request_t *r);
ngx_int_t ngx_http_tune_send(ngx_http_request_t *r, ngx_buf_t *b,
    const char *type);
ngx_table_elt_t *ngx_http_tune_add_header(ngx_http_request_t *r,
    const char *key, ngx_str_t *value);

/* ngx_http_tune_proxy.c */
char *ngx_http_tune_proxy_merge(ngx_conf_t *cf,
    ngx_http_tune_loc_conf_t *tlcf);
ngx_int_t ngx_http_tune_proxy_pass(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx);
ngx_int_t ngx_http_tune_proxy_retry(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx);
char *ngx_http_tune_proxy_inherit(ngx_conf_t *cf,
    ngx_http_tune_loc_conf_t *conf, ngx_http_tune_loc_conf_t *prev);
ngx_uint_t ngx_http_tune_has_page(ngx_http_err_page_t *err, ngx_uint_t n,
    ngx_int_t status);
ngx_uint_t ngx_http_tune_proxy_own_page(ngx_http_tune_loc_conf_t *tlcf,
    ngx_int_t status);

/* ngx_http_tune_variables.c */
ngx_int_t ngx_http_tune_add_variables(ngx_conf_t *cf);
ngx_http_tune_ctx_t *ngx_http_tune_get_ctx(ngx_http_request_t *r);
ngx_http_tune_ctx_t *ngx_http_tune_create_ctx(ngx_http_request_t *r);

/* ngx_http_tune_status.c */
ngx_int_t ngx_http_tune_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_tune_read_only(ngx_http_request_t *r);
void ngx_http_tune_status_in(ngx_http_request_t *r,
    ngx_http_tune_zone_t *zone, tune_status_in_t *in,
    tune_status_redis_t *redis);

/* ngx_http_tune_https.c */
uint32_t ngx_http_tune_schemes(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx);
char *ngx_http_tune_schemes_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_tune_https_proxies(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_tune_https_init(ngx_conf_t *cf);

/* ngx_http_tune_metrics.c */
tune_metrics_t *ngx_http_tune_metrics_create(ngx_slab_pool_t *shpool,
    size_t zone_size);
ngx_int_t ngx_http_tune_metrics_log(ngx_http_request_t *r);
ngx_int_t ngx_http_tune_metrics_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_TUNE_MODULE_H_INCLUDED_ */
