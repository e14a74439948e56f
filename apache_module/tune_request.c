/*
 * Copyright (C) tuneslot developers
 *
 * /tune/<stream>: the name, the answer (redirect, playlist, error), and
 * the hand-off to mod_proxy in proxy mode.
 */


#include "tune_request.h"
#include "tune_shm.h"
#define MTUNE_RESERVE_HTTPD
#include "tune_reserve.h"
#include "tune_https.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_script.h"
#include "apr_lib.h"

#include <stdlib.h>

#include <tune_choose.h>
#include <tune_name.h>
#include <tune_url.h>


#define TUNE_PROXY_HANDLER   "proxy-server"


static int mtune_location_is_ours(request_rec *r);
static mtune_ctx_t *mtune_ctx(request_rec *r);
static void mtune_parse_name(request_rec *r, mtune_ctx_t *ctx);
static int mtune_is_ours(request_rec *r);
static int mtune_reserve_kept_now(request_rec *r, mtune_dir_conf_t *dc,
    mtune_ctx_t *ctx, mtune_reserve_e *action);
static void mtune_proxy_to(request_rec *r, mtune_ctx_t *ctx);
static int mtune_retryable(request_rec *r, int status);
static int mtune_proxy_failed(request_rec *r, mtune_ctx_t *ctx);
static int mtune_answer(request_rec *r, mtune_ctx_t *ctx, int status);
static int mtune_redirect(request_rec *r, mtune_ctx_t *ctx);
static int mtune_playlist(request_rec *r, mtune_ctx_t *ctx);
static int mtune_playlist_self(request_rec *r, mtune_ctx_t *ctx,
    apr_array_header_t *entries);
static void mtune_set_env(request_rec *r, mtune_ctx_t *ctx);
static const char *mtune_copy(request_rec *r, const tune_image_t *img,
    tune_str_t s);
static uint32_t mtune_random(void);
static tune_choice_memo_t *mtune_choice_memo(const tune_image_t *img);


/*
 * This child's memory of the herd's counts (tune_choose.h): its threads use
 * it only under the segment's lock, as they use the table.  Made after the
 * fork, by the first tune-in that needs it, so no two children share it.
 */
static tune_choice_memo_t  *mtune_memo;


/* ---- hooks ------------------------------------------------------------ */

/*
 * A tune location names streams, not files: like mod_proxy for its
 * requests, it maps no URI to a file (core would answer 403 itself for a
 * name longer than a file name may be, where a tune-in answers 400) and
 * skips the walk of the file system (a stat() per request).  <Directory>
 * sections do not apply to it.
 */

int
mtune_translate_name(request_rec *r)
{
    /* the <Location> walk ran before translate_name */
    if (r->proxyreq || !mtune_location_is_ours(r)) {
        return DECLINED;
    }

    r->filename = apr_pstrcat(r->pool, "tune:", r->uri, NULL);

    return OK;
}


int
mtune_map_to_storage(request_rec *r)
{
    int                ours;
    ap_conf_vector_t  *server;

    if (r->proxyreq || r->filename == NULL
        || strncmp(r->filename, "tune:", 5) != 0)
    {
        return DECLINED;
    }

    /*
     * Walked again here, the <Location>s come from the walk's cache; the
     * server's config is put back, so that the walk after this hook finds
     * the cache as it left it.
     */
    server = r->per_dir_config;
    ours = ap_location_walk(r) == OK && mtune_location_is_ours(r);
    r->per_dir_config = server;

    return ours ? OK : DECLINED;
}


/* Tune On, or SetHandler tune or tune-status, in the config of r */

static int
mtune_location_is_ours(request_rec *r)
{
    const char       *handler, *err;
    core_dir_config  *cd;
    mtune_dir_conf_t *dc;

    dc = ap_get_module_config(r->per_dir_config, &tune_module);

    if (dc && dc->enabled == 1) {
        return 1;
    }

    cd = ap_get_core_module_config(r->per_dir_config);

    if (cd == NULL || cd->expr_handler == NULL) {
        return 0;
    }

    err = NULL;
    handler = ap_expr_str_exec(r, cd->expr_handler, &err);

    return err == NULL && handler
           && (strcmp(handler, TUNE_HANDLER) == 0
               || strcmp(handler, TUNE_STATUS_HANDLER) == 0
               || strcmp(handler, TUNE_METRICS_HANDLER) == 0);
}


/*
 * Tune On becomes the handler; in proxy mode the slot is chosen here and
 * the request handed to mod_proxy as mod_rewrite's [P] does: before
 * mod_proxy's own fixup, which canonicalises the URL.
 */

int
mtune_fixups(request_rec *r)
{
    int               rc, kept, fallback;
    uint32_t          listener;
    mtune_ctx_t      *ctx;
    mtune_reserve_e   action;
    mtune_dir_conf_t *dc;

    dc = ap_get_module_config(r->per_dir_config, &tune_module);

    if (dc->enabled == 1) {
        r->handler = TUNE_HANDLER;
    }

    fallback = (mtune_conf_mode(dc) != TUNE_MODE_PROXY
                && dc->https_fallback == TUNE_HTTPS_PROXY);

    /* the schemes of a fallback's listener, while it is proxied */
    listener = 0;

    if (!mtune_is_ours(r)
        || (mtune_conf_mode(dc) != TUNE_MODE_PROXY && !fallback)
        || (r->method_number != M_GET) || r->main)
    {
        return DECLINED;
    }

    ctx = mtune_ctx(r);
    mtune_parse_name(r, ctx);

    if (ctx->invalid || ctx->playlist != TUNE_PLAYLIST_NONE) {
        /* the handler answers these */
        return DECLINED;
    }

    if (fallback) {
        if (!ctx->https || !(mtune_conf_schemes(dc) & TUNE_SCHEME_HTTP)) {
            /* not an HTTPS tune-in (or no http:// slot to proxy to): the
             * handler redirects it */
            return DECLINED;
        }

        /*
         * Chosen here, where mod_proxy can still take the request: an
         * https:// slot is redirected to by the handler; when only
         * http:// slots have room, the listener hears one through this
         * server, over this connection's TLS.
         */
        ctx->fallback = 1;
        rc = mtune_choose(r, ctx, NULL);
        ctx->fallback = 0;

        if (rc != TUNE_OTHER_SCHEME) {
            if (rc == TUNE_FULL) {
                rc = mtune_overflow(r, ctx);
            }

            if (rc == OK) {
                ctx->chosen = 1;

            } else {
                ctx->status = rc;
            }

            return DECLINED;
        }

        listener = ctx->schemes;
        ctx->schemes = TUNE_SCHEME_HTTP;
    }

    /*
     * Asked before the choice: a tune-in answered 503 for the reserve is
     * no listener of the slot's and must not be counted against it
     */
    kept = mtune_reserve_kept_now(r, dc, ctx, &action);

    if (!kept && ctx->https) {
        /*
         * The reserve sends the listener to the slot itself: an HTTPS
         * listener to an https:// one only, or it is answered as a full
         * stream (TuneFull, https:// too, or 503)
         */
        ctx->schemes = mtune_https_schemes(r, dc, &ctx->https)
                       & TUNE_SCHEMES_WEB;
        ctx->schemes = ctx->schemes ? ctx->schemes : TUNE_SCHEMES_NONE;
    }

    if (!kept && action == TUNE_RESERVE_503) {
        ctx->peek = 1;
    }

    rc = mtune_choose(r, ctx, NULL);

    if (rc == TUNE_FULL || rc == TUNE_OTHER_SCHEME) {
        if (listener) {
            /* answered as full after all: to an https:// TuneFull only */
            ctx->schemes = listener;
        }

        rc = mtune_overflow(r, ctx);
    }

    if (rc != OK) {
        /* the handler answers it, after the access checks ran */
        ctx->status = rc;
        return DECLINED;
    }

    if (!kept) {
        /* the handler answers: a 302 to the slot, or 503 */
        ctx->outcome = "reserve";
        ctx->reserved = 1;

        if (action == TUNE_RESERVE_503) {
            ctx->status = HTTP_SERVICE_UNAVAILABLE;
        }

        mtune_set_env(r, ctx);
        return DECLINED;
    }

    if (ctx->outcome == NULL) {
        ctx->outcome = "proxy";
    }

    mtune_set_env(r, ctx);
    mtune_proxy_to(r, ctx);

    return DECLINED;
}


/*
 * Around mod_proxy's handler: when a slot fails before anything was sent
 * (refused, a bad answer: mod_proxy's 502, 503 or 504; 403 and 404 only
 * reach here with ProxyErrorOverride), the next-best untried slot.
 */

int
mtune_proxy_handler(request_rec *r)
{
    int               rc, status, tries;
    mtune_ctx_t      *ctx;
    mtune_dir_conf_t *dc;

    ctx = ap_get_module_config(r->request_config, &tune_module);

    if (ctx == NULL || !ctx->proxying || ctx->inside) {
        return DECLINED;
    }

    dc = ap_get_module_config(r->per_dir_config, &tune_module);
    tries = mtune_conf_proxy_tries(dc);

    for ( ;; ) {
        ctx->inside = 1;
        status = ap_run_handler(r);
        ctx->inside = 0;

        if (ctx->ntried > 0) {
            ctx->results[ctx->ntried - 1] = mtune_attempt_result(status,
                                                                 r->status);
        }

        if (!mtune_retryable(r, status)) {
            return status;
        }

        if (ctx->ntried >= tries || ctx->backend == NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "tune: \"%s\": %d slot(s) tried, the last, \"%s\", "
                          "answered %d", ctx->stream, ctx->ntried,
                          ctx->backend ? ctx->backend : "(overflow)",
                          status);
            return mtune_proxy_failed(r, ctx);
        }

        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "tune: \"%s\": slot \"%s\" answered %d, trying the "
                      "next", ctx->stream, ctx->backend, status);

        /* what mod_proxy left of the failed try */
        r->status = HTTP_OK;
        r->status_line = NULL;
        r->content_type = NULL;
        apr_table_clear(r->headers_out);

        rc = mtune_choose(r, ctx, NULL);

        if (rc != OK) {
            /* nothing left to try (TUNE_FULL: the rest is full) */
            return mtune_proxy_failed(r, ctx);
        }

        ctx->outcome = "proxy-retry";
        mtune_set_env(r, ctx);
        mtune_proxy_to(r, ctx);
    }
}


int
mtune_handler(request_rec *r)
{
    int          rc;
    mtune_ctx_t *ctx;

    if (r->handler && strcmp(r->handler, TUNE_STATUS_HANDLER) == 0) {
        return mtune_status_handler(r);
    }

    if (r->handler && strcmp(r->handler, TUNE_METRICS_HANDLER) == 0) {
        return mtune_metrics_handler(r);
    }

    if (!mtune_is_ours(r)) {
        return DECLINED;
    }

    /* GET and HEAD (M_GET with header_only): httpd's 405 lists them */
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);

    if (r->method_number != M_GET) {
        return mtune_answer(r, NULL, HTTP_METHOD_NOT_ALLOWED);
    }

    rc = ap_discard_request_body(r);
    if (rc != OK) {
        return rc;
    }

    ctx = mtune_ctx(r);
    mtune_parse_name(r, ctx);

    if (ctx->invalid) {
        ctx->outcome = "invalid";
        return mtune_answer(r, ctx, HTTP_BAD_REQUEST);
    }

    if (ctx->status) {
        /* proxy mode: the fixup found no slot, or the reserve says 503 */
        return mtune_answer(r, ctx, ctx->status);
    }

    if (ctx->reserved || ctx->chosen) {
        /* proxy mode: the listener goes to the slot itself; an HTTPS
         * tune-in the fixup found an https:// slot (or tune_full) for */
        return mtune_redirect(r, ctx);
    }

    if (ctx->playlist != TUNE_PLAYLIST_NONE) {
        rc = mtune_playlist(r, ctx);
        return (rc == OK) ? OK : mtune_answer(r, ctx, rc);
    }

    rc = mtune_choose(r, ctx, NULL);

    if (rc == TUNE_FULL || rc == TUNE_OTHER_SCHEME) {
        rc = mtune_overflow(r, ctx);
    }

    if (rc != OK) {
        return mtune_answer(r, ctx, rc);
    }

    return mtune_redirect(r, ctx);
}


/* ---- the name ------------------------------------------------------------ */

static mtune_ctx_t *
mtune_ctx(request_rec *r)
{
    mtune_ctx_t      *ctx;
    mtune_dir_conf_t *dc;

    ctx = ap_get_module_config(r->request_config, &tune_module);

    if (ctx == NULL) {
        ctx = apr_pcalloc(r->pool, sizeof(mtune_ctx_t));

        /* a HEAD never becomes a listener: answered, not counted */
        ctx->peek = r->header_only;
        ctx->retry_after = 1;

        dc = ap_get_module_config(r->per_dir_config, &tune_module);
        ctx->schemes = mtune_https_schemes(r, dc, &ctx->https);

        if (mtune_conf_mode(dc) == TUNE_MODE_PROXY) {
            /* proxied, the listener hears this server's scheme, whatever
             * the slot's: one mod_proxy speaks to */
            ctx->schemes = mtune_conf_schemes(dc) & TUNE_SCHEMES_WEB;
            ctx->schemes = ctx->schemes ? ctx->schemes : TUNE_SCHEMES_NONE;
        }

        ap_set_module_config(r->request_config, &tune_module, ctx);
    }

    return ctx;
}


static int
mtune_is_ours(request_rec *r)
{
    return r->handler && strcmp(r->handler, TUNE_HANDLER) == 0;
}


/*
 * The stream is what follows the section's path when it is a prefix ending
 * in "/" (<Location "/tune/">), else the last path segment.  r->uri is
 * already percent-decoded and free of dot segments.
 */

static void
mtune_parse_name(request_rec *r, mtune_ctx_t *ctx)
{
    size_t             len, prefix, stem;
    tune_rc_t          rc;
    const char        *name, *path;
    core_dir_config   *cd;

    if (ctx->parsed) {
        return;
    }

    ctx->parsed = 1;

    /*
     * The innermost section the request matched, as core merged it: its
     * path, and whether it was a regex (<LocationMatch>)
     */
    cd = ap_get_core_module_config(r->per_dir_config);
    path = (cd && cd->r == NULL) ? cd->d : NULL;
    prefix = path ? strlen(path) : 0;

    if (prefix > 1 && path[0] == '/' && path[prefix - 1] == '/'
        && strncmp(r->uri, path, prefix) == 0)
    {
        name = r->uri + prefix;

    } else {
        name = strrchr(r->uri, '/');
        name = name ? name + 1 : r->uri;
    }

    len = strlen(name);

    ctx->playlist = tune_playlist_suffix(name, len, &stem);

    if (ctx->playlist != TUNE_PLAYLIST_NONE) {
        len = stem;
    }

    rc = tune_name_check(name, len);

    if (rc != TUNE_OK) {
        /* the name itself is not logged: it may hold CR, LF or worse */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "tune: invalid stream name: %s", tune_rc_reason(rc));
        ctx->invalid = 1;
        return;
    }

    ctx->stream = apr_pstrmemdup(r->pool, name, len);
    ctx->stem_uri = apr_pstrmemdup(r->pool, r->uri, (name - r->uri) + len);
    apr_table_setn(r->subprocess_env, "TUNE_STREAM", ctx->stream);
}


/* ---- choosing ------------------------------------------------------------ */

/*
 * The choice itself is the core's (tune_choose.h); here: the region, the
 * segment's lock, memory from r->pool, the copies out of the segment, and
 * the answers.
 */

int
mtune_choose(request_rec *r, mtune_ctx_t *ctx, apr_array_header_t *ranked)
{
    int                         rc, i;
    void                       *work;
    size_t                      k;
    mtune_shm_t                *shm;
    const char                 *err;
    mtune_entry_t              *entry;
    tune_choice_t               ch;
    mtune_dir_conf_t           *dc;
    tune_choice_req_t           req;
    tune_choice_outcome_t       begun;
    const tune_image_t         *img;
    const tune_image_slot_t    *slots;
    tune_choice_name_t          tried[TUNE_PROXY_TRIES_MAX];

    dc = ap_get_module_config(r->per_dir_config, &tune_module);
    shm = mtune_shm_current();

    memset(&req, 0, sizeof(tune_choice_req_t));

    if (dc->region) {
        err = NULL;
        req.region = ap_expr_str_exec(r, dc->region, &err);

        if (err) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "tune: TuneRegion failed: %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }

        req.region_len = req.region ? strlen(req.region) : 0;
    }

    ctx->retry_after = 1;

    if (shm == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "tune: no snapshot to read: \"TuneRedis\" is not set");
        return HTTP_SERVICE_UNAVAILABLE;
    }

    req.stream = ctx->stream;
    req.stream_len = strlen(ctx->stream);
    req.stale_ms = apr_time_as_msec(mtune_conf_stale(dc));
    req.window = mtune_conf_herd_window_ms(mtune_main_conf());

    for (i = 0; i < ctx->ntried; i++) {
        tried[i].data = ctx->tried[i];
        tried[i].len = strlen(ctx->tried[i]);
    }

    req.tried = tried;
    req.ntried = ctx->ntried;
    req.schemes = ctx->schemes;
    req.peek = ctx->peek;
    req.rank = (ranked != NULL);
    req.rnd = mtune_random();

    mtune_shm_lock(shm);

    img = mtune_shm_image(shm);

    req.herd = mtune_shm_herd(shm);
    req.now_ms = mtune_wall_ms();
    req.age_ms = mtune_shm_age(shm, mtune_mono_ms());

    if (img && req.herd && req.window) {
        req.memo = mtune_choice_memo(img);
    }

    begun = tune_choose_begin(img, &req, &ch);

    /* the name is the snapshot's: it may be a metric's label */
    ctx->known = (ch.stream != NULL);

    if (begun == TUNE_CHOICE_OK) {
        /* the pool is this process's memory: allocating under the lock is
         * fine */
        work = apr_palloc(r->pool, ch.work_size);
        (void) tune_choose_pick(img, &req, &ch, work);
    }

    ctx->retry_after = (int) ch.retry_after;

    switch (ch.outcome) {

    case TUNE_CHOICE_OK:
        break;

    case TUNE_CHOICE_NOT_FOUND:
        rc = HTTP_NOT_FOUND;
        goto done;

    case TUNE_CHOICE_FULL:
        rc = TUNE_FULL;
        goto done;

    case TUNE_CHOICE_OTHER_SCHEME:
        rc = TUNE_OTHER_SCHEME;
        goto done;

    case TUNE_CHOICE_STALE:
        ctx->outcome = "stale";
        rc = HTTP_SERVICE_UNAVAILABLE;
        goto done;

    default: /* TUNE_CHOICE_NO_SNAPSHOT, TUNE_CHOICE_NO_SLOT */
        rc = HTTP_SERVICE_UNAVAILABLE;
        goto done;
    }

    slots = tune_image_slots(img);

    ctx->backend = mtune_copy(r, img, slots[ch.slot].backend);
    ctx->url = mtune_copy(r, img, slots[ch.slot].url);

    if (ctx->ntried < TUNE_PROXY_TRIES_MAX) {
        ctx->tried[ctx->ntried++] = ctx->backend;
    }

    for (k = 0; k < ch.nranked; k++) {
        entry = apr_array_push(ranked);
        entry->backend = mtune_copy(r, img, slots[ch.ranked[k]].backend);
        entry->url = mtune_copy(r, img, slots[ch.ranked[k]].url);
    }

    rc = OK;

done:

    mtune_shm_unlock(shm);

    /* the proxy fallback may still give an https:// listener a slot */
    if (ch.reason
        && !(ctx->fallback && ch.outcome == TUNE_CHOICE_OTHER_SCHEME))
    {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "tune: \"%s\" not answered with a slot: %s",
                      ctx->stream, ch.reason);
    }

    return rc;
}


/* a string of the image, copied out of the segment (locked) */

static const char *
mtune_copy(request_rec *r, const tune_image_t *img, tune_str_t s)
{
    return apr_pstrmemdup(r->pool, tune_image_str(img, s), s.len);
}


/*
 * TuneFull with a URL: the listener goes there instead, redirected or
 * proxied as any slot would be.  What the expression makes of it is checked
 * like a snapshot's URL, so a header can never be split by it.
 */

int
mtune_overflow(request_rec *r, mtune_ctx_t *ctx)
{
    tune_rc_t         rc;
    const char       *url, *err;
    mtune_dir_conf_t *dc;

    dc = ap_get_module_config(r->per_dir_config, &tune_module);

    ctx->outcome = "full";

    if (dc->full == NULL) {
        return HTTP_SERVICE_UNAVAILABLE;
    }

    err = NULL;
    url = ap_expr_str_exec(r, dc->full, &err);

    if (err || url == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "tune: TuneFull failed: %s", err ? err : "no value");
        return HTTP_SERVICE_UNAVAILABLE;
    }

    rc = tune_url_check(url, strlen(url));
    if (rc != TUNE_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "tune: the \"TuneFull\" URL is not usable: %s",
                      tune_rc_reason(rc));
        return HTTP_SERVICE_UNAVAILABLE;
    }

    if (!(tune_url_scheme(url, strlen(url)) & ctx->schemes)) {
        /* mixed content for an HTTPS listener, or no URL for a player */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "tune: the \"TuneFull\" URL is not %s",
                      ctx->https ? "https://, as an HTTPS tune-in needs"
                                 : "of a scheme of \"TuneSchemes\"");
        return HTTP_SERVICE_UNAVAILABLE;
    }

    ctx->url = url;
    ctx->backend = NULL;
    ctx->outcome = "overflow";

    return OK;
}


/* ---- proxy mode ------------------------------------------------------------ */

/*
 * TuneProxyReserve: 1 when this tune-in may hold its worker for as long as
 * the listener stays and still leave the reserve free for other requests
 * (tune_reserve.h); 0 when it must be answered without mod_proxy.  Without
 * a scoreboard to read, nothing is kept back.
 */

static int
mtune_reserve_kept_now(request_rec *r, mtune_dir_conf_t *dc,
    mtune_ctx_t *ctx, mtune_reserve_e *action)
{
    int              percent;
    uint32_t         value, needed;
    mtune_workers_t  w;

    value = mtune_conf_proxy_reserve(dc, &percent, action);

    if (value == 0) {
        return 1;
    }

    if (mtune_workers_capacity(&w) != APR_SUCCESS) {
        return 1;
    }

    /* a percentage is of MaxRequestWorkers, not of what can be had now */
    needed = mtune_reserve_needed(value, percent, w.max);

    if (mtune_workers_busy(mtune_reserve_busy_limit(w.capacity, needed),
                           &w.busy)
        != APR_SUCCESS)
    {
        return 1;
    }

    if (mtune_reserve_kept(&w, needed)) {
        return 1;
    }

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "tune: \"%s\": %u (or more) of %u workers busy, "
                  "TuneProxyReserve keeps %u free: answered with %s, not "
                  "proxied",
                  ctx->stream, w.busy, w.capacity, needed,
                  (*action == TUNE_RESERVE_503) ? "503" : "a redirect");

    return 0;
}


static void
mtune_proxy_to(request_rec *r, mtune_ctx_t *ctx)
{
    r->filename = apr_pstrcat(r->pool, "proxy:", ctx->url, NULL);
    r->handler = TUNE_PROXY_HANDLER;
    r->proxyreq = PROXYREQ_REVERSE;

    /*
     * The slot's URL goes out as the snapshot has it (it was checked when
     * decoded), as nginx's proxy_pass $tune_url sends it: mod_proxy's
     * canonicalisation would encode its "%" and "?" once more and append
     * the listener's query, and only on the first try (ProxyPass nocanon
     * sets the same note).
     */
    apr_table_setn(r->notes, "proxy-nocanon", "1");

    /*
     * A stream has no length: on a kept-alive HTTP/1.1 connection httpd
     * would send it chunked, which players that read raw ICY/MP3 cannot
     * decode.  The listener's connection ends with the stream instead, as
     * an Icecast's own does.
     */
    r->connection->keepalive = AP_CONN_CLOSE;

    ctx->proxying = 1;
}


/* a slot failed before its answer started: another may be tried */

static int
mtune_retryable(request_rec *r, int status)
{
    switch (status) {
    case HTTP_BAD_GATEWAY:
    case HTTP_SERVICE_UNAVAILABLE:
    case HTTP_GATEWAY_TIME_OUT:
    case HTTP_FORBIDDEN:
    case HTTP_NOT_FOUND:
        break;
    default:
        return 0;
    }

    /* a request body was read by the failed try: it cannot go again */
    return r->bytes_sent == 0 && !r->sent_bodyct
           && !r->connection->aborted && !ap_request_has_body(r);
}


/* every slot tried failed before sending anything: a 502 of our own */

static int
mtune_proxy_failed(request_rec *r, mtune_ctx_t *ctx)
{
    ctx->outcome = "failed";
    mtune_set_env(r, ctx);
    mtune_no_store(r);

    return HTTP_BAD_GATEWAY;
}


/* ---- answers ---------------------------------------------------------- */

void
mtune_no_store(request_rec *r)
{
    /* no answer of ours may be cached: each tune-in is a fresh choice */
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
}


/* An answer of our own that is not a slot: uncacheable, Retry-After on 503 */

static int
mtune_answer(request_rec *r, mtune_ctx_t *ctx, int status)
{
    if (ctx && ctx->outcome == NULL) {
        switch (status) {
        case HTTP_NOT_FOUND:
            ctx->outcome = "unknown";
            break;
        case HTTP_SERVICE_UNAVAILABLE:
            ctx->outcome = "unavailable";
            break;
        }
    }

    mtune_no_store(r);

    if (status == HTTP_SERVICE_UNAVAILABLE && ctx) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_itoa(r->pool, ctx->retry_after));
    }

    if (ctx) {
        mtune_set_env(r, ctx);
    }

    return status;
}


static int
mtune_redirect(request_rec *r, mtune_ctx_t *ctx)
{
    if (ctx->outcome == NULL) {
        ctx->outcome = "redirect";
    }

    mtune_no_store(r);
    mtune_set_env(r, ctx);

    apr_table_setn(r->headers_out, "Location", ctx->url);

    /* 302, not 307: many players follow only a 302 */
    return HTTP_MOVED_TEMPORARILY;
}


static void
mtune_set_env(request_rec *r, mtune_ctx_t *ctx)
{
    apr_table_t  *env;

    env = r->subprocess_env;

    if (ctx->backend) {
        apr_table_setn(env, "TUNE_BACKEND", ctx->backend);
    } else {
        apr_table_unset(env, "TUNE_BACKEND");
    }

    if (ctx->url) {
        apr_table_setn(env, "TUNE_URL", ctx->url);
    }

    if (ctx->outcome) {
        apr_table_setn(env, "TUNE_OUTCOME", ctx->outcome);
    }
}


/* ---- playlists ------------------------------------------------------------ */

static int
mtune_playlist(request_rec *r, mtune_ctx_t *ctx)
{
    int                     rc;
    size_t                  size, len, i;
    char                   *out;
    tune_rc_t               trc;
    mtune_entry_t          *entry;
    mtune_dir_conf_t       *dc;
    apr_array_header_t     *entries;
    tune_playlist_entry_t  *list;

    dc = ap_get_module_config(r->per_dir_config, &tune_module);
    entries = apr_array_make(r->pool, 8, sizeof(mtune_entry_t));

    if (mtune_conf_mode(dc) == TUNE_MODE_PROXY) {
        /*
         * The list names this server's URL: the player comes back to it
         * and is counted then, so the playlist itself is not a tune-in.
         */
        ctx->peek = 1;
        rc = mtune_choose(r, ctx, NULL);

        if (rc == TUNE_FULL || rc == TUNE_OTHER_SCHEME) {
            rc = mtune_overflow(r, ctx);
        }

        if (rc != OK) {
            return rc;
        }

        if (ctx->backend == NULL) {
            /* full: the overflow URL, which a playlist does not proxy */
            entry = apr_array_push(entries);
            entry->backend = NULL;
            entry->url = ctx->url;

        } else {
            rc = mtune_playlist_self(r, ctx, entries);
            if (rc != OK) {
                return rc;
            }
        }

    } else {
        rc = mtune_choose(r, ctx, entries);

        if (rc == TUNE_FULL || rc == TUNE_OTHER_SCHEME) {
            rc = mtune_overflow(r, ctx);

            if (rc == OK) {
                entry = apr_array_push(entries);
                entry->backend = NULL;
                entry->url = ctx->url;
            }
        }

        if (rc != OK) {
            return rc;
        }
    }

    entry = (mtune_entry_t *) entries->elts;
    list = apr_pcalloc(r->pool,
                       (entries->nelts + 1) * sizeof(tune_playlist_entry_t));

    for (i = 0; i < (size_t) entries->nelts; i++) {
        list[i].url = entry[i].url;
        list[i].url_len = strlen(entry[i].url);
        list[i].backend = entry[i].backend;
        list[i].backend_len = entry[i].backend ? strlen(entry[i].backend) : 0;
    }

    size = tune_playlist_render(ctx->playlist, ctx->stream,
                                strlen(ctx->stream), list, entries->nelts,
                                NULL, 0, &trc);
    if (size == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "tune: playlist of \"%s\" not rendered: %s",
                      ctx->stream, tune_rc_reason(trc));
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    out = apr_palloc(r->pool, size);

    len = tune_playlist_render(ctx->playlist, ctx->stream,
                               strlen(ctx->stream), list, entries->nelts,
                               out, size, &trc);
    if (len != size) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->outcome == NULL || strcmp(ctx->outcome, "overflow") != 0) {
        ctx->outcome = "playlist";
    }

    mtune_set_env(r, ctx);

    ap_set_content_type(r, tune_playlist_content_type(ctx->playlist));
    ap_set_content_length(r, (apr_off_t) len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");

    if (!r->header_only) {
        ap_rwrite(out, (int) len, r);
    }

    return OK;
}


/*
 * Proxy mode lists the listener-facing URL of the stream, this location's
 * own: players behind a firewall must come back through port 80 anyway.
 * The host is the one Apache validated from the request (or ServerName with
 * UseCanonicalName On); the URL is checked like any slot's.
 */

static int
mtune_playlist_self(request_rec *r, mtune_ctx_t *ctx,
    apr_array_header_t *entries)
{
    apr_port_t     port;
    tune_rc_t      rc;
    const char    *host, *p, *url;
    mtune_entry_t *entry;

    host = ap_get_server_name_for_url(r);
    port = ap_get_server_port(r);

    for (p = host; *p; p++) {
        if (!(apr_isalnum(*p) || *p == '.' || *p == '-' || *p == '['
              || *p == ']' || *p == ':'))
        {
            return HTTP_BAD_REQUEST;
        }
    }

    url = apr_pstrcat(r->pool, ap_http_scheme(r), "://", host,
                      ap_is_default_port(port, r)
                          ? "" : apr_psprintf(r->pool, ":%u", port),
                      ctx->stem_uri, NULL);

    rc = tune_url_check(url, strlen(url));
    if (rc != TUNE_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "tune: no playlist URL from the request's host: %s",
                      tune_rc_reason(rc));
        return HTTP_BAD_REQUEST;
    }

    entry = apr_array_push(entries);
    entry->backend = NULL;
    entry->url = url;

    return OK;
}


/* tune_select_slot() wants all 32 bits random */

static uint32_t
mtune_random(void)
{
    uint32_t  rnd;

    ap_random_insecure_bytes(&rnd, sizeof(rnd));

    return rnd;
}


/*
 * The memory, grown when an image outgrew it (by half again, so a fleet
 * that grows slowly is not a reallocation a round); NULL when the heap has
 * no room, and every tune-in then reads the table, as without one.  Called
 * under the segment's lock.
 */

static tune_choice_memo_t *
mtune_choice_memo(const tune_image_t *img)
{
    void                *buf;
    uint32_t             nstreams, nslots;
    tune_choice_memo_t  *memo;

    if (tune_choice_memo_fits(mtune_memo, img)) {
        return mtune_memo;
    }

    nstreams = img->nstreams + img->nstreams / 2;
    nslots = img->nslots + img->nslots / 2;

    buf = malloc(tune_choice_memo_size(nstreams, nslots));
    if (buf == NULL) {
        return NULL;
    }

    memo = tune_choice_memo_init(buf, nstreams, nslots);
    if (memo == NULL) {
        free(buf);
        return NULL;
    }

    free(mtune_memo);
    mtune_memo = memo;

    return memo;
}
