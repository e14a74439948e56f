/*
 * Copyright (C) tuneslot developers
 *
 * The module: its directives, their configuration, and the hooks.  The
 * configuration as the other files read it is in tune_conf.c, the request
 * handling in tune_request.c and tune_status.c, the shared segment in
 * tune_shm.c, the Redis refresher in tune_refresh.c, the ICY filter in
 * tune_icy.c.
 */


#define TUNE_DECLARES_MODULE
#include "mod_tune.h"
#include "tune_conf.h"
#include "tune_https.h"
#include "tune_shm.h"
#include "tune_refresh.h"
#include "tune_request.h"
#include "tune_reserve.h"

#include "http_core.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "apr_lib.h"
#include "util_cfgtree.h"

#include <errno.h>

#include <tune_allow.h>
#include <tune_herd.h>
#include <tune_url.h>


static void *mtune_create_srv_conf(apr_pool_t *p, server_rec *s);
static void *mtune_merge_srv_conf(apr_pool_t *p, void *base, void *add);
static void *mtune_create_dir_conf(apr_pool_t *p, char *dir);
static void *mtune_merge_dir_conf(apr_pool_t *p, void *base, void *add);

static const char *mtune_host_port(apr_pool_t *pool, const char *text,
    int default_port, const char **host, int *port);
static const char *mtune_sentinels(cmd_parms *cmd, mtune_redis_addr_t *r,
    const char *list);
static int mtune_redis_word(const char *word);
static const char *mtune_cmd_redis(cmd_parms *cmd, void *cfg, int argc,
    char *const argv[]);
static const char *mtune_cmd_allow(cmd_parms *cmd, void *cfg,
    const char *arg);
static const char *mtune_cmd_tune(cmd_parms *cmd, void *cfg, int on);
static const char *mtune_cmd_mode(cmd_parms *cmd, void *cfg, const char *arg);
static const char *mtune_cmd_stale(cmd_parms *cmd, void *cfg,
    const char *arg);
static const char *mtune_cmd_region(cmd_parms *cmd, void *cfg,
    const char *arg);
static const char *mtune_cmd_full(cmd_parms *cmd, void *cfg, const char *arg);
static const char *mtune_cmd_proxy_tries(cmd_parms *cmd, void *cfg,
    const char *arg);
static const char *mtune_cmd_proxy_reserve(cmd_parms *cmd, void *cfg,
    const char *arg, const char *action);
static const char *mtune_cmd_server_time(cmd_parms *cmd, void *cfg,
    const char *arg);
static const char *mtune_cmd_metrics_streams(cmd_parms *cmd, void *cfg,
    int on);
static const char *mtune_cmd_shm_size(cmd_parms *cmd, void *cfg,
    const char *arg);
static const char *mtune_parse_time(cmd_parms *cmd, const char *arg,
    apr_interval_time_t *t);

static const char *mtune_find_handler(ap_directive_t *d, apr_pool_t *p);
static int mtune_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
    apr_pool_t *ptemp);
static int mtune_check_config(apr_pool_t *pconf, apr_pool_t *plog,
    apr_pool_t *ptemp, server_rec *s);
static int mtune_post_config(apr_pool_t *pconf, apr_pool_t *plog,
    apr_pool_t *ptemp, server_rec *s);
static void mtune_child_init(apr_pool_t *pchild, server_rec *s);
static void mtune_register_hooks(apr_pool_t *p);


static const command_rec mtune_cmds[] = {

    AP_INIT_TAKE_ARGV("TuneRedis", mtune_cmd_redis, NULL, RSRC_CONF,
        "host:port or unix:/path, then password=, user=, db= if needed"),

    AP_INIT_ITERATE("TuneAllow", mtune_cmd_allow, NULL, RSRC_CONF,
        "URL prefixes (http://host[:port]/path/) a slot's URL must start "
        "with; without any, every URL in Redis is used"),

    AP_INIT_FLAG("Tune", mtune_cmd_tune, NULL, ACCESS_CONF,
        "On to answer tune-ins here (the same as SetHandler tune)"),

    AP_INIT_TAKE1("TuneMode", mtune_cmd_mode, NULL, RSRC_CONF | ACCESS_CONF,
        "redirect (302 to the slot) or proxy (hand the request to "
        "mod_proxy)"),

    AP_INIT_TAKE1("TuneStale", mtune_cmd_stale, NULL, RSRC_CONF | ACCESS_CONF,
        "how long a snapshot may go without a new round, or off"),

    AP_INIT_TAKE1("TuneRegion", mtune_cmd_region, NULL,
        RSRC_CONF | ACCESS_CONF,
        "an expression giving the listener's region"),

    AP_INIT_TAKE1("TuneFull", mtune_cmd_full, NULL, RSRC_CONF | ACCESS_CONF,
        "503, or the URL (an expression) for listeners when every slot is "
        "full"),

    AP_INIT_TAKE1("TuneProxyTries", mtune_cmd_proxy_tries, NULL,
        RSRC_CONF | ACCESS_CONF,
        "proxy mode: how many slots one tune-in tries, 1 to 8"),

    AP_INIT_TAKE12("TuneProxyReserve", mtune_cmd_proxy_reserve, NULL,
        RSRC_CONF | ACCESS_CONF,
        "proxy mode: workers (or a percentage of MaxRequestWorkers, N%) to "
        "keep free for other requests, 0 for none; then redirect (the "
        "default) or 503 for a tune-in that would take one of them"),

    AP_INIT_ITERATE("TuneSchemes", mtune_cmd_schemes, NULL,
        RSRC_CONF | ACCESS_CONF,
        "the schemes of the slots a listener may be sent to: http, https "
        "(the default), rtmp, rtmps, rtsp, rtsps"),

    AP_INIT_FLAG("TuneHttpsOnly", ap_set_flag_slot,
        (void *) APR_OFFSETOF(mtune_dir_conf_t, https_only),
        RSRC_CONF | ACCESS_CONF,
        "On (the default): a tune-in that came over HTTPS is redirected "
        "to https:// slots only"),

    AP_INIT_TAKE1("TuneHttpsFallback", mtune_cmd_https_fallback, NULL,
        RSRC_CONF | ACCESS_CONF,
        "full (the default): an HTTPS tune-in no https:// slot has room for "
        "is answered as a full stream; proxy: it is proxied to an http:// "
        "slot over this server's TLS (needs mod_proxy)"),

    AP_INIT_ITERATE("TuneHttpsProxies", mtune_cmd_https_proxies, NULL,
        RSRC_CONF | ACCESS_CONF,
        "proxies (addresses or address/bits) whose X-Forwarded-Proto: "
        "https makes a tune-in an HTTPS one"),

    AP_INIT_TAKE1("TuneRefresh", mtune_cmd_server_time,
        (void *) APR_OFFSETOF(mtune_srv_conf_t, refresh), RSRC_CONF,
        "how often the snapshot's generation is read from Redis"),

    AP_INIT_TAKE1("TuneRedisTimeout", mtune_cmd_server_time,
        (void *) APR_OFFSETOF(mtune_srv_conf_t, redis_timeout), RSRC_CONF,
        "how long to wait for Redis to connect or answer"),

    AP_INIT_TAKE1("TuneHerdWindow", mtune_cmd_server_time,
        (void *) APR_OFFSETOF(mtune_srv_conf_t, herd_window), RSRC_CONF,
        "the herd window (100ms to 5s), or 0 for herd control off"),

    AP_INIT_TAKE1("TuneSharedMemory", mtune_cmd_shm_size, NULL, RSRC_CONF,
        "bytes of shared memory for the snapshot, the herd table and the "
        "metrics' counters"),

    AP_INIT_FLAG("TuneMetricsStreams", mtune_cmd_metrics_streams, NULL,
        RSRC_CONF,
        "Off: the metrics of tune-metrics leave out the stream label"),

    { NULL }
};


AP_DECLARE_MODULE(tune) = {
    STANDARD20_MODULE_STUFF,
    mtune_create_dir_conf,
    mtune_merge_dir_conf,
    mtune_create_srv_conf,
    mtune_merge_srv_conf,
    mtune_cmds,
    mtune_register_hooks
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    , AP_MODULE_FLAG_NONE
#endif
};


/* ---- configuration ---------------------------------------------------- */

static void *
mtune_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    mtune_srv_conf_t *sc;

    sc = apr_pcalloc(p, sizeof(mtune_srv_conf_t));

    sc->refresh = TUNE_UNSET;
    sc->redis_timeout = TUNE_UNSET;
    sc->herd_window = TUNE_UNSET;
    sc->shm_size = TUNE_UNSET;
    sc->metrics_streams = TUNE_UNSET;

    return sc;
}


/* server-wide settings: every virtual host has the main server's */

static void *
mtune_merge_srv_conf(apr_pool_t *p, void *base, void *add)
{
    return base;
}


static void *
mtune_create_dir_conf(apr_pool_t *p, char *dir)
{
    mtune_dir_conf_t *dc;

    dc = apr_pcalloc(p, sizeof(mtune_dir_conf_t));

    dc->enabled = TUNE_UNSET;
    dc->mode = TUNE_MODE_UNSET;
    dc->stale = TUNE_UNSET;
    dc->proxy_tries = TUNE_UNSET;
    dc->reserve = TUNE_UNSET;
    dc->https_only = TUNE_UNSET;
    dc->https_fallback = TUNE_UNSET;

    return dc;
}


static void *
mtune_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    mtune_dir_conf_t *base = basev, *add = addv, *dc;

    dc = apr_palloc(p, sizeof(mtune_dir_conf_t));

    dc->enabled = (add->enabled != TUNE_UNSET) ? add->enabled : base->enabled;
    dc->mode = add->mode ? add->mode : base->mode;
    dc->stale = (add->stale != TUNE_UNSET) ? add->stale : base->stale;
    dc->region = add->region_set ? add->region : base->region;
    dc->region_set = add->region_set || base->region_set;
    dc->full = add->full_set ? add->full : base->full;
    dc->full_set = add->full_set || base->full_set;
    dc->proxy_tries = (add->proxy_tries != TUNE_UNSET) ? add->proxy_tries
                                                       : base->proxy_tries;

    /* the number and its answer come from one directive: merged as one */
    if (add->reserve != TUNE_UNSET) {
        dc->reserve = add->reserve;
        dc->reserve_percent = add->reserve_percent;
        dc->reserve_action = add->reserve_action;

    } else {
        dc->reserve = base->reserve;
        dc->reserve_percent = base->reserve_percent;
        dc->reserve_action = base->reserve_action;
    }

    dc->schemes = add->schemes ? add->schemes : base->schemes;
    dc->https_only = (add->https_only != TUNE_UNSET) ? add->https_only
                                                     : base->https_only;
    dc->https_fallback = (add->https_fallback != TUNE_UNSET)
                         ? add->https_fallback : base->https_fallback;
    dc->https_proxies = add->https_proxies ? add->https_proxies
                                           : base->https_proxies;

    return dc;
}


/* ---- directives ---------------------------------------------------- */

/*
 * host[:port] or [v6][:port] as written in TuneRedis (port default_port
 * when omitted) into *host and *port; NULL, or the reason it is not one.
 * The refresher's thread resolves a name when it connects: no request
 * waits for that.
 */

static const char *
mtune_host_port(apr_pool_t *pool, const char *text, int default_port,
    const char **host, int *port)
{
    char  *addr, *colon, *end;
    long   n;

    addr = apr_pstrdup(pool, text);
    colon = strrchr(addr, ':');

    if (colon == NULL || (addr[0] == '[' && colon < strchr(addr, ']'))) {
        /* no port: the default one, as nginx's module takes it */
        addr = apr_psprintf(pool, "%s:%d", addr, default_port);
        colon = strrchr(addr, ':');
    }

    if (colon == addr) {
        return "expected host:port";
    }

    n = strtol(colon + 1, &end, 10);

    if (colon[1] == '\0' || *end != '\0' || n < 1 || n > 65535) {
        return "invalid port";
    }

    *colon = '\0';
    *port = (int) n;
    *host = addr;

    /* [::1]:6379 */
    if (addr[0] == '[') {
        if (colon[-1] != ']') {
            return "unbalanced [";
        }

        colon[-1] = '\0';
        *host = addr + 1;
    }

    if ((*host)[0] == '\0') {
        return "empty host";
    }

    return NULL;
}


/* sentinel=host[:port][,host[:port]...]: 26379 when a port is omitted */

static const char *
mtune_sentinels(cmd_parms *cmd, mtune_redis_addr_t *r, const char *list)
{
    int                    port;
    char                  *text, *item, *last;
    const char            *why;
    tune_link_sentinel_t  *s;

    r->sentinels = apr_array_make(cmd->pool, 3, sizeof(tune_link_sentinel_t));

    text = apr_pstrdup(cmd->pool, list);

    if (text[0] == '\0' || text[strlen(text) - 1] == ','
        || strstr(text, ",,") != NULL || text[0] == ',')
    {
        return "TuneRedis: empty Sentinel address in \"sentinel=\"";
    }

    for (item = apr_strtok(text, ",", &last); item != NULL;
         item = apr_strtok(NULL, ",", &last))
    {
        if (r->sentinels->nelts == TUNE_LINK_SENTINELS_MAX) {
            return apr_psprintf(cmd->pool, "TuneRedis: more than %d "
                                "Sentinels in \"sentinel=\"",
                                TUNE_LINK_SENTINELS_MAX);
        }

        if (strncmp(item, "unix:", 5) == 0) {
            return apr_psprintf(cmd->pool, "TuneRedis: invalid Sentinel "
                                "address \"%s\", expected host[:port]",
                                item);
        }

        s = apr_array_push(r->sentinels);

        why = mtune_host_port(cmd->pool, item, TUNE_SENTINEL_PORT, &s->host,
                              &port);
        if (why) {
            return apr_psprintf(cmd->pool, "TuneRedis: Sentinel \"%s\": %s",
                                item, why);
        }

        s->port = (unsigned) port;
    }

    return NULL;
}


/* Whether a word of TuneRedis is one of its parameters, not an address */

static int
mtune_redis_word(const char *word)
{
    size_t              i, n;
    static const char  *names[] = { "password=", "user=", "db=", "sentinel=",
                                    "master=", "sentinel_user=",
                                    "sentinel_password=" };

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        n = strlen(names[i]);

        if (strncmp(word, names[i], n) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * TuneRedis host:port | [v6]:port | unix:/path [password=..] [user=..]
 * [db=n], or TuneRedis sentinel=host:port,... master=name [password=..]
 * [user=..] [db=n] [sentinel_password=..] [sentinel_user=..].  The
 * passwords are kept out of every message.
 */

static const char *
mtune_cmd_redis(cmd_parms *cmd, void *cfg, int argc, char *const argv[])
{
    int                 i, first;
    char               *end;
    long                n;
    const char         *err, *sentinels;
    mtune_srv_conf_t   *sc;
    mtune_redis_addr_t *r;

    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err) {
        return apr_pstrcat(cmd->pool, err, " (one Apache reads one "
                           "snapshot: set TuneRedis in the main server)",
                           NULL);
    }

    sc = ap_get_module_config(cmd->server->module_config, &tune_module);

    if (sc->redis) {
        return "TuneRedis: is duplicate";
    }

    if (argc < 1) {
        return "TuneRedis: needs host:port, unix:/path or sentinel=";
    }

    r = apr_pcalloc(cmd->pool, sizeof(mtune_redis_addr_t));
    r->db = -1;
    sentinels = NULL;

    /* "TuneRedis sentinel=... master=...": no address of its own, its
     * words in any order */
    first = mtune_redis_word(argv[0]) ? 0 : 1;

    if (first == 1 && strncmp(argv[0], "unix:", 5) == 0) {
        r->path = apr_pstrdup(cmd->pool, argv[0] + 5);

        if (r->path[0] != '/') {
            return apr_psprintf(cmd->pool, "TuneRedis: \"%s\": a unix "
                                "socket needs an absolute path", argv[0]);
        }

    } else if (first == 1) {
        err = mtune_host_port(cmd->pool, argv[0], 6379, &r->host, &r->port);
        if (err) {
            return apr_psprintf(cmd->pool, "TuneRedis: \"%s\": %s%s", argv[0],
                                err, strcmp(err, "expected host:port") == 0
                                     ? " or unix:/path" : "");
        }
    }

    for (i = first; i < argc; i++) {

        if (strncmp(argv[i], "password=", 9) == 0) {
            r->password = argv[i] + 9;

            if (r->password[0] == '\0') {
                return "TuneRedis: empty \"password=\"";
            }

        } else if (strncmp(argv[i], "user=", 5) == 0) {
            r->user = argv[i] + 5;

            if (r->user[0] == '\0') {
                return "TuneRedis: empty \"user=\"";
            }

        } else if (strncmp(argv[i], "db=", 3) == 0) {
            n = strtol(argv[i] + 3, &end, 10);

            if (argv[i][3] == '\0' || *end != '\0' || n < 0 || n > 65535) {
                return apr_psprintf(cmd->pool, "TuneRedis: invalid \"%s\": "
                                    "expected a database number",
                                    argv[i]);
            }

            r->db = (int) n;

        } else if (strncmp(argv[i], "sentinel=", 9) == 0) {
            if (first == 1) {
                return "TuneRedis: \"sentinel=\" replaces the address: give "
                       "one or the other";
            }

            if (sentinels) {
                return "TuneRedis: duplicate \"sentinel=\"";
            }

            sentinels = argv[i] + 9;

        } else if (strncmp(argv[i], "master=", 7) == 0) {
            if (r->master) {
                return "TuneRedis: duplicate \"master=\"";
            }

            r->master = argv[i] + 7;
            err = tune_link_master_name_check(r->master, strlen(r->master));

            if (err) {
                return apr_psprintf(cmd->pool, "TuneRedis: invalid "
                                    "\"master=\": %s", err);
            }

        } else if (strncmp(argv[i], "sentinel_password=", 18) == 0) {
            if (r->sentinel_password) {
                return "TuneRedis: duplicate \"sentinel_password=\"";
            }

            r->sentinel_password = argv[i] + 18;

            if (r->sentinel_password[0] == '\0') {
                return "TuneRedis: empty \"sentinel_password=\"";
            }

        } else if (strncmp(argv[i], "sentinel_user=", 14) == 0) {
            if (r->sentinel_user) {
                return "TuneRedis: duplicate \"sentinel_user=\"";
            }

            r->sentinel_user = argv[i] + 14;

            if (r->sentinel_user[0] == '\0') {
                return "TuneRedis: empty \"sentinel_user=\"";
            }

        } else {
            /* a mistyped "password=secret": the name, never the value */
            return apr_psprintf(cmd->pool, "TuneRedis: unknown parameter "
                                "\"%.*s\" (expected password=, user=, db=, "
                                "sentinel=, master=, sentinel_user= or "
                                "sentinel_password=)",
                                (int) (strchr(argv[i], '=')
                                       ? (size_t) (strchr(argv[i], '=')
                                                   - argv[i])
                                       : strlen(argv[i])),
                                argv[i]);
        }
    }

    if (r->user && r->password == NULL) {
        return "TuneRedis: \"user=\" needs \"password=\"";
    }

    if (first == 0 && sentinels == NULL && r->master == NULL) {
        return "TuneRedis: needs host:port, unix:/path or sentinel= before "
               "its parameters";
    }

    if (sentinels == NULL
        && (r->master || r->sentinel_user || r->sentinel_password))
    {
        return "TuneRedis: \"master=\", \"sentinel_user=\" and "
               "\"sentinel_password=\" need \"sentinel=\"";
    }

    if (sentinels) {
        if (r->master == NULL) {
            return "TuneRedis: \"sentinel=\" needs \"master=\"";
        }

        if (r->sentinel_user && r->sentinel_password == NULL) {
            return "TuneRedis: \"sentinel_user=\" needs "
                   "\"sentinel_password=\"";
        }

        err = mtune_sentinels(cmd, r, sentinels);
        if (err) {
            return err;
        }

        r->display = apr_psprintf(cmd->pool, "master \"%s\" via Sentinel",
                                  r->master);

    } else {
        r->display = r->path ? apr_pstrcat(cmd->pool, "unix:", r->path, NULL)
                             : apr_psprintf(cmd->pool, "%s:%d", r->host,
                                            r->port);
    }

    sc->redis = r;

    return NULL;
}


/*
 * TuneAllow prefix ...: the URL prefixes (tune_allow.h) a slot's URL must
 * start with to be offered; repeatable, the lists add up.
 */

static const char *
mtune_cmd_allow(cmd_parms *cmd, void *cfg, const char *arg)
{
    char             *text, quoted[256];
    tune_rc_t         rc;
    const char       *err, *reason;
    tune_allow_t     *a;
    mtune_srv_conf_t *sc;

    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err) {
        return apr_pstrcat(cmd->pool, err, " (one Apache reads one "
                           "snapshot: set TuneAllow in the main server)",
                           NULL);
    }

    sc = ap_get_module_config(cmd->server->module_config, &tune_module);

    if (sc->allow == NULL) {
        sc->allow = apr_array_make(cmd->pool, 4, sizeof(tune_allow_t));
    }

    /* the prefix points into its text: a copy as long as the config */
    text = apr_pstrdup(cmd->pool, arg);
    a = apr_array_push(sc->allow);

    rc = tune_allow_parse(text, strlen(text), a, &reason);

    if (rc != TUNE_OK) {
        /* a quoted "\r\n" or a control byte must not split the message */
        (void) tune_log_escape(quoted, sizeof(quoted), text, strlen(text));

        return apr_psprintf(cmd->pool, "TuneAllow: \"%s\": %s", quoted,
                            reason);
    }

    return NULL;
}


static const char *
mtune_cmd_tune(cmd_parms *cmd, void *cfg, int on)
{
    mtune_dir_conf_t *dc = cfg;

    dc->enabled = on;

    if (on) {
        mtune_conf_note_use(cmd, 0);
    }

    return NULL;
}


static const char *
mtune_cmd_mode(cmd_parms *cmd, void *cfg, const char *arg)
{
    mtune_dir_conf_t *dc = cfg;

    if (strcasecmp(arg, "redirect") == 0) {
        dc->mode = TUNE_MODE_REDIRECT;

    } else if (strcasecmp(arg, "proxy") == 0) {
        dc->mode = TUNE_MODE_PROXY;

    } else {
        return apr_psprintf(cmd->pool, "TuneMode: invalid value \"%s\" "
                            "(expected redirect or proxy)", arg);
    }

    mtune_conf_note_use(cmd, dc->mode == TUNE_MODE_PROXY);

    return NULL;
}


static const char *
mtune_cmd_stale(cmd_parms *cmd, void *cfg, const char *arg)
{
    const char       *err;
    mtune_dir_conf_t *dc = cfg;

    if (strcasecmp(arg, "off") == 0) {
        dc->stale = 0;
        return NULL;
    }

    err = mtune_parse_time(cmd, arg, &dc->stale);
    if (err) {
        return err;
    }

    /* the scheduler writes a round per interval, a second at the least */
    if (dc->stale < apr_time_from_sec(1)) {
        return apr_psprintf(cmd->pool, "%s: \"%s\" is less than 1s (use off "
                            "to serve any snapshot)", cmd->cmd->name, arg);
    }

    return NULL;
}


static const char *
mtune_cmd_region(cmd_parms *cmd, void *cfg, const char *arg)
{
    const char       *err;
    mtune_dir_conf_t *dc = cfg;

    err = NULL;
    dc->region = ap_expr_parse_cmd(cmd, arg, AP_EXPR_FLAG_STRING_RESULT,
                                   &err, NULL);
    if (err) {
        return apr_psprintf(cmd->pool, "TuneRegion: cannot parse \"%s\": %s",
                            arg, err);
    }

    dc->region_set = 1;

    return NULL;
}


static const char *
mtune_cmd_full(cmd_parms *cmd, void *cfg, const char *arg)
{
    tune_rc_t         rc;
    const char       *err;
    mtune_dir_conf_t *dc = cfg;

    dc->full_set = 1;

    if (strcmp(arg, "503") == 0) {
        dc->full = NULL;
        return NULL;
    }

    /* a URL without variables is checked now, not at the first full */
    if (strchr(arg, '%') == NULL) {
        rc = tune_url_check(arg, strlen(arg));

        if (rc != TUNE_OK) {
            return apr_psprintf(cmd->pool, "TuneFull: \"%s\" is neither 503 "
                                "nor a usable URL: %s", arg,
                                tune_rc_reason(rc));
        }

        if (!(tune_url_scheme(arg, strlen(arg)) & TUNE_SCHEMES_WEB)) {
            return apr_psprintf(cmd->pool, "TuneFull: \"%s\" is neither 503 "
                                "nor an http:// or https:// URL", arg);
        }
    }

    err = NULL;
    dc->full = ap_expr_parse_cmd(cmd, arg, AP_EXPR_FLAG_STRING_RESULT,
                                 &err, NULL);
    if (err) {
        return apr_psprintf(cmd->pool, "TuneFull: cannot parse \"%s\": %s",
                            arg, err);
    }

    return NULL;
}


static const char *
mtune_cmd_proxy_tries(cmd_parms *cmd, void *cfg, const char *arg)
{
    long              n;
    char             *end;
    mtune_dir_conf_t *dc = cfg;

    n = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || n < 1 || n > TUNE_PROXY_TRIES_MAX) {
        return apr_psprintf(cmd->pool, "TuneProxyTries: invalid value "
                            "\"%s\" (expected 1 to %d)", arg,
                            TUNE_PROXY_TRIES_MAX);
    }

    dc->proxy_tries = (int) n;

    return NULL;
}


/*
 * TuneProxyReserve number | number% [redirect | 503]: the workers kept
 * free for requests other than proxied tune-ins
 */

static const char *
mtune_cmd_proxy_reserve(cmd_parms *cmd, void *cfg, const char *arg,
    const char *action)
{
    int               percent;
    long              n;
    char             *end;
    mtune_dir_conf_t *dc = cfg;

    errno = 0;
    n = strtol(arg, &end, 10);
    percent = (*end == '%');

    if (percent) {
        end++;
    }

    if (!apr_isdigit(*arg) || *end != '\0' || errno == ERANGE || n < 0
        || n > (percent ? TUNE_RESERVE_PERCENT_MAX : TUNE_RESERVE_MAX))
    {
        return apr_psprintf(cmd->pool, "TuneProxyReserve: invalid value "
                            "\"%s\" (expected a number of workers, 0 to %d, "
                            "or a percentage of MaxRequestWorkers, 0%% to "
                            "%d%%)", arg, TUNE_RESERVE_MAX,
                            TUNE_RESERVE_PERCENT_MAX);
    }

    if (action == NULL || strcasecmp(action, "redirect") == 0) {
        dc->reserve_action = TUNE_RESERVE_REDIRECT;

    } else if (strcmp(action, "503") == 0) {
        dc->reserve_action = TUNE_RESERVE_503;

    } else {
        return apr_psprintf(cmd->pool, "TuneProxyReserve: invalid answer "
                            "\"%s\" (expected redirect or 503)", action);
    }

    dc->reserve = (int) n;
    dc->reserve_percent = percent;

    return NULL;
}


/* TuneRefresh, TuneRedisTimeout, TuneHerdWindow */

static const char *
mtune_cmd_server_time(cmd_parms *cmd, void *cfg, const char *arg)
{
    const char           *err;
    mtune_srv_conf_t     *sc;
    apr_interval_time_t   t, *field;

    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err) {
        return err;
    }

    sc = ap_get_module_config(cmd->server->module_config, &tune_module);
    field = (apr_interval_time_t *) ((char *) sc
                                     + (size_t) cmd->info);

    err = mtune_parse_time(cmd, arg, &t);
    if (err) {
        return err;
    }

    if (field == &sc->herd_window) {
        if (t != 0
            && (t < apr_time_from_msec(TUNE_HERD_WINDOW_MIN)
                || t > apr_time_from_msec(TUNE_HERD_WINDOW_MAX)))
        {
            return apr_psprintf(cmd->pool, "TuneHerdWindow: \"%s\" is out "
                                "of range (100ms to 5s, or 0 for off)", arg);
        }

    } else if (t < apr_time_from_msec(10) || t > apr_time_from_sec(60)) {
        /* a child's exit waits for the refresher: keep its waits short */
        return apr_psprintf(cmd->pool, "%s: \"%s\" is out of range (10ms to "
                            "60s)", cmd->cmd->name, arg);
    }

    *field = t;

    return NULL;
}


static const char *
mtune_cmd_metrics_streams(cmd_parms *cmd, void *cfg, int on)
{
    const char       *err;
    mtune_srv_conf_t *sc;

    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err) {
        return err;
    }

    sc = ap_get_module_config(cmd->server->module_config, &tune_module);
    sc->metrics_streams = on;

    return NULL;
}


static const char *
mtune_cmd_shm_size(cmd_parms *cmd, void *cfg, const char *arg)
{
    char             *end;
    apr_off_t         n;
    const char       *err;
    mtune_srv_conf_t *sc;

    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err) {
        return err;
    }

    sc = ap_get_module_config(cmd->server->module_config, &tune_module);

    if (apr_strtoff(&n, arg, &end, 10) != APR_SUCCESS || end == arg
        || n <= 0)
    {
        return apr_psprintf(cmd->pool, "TuneSharedMemory: invalid size "
                            "\"%s\"", arg);
    }

    if (n > 1024 * 1024 * 1024) {
        n = 0;                       /* out of range, whatever the unit */

    } else if (*end == 'k' || *end == 'K') {
        n *= 1024;
        end++;

    } else if (*end == 'm' || *end == 'M') {
        n *= 1024 * 1024;
        end++;
    }

    if (*end != '\0') {
        return apr_psprintf(cmd->pool, "TuneSharedMemory: invalid size "
                            "\"%s\" (bytes, or with K or M)", arg);
    }

    if (n < TUNE_SHM_SIZE_MIN || n > (apr_off_t) 1024 * 1024 * 1024) {
        return apr_psprintf(cmd->pool, "TuneSharedMemory: \"%s\" is out of "
                            "range (64K to 1024M)", arg);
    }

    sc->shm_size = n;

    return NULL;
}


/* Apache's own time syntax: seconds, or a number with ms, s, mi or h */

static const char *
mtune_parse_time(cmd_parms *cmd, const char *arg, apr_interval_time_t *t)
{
    const char  *p;

    /* ap_timeout_parameter_parse() takes "-1" and "1x" for numbers */
    for (p = arg; apr_isdigit(*p); p++) {
        /* void */
    }

    if (p == arg
        || (*p && strcmp(p, "ms") && strcmp(p, "s") && strcmp(p, "mi")
            && strcmp(p, "h"))
        || ap_timeout_parameter_parse(arg, t, "s") != APR_SUCCESS)
    {
        return apr_psprintf(cmd->pool, "%s: invalid time \"%s\" (seconds, "
                            "or a number with ms, s, mi or h)",
                            cmd->cmd->name, arg);
    }

    return NULL;
}


/* ---- hooks ------------------------------------------------------------ */

static int
mtune_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    mtune_conf_forget_use();

    return OK;
}


/* Runs for "httpd -t" too: what would fail at start fails the test */

static int
mtune_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
    server_rec *s)
{
    const char       *where;
    mtune_srv_conf_t *sc;

    sc = ap_get_module_config(s->module_config, &tune_module);

    if (mtune_conf_proxy_used()
        && (ap_find_linked_module("mod_proxy.c") == NULL
            || ap_find_linked_module("mod_proxy_http.c") == NULL))
    {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "tune: proxying (\"TuneMode proxy\" or "
                     "\"TuneHttpsFallback proxy\", %s) needs mod_proxy and "
                     "mod_proxy_http: \"a2enmod proxy proxy_http\" on "
                     "Debian, else LoadModule proxy_module and "
                     "proxy_http_module", mtune_conf_proxy_used());
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    if (sc->redis == NULL) {
        where = mtune_conf_used();

        if (where == NULL) {
            where = mtune_find_handler(ap_conftree, ptemp);
        }

        if (where) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "tune: the tune handler is used (%s) but "
                         "\"TuneRedis\" is not set", where);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return OK;
}


/*
 * "file:line" of the first SetHandler or AddHandler naming a handler of
 * this module, or NULL
 */

static const char *
mtune_find_handler(ap_directive_t *d, apr_pool_t *p)
{
    const char  *where, *args, *word;

    for ( ; d; d = d->next) {

        if (strcasecmp(d->directive, "SetHandler") == 0
            || strcasecmp(d->directive, "AddHandler") == 0)
        {
            args = d->args;
            word = ap_getword_conf(p, &args);

            if (strcasecmp(word, TUNE_HANDLER) == 0
                || strcasecmp(word, TUNE_STATUS_HANDLER) == 0
                || strcasecmp(word, TUNE_METRICS_HANDLER) == 0)
            {
                return apr_psprintf(p, "%s:%d", d->filename, d->line_num);
            }
        }

        where = mtune_find_handler(d->first_child, p);
        if (where) {
            return where;
        }
    }

    return NULL;
}


static int
mtune_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
    server_rec *s)
{
    mtune_shm_t      *shm;
    mtune_srv_conf_t *sc;

    sc = ap_get_module_config(s->module_config, &tune_module);

    if (sc->redis == NULL) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     "tune: no TuneRedis, nothing to read");
        return OK;
    }

    if (mtune_shm_setup(s, mtune_conf_shm_size(sc), &shm) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the image kept across a restart was marked by the old TuneAllow */
    mtune_shm_allow(shm, sc->allow ? (tune_allow_t *) sc->allow->elts : NULL,
                    sc->allow ? (size_t) sc->allow->nelts : 0);

    /* once per start or restart, not in the first of the two passes */
    if (sc->allow == NULL
        && ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG)
    {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "tune: no TuneAllow: every listen URL in redis at %s is "
                     "used as it is; list the backends' URL prefixes with "
                     "TuneAllow to refuse any other", sc->redis->display);
    }

    return OK;
}


static void
mtune_child_init(apr_pool_t *pchild, server_rec *s)
{
    mtune_refresh_start(pchild, s, mtune_shm_current());
}


static void
mtune_register_hooks(apr_pool_t *p)
{
    /* before mod_proxy canonicalises the URL of a proxy request */
    static const char * const  before_proxy[] = { "mod_proxy.c", NULL };

    ap_hook_pre_config(mtune_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(mtune_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(mtune_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(mtune_child_init, NULL, NULL, APR_HOOK_MIDDLE);

    /* after mod_proxy's and mod_rewrite's: their requests are theirs */
    ap_hook_translate_name(mtune_translate_name, NULL, NULL, APR_HOOK_LAST);
    ap_hook_map_to_storage(mtune_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_fixups(mtune_fixups, NULL, before_proxy, APR_HOOK_FIRST);

    /* around mod_proxy's handler, for the next-best slot */
    ap_hook_handler(mtune_proxy_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_handler(mtune_handler, NULL, NULL, APR_HOOK_MIDDLE);

    /* every tune-in counted once its story is complete */
    ap_hook_log_transaction(mtune_metrics_log, NULL, NULL, APR_HOOK_MIDDLE);

    mtune_icy_register(p);
}
