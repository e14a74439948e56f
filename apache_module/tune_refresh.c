/*
 * Copyright (C) tuneslot developers
 *
 * The refresher's transport: a thread per child carrying out, with blocking
 * hiredis, what core's machine (tune_refresh.h) asks while the child holds
 * the refresh lease.
 */


#include "tune_refresh.h"
#include "tune_conf.h"

#include "http_core.h"

#include <tune_refresh.h>
#include <tune_hiredis.h>

#include <hiredis/hiredis.h>

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/*
 * A child not holding the lease looks at it this often, ms: a few times a
 * second, so that with a thousand prefork children the looks stay cheap and
 * a dead holder is replaced within a quarter second.  (A holder of an older
 * configuration is replaced at a new child's first look.)
 */
#define TUNE_LEASE_LOOK         250


typedef struct {
    server_rec               *s;
    mtune_shm_t              *shm;
    pthread_t                 thread;
    unsigned                  generation;    /* of this child's config */
    int64_t                   refresh_ms;
    int64_t                   timeout_ms;

    pthread_mutex_t           mutex;         /* guards stop, for cond */
    pthread_cond_t            cond;
    int                       stop;

    tune_refresh_t            machine;
    redisContext             *rc;

    /* the leading child's only: a prefork Apache has hundreds of children
     * that never lead */
    void                     *mem;

    char                      herd_id[TUNE_HERD_ID_MAX];
} mtune_refresher_t;


/*
 * Waits until the monotonic time until (mtune_mono_ms() is CLOCK_MONOTONIC,
 * the clock of cond); 1 when the thread must stop
 */

static int
mtune_refresh_sleep(mtune_refresher_t *rf, int64_t until)
{
    int              stop;
    struct timespec  ts;

    ts.tv_sec = until / 1000;
    ts.tv_nsec = (until % 1000) * 1000000;

    pthread_mutex_lock(&rf->mutex);

    if (!rf->stop) {
        pthread_cond_timedwait(&rf->cond, &rf->mutex, &ts);
    }

    stop = rf->stop;

    pthread_mutex_unlock(&rf->mutex);

    return stop;
}


/* This child no longer leads: the machine closes what it has open, the
 * buffers go, and the lease too when release is set */

static void
mtune_refresh_resign(mtune_refresher_t *rf, int release)
{
    if (release && tune_refresh_leading(&rf->machine)) {
        mtune_shm_release(rf->shm);
    }

    tune_refresh_resign(&rf->machine);

    free(rf->mem);
    rf->mem = NULL;
}


/*
 * Takes or renews the lease: 0 while this child leads on, 1 when it has
 * just taken the lead, -1 when it does not lead (or exits).  Before every
 * connect or command: one that lost the lease sends nothing more.
 */

static int
mtune_refresh_renew(mtune_refresher_t *rf)
{
    int           took, outage, stop;
    size_t        cap;
    int64_t       now, lease;
    apr_status_t  rv;

    pthread_mutex_lock(&rf->mutex);
    stop = rf->stop;
    pthread_mutex_unlock(&rf->mutex);

    if (stop) {
        mtune_refresh_resign(rf, 1);
        return -1;
    }

    now = mtune_mono_ms();

    /*
     * The lease outlives a few missed refreshes and one slow turn (a
     * handful of commands, each up to the timeout), so a busy leader
     * keeps it; a dead one is replaced at once, its pid being gone.
     */
    lease = 3 * rf->refresh_ms + 4 * rf->timeout_ms;

    rv = mtune_shm_lease(rf->shm, rf->generation, now, lease, &took);

    if (rv != APR_SUCCESS) {
        mtune_refresh_resign(rf, 1);
        return -1;
    }

    if (!took && tune_refresh_leading(&rf->machine)) {
        return 0;
    }

    /* another child may have led meanwhile: whatever was going is void */
    mtune_refresh_resign(rf, 0);

    cap = mtune_shm_image_cap(rf->shm);
    rf->mem = malloc(tune_refresh_memory(&rf->machine, cap));

    if (rf->mem == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, rf->s,
                     "tune: no memory for the refresher's buffers");
        mtune_shm_release(rf->shm);
        return -1;
    }

    /* an outage another child told of is not told again by this one */
    mtune_shm_lock(rf->shm);
    outage = mtune_shm_state(rf->shm)->outage;
    mtune_shm_unlock(rf->shm);

    tune_refresh_lead(&rf->machine, now, mtune_shm_generation(rf->shm),
                      rf->mem, cap);

    if (outage) {
        tune_link_outage_told(&rf->machine.link);
    }

    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, rf->s,
                 "tune: this child reads redis at %s now",
                 rf->machine.conf.link.display);

    return 1;
}


/* A connect or a command (void once resigned); its outcome goes to the
 * machine */

static void
mtune_refresh_io(mtune_refresher_t *rf, const tune_action_t *act)
{
    int64_t          ms;
    redisReply      *reply;
    redisContext    *rc;
    tune_reply_t     r;
    struct timeval   tv;

    /* a reply's elements: one refresher thread per process, its own */
    static tune_reply_t  elements[TUNE_REPLY_ELEMENTS_MAX];

    if (mtune_refresh_renew(rf) != 0) {
        return;
    }

    if (act->what == TUNE_DO_CONNECT) {
        /* a Sentinel is given its own short time, connect and replies, so
         * that one that hangs leaves the next its turn */
        ms = (rf->machine.link.state == TUNE_LINK_ASKING
              && rf->machine.conf.link.sentinel_timeout_ms)
             ? rf->machine.conf.link.sentinel_timeout_ms : rf->timeout_ms;

        tv.tv_sec = ms / 1000;
        tv.tv_usec = (ms % 1000) * 1000;

        rc = act->port
             ? redisConnectWithTimeout(act->host, (int) act->port, tv)
             : redisConnectUnixWithTimeout(act->path, tv);

        if (rc == NULL || rc->err) {
            tune_refresh_dropped(&rf->machine, mtune_mono_ms(),
                                 rc ? tune_hiredis_error(rc->errstr)
                                    : "out of memory");
            redisFree(rc);
            return;
        }

        redisSetTimeout(rc, tv);
        rf->rc = rc;

        tune_refresh_connected(&rf->machine, mtune_mono_ms());
        return;
    }

    reply = rf->rc ? redisCommandArgv(rf->rc, act->argc, act->argv,
                                      act->argvlen)
                   : NULL;

    if (reply == NULL) {
        tune_refresh_dropped(&rf->machine, mtune_mono_ms(),
                             tune_hiredis_error(rf->rc ? rf->rc->errstr
                                                       : NULL));
        redisFree(rf->rc);
        rf->rc = NULL;
        return;
    }

    tune_hiredis_reply(reply, &r, elements, TUNE_REPLY_ELEMENTS_MAX);
    tune_refresh_reply(&rf->machine, mtune_mono_ms(), &r);

    freeReplyObject(reply);
}


/* Carries out what the machine asks until it waits; returns until when */

static int64_t
mtune_refresh_run(mtune_refresher_t *rf)
{
    int            leading;
    int64_t        now;
    apr_status_t   rv;
    tune_action_t  act;

    /* by tune_log_level_t */
    static const int  levels[] = { APLOG_ERR, APLOG_WARNING, APLOG_NOTICE,
                                   APLOG_INFO, APLOG_DEBUG };

    for ( ;; ) {
        now = mtune_mono_ms();

        switch (tune_refresh_next(&rf->machine, now, &act)) {

        case TUNE_DO_WAIT:
            return act.at;

        case TUNE_DO_CONNECT:
        case TUNE_DO_SEND:
            mtune_refresh_io(rf, &act);
            break;

        case TUNE_DO_CLOSE:
            redisFree(rf->rc);
            rf->rc = NULL;
            break;

        case TUNE_DO_LOG:
            ap_log_error(APLOG_MARK, levels[act.level], 0, rf->s, "tune: %s",
                         act.msg);
            break;

        case TUNE_DO_STATE:
            mtune_shm_contact(rf->shm, act.ready, act.ok ? NULL : act.msg);
            break;

        case TUNE_DO_INSTALL:
            rv = mtune_shm_install(rf->shm, act.image, act.size);
            tune_refresh_installed(&rf->machine, now, rv == APR_SUCCESS);
            break;

        case TUNE_DO_HERD:
            /* the holder's only: one that lost the lease in a reply's
             * round trip must not mark claims nobody will settle */
            mtune_shm_lock(rf->shm);
            leading = (mtune_shm_refresher(rf->shm) == getpid());
            tune_refresh_herd(&rf->machine,
                              leading ? mtune_shm_herd(rf->shm) : NULL,
                              mtune_shm_image(rf->shm), mtune_wall_ms());
            mtune_shm_unlock(rf->shm);

            if (!leading) {
                mtune_refresh_resign(rf, 0);
            }
            break;
        }
    }
}


static void *
mtune_refresh_main(void *data)
{
    int64_t             at, now, until;
    mtune_refresher_t  *rf = data;

    /* children start together: spread their first look at the lease */
    if (mtune_refresh_sleep(rf, mtune_mono_ms() + (getpid() % 50))) {
        return NULL;
    }

    /* a leader is back at least every refresh, to renew the lease */
    do {
        (void) mtune_refresh_renew(rf);

        at = mtune_refresh_run(rf);
        now = mtune_mono_ms();

        if (!tune_refresh_leading(&rf->machine)) {
            until = now + TUNE_LEASE_LOOK;

        } else {
            until = (at < now + rf->refresh_ms) ? at : now + rf->refresh_ms;
        }

    } while (!mtune_refresh_sleep(rf, until));

    mtune_refresh_resign(rf, 1);
    (void) mtune_refresh_run(rf);

    return NULL;
}


static apr_status_t
mtune_refresh_stop(void *data)
{
    struct timespec     deadline;
    mtune_refresher_t  *rf = data;

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


void
mtune_refresh_start(apr_pool_t *pchild, server_rec *s, mtune_shm_t *shm)
{
    int                  rv;
    char                 host[64];
    sigset_t             all, old;
    mtune_srv_conf_t    *conf;
    mtune_redis_addr_t  *addr;
    pthread_condattr_t   cattr;
    mtune_refresher_t   *rf;
    tune_refresh_conf_t  c;

    conf = mtune_main_conf();

    if (conf->redis == NULL || shm == NULL) {
        return;
    }

    /*
     * Not from pchild: should the thread outlive the pool (its join timed
     * out, below), what it touches must stay valid until the process ends.
     */
    rf = calloc(1, sizeof(mtune_refresher_t));
    if (rf == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, s,
                     "tune: no memory for the refresher");
        return;
    }

    rf->s = s;
    rf->shm = shm;
    rf->generation = (unsigned) ap_state_query(AP_SQ_CONFIG_GEN);
    rf->refresh_ms = apr_time_as_msec(mtune_conf_refresh(conf));
    rf->timeout_ms = apr_time_as_msec(mtune_conf_redis_timeout(conf));

    /* the machine's configuration; its strings are the config pool's */
    addr = conf->redis;
    memset(&c, 0, sizeof(tune_refresh_conf_t));

    c.link.host = addr->host;
    c.link.port = addr->path ? 0 : (unsigned) addr->port;
    c.link.path = addr->path;
    c.link.display = addr->display;
    c.link.user = addr->user;
    c.link.user_len = addr->user ? strlen(addr->user) : 0;
    c.link.password = addr->password;
    c.link.password_len = addr->password ? strlen(addr->password) : 0;
    c.link.db = addr->db > 0 ? (unsigned) addr->db : 0;
    c.link.timeout_ms = rf->timeout_ms;
    c.link.directive = "TuneRedis";

    if (addr->sentinels) {
        c.link.sentinels = (tune_link_sentinel_t *) addr->sentinels->elts;
        c.link.nsentinels = (unsigned) addr->sentinels->nelts;
        c.link.master_name = addr->master;
        c.link.master_name_len = strlen(addr->master);
        c.link.sentinel_user = addr->sentinel_user;
        c.link.sentinel_user_len = addr->sentinel_user
                                   ? strlen(addr->sentinel_user) : 0;
        c.link.sentinel_password = addr->sentinel_password;
        c.link.sentinel_password_len = addr->sentinel_password
                                       ? strlen(addr->sentinel_password) : 0;

        /* a Sentinel that does not answer at once is passed over: the
         * next may (as nginx's module does) */
        c.link.sentinel_timeout_ms = rf->timeout_ms < 500 ? rf->timeout_ms
                                                          : 500;
    }

    c.refresh_ms = rf->refresh_ms;
    c.herd_window_ms = mtune_conf_herd_window_ms(conf);
    c.allow = conf->allow ? (tune_allow_t *) conf->allow->elts : NULL;
    c.nallow = conf->allow ? (size_t) conf->allow->nelts : 0;
    c.zone_directive = "TuneSharedMemory";
    c.allow_directive = "TuneAllow";
    c.host_name = "Apache";

    /* this Apache's id for the herd script's fair shares */
    if (gethostname(host, sizeof(host)) != 0) {
        host[0] = '\0';
    }

    host[sizeof(host) - 1] = '\0';

    c.herd_id = rf->herd_id;
    c.herd_id_len = tune_herd_id(rf->herd_id, host, strlen(host), "apache",
                                 (long) getpid());

    tune_refresh_init(&rf->machine, &c);

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
    rv = pthread_create(&rf->thread, NULL, mtune_refresh_main, rf);

    if (rv == 0) {
        /* a pre-cleanup: joined before anything of pchild goes */
        apr_pool_pre_cleanup_register(pchild, rf, mtune_refresh_stop);
    }

    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (rv != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "tune: could not start the refresher thread; this "
                     "child will not read Redis");
        free(rf);
    }
}
