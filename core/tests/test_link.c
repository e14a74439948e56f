/*
 * One Redis connection's machine (tune_link.h), run by a scripted host
 * (fake_host.h): the hello, its refusals, the outage lines and the
 * backoff, the deadlines of a connect and of a reply.  The link's user is
 * the test: it sends its own commands with tune_link_sent() and reads
 * their replies.
 */

#include "link_host.h"


#define DISPLAY     "redis.example:6379"
#define DIRECTIVE   "tune_redis_password"
#define EFFECT      "tune-ins are answered from the last snapshot"
#define PASSWORD    "s3cret-pw"
#define SHA         "0123456789abcdef0123456789abcdef01234567"

#define TIMEOUT     1000
#define BACKOFF_MIN 100
#define BACKOFF_MAX 1600


/* A host at time 0 with the usual configuration, no connection wanted */
static int
setup(void **state)
{
    (void) state;

    host_init(&t.host, link_next, NULL);

    memset(&t.conf, 0, sizeof(tune_link_conf_t));
    t.conf.host = "redis.example";
    t.conf.port = 6379;
    t.conf.display = DISPLAY;
    t.conf.directive = DIRECTIVE;
    t.conf.effect = EFFECT;
    t.conf.timeout_ms = TIMEOUT;
    t.conf.backoff_min_ms = BACKOFF_MIN;
    t.conf.backoff_max_ms = BACKOFF_MAX;

    t.taken = -1;

    return 0;
}


static void
with_password(const char *user)
{
    t.conf.user = user;
    t.conf.user_len = user ? strlen(user) : 0;
    t.conf.password = PASSWORD;
    t.conf.password_len = sizeof(PASSWORD) - 1;
    t.host.secret = PASSWORD;
}


/* the user sends a command of its own */
static size_t
user_sends(void)
{
    tune_link_sent(&t.ln, t.host.now);

    return host_run(&t.host);
}


/* connect and pass a hello without commands: ready */
static void
ready(void)
{
    size_t  f;

    f = start();
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);
    f = connected();
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    assert_true(tune_link_ready(&t.ln));
}


/* the last action of a run: WAIT until at */
static void
waits_until(int64_t at)
{
    assert_int_equal(t.host.rec[t.host.n - 1].what, TUNE_DO_WAIT);
    assert_int_equal(t.host.at, at);
}


/* ---- the hello ----------------------------------------------------- */

/* Nothing configured: no command before the user's */
static void
test_hello_none(void **state)
{
    size_t            f;
    const host_rec_t  *r;

    (void) state;

    f = start();
    r = host_find(&t.host, f, TUNE_DO_CONNECT);
    assert_string_equal(r->addr, "redis.example:6379");
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);
    waits_until(TIMEOUT);
    assert_false(tune_link_ready(&t.ln));

    t.host.now = 10;
    f = connected();
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
    waits_until(TUNE_NEVER);
    assert_true(tune_link_ready(&t.ln));
    assert_string_equal(tune_link_sha(&t.ln), "");
}


/* The Unix socket: CONNECT names the path */
static void
test_hello_path(void **state)
{
    size_t  f;

    (void) state;

    t.conf.host = NULL;
    t.conf.port = 0;
    t.conf.path = "/run/redis/redis.sock";

    f = start();
    assert_string_equal(host_find(&t.host, f, TUNE_DO_CONNECT)->addr,
                        "/run/redis/redis.sock");
}


/* AUTH password, AUTH user password: the password as sent, in no line */
static void
test_hello_auth(void **state)
{
    size_t  f;

    (void) state;

    with_password(NULL);
    start();

    t.host.now = 5;
    f = connected();
    assert_string_equal(host_sent(&t.host, f), "AUTH " PASSWORD);
    assert_int_equal(host_find(&t.host, f, TUNE_DO_SEND)->argc, 2);
    waits_until(5 + TIMEOUT);
    assert_false(tune_link_ready(&t.ln));

    /* nothing else goes before its reply */
    f = host_advance(&t.host, 500);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    f = reply(reply_status("OK"));
    assert_int_equal(t.taken, 1);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    assert_true(tune_link_ready(&t.ln));
    waits_until(TUNE_NEVER);

    /* with an ACL user */
    setup(NULL);
    with_password("tuneslot-ro");
    start();
    f = connected();
    assert_string_equal(host_sent(&t.host, f),
                        "AUTH tuneslot-ro " PASSWORD);
    assert_int_equal(host_find(&t.host, f, TUNE_DO_SEND)->argc, 3);
    reply(reply_status("OK"));
    assert_true(tune_link_ready(&t.ln));

    /* an empty user name is no user */
    setup(NULL);
    with_password("");
    start();
    f = connected();
    assert_int_equal(host_find(&t.host, f, TUNE_DO_SEND)->argc, 2);
}


/* A password of any bytes goes as it is: its length, not up to a NUL */
static void
test_hello_auth_binary(void **state)
{
    size_t       f;
    static const char  pw[] = "pw\0with\tnul";

    (void) state;

    t.conf.password = pw;
    t.conf.password_len = sizeof(pw) - 1;

    start();
    f = connected();
    assert_int_equal(host_find(&t.host, f, TUNE_DO_SEND)->arglen[1],
                     sizeof(pw) - 1);
    assert_string_equal(host_sent(&t.host, f), "AUTH pw?with?nul");
}


static void
test_hello_select(void **state)
{
    size_t  f;

    (void) state;

    t.conf.db = 7;

    start();
    f = connected();
    assert_string_equal(host_sent(&t.host, f), "SELECT 7");
    assert_false(tune_link_ready(&t.ln));

    f = reply(reply_status("OK"));
    assert_int_equal(t.taken, 1);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    assert_true(tune_link_ready(&t.ln));
}


/* AUTH, SELECT, SCRIPT LOAD, one at a time; the script's SHA1 kept */
static void
test_hello_all(void **state)
{
    size_t  f;

    (void) state;

    with_password("u");
    t.conf.db = 2;
    t.conf.script = "return 1";
    t.conf.script_len = 8;

    start();
    f = connected();
    assert_string_equal(host_sent(&t.host, f), "AUTH u " PASSWORD);

    f = reply(reply_status("OK"));
    assert_string_equal(host_sent(&t.host, f), "SELECT 2");
    f = host_advance(&t.host, 900);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    f = reply(reply_status("OK"));
    assert_string_equal(host_sent(&t.host, f), "SCRIPT LOAD return 1");
    assert_false(tune_link_ready(&t.ln));
    assert_string_equal(tune_link_sha(&t.ln), "");

    f = reply(reply_str(SHA));
    assert_int_equal(t.taken, 1);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    assert_true(tune_link_ready(&t.ln));
    assert_string_equal(tune_link_sha(&t.ln), SHA);

    /* a new connection loads it again */
    f = dropped(NULL);
    assert_string_equal(tune_link_sha(&t.ln), "");
    f = host_advance(&t.host, t.host.at);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);
    f = connected();
    assert_string_equal(host_sent(&t.host, f), "AUTH u " PASSWORD);
}


/*
 * Refused credentials: one ERR naming the directive and Redis's words,
 * the connection closed, a retry after the backoff, no second ERR.
 */
static void
test_auth_refused(void **state)
{
    size_t             f;
    const host_rec_t  *r;
    static const char  wrongpass[] =
        "WRONGPASS invalid username-password pair or user is disabled.";

    (void) state;

    with_password(NULL);
    start();
    f = connected();
    assert_string_equal(host_sent(&t.host, f), "AUTH " PASSWORD);

    t.host.now = 20;
    f = reply(reply_err(wrongpass));
    assert_int_equal(t.taken, 1);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR, DIRECTIVE), 1);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR, wrongpass), 1);
    assert_int_equal(host_logs(&t.host, f, -1, NULL), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    r = host_find(&t.host, f, TUNE_DO_STATE);
    assert_int_equal(r->ok, 0);
    assert_int_equal(r->ready, 0);

    assert_true(tune_link_refused(&t.ln));
    assert_string_equal(tune_link_why(&t.ln), wrongpass);
    assert_false(tune_link_ready(&t.ln));
    waits_until(20 + BACKOFF_MIN);

    /* the backoff first */
    f = host_advance(&t.host, 20 + BACKOFF_MIN - 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 0);
    f = host_advance(&t.host, 20 + BACKOFF_MIN);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);

    f = connected();
    assert_string_equal(host_sent(&t.host, f), "AUTH " PASSWORD);
    f = reply(reply_err(wrongpass));
    assert_int_equal(host_logs(&t.host, f, -1, NULL), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    waits_until(t.host.now + 2 * BACKOFF_MIN);
    assert_true(tune_link_refused(&t.ln));
}


/*
 * Credentials refused in an outage already told (Redis came back with
 * another password): the ERR that needs an operator is still said once.
 */
static void
test_auth_refused_after_outage(void **state)
{
    size_t  f;

    (void) state;

    with_password(NULL);
    start();
    connected();
    reply(reply_status("OK"));
    assert_true(tune_link_ready(&t.ln));

    f = dropped("Connection reset by peer");
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN, EFFECT), 1);

    f = host_advance(&t.host, t.host.at);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);
    connected();
    f = reply(reply_err("WRONGPASS invalid username-password pair"));
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR, DIRECTIVE), 1);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN, NULL), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);

    /* and not again */
    host_advance(&t.host, t.host.at);
    connected();
    f = reply(reply_err("WRONGPASS invalid username-password pair"));
    assert_int_equal(host_logs(&t.host, f, -1, NULL), 0);

    /* answered: the outage ends, a new refusal is told again */
    host_advance(&t.host, t.host.at);
    connected();
    reply(reply_status("OK"));
    user_sends();
    reply(reply_status("OK"));
    f = t.host.n;
    tune_link_answered(&t.ln, t.host.now);
    host_run(&t.host);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_NOTICE, "answers again"),
                     1);

    dropped(NULL);
    host_advance(&t.host, t.host.at);
    connected();
    f = reply(reply_err("WRONGPASS invalid username-password pair"));
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR, DIRECTIVE), 1);
}


static void
test_select_refused(void **state)
{
    size_t             f;
    const host_rec_t  *r;

    (void) state;

    t.conf.db = 99;
    start();
    connected();

    t.host.now = 30;
    f = reply(reply_err("ERR DB index is out of range"));
    assert_int_equal(t.taken, 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "ERR DB index is out of range"), 1);
    r = host_find(&t.host, f, TUNE_DO_STATE);
    assert_int_equal(r->ok, 0);
    assert_false(tune_link_refused(&t.ln));
    assert_false(tune_link_ready(&t.ln));
    waits_until(30 + BACKOFF_MIN);
}


/* An ACL user without scripting: ready, no SHA1, nothing said */
static void
test_script_refused(void **state)
{
    size_t  f;

    (void) state;

    t.conf.script = "return 1";
    t.conf.script_len = 8;

    start();
    f = connected();
    assert_string_equal(host_sent(&t.host, f), "SCRIPT LOAD return 1");

    f = reply(reply_err("NOPERM this user has no permissions to run the "
                        "'script|load' command"));
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
    assert_true(tune_link_ready(&t.ln));
    assert_string_equal(tune_link_sha(&t.ln), "");

    /* a reply that is no SHA1 is none either */
    dropped(NULL);
    host_advance(&t.host, t.host.at);
    connected();
    reply(reply_str("not-a-sha"));
    assert_true(tune_link_ready(&t.ln));
    assert_string_equal(tune_link_sha(&t.ln), "");
}


/* ---- outages ------------------------------------------------------- */

/*
 * A drop: one WARN with what it means, a state "not ok, not ready", then
 * connects after a backoff doubling up to its bound and no more lines;
 * Redis answering again: one NOTICE, and the backoff starts over.
 */
static void
test_outage(void **state)
{
    int                i;
    size_t             f;
    int64_t            failed, expect[] = { 100, 200, 400, 800, 1600, 1600,
                                            1600 };
    const host_rec_t  *r;

    (void) state;

    ready();
    user_sends();
    reply(reply_status("OK"));
    assert_int_equal(t.taken, 0);

    /* an answer while nothing was wrong: a state, no line */
    f = t.host.n;
    tune_link_answered(&t.ln, t.host.now);
    host_run(&t.host);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
    r = host_find(&t.host, f, TUNE_DO_STATE);
    assert_int_equal(r->ok, 1);
    assert_int_equal(r->ready, 1);

    t.host.now = 1000;
    f = dropped(NULL);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "redis at " DISPLAY ": connection closed; "
                               EFFECT), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 1);
    /* the host closed it already */
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 0);

    r = host_find(&t.host, f, TUNE_DO_STATE);
    assert_int_equal(r->ok, 0);
    assert_int_equal(r->ready, 0);
    assert_string_equal(r->msg, "connection closed");
    assert_false(tune_link_ready(&t.ln));

    failed = 1000;

    for (i = 0; i < (int) (sizeof(expect) / sizeof(expect[0])); i++) {
        waits_until(failed + expect[i]);

        f = host_advance(&t.host, failed + expect[i] - 1);
        assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 0);
        f = host_advance(&t.host, failed + expect[i]);
        assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);

        t.host.now += 3;
        failed = t.host.now;
        f = dropped("Connection refused");
        assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
        assert_int_equal(host_find(&t.host, f, TUNE_DO_STATE)->ok, 0);
        assert_string_equal(tune_link_why(&t.ln), "Connection refused");
    }

    host_advance(&t.host, t.host.at);
    connected();
    user_sends();
    reply(reply_status("OK"));

    f = t.host.n;
    tune_link_answered(&t.ln, t.host.now);
    host_run(&t.host);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_NOTICE,
                               "redis at " DISPLAY " answers again"), 1);
    r = host_find(&t.host, f, TUNE_DO_STATE);
    assert_int_equal(r->ok, 1);
    assert_int_equal(r->ready, 1);

    /* once */
    f = t.host.n;
    tune_link_answered(&t.ln, t.host.now);
    host_run(&t.host);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);

    /* a new outage: told, and the backoff from its start */
    failed = t.host.now;
    f = dropped(NULL);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN, EFFECT), 1);
    waits_until(failed + BACKOFF_MIN);
}


/* An outage another process told already: no WARN, a NOTICE at its end */
static void
test_outage_told(void **state)
{
    size_t  f;

    (void) state;

    ready();
    tune_link_outage_told(&t.ln);

    f = dropped(NULL);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);

    host_advance(&t.host, t.host.at);
    connected();
    user_sends();
    reply(reply_status("OK"));
    f = t.host.n;
    tune_link_answered(&t.ln, t.host.now);
    host_run(&t.host);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_NOTICE, "answers again"),
                     1);
}


/* quiet: no line at all; the host words its own from tune_link_why() */
static void
test_quiet(void **state)
{
    size_t  f;

    (void) state;

    t.conf.quiet = 1;
    with_password(NULL);

    start();
    connected();
    f = reply(reply_err("WRONGPASS nope"));
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    assert_int_equal(host_find(&t.host, f, TUNE_DO_STATE)->ok, 0);
    assert_true(tune_link_refused(&t.ln));
    assert_string_equal(tune_link_why(&t.ln), "WRONGPASS nope");

    host_advance(&t.host, t.host.at);
    f = dropped("Connection refused");
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
    assert_false(tune_link_refused(&t.ln));
    assert_string_equal(tune_link_why(&t.ln), "Connection refused");
}


/* The user's command failed: told once, the connection stays */
static void
test_failed_keeps_connection(void **state)
{
    size_t             f;
    const host_rec_t  *r;

    (void) state;

    ready();
    user_sends();
    f = reply(reply_err("ERR wrong type"));
    assert_int_equal(t.taken, 0);

    tune_link_failed(&t.ln, t.host.now, "ERR wrong type");
    host_run(&t.host);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN, "ERR wrong type"),
                     1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 0);
    r = host_find(&t.host, f, TUNE_DO_STATE);
    assert_int_equal(r->ok, 0);
    assert_int_equal(r->ready, 1);
    assert_true(tune_link_ready(&t.ln));

    f = t.host.n;
    tune_link_failed(&t.ln, t.host.now, "ERR wrong type");
    host_run(&t.host);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
    assert_true(tune_link_ready(&t.ln));
}


/* No connection wanted: an open one closed, the backoff forgotten */
static void
test_stop(void **state)
{
    size_t  f;

    (void) state;

    ready();
    dropped(NULL);
    host_advance(&t.host, t.host.at);
    connected();

    tune_link_stop(&t.ln);
    f = host_run(&t.host);
    assert_int_equal(t.host.rec[f].what, TUNE_DO_CLOSE);
    waits_until(TUNE_NEVER);
    assert_false(tune_link_ready(&t.ln));

    /* the host's late word of the closed connection changes nothing */
    f = dropped(NULL);
    assert_int_equal(t.host.n - f, 1);
    f = connected();
    assert_int_equal(t.host.n - f, 1);
    waits_until(TUNE_NEVER);

    /* wanted again: at once, the outage not carried over */
    t.host.now += 5;
    tune_link_start(&t.ln, t.host.now);
    f = host_run(&t.host);
    assert_int_equal(t.host.rec[f].what, TUNE_DO_CONNECT);

    /* stopped while connecting: the attempt is closed */
    tune_link_stop(&t.ln);
    f = host_run(&t.host);
    assert_int_equal(t.host.rec[f].what, TUNE_DO_CLOSE);
    waits_until(TUNE_NEVER);
}


/* Backoff 0 and 0: connect again at once */
static void
test_no_backoff(void **state)
{
    size_t  f;

    (void) state;

    t.conf.backoff_min_ms = 0;
    t.conf.backoff_max_ms = 0;

    ready();
    f = dropped(NULL);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);
    f = dropped(NULL);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);
    waits_until(t.host.now + TIMEOUT);
}


/* ---- deadlines ----------------------------------------------------- */

static void
test_connect_timeout(void **state)
{
    size_t  f;

    (void) state;

    start();
    waits_until(TIMEOUT);

    f = host_advance(&t.host, TIMEOUT - 1);
    assert_int_equal(t.host.n - f, 1);

    f = host_advance(&t.host, TIMEOUT);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "timed out connecting"), 1);
    assert_int_equal(host_find(&t.host, f, TUNE_DO_STATE)->ready, 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    /* the lines before the close */
    assert_true(host_index(&t.host, f, TUNE_DO_LOG)
                < host_index(&t.host, f, TUNE_DO_CLOSE));
    waits_until(TIMEOUT + BACKOFF_MIN);

    /* the closed attempt's late success is not taken */
    f = connected();
    assert_false(tune_link_ready(&t.ln));
    assert_int_equal(t.host.n - f, 1);

    /* the next attempt has its own deadline */
    f = host_advance(&t.host, TIMEOUT + BACKOFF_MIN);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);
    waits_until(TIMEOUT + BACKOFF_MIN + TIMEOUT);
}


static void
test_hello_timeout(void **state)
{
    size_t  f;

    (void) state;

    with_password(NULL);
    start();
    t.host.now = 50;
    connected();
    waits_until(50 + TIMEOUT);

    f = host_advance(&t.host, 50 + TIMEOUT);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "timed out waiting for a reply"), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
}


/* WAIT's at is the reply's deadline while a command is in flight */
static void
test_reply_timeout(void **state)
{
    size_t             f;
    const host_rec_t  *r;

    (void) state;

    ready();

    t.host.now = 500;
    user_sends();
    waits_until(500 + TIMEOUT);

    t.host.now = 1400;
    reply(reply_status("OK"));
    assert_int_equal(t.taken, 0);
    waits_until(TUNE_NEVER);

    t.host.now = 2000;
    user_sends();
    waits_until(2000 + TIMEOUT);

    f = host_advance(&t.host, 2000 + TIMEOUT - 1);
    assert_int_equal(t.host.n - f, 1);

    f = host_advance(&t.host, 2000 + TIMEOUT);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "timed out waiting for a reply"), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    r = host_find(&t.host, f, TUNE_DO_STATE);
    assert_int_equal(r->ok, 0);
    assert_int_equal(r->ready, 0);
    assert_false(tune_link_ready(&t.ln));
    waits_until(2000 + TIMEOUT + BACKOFF_MIN);
}


/* Replies come in order: two in flight, each its own */
static void
test_two_in_flight(void **state)
{
    (void) state;

    ready();

    t.host.now = 100;
    user_sends();
    t.host.now = 200;
    user_sends();
    waits_until(200 + TIMEOUT);

    t.host.now = 300;
    reply(reply_int(1));
    assert_int_equal(t.taken, 0);
    assert_true(t.host.at > t.host.now && t.host.at != TUNE_NEVER);

    t.host.now = 400;
    reply(reply_int(2));
    assert_int_equal(t.taken, 0);
    waits_until(TUNE_NEVER);
}


/* A reply to no command: the connection is not to be trusted */
static void
test_stray_reply(void **state)
{
    size_t  f;

    (void) state;

    ready();
    f = reply(reply_status("OK"));
    assert_int_equal(t.taken, 1);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "a reply to no command"), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    assert_false(tune_link_ready(&t.ln));
}


/*
 * A reply the client hands over after the machine closed the connection
 * (hiredis runs pending callbacks as it frees a context): nothing waits
 * for it, no line, and the next connect is not put off by it.
 */
static void
test_reply_after_close(void **state)
{
    size_t  f;

    (void) state;

    ready();
    tune_link_stop(&t.ln);
    f = host_run(&t.host);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);

    f = reply(reply_status("OK"));
    assert_int_equal(t.taken, 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_STATE), 0);

    tune_link_start(&t.ln, t.host.now);
    f = host_run(&t.host);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);
}


/*
 * A hostile Redis (or anything on the path) answers AUTH with a line
 * break and a forged log line: the ERR line stays one line
 */
static void
test_auth_refused_forged_line(void **state)
{
    size_t  f;

    (void) state;

    with_password(NULL);
    start();
    (void) connected();

    f = reply(reply_err("ERR no\n2026/12/07 [emerg] forged"));
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR,
                               "ERR no?2026/12/07 [emerg] forged"), 1);
    assert_null(strchr(tune_link_why(&t.ln), '\n'));
}


int
main(void)
{
    const struct CMUnitTest  hello_tests[] = {
        cmocka_unit_test_setup(test_hello_none, setup),
        cmocka_unit_test_setup(test_hello_path, setup),
        cmocka_unit_test_setup(test_hello_auth, setup),
        cmocka_unit_test_setup(test_hello_auth_binary, setup),
        cmocka_unit_test_setup(test_hello_select, setup),
        cmocka_unit_test_setup(test_hello_all, setup),
        cmocka_unit_test_setup(test_auth_refused, setup),
        cmocka_unit_test_setup(test_auth_refused_after_outage, setup),
        cmocka_unit_test_setup(test_auth_refused_forged_line, setup),
        cmocka_unit_test_setup(test_select_refused, setup),
        cmocka_unit_test_setup(test_script_refused, setup),
    };

    const struct CMUnitTest  outage_tests[] = {
        cmocka_unit_test_setup(test_outage, setup),
        cmocka_unit_test_setup(test_outage_told, setup),
        cmocka_unit_test_setup(test_quiet, setup),
        cmocka_unit_test_setup(test_failed_keeps_connection, setup),
        cmocka_unit_test_setup(test_stop, setup),
        cmocka_unit_test_setup(test_no_backoff, setup),
    };

    const struct CMUnitTest  deadline_tests[] = {
        cmocka_unit_test_setup(test_connect_timeout, setup),
        cmocka_unit_test_setup(test_hello_timeout, setup),
        cmocka_unit_test_setup(test_reply_timeout, setup),
        cmocka_unit_test_setup(test_two_in_flight, setup),
        cmocka_unit_test_setup(test_stray_reply, setup),
        cmocka_unit_test_setup(test_reply_after_close, setup),
    };

    int  failed;

    failed = cmocka_run_group_tests_name("core.link.hello", hello_tests,
                                         NULL, NULL);
    failed += cmocka_run_group_tests_name("core.link.outage", outage_tests,
                                          NULL, NULL);
    failed += cmocka_run_group_tests_name("core.link.deadline",
                                          deadline_tests, NULL, NULL);

    return failed;
}
