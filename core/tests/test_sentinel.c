/*
 * Redis Sentinel discovery in the connection's machine (tune_link.h), run
 * by the scripted host of fake_host.h: the Sentinels asked in turn, the
 * one that answers asked first, ROLE checked on the master, a search
 * before every reconnect and on demand, the two outage lines, and what a
 * hostile Sentinel may answer.
 */

#include "link_host.h"


#define MASTER      "mymaster"
#define DIRECTIVE   "tune_redis"
#define EFFECT      "tune-ins are answered from the last snapshot"
#define SPW         "sentinel-pw"

#define TIMEOUT     1000
#define ASK_TIMEOUT 200
#define BACKOFF_MIN 100
#define BACKOFF_MAX 1600


static const tune_link_sentinel_t  sentinels[] = {
    { "s1.example", 26379 },
    { "s2.example", 26380 },
    { "s3.example", 26381 },
};


static int
setup(void **state)
{
    (void) state;

    host_init(&t.host, link_next, NULL);

    memset(&t.conf, 0, sizeof(tune_link_conf_t));
    t.conf.display = "master \"" MASTER "\" (Sentinel)";
    t.conf.directive = DIRECTIVE;
    t.conf.effect = EFFECT;
    t.conf.timeout_ms = TIMEOUT;
    t.conf.backoff_min_ms = BACKOFF_MIN;
    t.conf.backoff_max_ms = BACKOFF_MAX;
    t.conf.sentinels = sentinels;
    t.conf.nsentinels = 3;
    t.conf.master_name = MASTER;
    t.conf.master_name_len = sizeof(MASTER) - 1;
    t.conf.sentinel_timeout_ms = ASK_TIMEOUT;

    t.taken = -1;

    return 0;
}


/* A Sentinel's answer: the master at host:port */
static size_t
answer(const char *host, const char *port)
{
    tune_reply_t  e[2];

    e[0] = reply_str(host);
    e[1] = reply_str(port);

    return reply(reply_array(e, 2));
}


/* ROLE's answer: role first, then what Redis adds */
static size_t
role(const char *word)
{
    tune_reply_t  e[3];

    e[0] = reply_bytes(TUNE_REPLY_STRING, word, strlen(word));
    e[1] = reply_int(1234);
    e[2] = reply_array(NULL, 0);

    return reply(reply_array(e, 3));
}


/* the address of the last CONNECT from f on */
static const char *
connects_to(size_t f)
{
    size_t  i, last;

    last = t.host.n;

    for (i = f; i < t.host.n; i++) {
        if (t.host.rec[i].what == TUNE_DO_CONNECT) {
            last = i;
        }
    }

    assert_true(last < t.host.n);

    return t.host.rec[last].addr;
}


/* Asked of the Sentinel just connected: it answers host:port, then the
 * master's connection passes ROLE */
static void
to_master(const char *host, const char *port)
{
    size_t  f;
    char    want[64];

    f = connected();
    assert_string_equal(host_sent(&t.host, f),
                        "SENTINEL get-master-addr-by-name " MASTER);

    f = answer(host, port);
    assert_int_equal(t.taken, 1);
    assert_true(host_index(&t.host, f, TUNE_DO_CLOSE)
                < host_index(&t.host, f, TUNE_DO_CONNECT));
    (void) snprintf(want, sizeof(want), "%s:%s", host, port);
    assert_string_equal(connects_to(f), want);

    f = connected();
    assert_string_equal(host_sent(&t.host, f), "ROLE");
    assert_false(tune_link_ready(&t.ln));

    f = role("master");
    assert_int_equal(t.taken, 1);
    assert_true(tune_link_ready(&t.ln));
}


/* The user's command answered: how many lines say Redis answers again */
static size_t
answered_again(void)
{
    size_t  f;

    f = t.host.n;
    tune_link_answered(&t.ln, t.host.now);
    host_run(&t.host);

    return host_logs(&t.host, f, TUNE_LOG_NOTICE, "answers again");
}


/* ---- the search ---------------------------------------------------- */

/* The first Sentinel answers: the master it names, checked by ROLE */
static void
test_asks_then_connects(void **state)
{
    size_t  f;

    (void) state;

    f = start();
    assert_string_equal(connects_to(f), "s1.example:26379");
    assert_int_equal(t.host.at, ASK_TIMEOUT);

    to_master("10.0.0.5", "6380");

    assert_string_equal(tune_link_master(&t.ln), "10.0.0.5:6380");
    assert_int_equal(host_logs(&t.host, 0, TUNE_LOG_NOTICE,
                               "redis master \"" MASTER "\" is at "
                               "10.0.0.5:6380 (Sentinel at "
                               "s1.example:26379)"), 1);
    assert_int_equal(host_logs(&t.host, 0, TUNE_LOG_WARN, NULL), 0);

    /* the Sentinel's connection is no connection of the user's */
    assert_int_equal(t.ln.connects, 1);
    assert_int_equal(t.ln.drops, 0);
}


/* A Sentinel that fails is followed by the next at once; the one that
 * answered is asked first from then on */
static void
test_next_sentinel(void **state)
{
    size_t  f;

    (void) state;

    start();

    t.host.now = 10;
    f = dropped("connection refused");
    assert_string_equal(connects_to(f), "s2.example:26380");
    assert_int_equal(host_logs(&t.host, f, -1, NULL), 0);

    /* s2 accepts and says nothing */
    f = connected();
    assert_int_equal(host_sends(&t.host, f, "SENTINEL"), 1);
    f = host_advance(&t.host, 10 + ASK_TIMEOUT);
    assert_string_equal(connects_to(f), "s3.example:26381");

    to_master("10.0.0.6", "6379");

    /* the master goes: after the backoff, s3 first */
    t.host.now += 50;
    f = dropped(NULL);
    assert_string_equal(host_find(&t.host, f, TUNE_DO_LOG)->msg,
                        "redis at master \"" MASTER "\" (Sentinel): "
                        "connection closed; " EFFECT);
    f = host_advance(&t.host, t.host.at);
    assert_string_equal(connects_to(f), "s3.example:26381");
    to_master("10.0.0.6", "6379");

    /* the same master: no second line of where it is */
    assert_int_equal(host_logs(&t.host, 0, TUNE_LOG_NOTICE, "is at"), 1);
}


/* Every Sentinel down: one line, "no Sentinel answers", once per outage;
 * the rounds go on after the backoff, from the first Sentinel */
static void
test_no_sentinel_answers(void **state)
{
    int     round;
    size_t  f, all;

    (void) state;

    all = start();

    for (round = 0; round < 6; round++) {
        f = dropped("connection refused");
        f = dropped("connection refused");
        f = dropped("connection refused");
        assert_int_equal(t.host.rec[t.host.n - 1].what, TUNE_DO_WAIT);

        /* the waits grow to a second, not to BACKOFF_MAX: a failover is
         * followed soon */
        assert_int_equal(t.host.at - t.host.now,
                         (BACKOFF_MIN << round) < 1000 ? BACKOFF_MIN << round
                                                       : 1000);

        f = host_advance(&t.host, t.host.at);
        assert_string_equal(connects_to(f), "s1.example:26379");
    }

    assert_int_equal(host_logs(&t.host, all, TUNE_LOG_WARN, NULL), 1);
    assert_int_equal(host_logs(&t.host, all, TUNE_LOG_WARN,
                               "redis at master \"" MASTER "\" (Sentinel): "
                               "no Sentinel answers (the last: connection "
                               "refused); " EFFECT), 1);
    assert_false(tune_link_ready(&t.ln));

    /* one comes back: the outage ends with the user's first answer */
    to_master("10.0.0.5", "6380");
    assert_int_equal(answered_again(), 1);
}


/* The Sentinels answer but know no such master: a line of its own */
static void
test_unknown_master(void **state)
{
    size_t  f, all;

    (void) state;

    all = start();

    connected();
    reply(reply_nil());
    dropped("connection refused");
    f = connected();
    assert_int_equal(host_sends(&t.host, f, "SENTINEL"), 1);
    f = reply(reply_nil());

    assert_int_equal(host_logs(&t.host, all, TUNE_LOG_WARN, NULL), 1);
    assert_int_equal(host_logs(&t.host, all, TUNE_LOG_WARN,
                               "the Sentinels do not know master \""
                               MASTER "\""), 1);
    assert_int_equal(host_logs(&t.host, all, -1, "no Sentinel answers"), 0);

    /* after the backoff the next round starts at the first Sentinel */
    f = host_advance(&t.host, t.host.at);
    assert_string_equal(connects_to(f), "s1.example:26379");
}


/*
 * An outage that began with the master's connection closing (its line) is
 * told again once the Sentinels fail too, once for each thing they say,
 * and again in the next outage.
 */
static void
test_sentinel_lines_in_an_outage(void **state)
{
    int     round;
    size_t  f, all;

    (void) state;

    start();
    to_master("10.0.0.5", "6380");
    answered_again();

    all = dropped(NULL);
    assert_int_equal(host_logs(&t.host, all, TUNE_LOG_WARN,
                               "connection closed"), 1);

    for (round = 0; round < 2; round++) {
        f = host_advance(&t.host, t.host.at);
        assert_string_equal(connects_to(f), "s1.example:26379");
        dropped("connection refused");
        dropped("connection refused");
        dropped("connection refused");
    }

    for (round = 0; round < 2; round++) {
        host_advance(&t.host, t.host.at);
        connected();
        reply(reply_nil());
        connected();
        reply(reply_nil());
        connected();
        reply(reply_nil());
    }

    assert_int_equal(host_logs(&t.host, all, TUNE_LOG_WARN, NULL), 3);
    assert_int_equal(host_logs(&t.host, all, TUNE_LOG_WARN,
                               "no Sentinel answers"), 1);
    assert_int_equal(host_logs(&t.host, all, TUNE_LOG_WARN,
                               "do not know master"), 1);

    /* over; the next outage tells it again */
    host_advance(&t.host, t.host.at);
    to_master("10.0.0.5", "6380");
    assert_int_equal(answered_again(), 1);

    f = dropped(NULL);
    host_advance(&t.host, t.host.at);
    dropped("connection refused");
    dropped("connection refused");
    dropped("connection refused");
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "no Sentinel answers"), 1);
}


/* The node named is not the master (yet): it goes, and the Sentinels are
 * asked again after the backoff, not the node */
static void
test_role_not_master(void **state)
{
    size_t  f;

    (void) state;

    start();
    f = connected();
    f = answer("10.0.0.7", "6379");
    f = connected();
    assert_string_equal(host_sent(&t.host, f), "ROLE");

    f = role("slave");
    assert_false(tune_link_ready(&t.ln));
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "10.0.0.7:6379 is not the master "
                               "(ROLE: slave)"), 1);
    assert_true(t.host.at > t.host.now);

    f = host_advance(&t.host, t.host.at);
    assert_string_equal(connects_to(f), "s1.example:26379");

    /* ROLE refused (an ACL user without it): said so, never taken as
     * "master" */
    f = connected();
    f = answer("10.0.0.7", "6379");
    f = connected();
    f = reply(reply_err("NOPERM this user has no permissions to run the "
                        "'role' command"));
    assert_false(tune_link_ready(&t.ln));
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    assert_int_equal(tune_link_ready(&t.ln), 0);
    assert_non_null(strstr(tune_link_why(&t.ln), "ROLE refused at "
                                                 "10.0.0.7:6379: NOPERM"));
}


/* ---- credentials ---------------------------------------------------- */

static void
test_sentinel_auth(void **state)
{
    size_t  f, all;

    (void) state;

    t.conf.sentinel_user = "sentinel-user";
    t.conf.sentinel_user_len = sizeof("sentinel-user") - 1;
    t.conf.sentinel_password = SPW;
    t.conf.sentinel_password_len = sizeof(SPW) - 1;
    t.host.secret = SPW;

    all = start();
    f = connected();
    assert_string_equal(host_sent(&t.host, f), "AUTH sentinel-user " SPW);

    /* refused: an ERR naming the directive, once; the next Sentinel */
    f = reply(reply_err("WRONGPASS invalid username-password pair"));
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR,
                               "Sentinel at s1.example:26379 refused the "
                               "credentials of \"" DIRECTIVE "\": "
                               "WRONGPASS"), 1);
    assert_string_equal(connects_to(f), "s2.example:26380");

    f = connected();
    f = reply(reply_err("WRONGPASS invalid username-password pair"));
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_ERR, NULL), 0);

    /* the third refuses too: the round failed, told by the ERR alone */
    f = connected();
    f = reply(reply_err("WRONGPASS invalid username-password pair"));
    assert_int_equal(host_logs(&t.host, all, TUNE_LOG_WARN, NULL), 0);
    assert_int_equal(host_logs(&t.host, all, TUNE_LOG_ERR, NULL), 1);
    assert_false(tune_link_ready(&t.ln));

    /* the next round: the third takes them */
    f = host_advance(&t.host, t.host.at);
    assert_string_equal(connects_to(f), "s1.example:26379");
    connected();
    reply(reply_err("WRONGPASS invalid username-password pair"));
    connected();
    reply(reply_err("WRONGPASS invalid username-password pair"));
    assert_int_equal(host_logs(&t.host, all, -1, NULL), 1);

    /* the third takes them */
    f = connected();
    assert_string_equal(host_sent(&t.host, f), "AUTH sentinel-user " SPW);
    f = reply(reply_status("OK"));
    assert_string_equal(host_sent(&t.host, f),
                        "SENTINEL get-master-addr-by-name " MASTER);
    f = answer("10.0.0.5", "6380");
    f = connected();
    assert_string_equal(host_sent(&t.host, f), "ROLE");

    assert_int_equal(host_logs(&t.host, all, TUNE_LOG_ERR, NULL), 1);
}


/*
 * What a round that failed says (tune_link_why(), all a quiet host such as
 * tuneslotd has): refused credentials whatever failed last, a Sentinel's
 * error words, the transport's words with no byte that forges a line; and
 * nothing of it when another process told the outage already.
 */
static void
test_round_reasons(void **state)
{
    size_t  f;

    (void) state;

    t.conf.sentinel_password = SPW;
    t.conf.sentinel_password_len = sizeof(SPW) - 1;
    t.host.secret = SPW;

    start();
    connected();
    reply(reply_err("WRONGPASS invalid username-password pair"));
    connected();
    reply(reply_err("WRONGPASS invalid username-password pair"));
    dropped("connection refused");
    assert_string_equal(tune_link_why(&t.ln),
                        "the Sentinels refused the credentials of \""
                        DIRECTIVE "\": WRONGPASS invalid username-password "
                        "pair");

    /* a Sentinel's error to the question, in the next round */
    t.conf.sentinel_password = NULL;
    t.host.secret = NULL;
    host_advance(&t.host, t.host.at);
    connected();
    reply(reply_err("NOPERM this user has no permissions to run the "
                    "'sentinel|get-master-addr-by-name' command"));
    dropped("connection refused");
    connected();
    reply(reply_err("NOPERM this user has no permissions"));
    assert_string_equal(tune_link_why(&t.ln),
                        "no Sentinel answers (the last: an error reply: "
                        "NOPERM this user has no permissions)");

    /* the transport's words: one line, whatever they hold */
    setup(NULL);
    f = start();
    dropped("refused\r\n2026/12/07 [emerg] forged");
    dropped("refused\r\nforged");
    dropped("refused\r\nforged");
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_WARN,
                               "no Sentinel answers (the last: refused??"),
                     1);

    /* told by another process: no line of the Sentinels' either */
    setup(NULL);
    tune_link_init(&t.ln, &t.conf);
    tune_link_outage_told(&t.ln);
    tune_link_start(&t.ln, t.host.now);
    f = host_run(&t.host);
    dropped("connection refused");
    connected();
    reply(reply_nil());
    dropped("connection refused");
    assert_int_equal(host_logs(&t.host, f, -1, NULL), 0);
}


/* ---- hostile answers ----------------------------------------------- */

/* An answer that is no address is a failed Sentinel, never a connect */
static void
test_hostile_answers(void **state)
{
    size_t        i, f;
    tune_reply_t  e[3];
    char          longhost[TUNE_LINK_HOST_MAX + 2];

    static const char  *bad[][2] = {
        { "10.0.0.5", "0" },
        { "10.0.0.5", "65536" },
        { "10.0.0.5", "80a" },
        { "10.0.0.5", "" },
        { "10.0.0.5", "000006379" },
        { "", "6379" },
        { "10.0.0.5 6379", "6379" },
        { "evil\r\nhost", "6379" },
        { "host\x7f", "6379" },
    };

    (void) state;

    memset(longhost, 'a', sizeof(longhost) - 1);
    longhost[sizeof(longhost) - 1] = '\0';

    start();

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]) + 4; i++) {
        f = connected();
        assert_int_equal(host_sends(&t.host, f, "SENTINEL"), 1);

        if (i < sizeof(bad) / sizeof(bad[0])) {
            f = answer(bad[i][0], bad[i][1]);

        } else if (i == sizeof(bad) / sizeof(bad[0])) {
            f = answer(longhost, "6379");

        } else if (i == sizeof(bad) / sizeof(bad[0]) + 1) {
            e[0] = reply_str("10.0.0.5");
            f = reply(reply_array(e, 1));

        } else if (i == sizeof(bad) / sizeof(bad[0]) + 2) {
            e[0] = reply_str("10.0.0.5");
            e[1] = reply_int(6379);
            f = reply(reply_array(e, 2));

        } else {
            e[0] = reply_str("10.0.0.5");
            e[1] = reply_str("6379");
            e[2] = reply_str("extra");
            f = reply(reply_array(e, 3));
        }

        assert_int_equal(t.taken, 1);
        assert_string_equal(tune_link_master(&t.ln), "");

        /* the next Sentinel, or, after a round, the backoff */
        if (host_count(&t.host, f, TUNE_DO_CONNECT) == 0) {
            f = host_advance(&t.host, t.host.at);
        }

        assert_int_equal(host_count(&t.host, f, TUNE_DO_CONNECT), 1);
        assert_true(strstr(connects_to(f), ".example:") != NULL);
    }

    assert_false(tune_link_ready(&t.ln));
}


/* ---- when to search again ------------------------------------------ */

/* Every reconnect asks first; rediscover() asks now, and follows a move */
static void
test_rediscover(void **state)
{
    size_t    f;
    unsigned  drops;

    (void) state;

    start();
    to_master("10.0.0.5", "6380");
    drops = t.ln.drops;

    f = t.host.n;
    tune_link_rediscover(&t.ln, t.host.now);
    host_run(&t.host);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 1);
    assert_string_equal(connects_to(f), "s1.example:26379");
    assert_int_equal(host_logs(&t.host, f, -1, NULL), 0);
    assert_false(tune_link_ready(&t.ln));

    /* the master's connection went, as a drop would: the user's
     * commands in flight are lost */
    assert_int_equal(t.ln.drops, drops + 1);

    /* a failover moved it */
    to_master("10.0.0.6", "6381");
    assert_string_equal(tune_link_master(&t.ln), "10.0.0.6:6381");
    assert_int_equal(host_logs(&t.host, f, TUNE_LOG_NOTICE,
                               "is at 10.0.0.6:6381"), 1);
}


/* Without Sentinels nothing of this happens */
static void
test_without_sentinels(void **state)
{
    size_t  f;

    (void) state;

    t.conf.sentinels = NULL;
    t.conf.nsentinels = 0;
    t.conf.host = "redis.example";
    t.conf.port = 6379;

    f = start();
    assert_string_equal(connects_to(f), "redis.example:6379");
    f = connected();
    assert_int_equal(host_sends(&t.host, f, NULL), 0);
    assert_true(tune_link_ready(&t.ln));

    f = t.host.n;
    tune_link_rediscover(&t.ln, t.host.now);
    host_run(&t.host);
    assert_int_equal(host_count(&t.host, f, TUNE_DO_CLOSE), 0);
    assert_true(tune_link_ready(&t.ln));
    assert_string_equal(tune_link_master(&t.ln), "");
}


/* The master names a configuration may give */
static void
test_master_name_check(void **state)
{
    char  longest[TUNE_LINK_MASTER_MAX + 2];

    (void) state;

    assert_null(tune_link_master_name_check("mymaster", 8));
    assert_null(tune_link_master_name_check("tune-slot_1.eu", 14));

    memset(longest, 'm', sizeof(longest));
    assert_null(tune_link_master_name_check(longest, TUNE_LINK_MASTER_MAX));
    assert_non_null(tune_link_master_name_check(longest,
                                                TUNE_LINK_MASTER_MAX + 1));

    assert_non_null(tune_link_master_name_check("", 0));
    assert_non_null(tune_link_master_name_check("my master", 9));
    assert_non_null(tune_link_master_name_check("m\r\nx", 4));
    assert_non_null(tune_link_master_name_check("m\0x", 3));
    assert_non_null(tune_link_master_name_check("m\"x", 3));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup(test_asks_then_connects, setup),
        cmocka_unit_test_setup(test_next_sentinel, setup),
        cmocka_unit_test_setup(test_no_sentinel_answers, setup),
        cmocka_unit_test_setup(test_unknown_master, setup),
        cmocka_unit_test_setup(test_sentinel_lines_in_an_outage, setup),
        cmocka_unit_test_setup(test_role_not_master, setup),
        cmocka_unit_test_setup(test_sentinel_auth, setup),
        cmocka_unit_test_setup(test_round_reasons, setup),
        cmocka_unit_test_setup(test_hostile_answers, setup),
        cmocka_unit_test_setup(test_rediscover, setup),
        cmocka_unit_test_setup(test_without_sentinels, setup),
        cmocka_unit_test(test_master_name_check),
    };

    return cmocka_run_group_tests_name("core.sentinel", tests, NULL, NULL);
}
