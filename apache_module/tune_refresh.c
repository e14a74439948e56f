/*
 * Copyright (C) tuneslot developers
 */


#include "tune_refresh.h"

#include "http_core.h"
#include "apr_lib.h"
#include "apr_portable.h"

#include <hiredis/hiredis.h>

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* a snapshot text may be this many times the image space, at most */
#define TUNE_TEXT_PER_IMAGE     4

/* reconnects back off up to this, ms */
#define TUNE_BACKOFF_MAX        5000

/* slots claimed in one call of the herd script, at most */
#define TUNE_HERD_CLAIM_MAX     256

/*
 * A child not holding the lease looks at it this often, ms: a few times a
 * second, so that with a thousand prefork children the looks stay cheap and
 * a dead holder is replaced within a quarter second.  (A holder of an older
 * configuration is replaced at a new child's first look.)
 */
#define TUNE_LEASE_LOOK         250

/* the same slots refused by TuneAllow are told again this often, ms */
#define TUNE_REFUSED_AGAIN      (3600 * 1000)


typedef struct {
    server_rec               *s;
    tune_srv_conf_t          *conf;
    tune_shm_t               *shm;
    pthread_t                 thread;
    unsigned                  generation;    /* of this child's config */

    pthread_mutex_t           mutex;         /* guards stop, for cond */
    pthread_cond_t            cond;
    int                       stop;

    redisContext             *rc;
    int                       leader;        /* holds the lease */
    int                       aborted;       /* the last command was not
                                                sent: stop, or lease lost */
    int                       ready;         /* connected, hello done */
    char                      sha[41];       /* herd script; "": EVAL */

    int64_t                   refresh_ms;
    int64_t                   timeout_ms;
    uint32_t                  window;

    int64_t                   next_refresh;  /* tune_mono_ms() */
    int64_t                   next_tick;
    int64_t                   retry_at;
    int64_t                   backoff;

    int                       refetch;       /* fetch whatever generation */
    uint64_t                  bad_generation;

    int                       down_logged;
    int                       reject_logged;
    uint64_t                  refused_digest;   /* of the last warned */
    int64_t                   refused_at;       /* tune_mono_ms() then */
    int                       herd_logged;
    int                       nil_logged;

    char                     *scratch;       /* image_cap bytes */
    size_t                    scratch_cap;

    tune_herd_claim_t        *claims;        /* TUNE_HERD_CLAIM_MAX */
    char                      id[TUNE_HERD_ID_MAX + 1];
    size_t                    id_len;
} tune_refresher_t;


static void *tune_refresh_main(void *data);
static apr_status_t tune_refresh_stop(void *data);
static int tune_refresh_renew(tune_refresher_t *rf);
static void tune_refresh_resign(tune_refresher_t *rf);
static int tune_refresh_buffers(tune_refresher_t *rf);
static void tune_refresh_script(tune_refresher_t *rf);
static int tune_refresh_sleep(tune_refresher_t *rf, int64_t until);
static void tune_refresh_lead(tune_refresher_t *rf, int64_t now);
static int tune_refresh_connect(tune_refresher_t *rf);
static int tune_refresh_hello(tune_refresher_t *rf);
static void tune_refresh_read(tune_refresher_t *rf);
static void tune_refresh_install(tune_refresher_t *rf, redisReply *gen,
    redisReply *text);
static void tune_refresh_refused(tune_refresher_t *rf, uint32_t refused,
    uint32_t first);
static void tune_refresh_reject(tune_refresher_t *rf, uint64_t generation,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void tune_refresh_claim(tune_refresher_t *rf);
static redisReply *tune_refresh_command(tune_refresher_t *rf, int argc,
    const char **argv, const size_t *argvlen);
static void tune_refresh_failed(tune_refresher_t *rf, const char *reason);
static void tune_refresh_answered(tune_refresher_t *rf);
static void tune_refresh_drop(tune_refresher_t *rf);
static uint64_t tune_refresh_parse_generation(const redisReply *reply);


void
tune_refresh_start(apr_pool_t *pchild, server_rec *s, tune_shm_t *shm)
{
    size_t             i, n;
    int                rv;
    sigset_t           all, old;
    pthread_condattr_t cattr;
    tune_srv_conf_t   *conf;
    tune_refresher_t  *rf;
    char               host[64];

    conf = tune_main_conf();

    if (conf->redis == NULL || shm == NULL) {
        return;
    }

    /*
     * Not from pchild: should the thread outlive the pool (its join timed
     * out, below), what it touches must stay valid until the process ends.
     */
    rf = calloc(1, sizeof(tune_refresher_t));
    if (rf == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, s,
                     "tune: no memory for the refresher");
        return;
    }

    rf->s = s;
    rf->conf = conf;
    rf->shm = shm;
    rf->generation = (unsigned) ap_state_query(AP_SQ_CONFIG_GEN);
    rf->refresh_ms = apr_time_as_msec(tune_conf_refresh(conf));
    rf->timeout_ms = apr_time_as_msec(tune_conf_redis_timeout(conf));
    rf->window = tune_conf_herd_window_ms(conf);
    rf->backoff = rf->refresh_ms;
    rf->scratch_cap = tune_shm_image_cap(shm);

    /* this Apache's id for the herd script's fair shares: host:pid */
    if (gethostname(host, sizeof(host)) != 0) {
        host[0] = '\0';
    }

    host[sizeof(host) - 1] = '\0';
    n = 0;

    for (i = 0; host[i] && n < 64; i++) {
        if (apr_isalnum(host[i]) || strchr("._-", host[i])) {
            rf->id[n++] = host[i];
        }
    }

    rf->id_len = n + apr_snprintf(rf->id + n, sizeof(rf->id) - n,
                                  "%sapache:%" APR_PID_T_FMT,
                                  n ? ":" : "", getpid());

    /* waits run on the monotonic clock: a step of the wall clock (NTP, a
     * resumed VM) must not stretch them */
    pthread_mutex_init(&rf->mutex, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&rf->cond, &cattr);
    pthread_condattr_destroy(&cattr);

    /*
     * The thread takes no signals: prefork and the other MPMs handle them
     * on the child's main thread, whose handlers may destroy pchild, which
     * joins this thread.  The main thread takes none either until the
     * join is registered: a SIGTERM while the child is still starting
     * (httpd stopped just after it forked) runs the MPM's handler, which
     * destroys pchild and exits; a thread nobody joined would then find
     * the shared segment unmapped under it.
     */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);

    /* a plain thread: it uses no pool, and its end is ours to decide */
    rv = pthread_create(&rf->thread, NULL, tune_refresh_main, rf);

    if (rv == 0) {
        /*
         * A pre-cleanup, so the thread is joined before anything of
         * pchild goes
         */
        apr_pool_pre_cleanup_register(pchild, rf, tune_refresh_stop);
    }

    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (rv != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "tune: could not start the refresher thread; this "
                     "child will not read Redis");
        free(rf);
    }
}


static apr_status_t
tune_refresh_stop(void *data)
{
    struct timespec    deadline;
    tune_refresher_t  *rf = data;

    pthread_mutex_lock(&rf->mutex);
    rf->stop = 1;
    pthread_cond_signal(&rf->cond);
    pthread_mutex_unlock(&rf->mutex);

    /*
     * The thread checks the flag before every command, so it is at most
     * one Redis timeout away.  Bounded all the same: prefork may run this
     * from a signal handler that interrupted a request holding the
     * segment's lock, which the thread may be waiting for; the process is
     * exiting, so it is then left behind, with its memory.
     */
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 2 + rf->timeout_ms / 1000;

    if (pthread_timedjoin_np(rf->thread, NULL, &deadline) != 0) {
        /*
         * Cancelled at its next wait (a Redis read, its sleep): at exit the
         * segment is unmapped, and it must not be touching it then.
         */
        pthread_cancel(rf->thread);

        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 1;

        if (pthread_timedjoin_np(rf->thread, NULL, &deadline) != 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rf->s,
                         "tune: the refresher did not stop in time; the "
                         "child exits without it");
        }

        return APR_SUCCESS;
    }

    pthread_cond_destroy(&rf->cond);
    pthread_mutex_destroy(&rf->mutex);
    free(rf);

    return APR_SUCCESS;
}


static void *
tune_refresh_main(void *data)
{
    int64_t            now, until;
    tune_refresher_t  *rf = data;

    /* children start together: spread their first look at the lease */
    if (tune_refresh_sleep(rf, tune_mono_ms() + (getpid() % 50))) {
        goto done;
    }

    for ( ;; ) {
        now = tune_mono_ms();

        if (tune_refresh_renew(rf) == 0) {
            tune_refresh_lead(rf, now);

            /*
             * Back at least every refresh, whatever the backoff: the lease
             * is renewed here, and a leader that stops renewing it is
             * replaced.
             */
            until = rf->next_refresh;

            if (rf->ready && rf->window && rf->next_tick < until) {
                until = rf->next_tick;
            }

            if (until > now + rf->refresh_ms) {
                until = now + rf->refresh_ms;
            }

        } else {
            until = now + TUNE_LEASE_LOOK;
        }

        if (tune_refresh_sleep(rf, until)) {
            break;
        }
    }

done:

    tune_refresh_resign(rf);

    return NULL;
}


/*
 * Takes or renews the lease; 0 while this child leads.  Called before every
 * turn and every command, so a leader that lost the lease (it stalled past
 * it, or a newer configuration took over) stops before its next command.
 */

static int
tune_refresh_renew(tune_refresher_t *rf)
{
    int           took;
    int64_t       now, lease;
    apr_status_t  rv;

    now = tune_mono_ms();

    /*
     * The lease outlives a few missed refreshes and one slow turn (a
     * handful of commands, each up to the timeout), so a busy leader
     * keeps it; a dead one is replaced at once, its pid being gone.
     */
    lease = 3 * rf->refresh_ms + 4 * rf->timeout_ms;

    rv = tune_shm_lease(rf->shm, rf->generation, now, lease, &took);

    if (rv != APR_SUCCESS) {
        tune_refresh_resign(rf);
        return -1;
    }

    if (rf->leader && !took) {
        return 0;
    }

    if (tune_refresh_buffers(rf) != 0) {
        tune_shm_release(rf->shm);
        return -1;
    }

    /* claims of a previous holder will never be answered */
    tune_shm_lock(rf->shm);
    tune_herd_takeover(tune_shm_herd(rf->shm));
    tune_shm_unlock(rf->shm);

    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rf->s,
                 "tune: this child reads redis at %s now",
                 rf->conf->redis->display);

    rf->leader = 1;
    rf->refetch = 1;
    rf->retry_at = 0;
    rf->backoff = rf->refresh_ms;
    rf->next_refresh = now;
    rf->next_tick = now;

    return 0;
}


/*
 * This child no longer leads (or exits): the connection, the lease and
 * the buffers go; a child that leads again starts afresh.
 */

static void
tune_refresh_resign(tune_refresher_t *rf)
{
    tune_refresh_drop(rf);

    if (rf->leader) {
        tune_shm_release(rf->shm);
        rf->leader = 0;
    }

    rf->down_logged = 0;
    rf->herd_logged = 0;
    rf->reject_logged = 0;
    rf->nil_logged = 0;

    free(rf->scratch);
    rf->scratch = NULL;
    free(rf->claims);
    rf->claims = NULL;
}


/*
 * The decode buffer and the claims, allocated by the child that leads only
 * (a prefork Apache has hundreds of children that never do)
 */

static int
tune_refresh_buffers(tune_refresher_t *rf)
{
    if (rf->scratch == NULL) {
        rf->scratch = malloc(rf->scratch_cap);
    }

    if (rf->claims == NULL) {
        rf->claims = malloc(TUNE_HERD_CLAIM_MAX * sizeof(tune_herd_claim_t));
    }

    if (rf->scratch == NULL || rf->claims == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, rf->s,
                     "tune: no memory for the refresher's buffers");
        return -1;
    }

    return 0;
}


/* Waits until the monotonic time until; 1 when the thread must stop */

static int
tune_refresh_sleep(tune_refresher_t *rf, int64_t until)
{
    int              stop;
    int64_t          wait;
    struct timespec  ts;

    wait = until - tune_mono_ms();

    pthread_mutex_lock(&rf->mutex);

    if (!rf->stop && wait > 0) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;

        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }

        pthread_cond_timedwait(&rf->cond, &rf->mutex, &ts);
    }

    stop = rf->stop;

    pthread_mutex_unlock(&rf->mutex);

    return stop;
}


/* One turn of the lease holder */

static void
tune_refresh_lead(tune_refresher_t *rf, int64_t now)
{
    if (!rf->ready) {
        if (now < rf->retry_at) {
            rf->next_refresh = rf->retry_at;
            return;
        }

        if (tune_refresh_connect(rf) != 0) {
            rf->next_refresh = rf->retry_at;
            return;
        }
    }

    /*
     * Claims first: after a takeover the snapshot held is fine, while the
     * credits of the front-end run out within half a window.
     */
    if (rf->ready && rf->window && tune_mono_ms() >= rf->next_tick) {
        rf->next_tick = tune_mono_ms() + TUNE_HERD_TICK_MS;
        tune_refresh_claim(rf);
    }

    if (rf->ready && now >= rf->next_refresh) {
        rf->next_refresh = now + rf->refresh_ms;
        tune_refresh_read(rf);
    }
}


static int
tune_refresh_connect(tune_refresher_t *rf)
{
    struct timeval      tv;
    tune_redis_addr_t  *addr;

    addr = rf->conf->redis;

    tv.tv_sec = rf->timeout_ms / 1000;
    tv.tv_usec = (rf->timeout_ms % 1000) * 1000;

    if (addr->path) {
        rf->rc = redisConnectUnixWithTimeout(addr->path, tv);

    } else {
        rf->rc = redisConnectWithTimeout(addr->host, addr->port, tv);
    }

    if (rf->rc == NULL) {
        tune_refresh_failed(rf, "out of memory");
        return -1;
    }

    if (rf->rc->err) {
        tune_refresh_failed(rf, rf->rc->errstr);
        tune_refresh_drop(rf);
        return -1;
    }

    redisSetTimeout(rf->rc, tv);

    if (tune_refresh_hello(rf) != 0) {
        tune_refresh_drop(rf);
        return -1;
    }

    rf->ready = 1;

    /* a restarted Redis may count generations from 1 again */
    rf->refetch = 1;

    /*
     * A connection is not an answer yet (a blackholed Redis accepts and
     * stays silent): the outage ends with the first reply.
     */

    return 0;
}


/*
 * What a new connection owes before anything else: AUTH, SELECT, SCRIPT
 * LOAD of the herd script.  Arguments go as a vector: a password may hold
 * any byte.
 */

static int
tune_refresh_hello(tune_refresher_t *rf)
{
    int                 n;
    char                db[16];
    size_t              len[3];
    const char         *argv[3];
    redisReply         *reply;
    tune_redis_addr_t  *addr;

    addr = rf->conf->redis;

    if (addr->password) {
        n = 0;
        argv[n] = "AUTH";
        len[n++] = 4;

        if (addr->user) {
            argv[n] = addr->user;
            len[n++] = strlen(addr->user);
        }

        argv[n] = addr->password;
        len[n++] = strlen(addr->password);

        reply = tune_refresh_command(rf, n, argv, len);
        if (reply == NULL) {
            return -1;
        }

        if (reply->type == REDIS_REPLY_ERROR) {
            /* Redis's error text never holds the password; ours neither */
            if (!rf->down_logged) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, rf->s,
                             "tune: redis at %s refused the credentials of "
                             "\"TuneRedis\": %s", addr->display, reply->str);
                rf->down_logged = 1;
            }

            freeReplyObject(reply);
            tune_refresh_failed(rf, "authentication failed");
            return -1;
        }

        freeReplyObject(reply);
    }

    if (addr->db > 0) {
        argv[0] = "SELECT";
        len[0] = 6;
        argv[1] = db;
        len[1] = apr_snprintf(db, sizeof(db), "%d", addr->db);

        reply = tune_refresh_command(rf, 2, argv, len);
        if (reply == NULL) {
            return -1;
        }

        if (reply->type == REDIS_REPLY_ERROR) {
            tune_refresh_failed(rf, reply->str);
            freeReplyObject(reply);
            return -1;
        }

        freeReplyObject(reply);
    }

    rf->sha[0] = '\0';

    if (rf->window) {
        tune_refresh_script(rf);

        if (rf->rc == NULL) {
            return -1;
        }
    }

    return 0;
}


/*
 * SCRIPT LOAD of the herd script, for EVALSHA.  An ACL user without
 * scripting: the snapshot is still read, herd claims (sent as EVAL then)
 * fail and say so.
 */

static void
tune_refresh_script(tune_refresher_t *rf)
{
    size_t       len[3];
    const char  *argv[3];
    redisReply  *reply;

    argv[0] = "SCRIPT";
    len[0] = 6;
    argv[1] = "LOAD";
    len[1] = 4;
    argv[2] = tune_herd_script(&len[2]);

    reply = tune_refresh_command(rf, 3, argv, len);
    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_STRING && reply->len == 40) {
        memcpy(rf->sha, reply->str, 40);
        rf->sha[40] = '\0';
    }

    freeReplyObject(reply);
}


/* GET generation; STRLEN and MGET when it changed */

static void
tune_refresh_read(tune_refresher_t *rf)
{
    size_t       limit;
    uint64_t     generation;
    redisReply  *reply;
    const char  *argv[3];

    argv[0] = "GET";
    argv[1] = TUNE_REDIS_KEY_GENERATION;

    reply = tune_refresh_command(rf, 2, argv, NULL);
    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        tune_refresh_failed(rf, reply->str);
        freeReplyObject(reply);
        return;
    }

    tune_refresh_answered(rf);

    if (reply->type == REDIS_REPLY_NIL) {
        /* nothing written yet, or Redis lost it: serve what is held */
        freeReplyObject(reply);

        if (!rf->nil_logged) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rf->s,
                         "tune: redis at %s holds no snapshot yet; is "
                         "tuneslotd running?", rf->conf->redis->display);
            rf->nil_logged = 1;
        }

        rf->refetch = 1;
        return;
    }

    rf->nil_logged = 0;

    generation = tune_refresh_parse_generation(reply);
    freeReplyObject(reply);

    if (generation == 0) {
        tune_refresh_failed(rf, "invalid generation key");
        return;
    }

    if (!rf->refetch
        && (generation == rf->bad_generation
            || generation == tune_shm_generation(rf->shm)))
    {
        return;
    }

    /* the size first: a hostile or runaway key is never fetched */
    argv[0] = "STRLEN";
    argv[1] = TUNE_REDIS_KEY_SNAPSHOT;

    reply = tune_refresh_command(rf, 2, argv, NULL);
    if (reply == NULL) {
        return;
    }

    if (reply->type != REDIS_REPLY_INTEGER) {
        tune_refresh_failed(rf, "unexpected reply to STRLEN");
        freeReplyObject(reply);
        return;
    }

    limit = TUNE_TEXT_PER_IMAGE * rf->scratch_cap;

    if (reply->integer < 0 || (unsigned long long) reply->integer > limit) {
        tune_refresh_reject(rf, generation,
                            "snapshot of %lld bytes is larger than %"
                            APR_SIZE_T_FMT " bytes (increase "
                            "TuneSharedMemory)", reply->integer, limit);
        freeReplyObject(reply);
        return;
    }

    freeReplyObject(reply);

    argv[0] = "MGET";
    argv[1] = TUNE_REDIS_KEY_GENERATION;
    argv[2] = TUNE_REDIS_KEY_SNAPSHOT;

    reply = tune_refresh_command(rf, 3, argv, NULL);
    if (reply == NULL) {
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        tune_refresh_failed(rf, "unexpected reply to MGET");
        freeReplyObject(reply);
        return;
    }

    /* flushed between the two commands: look again next time */
    if (reply->element[1]->type == REDIS_REPLY_STRING) {
        rf->refetch = 0;
        tune_refresh_install(rf, reply->element[0], reply->element[1]);
    }

    freeReplyObject(reply);
}


static void
tune_refresh_install(tune_refresher_t *rf, redisReply *gen, redisReply *text)
{
    size_t               size;
    uint32_t             refused, first;
    uint64_t             generation;
    apr_status_t         rv;
    tune_decode_err_t    err;
    apr_array_header_t  *allow;

    generation = tune_refresh_parse_generation(gen);
    if (generation == 0) {
        tune_refresh_failed(rf, "invalid generation key");
        return;
    }

    size = tune_snapshot_decode(text->str, text->len, generation,
                                rf->scratch, rf->scratch_cap, &err);

    if (size == 0) {
        tune_refresh_reject(rf, generation, "line %u: %s%s", err.line,
                            err.reason,
                            err.rc == TUNE_ERR_NO_SPACE
                                ? " (increase TuneSharedMemory)" : "");
        return;
    }

    /* hostile or not, a URL outside TuneAllow is never offered */
    allow = rf->conf->allow;

    refused = tune_image_allow(rf->scratch, size,
                               allow ? (tune_allow_t *) allow->elts : NULL,
                               allow ? (size_t) allow->nelts : 0, &first);

    rv = tune_shm_install(rf->shm, rf->scratch, size);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, rf->s,
                     "tune: lease lost, generation %" APR_UINT64_T_FMT
                     " not installed", generation);
        return;
    }

    rf->reject_logged = 0;

    if (refused) {
        tune_refresh_refused(rf, refused, first);

    } else {
        rf->refused_digest = 0;
    }

    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rf->s,
                 "tune: installed snapshot generation %" APR_UINT64_T_FMT
                 ", %" APR_SIZE_T_FMT " bytes", generation, size);
}


/*
 * How many slots TuneAllow refused, and the first of them, its URL escaped
 * (a valid snapshot holds no control byte, but a log line must not depend on
 * that).  Told when the refused slots change and again every
 * TUNE_REFUSED_AGAIN while they do not: a misconfiguration that lasts is not
 * a line per round.
 */

static void
tune_refresh_refused(tune_refresher_t *rf, uint32_t refused, uint32_t first)
{
    int64_t                   now;
    uint64_t                  digest;
    const tune_image_t       *img;
    const tune_image_slot_t  *s;
    char                      url[512], backend[128];

    img = tune_image_get(rf->scratch, rf->scratch_cap);
    if (img == NULL || first >= img->nslots) {
        return;
    }

    digest = tune_image_refused_digest(img);
    now = tune_mono_ms();

    if (digest == rf->refused_digest && rf->refused_at
        && now - rf->refused_at < TUNE_REFUSED_AGAIN)
    {
        return;
    }

    rf->refused_digest = digest;
    rf->refused_at = now;

    s = &tune_image_slots(img)[first];

    (void) tune_log_escape(url, sizeof(url), tune_image_str(img, s->url),
                           s->url.len);
    (void) tune_log_escape(backend, sizeof(backend),
                           tune_image_str(img, s->backend), s->backend.len);

    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rf->s,
                 "tune: snapshot generation %" APR_UINT64_T_FMT ": %u of %u "
                 "slots refused by TuneAllow, the first of backend \"%s\": "
                 "\"%s\"", img->generation, refused, img->nslots, backend,
                 url);
}


/*
 * A snapshot this module will not install.  It is not fetched again; the
 * error is logged once until a snapshot is installed again.
 */

static void
tune_refresh_reject(tune_refresher_t *rf, uint64_t generation,
    const char *fmt, ...)
{
    va_list  args;
    char     reason[256];

    rf->bad_generation = generation;
    rf->refetch = 0;

    if (rf->reject_logged) {
        return;
    }

    rf->reject_logged = 1;

    va_start(args, fmt);
    apr_vsnprintf(reason, sizeof(reason), fmt, args);
    va_end(args);

    ap_log_error(APLOG_MARK, APLOG_ERR, 0, rf->s,
                 "tune: snapshot generation %" APR_UINT64_T_FMT " from redis "
                 "at %s rejected: %s; keeping generation %" APR_UINT64_T_FMT,
                 generation, rf->conf->redis->display, reason,
                 tune_shm_generation(rf->shm));
}


/* One EVALSHA (or EVAL) for every slot that needs credits now */

static void
tune_refresh_claim(tune_refresher_t *rf)
{
    size_t               n, argc, i;
    int64_t              sent, *granted;
    redisReply          *reply;
    const char          *reason;
    tune_herd_t         *herd;
    const tune_image_t  *img;

    /* one refresher thread per process: these are its own */
    static const char   *argv[2 + TUNE_HERD_ARGC(TUNE_HERD_CLAIM_MAX)];
    static size_t        len[2 + TUNE_HERD_ARGC(TUNE_HERD_CLAIM_MAX)];
    static char          buf[TUNE_HERD_ARGS_BUF(TUNE_HERD_CLAIM_MAX)];

    sent = tune_wall_ms();

    tune_shm_lock(rf->shm);

    herd = tune_shm_herd(rf->shm);
    img = tune_shm_image(rf->shm);

    n = (herd && img) ? tune_herd_claims(herd, img, sent, rf->window,
                                         rf->claims, TUNE_HERD_CLAIM_MAX)
                      : 0;

    tune_shm_unlock(rf->shm);

    if (n == 0) {
        /* an idle tick costs a walk over the slots, no command */
        return;
    }

    if (rf->sha[0]) {
        argv[0] = "EVALSHA";
        argv[1] = rf->sha;
        len[1] = 40;

    } else {
        argv[0] = "EVAL";
        argv[1] = tune_herd_script(&len[1]);
    }

    len[0] = strlen(argv[0]);

    argc = tune_herd_args(rf->claims, n, sent, rf->window, rf->id, rf->id_len,
                          buf, sizeof(buf), argv + 2, len + 2);

    if (argc == 0) {
        tune_shm_lock(rf->shm);
        tune_herd_unclaimed(herd, rf->claims, n);
        tune_shm_unlock(rf->shm);
        return;
    }

    reply = tune_refresh_command(rf, (int) (argc + 2), argv, len);

    if (reply == NULL) {
        if (rf->aborted) {
            /* not sent; the next leader's takeover clears the claims */
            return;
        }

        /*
         * Whether the script ran is not known: the credits returned and
         * granted are both lost; fewer tune-ins, never more than free.
         */
        tune_shm_lock(rf->shm);
        tune_herd_local(herd);
        tune_shm_unlock(rf->shm);
        return;
    }

    reason = NULL;

    if (reply->type == REDIS_REPLY_ERROR) {

        if (strncmp(reply->str, "NOSCRIPT", 8) == 0) {
            /* SCRIPT FLUSH or a failover: nothing ran; load it again */
            rf->sha[0] = '\0';
            tune_shm_lock(rf->shm);
            tune_herd_unclaimed(herd, rf->claims, n);
            tune_shm_unlock(rf->shm);
            freeReplyObject(reply);
            tune_refresh_script(rf);
            return;
        }

        reason = reply->str;

    } else if (reply->type != REDIS_REPLY_ARRAY
               || reply->elements != 2 * n)
    {
        reason = "unexpected reply";

    } else {
        granted = malloc(2 * n * sizeof(int64_t));

        for (i = 0; granted && i < 2 * n; i++) {
            if (reply->element[i]->type != REDIS_REPLY_INTEGER
                || reply->element[i]->integer < 0)
            {
                reason = "unexpected reply";
                break;
            }

            granted[i] = reply->element[i]->integer;
        }

        if (granted == NULL) {
            reason = "out of memory";
        }

        if (reason == NULL) {
            tune_shm_lock(rf->shm);
            tune_herd_granted(herd, rf->claims, n, rf->window, sent, granted);
            tune_shm_unlock(rf->shm);
        }

        free(granted);
    }

    if (reason == NULL) {
        if (rf->herd_logged) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, rf->s,
                         "tune: herd claims at redis at %s work again",
                         rf->conf->redis->display);
            rf->herd_logged = 0;
        }

        freeReplyObject(reply);
        return;
    }

    tune_shm_lock(rf->shm);
    tune_herd_local(herd);
    tune_shm_unlock(rf->shm);

    if (!rf->herd_logged) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rf->s,
                     "tune: herd claim at redis at %s failed: %s; counting "
                     "this Apache's tune-ins only",
                     rf->conf->redis->display, reason);
        rf->herd_logged = 1;
    }

    freeReplyObject(reply);
}


/*
 * One command; NULL when the connection failed (then it is dropped and
 * the failure recorded).  argvlen NULL: the arguments are C strings.
 */

static redisReply *
tune_refresh_command(tune_refresher_t *rf, int argc, const char **argv,
    const size_t *argvlen)
{
    int          stop;
    redisReply  *reply;

    if (rf->rc == NULL) {
        return NULL;
    }

    pthread_mutex_lock(&rf->mutex);
    stop = rf->stop;
    pthread_mutex_unlock(&rf->mutex);

    /* the child exits, or another leads now: not one command more */
    rf->aborted = stop || tune_refresh_renew(rf) != 0;

    if (rf->aborted) {
        tune_refresh_drop(rf);
        return NULL;
    }

    reply = redisCommandArgv(rf->rc, argc, argv, argvlen);

    if (reply == NULL) {
        tune_refresh_failed(rf, rf->rc->errstr[0] ? rf->rc->errstr
                                                  : "connection lost");
        tune_refresh_drop(rf);

        /* whatever credits were claimed are not known to be granted */
        tune_shm_lock(rf->shm);
        if (tune_shm_herd(rf->shm)) {
            tune_herd_local(tune_shm_herd(rf->shm));
        }
        tune_shm_unlock(rf->shm);
    }

    return reply;
}


static void
tune_refresh_failed(tune_refresher_t *rf, const char *reason)
{
    /* hiredis says EAGAIN's text when a read or connect timed out */
    if (strstr(reason, "temporarily unavailable")
        || strstr(reason, "timed out"))
    {
        reason = "timed out";
    }

    /* once per outage of this Apache, not per retry or per child leading */
    if (tune_shm_contact(rf->shm, rf->ready, reason) && !rf->down_logged) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rf->s,
                     "tune: redis at %s: %s; tune-ins are answered from the "
                     "last snapshot", rf->conf->redis->display, reason);
    }

    rf->down_logged = 1;

    rf->retry_at = tune_mono_ms() + rf->backoff;
    rf->backoff = rf->backoff * 2;

    if (rf->backoff > TUNE_BACKOFF_MAX && rf->backoff > rf->refresh_ms) {
        rf->backoff = (rf->refresh_ms > TUNE_BACKOFF_MAX) ? rf->refresh_ms
                                                          : TUNE_BACKOFF_MAX;
    }
}


static void
tune_refresh_answered(tune_refresher_t *rf)
{
    if (tune_shm_contact(rf->shm, rf->ready, NULL)) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, rf->s,
                     "tune: redis at %s answers again",
                     rf->conf->redis->display);
    }

    rf->down_logged = 0;
    rf->backoff = rf->refresh_ms;
}


static void
tune_refresh_drop(tune_refresher_t *rf)
{
    if (rf->rc) {
        redisFree(rf->rc);
        rf->rc = NULL;
    }

    rf->ready = 0;
}


/* 0 when the reply is not a generation (tune_generation_parse()) */

static uint64_t
tune_refresh_parse_generation(const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_STRING) {
        return 0;
    }

    return tune_generation_parse(reply->str, reply->len);
}
