/*
 * The front-end's refresher (tune_refresh.h), run by a scripted host
 * (fake_host.h) against a scripted Redis: the hello, the read (GET, STRLEN,
 * MGET), installs and rejections and their lines, a Redis restart, the
 * deadlines, the lease, and herd claims against a real herd table
 * (tune_herd.h) and an image decoded from snapshot text.
 */

#include <stdlib.h>

#include "fake_host.h"
#include "tune_refresh.h"
#include "tune_contract.h"


#define DISPLAY     "redis.example:6379"
#define EFFECT      "tune-ins are answered from the last snapshot"
#define PASSWORD    "s3cret-pw"
#define SHA         "0123456789abcdef0123456789abcdef01234567"
#define SHA2        "fedcba9876543210fedcba9876543210fedcba98"

#define TIMEOUT     1000
#define REFRESH     1000
/* the refresher's backoff, from the refresh interval */
#define BACKOFF_MIN REFRESH
#define BACKOFF_MAX TUNE_REFRESH_BACKOFF_MAX
#define W           2000u

/* the wall clock at the host's time 0 */
#define T0          1763712001000LL

#define GET         "GET " TUNE_KEY_GENERATION
#define STRLEN      "STRLEN " TUNE_KEY_SNAPSHOT
#define MGET        "MGET " TUNE_KEY_GENERATION " " TUNE_KEY_SNAPSHOT
#define HERD_KEY    TUNE_KEY_HERD_PREFIX "demo:"

#define SCRATCH     8192

#define LOADING     "LOADING Redis is loading the dataset in memory"


/* two slots of "demo", a and b, 100 free each */
#define TEXT(url_b)                                                          \
    "tuneslot-snapshot\t1\n"                                                 \
    "written_ms\t1763712000500\n"                                            \
    "interval_ms\t1000\n"                                                    \
    "backend\ta\tup\t1763712000400\n"                                        \
    "backend\tb\tup\t1763712000400\n"                                        \
    "slot\tdemo\ta\tup\t0\t100\t100\t100\teu\t1763712000400\t"               \
    "http://a.example.net/demo\n"                                            \
    "slot\tdemo\tb\tup\t0\t100\t100\t100\teu\t1763712000400\t"               \
    url_b "\n"                                                               \
    "end\n"

static const char  text_good[] = TEXT("http://b.example.net/demo");
static const char  text_c[] = TEXT("http://c.example.net/demo");
static const char  text_a[] = TEXT("http://a.example.net/demo2");

/* line 6 has a health no version knows how to spell */
static const char  text_bad[] =
    "tuneslot-snapshot\t1\n"
    "written_ms\t1763712000500\n"
    "interval_ms\t1000\n"
    "backend\ta\tup\t1763712000400\n"
    "backend\tb\tup\t1763712000400\n"
    "slot\tdemo\ta\tup\tmany\t100\t100\t100\teu\t1763712000400\t"
    "http://a.example.net/demo\n"
    "end\n";


typedef struct {
    host_t                host;         /* first: the host's callbacks */
    tune_refresh_conf_t   conf;
    tune_refresh_t        rf;
    tune_allow_t          allow[1];

    size_t                scratch_cap;
    int                   install_ok;   /* the answer to an INSTALL */
    int                   install_later;   /* ... given by the test */
    uint64_t              installed;    /* the generation held */
    size_t                herds;        /* TUNE_DO_HERD carried out */

    tune_herd_t          *herd;         /* NULL: no table */
} fe_t;


static fe_t                 t;
/* a former holder's claims */
static tune_herd_claim_t    former[8];

/* the leader's memory: the claim's, then the image */
static _Alignas(8) unsigned char  mem[sizeof(tune_refresh_work_t) + SCRATCH];
static _Alignas(8) unsigned char  image[SCRATCH];
static _Alignas(8) unsigned char  table[1 << 16];
static _Alignas(8) unsigned char  check[SCRATCH];


static int64_t
wall(void)
{
    return T0 + t.host.now;
}


static const tune_image_t *
installed_image(void)
{
    return tune_image_get(image, sizeof(image));
}


static tune_do_t
refresh_next(host_t *h, tune_action_t *act)
{
    fe_t  *fe = (fe_t *) h;

    return tune_refresh_next(&fe->rf, h->now, act);
}


/* what a front-end does: install into its own memory, claim under a lock */
static void
refresh_carry(host_t *h, const tune_action_t *act)
{
    fe_t                *fe = (fe_t *) h;
    const tune_image_t  *img;

    switch (act->what) {

    case TUNE_DO_INSTALL:
        assert_true(tune_refresh_leading(&fe->rf));
        img = tune_image_get(act->image, act->size);
        assert_non_null(img);
        assert_int_equal(img->generation, act->generation);
        assert_int_equal(img->size, act->size);

        if (fe->install_later) {
            return;
        }

        if (fe->install_ok) {
            memcpy(image, act->image, act->size);
            fe->installed = act->generation;
        }

        tune_refresh_installed(&fe->rf, h->now, fe->install_ok);
        return;

    case TUNE_DO_HERD:
        fe->herds++;
        tune_refresh_herd(&fe->rf, fe->herd, installed_image(), wall());
        return;

    default:
        return;
    }
}


static void
configure(uint32_t window)
{
    host_init(&t.host, refresh_next, refresh_carry);

    memset(&t.conf, 0, sizeof(tune_refresh_conf_t));
    t.conf.link.host = "redis.example";
    t.conf.link.port = 6379;
    t.conf.link.display = DISPLAY;
    t.conf.link.directive = "tune_redis_password";
    t.conf.link.timeout_ms = TIMEOUT;

    t.conf.refresh_ms = REFRESH;
    t.conf.herd_window_ms = window;
    t.conf.herd_id = "fe1.example:4242";
    t.conf.herd_id_len = strlen(t.conf.herd_id);
    t.conf.zone_directive = "tune_zone";
    t.conf.allow_directive = "tune_allow";
    t.conf.host_name = "nginx";

    t.scratch_cap = SCRATCH;
    t.install_ok = 1;
    t.install_later = 0;
    t.installed = 0;
    t.herds = 0;
    t.herd = NULL;

    memset(image, 0, sizeof(image));
}


/* herd control off */
static int
setup(void **state)
{
    (void) state;

    configure(0);

    return 0;
}


/* herd control on, with a table */
static int
setup_herd(void **state)
{
    (void) state;

    configure(W);
    t.herd = tune_herd_init(table, tune_herd_size(64));
    assert_non_null(t.herd);

    return 0;
}


/* ---- what the network did ----------------------------------------- */

static size_t
lead(uint64_t held)
{
    size_t  f;

    f = t.host.n;
    assert_true(tune_refresh_memory(&t.rf, t.scratch_cap) <= sizeof(mem));
    tune_refresh_lead(&t.rf, t.host.now, held, mem, t.scratch_cap);
    (void) host_run(&t.host);

    return f;
}


static size_t
begin(uint64_t held)
{
    tune_refresh_init(&t.rf, &t.conf);

    return lead(held);
}


static size_t
connected(void)
{
    tune_refresh_connected(&t.rf, t.host.now);

    return host_run(&t.host);
}


static size_t
dropped(const char *reason)
{
    tune_refresh_dropped(&t.rf, t.host.now, reason);

    return host_run(&t.host);
}


static size_t
answer(tune_reply_t r)
{
    tune_refresh_reply(&t.rf, t.host.now, &r);

    return host_run(&t.host);
}


static size_t
answer_mget(const char *generation, const char *text)
{
    tune_reply_t  el[2];

    el[0] = generation ? reply_str(generation) : reply_nil();
    el[1] = text ? reply_str(text) : reply_nil();

    return answer(reply_array(el, 2));
}


/* the herd script's answer: n slots granted so many each */
static size_t
answer_claim(size_t n, long long granted)
{
    size_t        i;
    tune_reply_t  el[2 * 8];

    assert_true(n <= 8);

    for (i = 0; i < n; i++) {
        el[2 * i] = reply_int(granted);
        el[2 * i + 1] = reply_int(wall() / TUNE_HERD_BUCKET_MS);
    }

    return answer(reply_array(el, 2 * n));
}


/* the run's last action: WAIT until at */
static void
waits_until(int64_t at)
{
    assert_int_equal(t.host.rec[t.host.n - 1].what, TUNE_DO_WAIT);
    assert_int_equal(t.host.at, at);
}


/* the last command sent is cmd */
static void
last_sent(const char *cmd)
{
    size_t  i;

    for (i = t.host.n; i > 0; i--) {
        if (t.host.rec[i - 1].what == TUNE_DO_SEND) {
            assert_string_equal(t.host.rec[i - 1].cmd, cmd);
            return;
        }
    }

    fail_msg("nothing sent");
}


/* the last command sent starts with prefix */
static void
last_sent_prefix(const char *prefix)
{
    size_t  i;

    for (i = t.host.n; i > 0; i--) {
        if (t.host.rec[i - 1].what == TUNE_DO_SEND) {
            if (strncmp(t.host.rec[i - 1].cmd, prefix, strlen(prefix)) != 0) {
                fail_msg("sent \"%s\", not \"%s...\"", t.host.rec[i - 1].cmd,
                         prefix);
            }
            return;
        }
    }

    fail_msg("nothing sent");
}


/* connected and through the hello (herd on: SCRIPT LOAD answered) */
static size_t
hello(void)
{
    size_t  f;

    f = connected();

    if (t.conf.herd_window_ms) {
        assert_true(host_sends(&t.host, f, "SCRIPT LOAD -- herd_claim.lua")
                    == 1);
        assert_int_equal(host_sends(&t.host, f, NULL), 1);
        f = answer(reply_str(SHA));
    }

    return f;
}


/* the size of text's image (what an INSTALL of it must say) */
static size_t
image_size(const char *text)
{
    size_t             size;
    tune_decode_err_t  err;

    size = tune_snapshot_decode(text, strlen(text), 1, check, sizeof(check),
                                &err);
    assert_int_not_equal(size, 0);

    return size;
}


/*
 * The read of a new generation, from the GET just sent: STRLEN, MGET,
 * INSTALL of text's image.
 */
static size_t
serve(const char *generation, const char *text)
{
    size_t             f, g;
    const host_rec_t  *r;

    last_sent(GET);
    f = answer(reply_str(generation));
    assert_int_equal(host_sends(&t.host, f, STRLEN), 1);

    g = answer(reply_int((long long) strlen(text)));
    assert_int_equal(host_sends(&t.host, g, MGET), 1);

    g = answer_mget(generation, text);
    assert_int_equal(host_count(&t.host, g, TUNE_DO_INSTALL), 1);

    r = host_find(&t.host, g, TUNE_DO_INSTALL);
    assert_int_equal(r->generation, strtoull(generation, NULL, 10));
    assert_int_equal(r->size, image_size(text));

    return f;
}


/* the clock to the next read, its GET sent */
static size_t
next_read(void)
{
    size_t  f;

    f = host_advance(&t.host, t.host.now + REFRESH);
    last_sent(GET);

    return f;
}


/* led, connected, generation 5 of text_good installed */
static void
installed5(void)
{
    begin(0);
    hello();
    serve("5", text_good);
    assert_int_equal(t.installed, 5);
}


/* ---- the hello ----------------------------------------------------- */

/* Herd control off: no SCRIPT LOAD and no TUNE_DO_HERD, ever */
static void
test_hello_herd_off(void **state)
{
    size_t  f;

    (void) state;

    f = begin(0);
    assert_int_equal(t.host.rec[f].what, TUNE_DO_CONNECT);
    assert_string_equal(t.host.rec[f].addr, "redis.example:6379");
    waits_until(TIMEOUT);

    t.host.now = 10;
    f = connected();
    assert_string_equal(host_sent(&t.host, f), GET);
    waits_until(10 + TIMEOUT);

    serve("5", text_good);
    next_read();
    answer(reply_str("5"));

    dropped(NULL);
    host_advance(&t.host, t.host.at);
    connected();
    last_sent(GET);

    assert_int_equal(host_sends(&t.host, 0, "SCRIPT"), 0);
    assert_int_equal(host_sends(&t.host, 0, "EVAL"), 0);
    assert_int_equal(host_count(&t.host, 0, TUNE_DO_HERD), 0);
}


/* Herd control on: the script loaded first, its SHA1 kept for EVALSHA */
static void
test_hello_herd_on(void **state)
{
    size_t             f;
    size_t             len;
    const host_rec_t  *r;

    (void) state;

    (void) tune_herd_script(&len);

    begin(0);
    f = connected();
    r = host_find(&t.host, f, TUNE_DO_SEND);
    assert_int_equal(r->argc, 3);
    assert_int_equal(r->arglen[2], len);
    assert_int_equal(host_sends(&t.host, f, NULL), 1);
    assert_memory_equal(r->cmd, "SCRIPT LOAD -- herd_claim.lua:", 30);

    /* the read waits for the hello */
    f = host_advance(&t.host, 900);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    answer(reply_str(SHA));
    last_sent(GET);
    assert_string_equal(tune_link_sha(&t.rf.link), SHA);
}


/* AUTH user password and SELECT before the read; the password in no line */
static void
test_hello_auth_select(void **state)
{
    size_t  f;

    (void) state;

    t.conf.link.user = "fe";
    t.conf.link.user_len = 2;
    t.conf.link.password = PASSWORD;
    t.conf.link.password_len = sizeof(PASSWORD) - 1;
    t.conf.link.db = 3;
    t.host.secret = PASSWORD;

    begin(0);
    f = connected();
    assert_string_equal(host_sent(&t.host, f), "AUTH fe " PASSWORD);
    f = answer(reply_status("OK"));
    assert_string_equal(host_sent(&t.host, f), "SELECT 3");
    f = answer(reply_status("OK"));
    assert_string_equal(host_sent(&t.host, f), GET);

    /* refused: one ERR, closed, retried after the backoff, no second ERR */
    f = dropped(NULL);
    f = host_advance(&t.host, t.host.at);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);
    connected();
    f = answer(reply_err("WRONGPASS invalid username-password pair"));
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR,
                               "\"tune_redis_password\""), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    f = host_advance(&t.host, t.host.at);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);
    connected();
    f = answer(reply_err("WRONGPASS invalid username-password pair"));
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR, NULL), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
}


/* ---- the read ------------------------------------------------------ */

static void
test_get_nil(void **state)
{
    size_t  f;

    (void) state;

    begin(0);
    hello();

    f = answer(reply_nil());
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "redis at " DISPLAY " holds no snapshot yet"),
                     1);
    assert_int_equal(host_find(&t.host, f, TUNE_DO_STATE)->ok, 1);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    waits_until(REFRESH);

    next_read();
    f = answer(reply_nil());
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);

    next_read();
    serve("5", text_good);
}


/* A new generation: STRLEN, MGET, INSTALL; the same one: nothing more */
static void
test_install(void **state)
{
    size_t  f;

    (void) state;

    begin(0);
    hello();

    f = serve("7", text_good);
    assert_int_equal(t.installed, 7);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_DEBUG,
                               "installed snapshot generation 7"), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 1);
    assert_int_equal(installed_image()->generation, 7);

    /* the next reads see the same generation: no STRLEN */
    f = next_read();
    assert_int_equal(t.host.rec[host_index(&t.host, f, TUNE_DO_SEND)].now,
                     REFRESH);
    f = answer(reply_str("7"));
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);

    next_read();
    f = answer(reply_str("7"));
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    /* a new one is fetched */
    next_read();
    serve("8", text_good);
    assert_int_equal(t.installed, 8);
}


/*
 * With Sentinels, a generation that stands still for TUNE_REFRESH_STILL
 * intervals makes the link ask them again where the master is (a failover
 * the connection did not notice); a new generation starts the count again;
 * without Sentinels the connection stays.
 */
static void
test_still_generation_asks_sentinels(void **state)
{
    int     i;
    size_t  f;
    tune_reply_t  addr[2], role[1];

    static const tune_link_sentinel_t  sentinel[] = {
        { "s1.example", 26379 },
    };

    (void) state;

    t.conf.link.sentinels = sentinel;
    t.conf.link.nsentinels = 1;
    t.conf.link.master_name = "mymaster";
    t.conf.link.master_name_len = 8;

    addr[0] = reply_str("10.0.0.5");
    addr[1] = reply_str("6380");
    role[0] = reply_str("master");

    begin(0);
    assert_string_equal(host_find(&t.host, 0, TUNE_DO_CONNECT)->addr,
                        "s1.example:26379");
    f = connected();
    last_sent("SENTINEL get-master-addr-by-name mymaster");
    f = answer(reply_array(addr, 2));
    assert_string_equal(host_find(&t.host, f, TUNE_DO_CONNECT)->addr,
                        "10.0.0.5:6380");
    f = connected();
    last_sent("ROLE");
    answer(reply_array(role, 1));
    serve("5", text_good);

    /* interval_ms 1000 = REFRESH: three intervals of the same one */
    for (i = 0; i < TUNE_REFRESH_STILL - 1; i++) {
        next_read();
        f = answer(reply_str("5"));
        assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 0);
    }

    /* a new generation counts again from here */
    next_read();
    f = serve("6", text_good);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 0);

    for (i = 0; i < TUNE_REFRESH_STILL - 1; i++) {
        next_read();
        f = answer(reply_str("6"));
        assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 0);
    }

    next_read();
    f = answer(reply_str("6"));
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    assert_string_equal(host_find(&t.host, f, TUNE_DO_CONNECT)->addr,
                        "s1.example:26379");
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);

    /* without Sentinels: never */
    setup(NULL);
    installed5();

    for (i = 0; i < 3 * TUNE_REFRESH_STILL; i++) {
        next_read();
        f = answer(reply_str("5"));
        assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 0);
    }
}


/*
 * The still generation is counted in the writer's intervals (the snapshot's
 * 1000 ms, not a refresh of 250 ms), only once a snapshot said what they
 * are, and afresh after a refresher resigned and leads again.
 */
static void
test_still_counts_snapshot_intervals(void **state)
{
    int64_t  since;
    size_t   f;
    tune_reply_t  addr[2], role[1];

    static const tune_link_sentinel_t  sentinel[] = {
        { "s1.example", 26379 },
    };

    (void) state;

    t.conf.refresh_ms = 250;
    t.conf.link.sentinels = sentinel;
    t.conf.link.nsentinels = 1;
    t.conf.link.master_name = "mymaster";
    t.conf.link.master_name_len = 8;

    addr[0] = reply_str("10.0.0.5");
    addr[1] = reply_str("6380");
    role[0] = reply_str("master");

    begin(0);
    connected();
    answer(reply_array(addr, 2));
    connected();
    answer(reply_array(role, 1));

    /* nothing written yet: no interval known, no search however long */
    last_sent(GET);
    answer(reply_nil());

    for (since = 0; since < 5000; since += 250) {
        f = host_advance(&t.host, t.host.now + 250);
        last_sent(GET);
        f = answer(reply_nil());
        assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 0);
    }

    /* generation 5, of 1000 ms intervals: the search after 3000 ms */
    f = host_advance(&t.host, t.host.now + 250);
    serve("5", text_good);
    since = t.host.now;

    for (;;) {
        host_advance(&t.host, t.host.now + 250);
        last_sent(GET);
        f = answer(reply_str("5"));

        if (host_count(&t.host, f, TUNE_DO_CLOSE)) {
            break;
        }

        assert_true(t.host.now - since < TUNE_REFRESH_STILL * 1000);
    }

    assert_int_equal(t.host.now - since, TUNE_REFRESH_STILL * 1000);
}


/* A holder leading anew fetches what it holds: it may be a new Redis */
static void
test_lead_refetches(void **state)
{
    (void) state;

    begin(7);
    hello();
    serve("7", text_good);
}


/* The install was not done (the lease was lost meanwhile): fetched again */
static void
test_install_lost(void **state)
{
    size_t  f;

    (void) state;

    t.install_ok = 0;

    begin(0);
    hello();
    f = serve("5", text_good);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_DEBUG,
                               "lease lost, generation 5 not installed"),
                     1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 1);
    assert_int_equal(t.installed, 0);

    t.install_ok = 1;
    next_read();
    serve("5", text_good);
    assert_int_equal(t.installed, 5);
}


/*
 * A text larger than the image space allows: one ERR naming the
 * directive, that generation never fetched again; a new one is looked at,
 * and told again only after an install.
 */
static void
test_too_large(void **state)
{
    int     i;
    size_t  f;
    char    msg[256];

    (void) state;

    begin(0);
    hello();

    answer(reply_str("5"));
    last_sent(STRLEN);
    f = answer(reply_int(40000));
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_INSTALL), 0);
    (void) snprintf(msg, sizeof(msg),
                    "snapshot generation 5 from redis at " DISPLAY
                    " rejected: snapshot of 40000 bytes is larger than %d "
                    "bytes (increase tune_zone); keeping generation 0",
                    TUNE_TEXT_PER_IMAGE * SCRATCH);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR, msg), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 1);

    for (i = 0; i < 3; i++) {
        next_read();
        f = answer(reply_str("5"));
        assert_int_equal(host_sends(&t.host, f, NULL), 0);
        assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
    }

    /* a new generation: looked at, refused without a second line */
    next_read();
    answer(reply_str("6"));
    last_sent(STRLEN);
    f = answer(reply_int(TUNE_TEXT_PER_IMAGE * SCRATCH + 1));
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);

    /* one that fits is installed; the next refused one is told again */
    next_read();
    serve("7", text_good);

    next_read();
    answer(reply_str("8"));
    f = answer(reply_int(-1));
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR,
                               "snapshot generation 8 from redis at "
                               DISPLAY " rejected"), 1);
}


/*
 * STRLEN measured a text that fit; MGET brings a newer, larger one: it is
 * not decoded, and rejected with its size like one STRLEN saw.
 */
static void
test_too_large_after_strlen(void **state)
{
    size_t  f;
    char    big[TUNE_TEXT_PER_IMAGE * SCRATCH + 2];

    (void) state;

    begin(0);
    hello();

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    answer(reply_str("5"));
    answer(reply_int((long long) strlen(text_good)));
    f = answer_mget("6", big);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_INSTALL), 0);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR,
                               "snapshot generation 6 from redis at "
                               DISPLAY " rejected: snapshot of"), 1);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR, "is larger than"),
                     1);

    /* and 6 is not fetched again */
    next_read();
    f = answer(reply_str("6"));
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
}


/* A text that does not decode: rejected once, with its line */
static void
test_bad_text(void **state)
{
    size_t  f;

    (void) state;

    begin(0);
    hello();

    answer(reply_str("5"));
    answer(reply_int((long long) strlen(text_bad)));
    f = answer_mget("5", text_bad);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_INSTALL), 0);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR,
                               "snapshot generation 5 from redis at "
                               DISPLAY " rejected: line 6: "), 1);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR, "tune_zone"), 0);

    next_read();
    f = answer(reply_str("5"));
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    next_read();
    f = answer(reply_str("6"));
    answer(reply_int((long long) strlen(text_bad)));
    f = answer_mget("6", text_bad);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
}


/* An image larger than the space: no line number, the directive named */
static void
test_no_space(void **state)
{
    size_t  f;

    (void) state;

    /* the text passes STRLEN, its image does not fit */
    t.scratch_cap = 256;
    assert_true(strlen(text_good) <= TUNE_TEXT_PER_IMAGE * 256);

    begin(0);
    hello();
    answer(reply_str("5"));
    answer(reply_int((long long) strlen(text_good)));
    f = answer_mget("5", text_good);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_INSTALL), 0);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR,
                               "rejected: buffer too small for the image "
                               "(increase tune_zone); keeping generation 0"),
                     1);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR, "line 0"), 0);
}


/* MGET finds no text (flushed meanwhile): nothing installed, looked again */
static void
test_mget_nil(void **state)
{
    size_t  f;

    (void) state;

    begin(0);
    hello();
    answer(reply_str("5"));
    answer(reply_int(0));
    last_sent(MGET);
    f = answer_mget("5", NULL);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_INSTALL), 0);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    next_read();
    serve("5", text_good);
}


/*
 * GET saw a new generation, MGET brings the one held (a failover to a
 * replica behind, a writer rolled back): nothing new, nothing installed.
 */
static void
test_mget_held(void **state)
{
    size_t  f;

    (void) state;

    installed5();
    next_read();
    answer(reply_str("6"));
    answer(reply_int((long long) strlen(text_good)));
    f = answer_mget("5", text_good);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_INSTALL), 0);

    /* and the next read looks again */
    next_read();
    serve("6", text_good);
}


/*
 * A generation below the one held, on the same connection (a failover the
 * link did not see, to a replica that lost the newest writes): it differs,
 * so it is fetched and installed, not taken for an old one.
 */
static void
test_generation_steps_back(void **state)
{
    (void) state;

    installed5();
    next_read();
    serve("3", text_c);
    assert_int_equal(t.installed, 3);
    assert_int_equal(installed_image()->generation, 3);
}


/* An error reply: one WARN, the connection stays, the next read as due */
static void
test_get_error(void **state)
{
    size_t             f;
    const host_rec_t  *r;
    static const char  loading[] = LOADING "|not part of the reply";

    (void) state;

    begin(0);
    hello();

    /* the reply's text is len bytes, not up to a NUL */
    f = answer(reply_bytes(TUNE_REPLY_ERROR, loading, sizeof(LOADING) - 1));
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "redis at " DISPLAY ": LOADING Redis is "
                               "loading the dataset in memory; " EFFECT), 1);
    assert_int_equal(host_logs(&t.host, f, -1, "not part"), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 0);
    r = host_find(&t.host, f, TUNE_DO_STATE);
    assert_int_equal(r->ok, 0);
    assert_int_equal(r->ready, 1);
    waits_until(REFRESH);

    next_read();
    f = answer(reply_err("LOADING Redis is loading the dataset in memory"));
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);

    /* not a generation: the same */
    next_read();
    f = answer(reply_str("abc"));
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    next_read();
    f = serve("5", text_good);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_NOTICE,
                               "redis at " DISPLAY " answers again"), 1);
}


/* STRLEN and MGET answered with the wrong shape: a failed contact */
static void
test_wrong_shapes(void **state)
{
    size_t        f;
    tune_reply_t  el[3];

    (void) state;

    begin(0);
    hello();
    answer(reply_str("5"));
    f = answer(reply_str("12"));
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "unexpected reply to STRLEN"), 1);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    next_read();
    answer(reply_str("5"));
    answer(reply_int(10));
    el[0] = reply_str("5");
    el[1] = reply_str(text_good);
    el[2] = reply_nil();
    f = answer(reply_array(el, 3));
    assert_int_equal(host_count(&t.host, f, TUNE_DO_INSTALL), 0);

    next_read();
    answer(reply_str("5"));
    answer(reply_int(10));
    f = answer_mget("x5", text_good);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_INSTALL), 0);

    next_read();
    serve("5", text_good);
}


/* Slots outside the allowlist: one WARN per change of what is refused */
static void
test_refused_slots(void **state)
{
    size_t       f;
    const char  *reason;

    (void) state;

    assert_int_equal(tune_allow_parse("http://a.example.net/", 21,
                                      &t.allow[0], &reason), TUNE_OK);
    t.conf.allow = t.allow;
    t.conf.nallow = 1;

    begin(0);
    hello();
    f = serve("5", text_good);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "snapshot generation 5: 1 of 2 slots refused "
                               "by tune_allow, the first of backend \"b\": "
                               "\"http://b.example.net/demo\""), 1);
    assert_int_equal(installed_image()->nrefused, 1);

    /* the same slots refused: not again */
    next_read();
    f = serve("6", text_good);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN, NULL), 0);

    /* another URL refused: told */
    next_read();
    f = serve("7", text_c);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "\"http://c.example.net/demo\""), 1);

    /* none: nothing; refused again later: told again */
    next_read();
    f = serve("8", text_a);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN, NULL), 0);
    assert_int_equal(installed_image()->nrefused, 0);

    next_read();
    f = serve("9", text_c);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN, "refused by"), 1);
}


/* ---- a Redis restart ----------------------------------------------- */

/*
 * Redis goes away: one WARN with what it means, a state, retries after a
 * backoff doubling to its bound; back: the hello, the generation held is
 * fetched again (the keys may have been written anew), one NOTICE.
 */
static void
test_redis_restart(void **state)
{
    int                i;
    size_t             f;
    int64_t            failed, backoff;
    const host_rec_t  *r;

    (void) state;

    installed5();

    t.host.now = 2500;
    f = dropped("Connection reset by peer");
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "redis at " DISPLAY ": Connection reset by "
                               "peer; " EFFECT), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 0);
    r = host_find(&t.host, f, TUNE_DO_STATE);
    assert_int_equal(r->ok, 0);
    assert_int_equal(r->ready, 0);

    failed = 2500;
    backoff = BACKOFF_MIN;

    for (i = 0; i < 7; i++) {
        waits_until(failed + backoff);
        f = host_advance(&t.host, failed + backoff - 1);
        assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 0);
        f = host_advance(&t.host, failed + backoff);
        assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);

        t.host.now++;
        failed = t.host.now;
        f = dropped("Connection refused");
        assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
        assert_int_equal(host_sends(&t.host, f, NULL), 0);

        backoff = backoff * 2 < BACKOFF_MAX ? backoff * 2 : BACKOFF_MAX;
    }

    host_advance(&t.host, t.host.at);
    f = connected();
    last_sent(GET);

    f = serve("5", text_good);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_NOTICE,
                               "redis at " DISPLAY " answers again"), 1);
    assert_int_equal(t.installed, 5);

    /* and then as before */
    next_read();
    f = answer(reply_str("5"));
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
}


/* A read in flight when the connection drops is asked again after it */
static void
test_drop_mid_read(void **state)
{
    (void) state;

    installed5();
    next_read();
    answer(reply_str("6"));
    last_sent(STRLEN);

    dropped(NULL);
    host_advance(&t.host, t.host.at);
    connected();
    serve("6", text_good);
}


/* ---- deadlines ----------------------------------------------------- */

static void
test_connect_timeout(void **state)
{
    size_t  f;

    (void) state;

    begin(0);
    waits_until(TIMEOUT);

    f = host_advance(&t.host, TIMEOUT);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "timed out connecting"), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    waits_until(TIMEOUT + BACKOFF_MIN);

    f = host_advance(&t.host, TIMEOUT + BACKOFF_MIN);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);
    connected();
    last_sent(GET);
}


/* WAIT's at is the deadline of the command in flight */
static void
test_reply_timeout(void **state)
{
    size_t  f;

    (void) state;

    t.conf.refresh_ms = 5000;
    begin(0);
    t.host.now = 20;
    hello();
    last_sent(GET);
    waits_until(20 + TIMEOUT);

    f = host_advance(&t.host, 20 + TIMEOUT - 1);
    assert_int_equal(t.host.n - f, 1);

    f = host_advance(&t.host, 20 + TIMEOUT);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "timed out waiting for a reply"), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    /* the late reply of the closed connection is never delivered; a new
     * one asks again at once */
    host_advance(&t.host, t.host.at);
    connected();
    last_sent(GET);
}


/* ---- the lease ----------------------------------------------------- */

/* A machine that does not lead waits for ever */
static void
test_not_leading(void **state)
{
    size_t  f;

    (void) state;

    tune_refresh_init(&t.rf, &t.conf);
    f = host_run(&t.host);
    assert_int_equal(t.host.n - f, 1);
    waits_until(TUNE_NEVER);
    assert_false(tune_refresh_leading(&t.rf));
}


/* The lease lost: closed, nothing sent after; led again: connects anew */
static void
test_resign(void **state)
{
    size_t  f;

    (void) state;

    installed5();
    next_read();

    tune_refresh_resign(&t.rf);
    f = host_run(&t.host);
    assert_int_equal(t.host.rec[f].what, TUNE_DO_CLOSE);
    assert_int_equal(t.host.n - f, 2);
    waits_until(TUNE_NEVER);
    assert_false(tune_refresh_leading(&t.rf));

    t.host.now += 3600 * 1000;
    f = host_run(&t.host);
    assert_int_equal(t.host.n - f, 1);

    /* the connection's late drop changes nothing */
    f = dropped(NULL);
    assert_int_equal(t.host.n - f, 1);

    f = lead(5);
    assert_int_equal(t.host.rec[f].what, TUNE_DO_CONNECT);
    connected();
    serve("5", text_good);
}


/* The lease lost while an install is asked: its answer is not waited for */
static void
test_resign_installing(void **state)
{
    size_t  f;

    (void) state;

    t.install_later = 1;
    begin(0);
    hello();
    answer(reply_str("5"));
    answer(reply_int(10));
    f = answer_mget("5", text_good);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_INSTALL), 1);

    /* nothing sent while the install is out */
    f = host_advance(&t.host, 3 * REFRESH);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    tune_refresh_resign(&t.rf);
    f = host_run(&t.host);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);

    f = t.host.n;
    tune_refresh_installed(&t.rf, t.host.now, 1);
    host_run(&t.host);
    assert_int_equal(t.host.n - f, 1);
    waits_until(TUNE_NEVER);
}


/* ---- herd claims --------------------------------------------------- */

/* the credits in hand for slot a or b of "demo" */
static uint32_t
credits(const char *backend)
{
    uint32_t                    i, pending, credit;
    const tune_image_t         *img;
    const tune_image_slot_t    *s;
    const tune_image_stream_t  *st;

    img = installed_image();
    st = tune_image_find_stream(img, "demo", 4);
    assert_non_null(st);

    for (i = st->first_slot; i < st->first_slot + st->nslots; i++) {
        s = &tune_image_slots(img)[i];

        if (s->backend.len == strlen(backend)
            && memcmp(tune_image_str(img, s->backend), backend,
                      s->backend.len) == 0)
        {
            tune_herd_slot_state(t.herd, img, st, i, wall(), W, &pending,
                                 &credit);
            return credit;
        }
    }

    fail_msg("no slot %s", backend);

    return 0;
}


static void
take(const char *backend, unsigned n)
{
    uint32_t                    i;
    const tune_image_t         *img;
    const tune_image_slot_t    *s;
    const tune_image_stream_t  *st;

    img = installed_image();
    st = tune_image_find_stream(img, "demo", 4);

    for (i = st->first_slot; i < st->first_slot + st->nslots; i++) {
        s = &tune_image_slots(img)[i];

        if (memcmp(tune_image_str(img, s->backend), backend, 1) == 0) {
            while (n--) {
                tune_herd_take(t.herd, img, st, i, wall(), W);
            }
            return;
        }
    }
}


/* the clock runs until a claim was sent since from, at most ms more */
static void
until_claim(size_t from, int64_t ms)
{
    int64_t  end;

    end = t.host.now + ms;

    while (host_sends(&t.host, from, "EVAL") == 0) {
        assert_true(t.host.at <= end);
        host_advance(&t.host, t.host.at);
    }
}


/*
 * A claim once per refresh goes out with the read of that refresh: the
 * read (of generation 5, held) is answered first, as Redis would
 */
static void
claim_after_read(size_t from, int64_t ms)
{
    until_claim(from, ms);

    while (t.rf.nfifo > 1 && t.rf.fifo[0] == TUNE_REFRESH_FOR_READ) {
        answer(reply_str("5"));
    }
}


/* the last command sent */
static const host_rec_t *
last_send(void)
{
    size_t  i;

    for (i = t.host.n; i > 0; i--) {
        if (t.host.rec[i - 1].what == TUNE_DO_SEND) {
            return &t.host.rec[i - 1];
        }
    }

    fail_msg("nothing sent");

    return NULL;
}


/* generation 5 installed, herd on, the first claim (a and b) sent */
static void
claiming(void)
{
    installed5();

    until_claim(t.host.n, TUNE_HERD_TICK_MS);
    last_sent_prefix("EVALSHA " SHA " 2 " HERD_KEY "a " HERD_KEY "b ");
}


/*
 * Leading: a takeover before anything is claimed (a former holder's
 * claims are not waited for), then claims with the read at once, every
 * tick after; a grant becomes credits, an idle tick sends nothing.
 */
static void
test_herd_claims(void **state)
{
    size_t             f, herds;
    tune_decode_err_t  err;

    (void) state;

    /* the image held, and a claim a former holder had in flight */
    assert_int_not_equal(tune_snapshot_decode(text_good,
                                              sizeof(text_good) - 1, 5,
                                              image, sizeof(image), &err),
                         0);
    assert_int_equal(tune_herd_claims(t.herd, installed_image(), wall(), W,
                                      former, 8), 2);

    tune_refresh_init(&t.rf, &t.conf);
    f = lead(5);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_HERD), 1);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    f = hello();
    assert_int_equal(host_sends(&t.host, f, NULL), 2);
    assert_int_equal(host_sends(&t.host, f, "EVALSHA " SHA " 2 " HERD_KEY "a "
                                HERD_KEY "b "), 1);
    last_sent(GET);

    /* one claim in flight at most, whatever the ticks */
    f = host_advance(&t.host, t.host.now + 2 * TUNE_HERD_TICK_MS);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);

    /* the replies in the order sent: the claim's, then the read's */
    herds = t.herds;
    answer_claim(2, 10);
    /* the grant, and the tick that came meanwhile */
    assert_int_equal(t.herds, herds + 2);
    assert_int_equal(credits("a"), 10);
    assert_int_equal(credits("b"), 10);
    assert_true(tune_herd_global(t.herd, wall()));
    serve("5", text_good);

    /* idle: a walk each tick, no command */
    herds = t.herds;
    f = host_advance(&t.host, t.host.now + 4 * TUNE_HERD_TICK_MS);
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    assert_int_equal(t.herds - herds, 4);

    /* spent: topped up at the next tick */
    take("a", 3);
    until_claim(t.host.n, TUNE_HERD_TICK_MS);
    last_sent_prefix("EVALSHA " SHA " 1 " HERD_KEY "a ");
    answer_claim(1, 5);
    assert_int_equal(credits("a"), 7 + 5);
}


/*
 * NOSCRIPT (a SCRIPT FLUSH, a failover): the claim settled as never
 * made, the script loaded again, and the next claim waits for its SHA1.
 */
static void
test_herd_noscript(void **state)
{
    size_t  f;

    (void) state;

    claiming();

    f = answer(reply_err("NOSCRIPT No matching script. Please use EVAL."));
    assert_int_equal(host_count(&t.host, f, TUNE_DO_HERD), 1);
    assert_true(host_index(&t.host, f, TUNE_DO_HERD)
                < host_index(&t.host, f, TUNE_DO_SEND));
    assert_int_equal(host_sends(&t.host, f, NULL), 1);
    assert_int_equal(host_sends(&t.host, f, "SCRIPT LOAD -- herd_claim.lua"),
                     1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);

    /* nothing of the herd while it loads */
    f = host_advance(&t.host, t.host.now + 4 * TUNE_HERD_TICK_MS);
    assert_int_equal(host_sends(&t.host, f, "EVAL"), 0);

    /* the same slots claimed again, by the new SHA1 */
    f = answer(reply_str(SHA2));
    until_claim(f, TUNE_HERD_TICK_MS);
    last_sent_prefix("EVALSHA " SHA2 " 2 " HERD_KEY "a " HERD_KEY "b ");
    answer_claim(2, 10);
    assert_int_equal(credits("a"), 10);
}


/* The script failed: one WARN, this front-end's own counts, until it works */
static void
test_herd_error(void **state)
{
    size_t        f;
    tune_reply_t  el[3];

    (void) state;

    claiming();
    answer_claim(2, 10);
    assert_true(tune_herd_global(t.herd, wall()));

    take("a", 10);
    until_claim(t.host.n, TUNE_HERD_TICK_MS);
    assert_int_equal(tune_herd_refusals(t.herd), 0);
    f = answer(reply_err("ERR user_script:1: Script attempted to access a "
                         "non local key"));
    assert_int_equal(tune_herd_refusals(t.herd), 1);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "herd claim at redis at " DISPLAY " failed: "
                               "ERR user_script:1: Script attempted to "
                               "access a non local key; counting this "
                               "nginx's tune-ins only"), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_HERD), 1);
    assert_false(tune_herd_global(t.herd, wall()));
    assert_int_equal(credits("b"), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 0);

    /* a failing script is tried again once per refresh, not every tick */
    take("a", 1);
    f = host_advance(&t.host, t.host.now + REFRESH - TUNE_HERD_TICK_MS);
    assert_int_equal(host_sends(&t.host, f, "EVAL"), 0);

    /* once; a reply of the wrong shape is a failure too */
    claim_after_read(f, TUNE_HERD_TICK_MS);
    el[0] = reply_int(1);
    el[1] = reply_int(2);
    el[2] = reply_int(3);
    f = answer(reply_array(el, 3));
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_HERD), 1);

    take("a", 1);
    claim_after_read(f, REFRESH);
    f = answer_claim(t.rf.nclaims, -1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_LOG), 0);
    assert_false(tune_herd_global(t.herd, wall()));

    /*
     * A Redis loading its data, or a replica (a failover under way), did
     * not refuse the script: a claim that failed, not a refusal (a later
     * poll read meanwhile does not free the slots from their parts)
     */
    assert_int_equal(tune_herd_refusals(t.herd), 3);
    take("a", 1);
    claim_after_read(f, REFRESH);
    f = answer(reply_err("LOADING Redis is loading the dataset in memory"));
    take("a", 1);
    claim_after_read(f, REFRESH);
    f = answer(reply_err("READONLY You can't write against a read only "
                         "replica."));
    assert_int_equal(tune_herd_refusals(t.herd), 3);
    assert_false(tune_herd_global(t.herd, wall()));

    take("a", 1);
    claim_after_read(f, REFRESH);
    f = answer_claim(t.rf.nclaims, 3);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_NOTICE,
                               "herd claims at redis at " DISPLAY
                               " work again"), 1);
    assert_true(tune_herd_global(t.herd, wall()));
}


/* The script's error holds a line break: the WARN stays one line */
static void
test_herd_error_forged_line(void **state)
{
    size_t  f;

    (void) state;

    claiming();
    f = answer(reply_err("ERR x\n2026/12/07 [emerg] forged"));
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "failed: ERR x\\x0a2026/12/07 [emerg] forged; "
                               "counting"), 1);
}


/* The connection lost with a claim in flight: counted locally */
static void
test_herd_drop(void **state)
{
    size_t  f;

    (void) state;

    claiming();
    answer_claim(2, 10);
    take("a", 3);
    until_claim(t.host.n, TUNE_HERD_TICK_MS);

    f = dropped(NULL);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_HERD), 1);
    assert_false(tune_herd_global(t.herd, wall()));
    assert_int_equal(credits("a"), 0);

    /* a tune-in meanwhile, without a credit */
    take("a", 1);

    /* back: the script, then the claim (with a's debt; b's fair share,
     * a backoff later, may be due again too) and the read at once */
    host_advance(&t.host, t.host.at);
    f = hello();
    assert_int_equal(host_sends(&t.host, f, NULL), 2);
    assert_int_equal(host_sends(&t.host, f, "EVALSHA " SHA " "), 1);
    assert_non_null(strstr(host_find(&t.host, f, TUNE_DO_SEND)->cmd,
                           HERD_KEY "a "));
    last_sent(GET);
}


/* No SCRIPT LOAD allowed: the claims go with the script's text */
static void
test_herd_script_refused(void **state)
{
    size_t             len;
    const host_rec_t  *r;

    (void) state;

    tune_herd_script(&len);

    begin(0);
    connected();
    answer(reply_err("NOPERM this user has no permissions to run the "
                     "'script|load' command"));
    serve("5", text_good);

    until_claim(t.host.n, TUNE_HERD_TICK_MS);
    r = last_send();
    assert_memory_equal(r->cmd, "EVAL -- herd_claim.lua:", 23);
    assert_int_equal(r->arglen[1], len);
}


/* A front-end id the script would refuse: said once, no claim sent */
static void
test_herd_bad_id(void **state)
{
    (void) state;

    t.conf.herd_id = "a b";
    t.conf.herd_id_len = 3;

    installed5();
    host_advance(&t.host, t.host.now + 5 * TUNE_HERD_TICK_MS);
    assert_int_equal(host_sends(&t.host, 0, "EVAL"), 0);
    assert_int_equal(host_logs(&t.host, 0, TUNE_LOG_WARN,
                               "the host name makes no valid front-end id"),
                     1);
}


/* The lease lost with a claim in flight: closed, nothing settled here;
 * led again: the takeover settles it and the slots are claimed anew */
static void
test_herd_resign(void **state)
{
    size_t  f;

    (void) state;

    claiming();

    tune_refresh_resign(&t.rf);
    f = host_run(&t.host);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_HERD), 0);

    f = host_advance(&t.host, t.host.now + 10 * TUNE_HERD_TICK_MS);
    assert_int_equal(t.host.n - f, 1);

    f = lead(5);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_HERD), 1);
    f = hello();
    assert_int_equal(host_sends(&t.host, f, "EVALSHA " SHA " 2 " HERD_KEY "a "
                                HERD_KEY "b "), 1);
}


int
main(void)
{
    const struct CMUnitTest  hello_tests[] = {
        cmocka_unit_test_setup(test_hello_herd_off, setup),
        cmocka_unit_test_setup(test_hello_herd_on, setup_herd),
        cmocka_unit_test_setup(test_hello_auth_select, setup),
    };

    const struct CMUnitTest  read_tests[] = {
        cmocka_unit_test_setup(test_get_nil, setup),
        cmocka_unit_test_setup(test_install, setup),
        cmocka_unit_test_setup(test_still_generation_asks_sentinels, setup),
        cmocka_unit_test_setup(test_still_counts_snapshot_intervals, setup),
        cmocka_unit_test_setup(test_lead_refetches, setup),
        cmocka_unit_test_setup(test_install_lost, setup),
        cmocka_unit_test_setup(test_too_large_after_strlen, setup),
        cmocka_unit_test_setup(test_too_large, setup),
        cmocka_unit_test_setup(test_bad_text, setup),
        cmocka_unit_test_setup(test_no_space, setup),
        cmocka_unit_test_setup(test_mget_nil, setup),
        cmocka_unit_test_setup(test_mget_held, setup),
        cmocka_unit_test_setup(test_generation_steps_back, setup),
        cmocka_unit_test_setup(test_get_error, setup),
        cmocka_unit_test_setup(test_wrong_shapes, setup),
        cmocka_unit_test_setup(test_refused_slots, setup),
    };

    const struct CMUnitTest  restart_tests[] = {
        cmocka_unit_test_setup(test_redis_restart, setup),
        cmocka_unit_test_setup(test_drop_mid_read, setup),
        cmocka_unit_test_setup(test_connect_timeout, setup),
        cmocka_unit_test_setup(test_reply_timeout, setup),
    };

    const struct CMUnitTest  lease_tests[] = {
        cmocka_unit_test_setup(test_not_leading, setup),
        cmocka_unit_test_setup(test_resign, setup),
        cmocka_unit_test_setup(test_resign_installing, setup),
    };

    const struct CMUnitTest  herd_tests[] = {
        cmocka_unit_test_setup(test_herd_claims, setup_herd),
        cmocka_unit_test_setup(test_herd_noscript, setup_herd),
        cmocka_unit_test_setup(test_herd_error, setup_herd),
        cmocka_unit_test_setup(test_herd_error_forged_line, setup_herd),
        cmocka_unit_test_setup(test_herd_drop, setup_herd),
        cmocka_unit_test_setup(test_herd_script_refused, setup_herd),
        cmocka_unit_test_setup(test_herd_bad_id, setup_herd),
        cmocka_unit_test_setup(test_herd_resign, setup_herd),
    };

    int  failed;

    failed = cmocka_run_group_tests_name("core.refresh.hello", hello_tests,
                                         NULL, NULL);
    failed += cmocka_run_group_tests_name("core.refresh.read", read_tests,
                                          NULL, NULL);
    failed += cmocka_run_group_tests_name("core.refresh.restart",
                                          restart_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("core.refresh.lease", lease_tests,
                                          NULL, NULL);
    failed += cmocka_run_group_tests_name("core.refresh.herd", herd_tests,
                                          NULL, NULL);

    return failed;
}
