
/*
 * Copyright (C) tuneslot developers
 */


/*
 * ngx_stream_tune_module: tune-ins at the TCP level, for players that
 * speak RTMP or RTSP and follow no HTTP redirect.  Each new connection of
 * a server with tune_stream is given the least-loaded slot of the stream,
 * by the same choice as /tune/ (core's tune_choose.h: region, herd
 * reservations and credits, allowlist, staleness, drains), and
 * ngx_stream_proxy_module connects it there ("proxy_pass $tune_upstream").
 *
 * There is no second refresher: the module reads the zone
 * ngx_http_tune_module keeps ("tune_snapshot", filled from Redis by that
 * module's refresher, which also claims the herd credits of every
 * reservation made here).  So the http block needs tune_redis, and
 * ngx_http_tune_module is loaded before this one.  Nothing of that module
 * is linked: the zone's layout is checked at every look.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

/* ngx_http_module, the http block's core module, is nginx's own */
extern ngx_module_t  ngx_http_module;

#include "ngx_http_tune_zone.h"

#include <tune_choose.h>
#include <tune_name.h>
#include <tune_url.h>


typedef struct {
    ngx_shm_zone_t               *shm_zone;     /* ngx_http_tune_module's */

    /* the first tune_stream, for errors found later */
    u_char                       *file;
    ngx_uint_t                    line;
} ngx_stream_tune_main_conf_t;


typedef struct {
    ngx_stream_complex_value_t   *stream;       /* tune_stream */
    ngx_stream_complex_value_t   *region;       /* tune_region */
    ngx_msec_t                    stale;        /* tune_stale, 0: off */
    ngx_uint_t                    schemes;      /* tune_stream_scheme */
    ngx_flag_t                    rtsp_preread; /* tune_rtsp_preread */

    /* the content handler the server would have without tune_stream
     * (proxy_pass): the choice is made, then it connects */
    ngx_stream_content_handler_pt next_handler;
} ngx_stream_tune_srv_conf_t;


/* one connection's tune-in */
typedef struct {
    ngx_str_t                     stream;
    ngx_str_t                     backend;
    ngx_str_t                     url;
    ngx_str_t                     upstream;     /* host:port of url */
    ngx_str_t                     outcome;
    ngx_str_t                     rtsp_stream;  /* from the request line */
    unsigned                      rtsp_read:1;
} ngx_stream_tune_ctx_t;


/* the longest RTSP request line read for its URL */
#define NGX_STREAM_TUNE_RTSP_LINE_MAX   4096

/* slots passed over for a URL without an address, at most */
#define NGX_STREAM_TUNE_MAX_TRIES       8


static ngx_int_t ngx_stream_tune_preread(ngx_stream_session_t *s);
static void ngx_stream_tune_content(ngx_stream_session_t *s);
static ngx_stream_tune_ctx_t *ngx_stream_tune_get_ctx(
    ngx_stream_session_t *s);
static ngx_int_t ngx_stream_tune_rtsp(ngx_stream_session_t *s,
    ngx_stream_tune_ctx_t *ctx);
static ngx_int_t ngx_stream_tune_choose(ngx_stream_session_t *s,
    ngx_stream_tune_srv_conf_t *tscf, ngx_stream_tune_ctx_t *ctx);
static ngx_http_tune_zone_t *ngx_stream_tune_zone(ngx_stream_session_t *s);
static ngx_int_t ngx_stream_tune_copy(ngx_stream_session_t *s,
    ngx_str_t *dst, const tune_image_t *img, tune_str_t src);
static ngx_int_t ngx_stream_tune_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_stream_tune_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_stream_tune_init(ngx_conf_t *cf);
static void *ngx_stream_tune_create_main_conf(ngx_conf_t *cf);
static char *ngx_stream_tune_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_stream_tune_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_tune_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_stream_tune_stream(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_stream_tune_scheme(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_stream_tune_stale(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_stream_tune_commands[] = {

    { ngx_string("tune_stream"),
      NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_tune_stream,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tune_stream_scheme"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_1MORE,
      ngx_stream_tune_scheme,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tune_region"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_set_complex_value_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_tune_srv_conf_t, region),
      NULL },

    { ngx_string("tune_stale"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_stream_tune_stale,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tune_rtsp_preread"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_tune_srv_conf_t, rtsp_preread),
      NULL },

      ngx_null_command
};


static ngx_stream_module_t  ngx_stream_tune_module_ctx = {
    ngx_stream_tune_add_variables,         /* preconfiguration */
    ngx_stream_tune_init,                  /* postconfiguration */

    ngx_stream_tune_create_main_conf,      /* create main configuration */
    ngx_stream_tune_init_main_conf,        /* init main configuration */

    ngx_stream_tune_create_srv_conf,       /* create server configuration */
    ngx_stream_tune_merge_srv_conf         /* merge server configuration */
};


ngx_module_t  ngx_stream_tune_module = {
    NGX_MODULE_V1,
    &ngx_stream_tune_module_ctx,           /* module context */
    ngx_stream_tune_commands,              /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_stream_variable_t  ngx_stream_tune_vars[] = {

    { ngx_string("tune_stream"), NULL, ngx_stream_tune_variable,
      offsetof(ngx_stream_tune_ctx_t, stream), NGX_STREAM_VAR_NOCACHEABLE,
      0 },

    { ngx_string("tune_backend"), NULL, ngx_stream_tune_variable,
      offsetof(ngx_stream_tune_ctx_t, backend), NGX_STREAM_VAR_NOCACHEABLE,
      0 },

    { ngx_string("tune_url"), NULL, ngx_stream_tune_variable,
      offsetof(ngx_stream_tune_ctx_t, url), NGX_STREAM_VAR_NOCACHEABLE,
      0 },

    { ngx_string("tune_upstream"), NULL, ngx_stream_tune_variable,
      offsetof(ngx_stream_tune_ctx_t, upstream), NGX_STREAM_VAR_NOCACHEABLE,
      0 },

    { ngx_string("tune_outcome"), NULL, ngx_stream_tune_variable,
      offsetof(ngx_stream_tune_ctx_t, outcome), NGX_STREAM_VAR_NOCACHEABLE,
      0 },

    { ngx_string("tune_rtsp_stream"), NULL, ngx_stream_tune_variable,
      offsetof(ngx_stream_tune_ctx_t, rtsp_stream), NGX_STREAM_VAR_NOCACHEABLE,
      0 },

      ngx_stream_null_variable
};


static ngx_str_t  ngx_stream_tune_zone_name = ngx_string("tune_snapshot");
static ngx_str_t  ngx_stream_tune_http_module =
                      ngx_string("ngx_http_tune_module");


/*
 * The preread phase, with tune_rtsp_preread: the first RTSP request line is
 * awaited (bounded by preread_buffer_size and preread_timeout, nginx's
 * own), for $tune_rtsp_stream.
 */

static ngx_int_t
ngx_stream_tune_preread(ngx_stream_session_t *s)
{
    ngx_stream_tune_ctx_t       *ctx;
    ngx_stream_tune_srv_conf_t  *tscf;

    tscf = ngx_stream_get_module_srv_conf(s, ngx_stream_tune_module);

    if (tscf->stream == NULL || !tscf->rtsp_preread) {
        return NGX_DECLINED;
    }

    ctx = ngx_stream_tune_get_ctx(s);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (!ctx->rtsp_read && ngx_stream_tune_rtsp(s, ctx) == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    return NGX_DECLINED;
}


/*
 * The content phase: the choice, made once every preread handler is done
 * (ssl_preread ends the phase when it has read a ClientHello: a name of
 * $ssl_preread_server_name is known only then), before the handler the
 * server would have without tune_stream (proxy_pass) connects to
 * $tune_upstream.  No slot: the session ends at once, with the status the
 * choice says (503; 400 for a name the rules refuse).
 */

static void
ngx_stream_tune_content(ngx_stream_session_t *s)
{
    ngx_int_t                    rc;
    ngx_stream_tune_ctx_t       *ctx;
    ngx_stream_tune_srv_conf_t  *tscf;

    tscf = ngx_stream_get_module_srv_conf(s, ngx_stream_tune_module);

    ctx = ngx_stream_tune_get_ctx(s);
    if (ctx == NULL) {
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_stream_tune_choose(s, tscf, ctx);

    if (rc != NGX_OK) {
        ngx_stream_finalize_session(s, rc == NGX_ERROR
                                       ? NGX_STREAM_INTERNAL_SERVER_ERROR
                                       : rc);
        return;
    }

    tscf->next_handler(s);
}


static ngx_stream_tune_ctx_t *
ngx_stream_tune_get_ctx(ngx_stream_session_t *s)
{
    ngx_stream_tune_ctx_t  *ctx;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_tune_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(s->connection->pool, sizeof(ngx_stream_tune_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_stream_set_ctx(s, ctx, ngx_stream_tune_module);
    }

    return ctx;
}


/*
 * The stream an RTSP player asks for: the first path segment of the URL in
 * its first request line ("DESCRIBE rtsp://host:8554/demo RTSP/1.0", or
 * OPTIONS first).  NGX_AGAIN until the line is complete; NGX_OK with
 * ctx->rtsp_stream set, or empty when the line is no RTSP request or its
 * URL has no path.  The bytes stay in the buffer for the backend.
 */

static ngx_int_t
ngx_stream_tune_rtsp(ngx_stream_session_t *s, ngx_stream_tune_ctx_t *ctx)
{
    u_char     *p, *last, *eol, *method, *url, *end, *seg;
    ngx_buf_t  *b;

    b = s->connection->buffer;

    if (b == NULL || b->last == b->pos) {
        return NGX_AGAIN;
    }

    p = b->pos;
    last = b->last;

    /* an empty line before the request is skipped, as RTSP servers do */
    while (p < last && (*p == CR || *p == LF)) {
        p++;
    }

    if (p == last) {
        return NGX_AGAIN;
    }

    /* a line ends at CR or LF: a bare CR ends one too (RFC 2326, 4) */
    for (eol = p; eol < last && *eol != CR && *eol != LF; eol++) {
        /* void */
    }

    if (eol == last) {
        eol = NULL;
    }

    if (eol == NULL) {
        if (last - b->pos >= NGX_STREAM_TUNE_RTSP_LINE_MAX) {
            ctx->rtsp_read = 1;
            return NGX_OK;
        }

        /* a method is uppercase letters: anything else is no RTSP */
        for ( /* void */ ; p < last && *p != ' '; p++) {
            if (*p < 'A' || *p > 'Z') {
                ctx->rtsp_read = 1;
                return NGX_OK;
            }
        }

        return NGX_AGAIN;
    }

    ctx->rtsp_read = 1;

    /* METHOD SP rtsp://host[:port]/stream[/more] SP RTSP/1.0 */

    method = p;

    for ( /* void */ ; p < eol && *p != ' '; p++) {
        if (*p < 'A' || *p > 'Z') {
            return NGX_OK;
        }
    }

    if (p == method || p == eol) {
        return NGX_OK;
    }

    url = p + 1;
    end = ngx_strlchr(url, eol, ' ');

    if (end == NULL) {
        return NGX_OK;
    }

    if (end - url > 7 && ngx_strncasecmp(url, (u_char *) "rtsp://", 7) == 0) {
        url += 7;

    } else if (end - url > 8
               && ngx_strncasecmp(url, (u_char *) "rtsps://", 8) == 0)
    {
        url += 8;

    } else {
        return NGX_OK;
    }

    seg = ngx_strlchr(url, end, '/');

    if (seg == NULL) {
        return NGX_OK;
    }

    seg++;

    /* up to the next segment, the query or the segment's parameters */
    for (p = seg; p < end && *p != '/' && *p != '?' && *p != ';'; p++) {
        /* void */
    }

    /* the name is checked with the rules of every name when it is used */
    ctx->rtsp_stream.data = seg;
    ctx->rtsp_stream.len = p - seg;

    return NGX_OK;
}


/*
 * The choice of core's tune_choose.h, made as a peek: the slot is counted
 * (tune_herd_take()) only once its URL gave an address to connect to, and
 * a slot whose URL gives none (a port out of range) is passed over for the
 * next one, as a proxied tune-in passes over a slot that failed.
 */

static ngx_int_t
ngx_stream_tune_choose(ngx_stream_session_t *s,
    ngx_stream_tune_srv_conf_t *tscf, ngx_stream_tune_ctx_t *ctx)
{
    size_t                     len;
    void                      *work;
    ngx_str_t                  name, region;
    tune_rc_t                  trc;
    ngx_int_t                  rc;
    ngx_uint_t                 ntried;
    tune_choice_t              ch;
    tune_choice_req_t          req;
    ngx_connection_t          *c;
    const tune_image_t        *img;
    tune_choice_name_t         tried[NGX_STREAM_TUNE_MAX_TRIES];
    ngx_http_tune_zone_t      *zone;
    const tune_image_slot_t   *slot;
    u_char                     upstream[TUNE_URL_MAX + 1];

    c = s->connection;

    if (ngx_stream_complex_value(s, tscf->stream, &name) != NGX_OK) {
        return NGX_ERROR;
    }

    trc = tune_name_check((const char *) name.data, name.len);

    if (trc != TUNE_OK) {
        /* the name itself is not logged: it may hold CR, LF or worse */
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "tune: invalid stream name: %s", tune_rc_reason(trc));
        ngx_str_set(&ctx->outcome, "invalid");
        return NGX_STREAM_BAD_REQUEST;
    }

    ctx->stream = name;

    ngx_str_null(&region);

    if (tscf->region
        && ngx_stream_complex_value(s, tscf->region, &region) != NGX_OK)
    {
        return NGX_ERROR;
    }

    zone = ngx_stream_tune_zone(s);

    ngx_memzero(&req, sizeof(tune_choice_req_t));

    req.stream = (const char *) name.data;
    req.stream_len = name.len;
    req.region = (const char *) region.data;
    req.region_len = region.len;
    req.stale_ms = (int64_t) tscf->stale;
    req.schemes = (uint32_t) tscf->schemes;
    req.now_ms = ngx_http_tune_herd_now();
    req.rnd = ((uint32_t) ngx_random() << 16) ^ (uint32_t) ngx_random();
    req.tried = tried;
    req.peek = 1;

    if (zone == NULL) {
        (void) tune_choose_begin(NULL, &req, &ch);
        goto failed;
    }

    req.window = (uint32_t) zone->herd_window;

    ngx_shmtx_lock(&zone->shpool->mutex);

    img = tune_image_get(zone->sh->image, zone->sh->image_cap);

    req.herd = zone->sh->herd;
    req.age_ms = img ? (int64_t) ngx_http_tune_snapshot_age(zone, img) : 0;

    rc = NGX_OK;
    ntried = 0;

    if (tune_choose_begin(img, &req, &ch) == TUNE_CHOICE_OK) {

        /* the pool is this process's memory: allocating under the lock is
         * fine */
        work = ngx_palloc(c->pool, ch.work_size);
        if (work == NULL) {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            return NGX_ERROR;
        }

        for ( ;; ) {
            req.ntried = ntried;

            if (tune_choose_pick(img, &req, &ch, work) != TUNE_CHOICE_OK) {
                break;
            }

            slot = tune_image_slots(img) + ch.slot;

            trc = tune_url_endpoint(tune_image_str(img, slot->url),
                                    slot->url.len, (char *) upstream,
                                    sizeof(upstream), &len);

            if (trc == TUNE_OK) {
                tune_herd_take(req.herd, img, ch.stream, ch.slot, req.now_ms,
                               req.window);

                if (ngx_stream_tune_copy(s, &ctx->backend, img,
                                         slot->backend)
                    != NGX_OK
                    || ngx_stream_tune_copy(s, &ctx->url, img, slot->url)
                       != NGX_OK
                    || (ctx->upstream.data = ngx_pnalloc(c->pool, len))
                       == NULL)
                {
                    rc = NGX_ERROR;
                    break;
                }

                ngx_memcpy(ctx->upstream.data, upstream, len);
                ctx->upstream.len = len;
                break;
            }

            /* a name of the image's, which outlives the lock's hold */
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "tune: \"%V\": the slot on \"%*s\" has no address "
                          "to connect to: %s", &ctx->stream,
                          (size_t) slot->backend.len,
                          tune_image_str(img, slot->backend),
                          tune_rc_reason(trc));

            if (ntried == NGX_STREAM_TUNE_MAX_TRIES) {
                ch.outcome = TUNE_CHOICE_NO_SLOT;
                ch.reason = "no slot with an address is up";
                break;
            }

            tried[ntried].data = tune_image_str(img, slot->backend);
            tried[ntried].len = slot->backend.len;
            ntried++;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ch.outcome != TUNE_CHOICE_OK) {
        goto failed;
    }

    ngx_str_set(&ctx->outcome, "proxy");

    ngx_log_debug3(NGX_LOG_DEBUG_STREAM, c->log, 0,
                   "tune: \"%V\" -> \"%V\" (%V)",
                   &ctx->stream, &ctx->url, &ctx->upstream);

    return NGX_OK;

failed:

    switch (ch.outcome) {

    case TUNE_CHOICE_NOT_FOUND:
        ngx_str_set(&ctx->outcome, "unknown");
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "tune: \"%V\" not given a slot: no such stream",
                      &ctx->stream);
        return NGX_STREAM_SERVICE_UNAVAILABLE;

    case TUNE_CHOICE_FULL:
    case TUNE_CHOICE_OTHER_SCHEME:
        ngx_str_set(&ctx->outcome, "full");
        break;

    case TUNE_CHOICE_STALE:
        ngx_str_set(&ctx->outcome, "stale");
        break;

    default:
        ngx_str_set(&ctx->outcome, "unavailable");
        break;
    }

    ngx_log_error(NGX_LOG_WARN, c->log, 0,
                  "tune: \"%V\" not given a slot: %s", &ctx->stream,
                  zone ? ch.reason
                       : "no snapshot: \"tune_redis\" in the http block "
                         "keeps it (or ngx_http_tune_module is of another "
                         "version: restart nginx)");

    return NGX_STREAM_SERVICE_UNAVAILABLE;
}


/*
 * ngx_http_tune_module's zone of this configuration; NULL while it has
 * none (no tune_redis in the http block) or one laid out otherwise (a
 * module built from other sources).
 */

static ngx_http_tune_zone_t *
ngx_stream_tune_zone(ngx_stream_session_t *s)
{
    ngx_http_tune_zone_t         *zone;
    ngx_stream_tune_main_conf_t  *tmcf;

    tmcf = ngx_stream_get_module_main_conf(s, ngx_stream_tune_module);

    zone = tmcf->shm_zone ? tmcf->shm_zone->data : NULL;

    if (zone == NULL || zone->version != NGX_HTTP_TUNE_SH_LAYOUT
        || zone->sh == NULL)
    {
        return NULL;
    }

    return zone;
}


static ngx_int_t
ngx_stream_tune_copy(ngx_stream_session_t *s, ngx_str_t *dst,
    const tune_image_t *img, tune_str_t src)
{
    dst->len = src.len;
    dst->data = ngx_pnalloc(s->connection->pool, src.len);

    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, tune_image_str(img, src), src.len);

    return NGX_OK;
}


/*
 * Not found until the choice ran, as an access log line wants; not cached,
 * so that a look before the preread phase (a "set", limit_conn_zone) does
 * not keep "not found" for the rest of the session.
 */

static ngx_int_t
ngx_stream_tune_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data)
{
    ngx_str_t              *value;
    ngx_stream_tune_ctx_t  *ctx;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_tune_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    value = (ngx_str_t *) ((char *) ctx + data);

    if (value->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = value->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = value->data;

    return NGX_OK;
}


static ngx_int_t
ngx_stream_tune_add_variables(ngx_conf_t *cf)
{
    ngx_stream_variable_t  *var, *v;

    for (v = ngx_stream_tune_vars; v->name.len; v++) {
        var = ngx_stream_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_stream_tune_init(ngx_conf_t *cf)
{
    ngx_stream_handler_pt        *h;
    ngx_stream_core_main_conf_t  *cmcf;

    cmcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_STREAM_PREREAD_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_stream_tune_preread;

    return NGX_OK;
}


static void *
ngx_stream_tune_create_main_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     tmcf->shm_zone = NULL;
     *     tmcf->file = NULL;
     *     tmcf->line = 0;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_stream_tune_main_conf_t));
}


/*
 * An http block read before this stream block without tune_redis gave the
 * zone no size: said here, with the place of tune_stream.  (An http block
 * after this one says it itself.)
 */

static char *
ngx_stream_tune_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_stream_tune_main_conf_t *tmcf = conf;

    if (tmcf->shm_zone && tmcf->shm_zone->shm.size == 0
        && cf->cycle->conf_ctx[ngx_http_module.index] != NULL)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"tune_stream\" in %s:%ui requires \"tune_redis\" in "
                      "the http block", tmcf->file, tmcf->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_stream_tune_create_srv_conf(ngx_conf_t *cf)
{
    ngx_stream_tune_srv_conf_t  *tscf;

    tscf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_tune_srv_conf_t));
    if (tscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     tscf->stream = NULL;
     *     tscf->region = NULL;
     *     tscf->next_handler = NULL;
     */

    tscf->stale = NGX_CONF_UNSET_MSEC;
    tscf->schemes = NGX_CONF_UNSET_UINT;
    tscf->rtsp_preread = NGX_CONF_UNSET;

    return tscf;
}


static char *
ngx_stream_tune_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_stream_tune_srv_conf_t *prev = parent;
    ngx_stream_tune_srv_conf_t *conf = child;

    ngx_stream_core_srv_conf_t  *cscf;

    if (conf->region == NULL) {
        conf->region = prev->region;
    }

    ngx_conf_merge_msec_value(conf->stale, prev->stale, 60000);
    ngx_conf_merge_value(conf->rtsp_preread, prev->rtsp_preread, 0);

    /*
     * A server speaks one protocol, and the proxy carries its bytes as they
     * are: RTMP to rtmp:// slots, or RTSP where the request line is read.
     * Never a TLS scheme unless named: its server would get plain bytes.
     */
    ngx_conf_merge_uint_value(conf->schemes, prev->schemes,
                              conf->rtsp_preread ? TUNE_SCHEME_RTSP
                                                 : TUNE_SCHEME_RTMP);

    if (conf->stream == NULL) {
        return NGX_CONF_OK;
    }

    /* proxy_pass may come before or after tune_stream: all are read now */
    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);

    /* (a server without one nginx refuses itself: "no handler for server") */
    if (cscf->handler != NULL && cscf->handler != ngx_stream_tune_content) {
        conf->next_handler = cscf->handler;
        cscf->handler = ngx_stream_tune_content;
    }

    return NGX_CONF_OK;
}


/*
 * tune_stream name: the zone is ngx_http_tune_module's, asked for by its
 * name and that module's tag, found among the modules loaded (a symbol of
 * that module's would tie the order in which the two are loaded)
 */

static char *
ngx_stream_tune_stream(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_tune_srv_conf_t *tscf = conf;

    ngx_str_t                           *value;
    ngx_uint_t                           i;
    ngx_module_t                        *http;
    ngx_stream_tune_main_conf_t         *tmcf;
    ngx_stream_compile_complex_value_t   ccv;

    if (tscf->stream) {
        return "is duplicate";
    }

    value = cf->args->elts;

    tscf->stream = ngx_palloc(cf->pool, sizeof(ngx_stream_complex_value_t));
    if (tscf->stream == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_stream_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = tscf->stream;

    if (ngx_stream_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (tscf->stream->lengths == NULL
        && tune_name_check((const char *) value[1].data, value[1].len)
           != TUNE_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid stream name \"%V\" in \"tune_stream\": "
                           "%s", &value[1],
                           tune_rc_reason(tune_name_check(
                               (const char *) value[1].data, value[1].len)));
        return NGX_CONF_ERROR;
    }

    tmcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_tune_module);

    if (tmcf->shm_zone) {
        return NGX_CONF_OK;
    }

    tmcf->file = cf->conf_file->file.name.data;
    tmcf->line = cf->conf_file->line;

    http = NULL;

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (cf->cycle->modules[i]->name
            && ngx_strcmp(cf->cycle->modules[i]->name,
                          ngx_stream_tune_http_module.data)
               == 0)
        {
            http = cf->cycle->modules[i];
            break;
        }
    }

    if (http == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tune_stream\" needs ngx_http_tune_module: "
                           "load it (load_module) before "
                           "ngx_stream_tune_module, and give the http "
                           "block \"tune_redis\"");
        return NGX_CONF_ERROR;
    }

    /* size 0: the http block's tune_redis gives the size, or nginx says
     * the zone has none */
    tmcf->shm_zone = ngx_shared_memory_add(cf, &ngx_stream_tune_zone_name, 0,
                                           http);
    if (tmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* tune_stream_scheme rtmp | rtmps | rtsp | rtsps | http | https ... */

static char *
ngx_stream_tune_scheme(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_tune_srv_conf_t *tscf = conf;

    uint32_t     bit;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (tscf->schemes != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    tscf->schemes = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        bit = tune_scheme_by_name((const char *) value[i].data, value[i].len);

        if (bit == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" of "
                               "\"tune_stream_scheme\", expected rtmp, "
                               "rtmps, rtsp, rtsps, http or https",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        tscf->schemes |= bit;
    }

    return NGX_CONF_OK;
}


/* tune_stale time | off: as in the http block, at least a second */

static char *
ngx_stream_tune_stale(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_tune_srv_conf_t *tscf = conf;

    ngx_str_t   *value;
    ngx_msec_t   t;

    if (tscf->stale != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        tscf->stale = 0;
        return NGX_CONF_OK;
    }

    t = ngx_parse_time(&value[1], 0);

    if (t == (ngx_msec_t) NGX_ERROR) {
        return "has an invalid time";
    }

    if (t < 1000) {
        return "must be at least 1s";
    }

    tscf->stale = t;

    return NGX_CONF_OK;
}
