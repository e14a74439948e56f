/*
 * The life of one Redis connection (tune_link.h).
 */

#include "tune_link.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>


/* the hello's steps, in the order a new connection owes them */
enum {
    TUNE_HELLO_AUTH = 0,
    TUNE_HELLO_SELECT,
    TUNE_HELLO_SCRIPT,
    TUNE_HELLO_ROLE,             /* with Sentinels: is it the master? */
    TUNE_HELLO_DONE
};


/* with the Sentinel asked (ln->ask_step) */
enum {
    TUNE_ASK_CONNECTING = 0,
    TUNE_ASK_AUTH,               /* connected: AUTH owed, or sent */
    TUNE_ASK_QUERY               /* the question owed, or sent */
};


static void tune_link_note(tune_link_t *ln, tune_do_t what,
    tune_log_level_t level, int ok, const char *msg);
static void tune_link_fail(tune_link_t *ln, int64_t now, const char *reason);
static void tune_link_close(tune_link_t *ln);
static tune_do_t tune_link_hello(tune_link_t *ln, int64_t now,
    tune_action_t *act);
static void tune_link_copy(char *dst, const char *src, size_t len);
static tune_do_t tune_link_ask(tune_link_t *ln, int64_t now,
    tune_action_t *act);
static void tune_link_asked(tune_link_t *ln, int64_t now,
    const tune_reply_t *reply);
static void tune_link_ask_next(tune_link_t *ln, int64_t now,
    const char *reason);
static int tune_link_master_addr(tune_link_t *ln, const tune_reply_t *reply);
static void tune_link_role(tune_link_t *ln, int64_t now,
    const tune_reply_t *reply);
static int64_t tune_link_ask_timeout(const tune_link_t *ln);
static const char *tune_link_sentinel_directive(const tune_link_t *ln);


void
tune_link_init(tune_link_t *ln, const tune_link_conf_t *conf)
{
    memset(ln, 0, sizeof(tune_link_t));

    unsigned  i;

    ln->conf = conf;
    ln->state = TUNE_LINK_IDLE;
    ln->deadline = TUNE_NEVER;
    ln->backoff = conf->backoff_min_ms;

    for (i = 0; i < conf->nsentinels && i < TUNE_LINK_SENTINELS_MAX; i++) {
        ln->order[i] = (uint8_t) i;
    }
}


void
tune_link_start(tune_link_t *ln, int64_t now)
{
    if (ln->state != TUNE_LINK_IDLE) {
        return;
    }

    ln->state = TUNE_LINK_WAIT;

    if (ln->retry_at < now) {
        ln->retry_at = now;
    }
}


void
tune_link_stop(tune_link_t *ln)
{
    if (ln->state >= TUNE_LINK_CONNECTING) {
        ln->close = 1;

        /* a Sentinel's connection carried none of the user's commands */
        if (ln->state != TUNE_LINK_ASKING) {
            ln->drops++;
        }
    }

    ln->state = TUNE_LINK_IDLE;
    ln->resolved = 0;
    ln->asked = 0;
    ln->unknown = 0;
    ln->sentinel_auth_logged = 0;
    ln->no_sentinel_logged = 0;
    ln->unknown_logged = 0;
    ln->inflight = 0;
    ln->deadline = TUNE_NEVER;
    ln->retry_at = 0;
    ln->backoff = ln->conf->backoff_min_ms;
    ln->down_logged = 0;
    ln->auth_logged = 0;
    ln->refused = 0;
}


void
tune_link_outage_told(tune_link_t *ln)
{
    /* told by another process, with whatever the Sentinels said then */
    ln->down_logged = 1;
    ln->no_sentinel_logged = 1;
    ln->unknown_logged = 1;
}


tune_do_t
tune_link_next(tune_link_t *ln, int64_t now, tune_action_t *act)
{
    tune_link_note_t  *note;

    memset(act, 0, sizeof(tune_action_t));

    if (ln->nnotes) {
        note = &ln->notes[ln->note_head];
        ln->note_head = (ln->note_head + 1) % TUNE_LINK_NOTES;
        ln->nnotes--;

        act->what = note->what;
        act->level = note->level;
        act->ok = note->ok;
        act->ready = note->ready;
        act->msg = note->has_msg ? note->msg : NULL;

        return act->what;
    }

    if (ln->close) {
        ln->close = 0;
        act->what = TUNE_DO_CLOSE;
        return TUNE_DO_CLOSE;
    }

    if (ln->state == TUNE_LINK_ASKING) {
        return tune_link_ask(ln, now, act);
    }

    if ((ln->state == TUNE_LINK_CONNECTING || ln->inflight)
        && now >= ln->deadline)
    {
        tune_link_fail(ln, now, ln->state == TUNE_LINK_CONNECTING
                                ? "timed out connecting"
                                : "timed out waiting for a reply");
        tune_link_close(ln);

        /* the lines first, then the close */
        return tune_link_next(ln, now, act);
    }

    switch (ln->state) {

    case TUNE_LINK_WAIT:

        if (now < ln->retry_at) {
            act->at = ln->retry_at;
            break;
        }

        if (ln->conf->nsentinels && !ln->resolved) {
            /* where the master is, asked anew before every connect */
            ln->state = TUNE_LINK_ASKING;
            ln->ask_step = TUNE_ASK_CONNECTING;
            ln->inflight = 0;
            ln->deadline = now + tune_link_ask_timeout(ln);

            act->what = TUNE_DO_CONNECT;
            act->host = ln->conf->sentinels[ln->order[ln->asked]].host;
            act->port = ln->conf->sentinels[ln->order[ln->asked]].port;

            return TUNE_DO_CONNECT;
        }

        ln->state = TUNE_LINK_CONNECTING;
        ln->deadline = now + ln->conf->timeout_ms;

        act->what = TUNE_DO_CONNECT;

        if (ln->conf->nsentinels) {
            act->host = ln->master_host;
            act->port = ln->master_port;

        } else {
            act->host = ln->conf->host;
            act->port = ln->conf->port;
            act->path = ln->conf->path;
        }

        return TUNE_DO_CONNECT;

    case TUNE_LINK_HELLO:

        if (ln->inflight == 0) {
            return tune_link_hello(ln, now, act);
        }

        act->at = ln->deadline;
        break;

    case TUNE_LINK_CONNECTING:
    case TUNE_LINK_READY:
        act->at = ln->inflight || ln->state == TUNE_LINK_CONNECTING
                  ? ln->deadline : TUNE_NEVER;
        break;

    default:
        act->at = TUNE_NEVER;
        break;
    }

    act->what = TUNE_DO_WAIT;

    return TUNE_DO_WAIT;
}


/*
 * The hello's next command, one at a time, so that refused credentials
 * close the connection before anything else was sent on it.
 */

static tune_do_t
tune_link_hello(tune_link_t *ln, int64_t now, tune_action_t *act)
{
    int                      n;
    const tune_link_conf_t  *conf;

    conf = ln->conf;
    n = 0;

    switch (ln->hello) {

    case TUNE_HELLO_AUTH:

        if (conf->password) {
            ln->argv[n] = "AUTH";
            ln->argvlen[n++] = 4;

            if (conf->user && conf->user_len) {
                ln->argv[n] = conf->user;
                ln->argvlen[n++] = conf->user_len;
            }

            ln->argv[n] = conf->password;
            ln->argvlen[n++] = conf->password_len;
            break;
        }

        ln->hello++;

        /* fall through */

    case TUNE_HELLO_SELECT:

        if (conf->db) {
            ln->argv[n] = "SELECT";
            ln->argvlen[n++] = 6;
            ln->argv[n] = ln->num;
            ln->argvlen[n++] = (size_t) snprintf(ln->num, sizeof(ln->num),
                                                 "%u", conf->db);
            break;
        }

        ln->hello++;

        /* fall through */

    case TUNE_HELLO_SCRIPT:

        if (conf->script) {
            ln->argv[n] = "SCRIPT";
            ln->argvlen[n++] = 6;
            ln->argv[n] = "LOAD";
            ln->argvlen[n++] = 4;
            ln->argv[n] = conf->script;
            ln->argvlen[n++] = conf->script_len;
            break;
        }

        ln->hello++;

        /* fall through */

    case TUNE_HELLO_ROLE:

        if (conf->nsentinels) {
            ln->argv[n] = "ROLE";
            ln->argvlen[n++] = 4;
            break;
        }

        ln->hello++;

        /* fall through */

    default:
        ln->state = TUNE_LINK_READY;
        act->what = TUNE_DO_WAIT;
        act->at = TUNE_NEVER;
        return TUNE_DO_WAIT;
    }

    tune_link_sent(ln, now);

    act->what = TUNE_DO_SEND;
    act->argc = n;
    act->argv = ln->argv;
    act->argvlen = ln->argvlen;

    return TUNE_DO_SEND;
}


void
tune_link_connected(tune_link_t *ln, int64_t now)
{
    if (ln->state == TUNE_LINK_ASKING) {
        if (ln->ask_step == TUNE_ASK_CONNECTING) {
            ln->ask_step = TUNE_ASK_AUTH;
            ln->deadline = now + tune_link_ask_timeout(ln);
        }

        return;
    }

    if (ln->state != TUNE_LINK_CONNECTING) {
        return;
    }

    ln->state = TUNE_LINK_HELLO;
    ln->hello = TUNE_HELLO_AUTH;
    ln->connects++;
    ln->inflight = 0;
    ln->deadline = TUNE_NEVER;
    ln->sha[0] = '\0';
}


void
tune_link_dropped(tune_link_t *ln, int64_t now, const char *reason)
{
    if (ln->state < TUNE_LINK_CONNECTING) {
        return;
    }

    if (ln->state == TUNE_LINK_ASKING) {
        tune_link_ask_next(ln, now, reason ? reason : "connection closed");

    } else {
        tune_link_fail(ln, now, reason ? reason : "connection closed");
        tune_link_close(ln);
    }

    /* the host has closed it already */
    ln->close = 0;
}


int
tune_link_reply(tune_link_t *ln, int64_t now, const tune_reply_t *reply)
{
    int     hello;
    size_t  len;
    char    words[256];

    if (ln->state == TUNE_LINK_ASKING) {
        if (ln->inflight == 0) {
            tune_link_ask_next(ln, now, "a reply to no command");

        } else {
            ln->inflight--;
            tune_link_asked(ln, now, reply);
        }

        return 1;
    }

    if (ln->state != TUNE_LINK_HELLO && ln->state != TUNE_LINK_READY) {
        /*
         * No connection: a reply the host's client still hands over after
         * the machine closed it (hiredis runs pending callbacks as it
         * frees a context).  Nothing waits for it.
         */
        return 1;
    }

    if (ln->inflight == 0) {
        /* a reply nothing asked for: this connection is not to be trusted */
        tune_link_fail(ln, now, "a reply to no command");
        tune_link_close(ln);
        return 1;
    }

    ln->inflight--;
    ln->deadline = ln->inflight ? now + ln->conf->timeout_ms : TUNE_NEVER;

    if (ln->state != TUNE_LINK_HELLO) {
        return ln->state != TUNE_LINK_READY;
    }

    hello = (int) ln->hello;
    ln->hello++;

    if (hello == TUNE_HELLO_ROLE) {
        tune_link_role(ln, now, reply);
        return 1;
    }

    if (reply->type != TUNE_REPLY_ERROR) {

        if (hello == TUNE_HELLO_SCRIPT && reply->type == TUNE_REPLY_STRING
            && reply->len == 40)
        {
            tune_link_copy(ln->sha, reply->str, 40);
        }

        return 1;
    }

    /*
     * Redis's words, for a line: any byte may come in an error reply (a
     * hostile server's "\n" would forge a log line of its own)
     */
    len = reply->str ? reply->len : 0;
    tune_link_copy(words, reply->str, len < sizeof(words) - 1
                                      ? len : sizeof(words) - 1);

    switch (hello) {

    case TUNE_HELLO_AUTH:
        /*
         * Told once per outage, even one told already for another cause
         * (Redis restarted with a new password): this one needs an
         * operator.  Redis's error text never holds the password; ours
         * neither.
         */
        if (!ln->auth_logged && !ln->conf->quiet) {
            tune_link_log(ln, TUNE_LOG_ERR,
                          "redis at %s refused the credentials of \"%s\": "
                          "%s", ln->conf->display, ln->conf->directive, words);
        }

        ln->auth_logged = 1;
        ln->down_logged = 1;
        tune_link_fail(ln, now, "authentication failed");
        ln->refused = 1;

        /* the words of Redis's refusal, for a host that logs its own */
        memcpy(ln->why, words, strlen(words) + 1);

        tune_link_close(ln);
        break;

    case TUNE_HELLO_SELECT:
        tune_link_fail(ln, now, words);
        tune_link_close(ln);
        break;

    default:
        /*
         * An ACL user without scripting: the user of the link carries on
         * without EVALSHA (the snapshot is still read; herd claims, sent
         * as EVAL, fail and say so).
         */
        ln->sha[0] = '\0';
        break;
    }

    return 1;
}


void
tune_link_sent(tune_link_t *ln, int64_t now)
{
    ln->inflight++;
    ln->deadline = now + ln->conf->timeout_ms;
}


void
tune_link_answered(tune_link_t *ln, int64_t now)
{
    (void) now;

    if (ln->down_logged && !ln->conf->quiet) {
        tune_link_log(ln, TUNE_LOG_NOTICE, "redis at %s answers again",
                      ln->conf->display);
    }

    ln->down_logged = 0;
    ln->auth_logged = 0;
    ln->sentinel_auth_logged = 0;
    ln->no_sentinel_logged = 0;
    ln->unknown_logged = 0;
    ln->refused = 0;
    ln->backoff = ln->conf->backoff_min_ms;

    tune_link_note(ln, TUNE_DO_STATE, TUNE_LOG_DEBUG, 1, NULL);
}


void
tune_link_failed(tune_link_t *ln, int64_t now, const char *reason)
{
    tune_link_fail(ln, now, reason);
}


/*
 * A failed contact: told once per outage, not once per retry; the next
 * connect waits for the backoff, which grows with every failure.
 */

static void
tune_link_fail(tune_link_t *ln, int64_t now, const char *reason)
{
    int64_t  max;

    if (reason != ln->why) {
        tune_link_copy(ln->why, reason, strlen(reason) < sizeof(ln->why) - 1
                                        ? strlen(reason)
                                        : sizeof(ln->why) - 1);
    }

    ln->refused = 0;

    if (!ln->down_logged && !ln->conf->quiet) {
        tune_link_log(ln, TUNE_LOG_WARN, "redis at %s: %s; %s",
                      ln->conf->display, ln->why, ln->conf->effect);
    }

    ln->down_logged = 1;

    tune_link_note(ln, TUNE_DO_STATE, TUNE_LOG_DEBUG, 0, ln->why);

    ln->retry_at = now + ln->backoff;

    max = ln->conf->backoff_max_ms;

    if (ln->conf->nsentinels) {
        /*
         * A second at most: each try asks the Sentinels first, which is
         * cheap, and a failover (the old master refusing until they agree
         * on a new one) must be followed soon, not after a wait that grew
         * while it was under way.
         */
        if (max > 1000) {
            max = ln->conf->backoff_min_ms > 1000 ? ln->conf->backoff_min_ms
                                                  : 1000;
        }
    }

    ln->backoff = ln->backoff <= max / 2 ? ln->backoff * 2 : max;

    if (ln->backoff < ln->conf->backoff_min_ms) {
        ln->backoff = ln->conf->backoff_min_ms;
    }
}


/* The connection goes: the host is told to close it */

static void
tune_link_close(tune_link_t *ln)
{
    unsigned  i;

    if (ln->state >= TUNE_LINK_CONNECTING) {
        ln->close = 1;
        ln->state = TUNE_LINK_WAIT;
        ln->drops++;

        /* a reconnect asks the Sentinels again where the master is */
        ln->resolved = 0;

        /* the states queued before (the failure's) have no connection */
        for (i = 0; i < ln->nnotes; i++) {
            ln->notes[(ln->note_head + i) % TUNE_LINK_NOTES].ready = 0;
        }
    }

    ln->inflight = 0;
    ln->deadline = TUNE_NEVER;
    ln->sha[0] = '\0';
}


void
tune_link_log(tune_link_t *ln, tune_log_level_t level, const char *fmt, ...)
{
    int               n;
    va_list           args;
    tune_link_note_t *note;

    tune_link_note(ln, TUNE_DO_LOG, level, 0, NULL);

    note = &ln->notes[(ln->note_head + ln->nnotes - 1) % TUNE_LINK_NOTES];

    va_start(args, fmt);
    n = vsnprintf(note->msg, sizeof(note->msg), fmt, args);
    va_end(args);

    if (n < 0) {
        note->msg[0] = '\0';
    }

    note->has_msg = 1;
}


/*
 * Queues a line or a state change.  A full queue loses its oldest entry:
 * the host runs the machine until it waits, so it never fills unless the
 * host stops asking, and the newest state is the one that matters.
 */

static void
tune_link_note(tune_link_t *ln, tune_do_t what, tune_log_level_t level,
    int ok, const char *msg)
{
    tune_link_note_t  *note;

    if (ln->nnotes == TUNE_LINK_NOTES) {
        ln->note_head = (ln->note_head + 1) % TUNE_LINK_NOTES;
        ln->nnotes--;
    }

    note = &ln->notes[(ln->note_head + ln->nnotes) % TUNE_LINK_NOTES];
    ln->nnotes++;

    note->what = what;
    note->level = level;
    note->ok = ok;
    note->ready = ln->state == TUNE_LINK_READY;
    note->has_msg = msg != NULL;

    if (msg) {
        tune_link_copy(note->msg, msg, strlen(msg) < sizeof(note->msg) - 1
                                       ? strlen(msg) : sizeof(note->msg) - 1);
    }
}


int
tune_link_ready(const tune_link_t *ln)
{
    return ln->state == TUNE_LINK_READY && !ln->close;
}


const char *
tune_link_sha(const tune_link_t *ln)
{
    return ln->sha;
}


void
tune_link_script_loaded(tune_link_t *ln, const tune_reply_t *reply)
{
    if (reply->type == TUNE_REPLY_STRING && reply->len == 40) {
        tune_link_copy(ln->sha, reply->str, 40);

    } else {
        ln->sha[0] = '\0';
    }
}


const char *
tune_link_why(const tune_link_t *ln)
{
    return ln->why;
}


int
tune_link_refused(const tune_link_t *ln)
{
    return ln->refused;
}


/* ---- Sentinel discovery --------------------------------------------- */

/*
 * With the Sentinel asked: past its deadline the next one is asked; once
 * connected, AUTH (when configured), then the question, one at a time.
 */

static tune_do_t
tune_link_ask(tune_link_t *ln, int64_t now, tune_action_t *act)
{
    int                      n;
    const tune_link_conf_t  *conf;

    conf = ln->conf;

    if (now >= ln->deadline) {
        tune_link_ask_next(ln, now, ln->ask_step == TUNE_ASK_CONNECTING
                                    ? "timed out connecting"
                                    : "timed out waiting for a reply");

        return tune_link_next(ln, now, act);
    }

    if (ln->ask_step == TUNE_ASK_CONNECTING || ln->inflight) {
        act->what = TUNE_DO_WAIT;
        act->at = ln->deadline;
        return TUNE_DO_WAIT;
    }

    n = 0;

    if (ln->ask_step == TUNE_ASK_AUTH && conf->sentinel_password) {
        ln->argv[n] = "AUTH";
        ln->argvlen[n++] = 4;

        if (conf->sentinel_user && conf->sentinel_user_len) {
            ln->argv[n] = conf->sentinel_user;
            ln->argvlen[n++] = conf->sentinel_user_len;
        }

        ln->argv[n] = conf->sentinel_password;
        ln->argvlen[n++] = conf->sentinel_password_len;

    } else {
        ln->ask_step = TUNE_ASK_QUERY;

        ln->argv[n] = "SENTINEL";
        ln->argvlen[n++] = 8;
        ln->argv[n] = "get-master-addr-by-name";
        ln->argvlen[n++] = sizeof("get-master-addr-by-name") - 1;
        ln->argv[n] = conf->master_name;
        ln->argvlen[n++] = conf->master_name_len;
    }

    ln->inflight++;
    ln->deadline = now + tune_link_ask_timeout(ln);

    act->what = TUNE_DO_SEND;
    act->argc = n;
    act->argv = ln->argv;
    act->argvlen = ln->argvlen;

    return TUNE_DO_SEND;
}


/* A Sentinel's reply: to AUTH, or to the question */

static void
tune_link_asked(tune_link_t *ln, int64_t now, const tune_reply_t *reply)
{
    size_t                      len;
    unsigned                    i, k;
    char                        words[256];
    char                        addr[TUNE_LINK_HOST_MAX + 8];
    const tune_link_sentinel_t *s;

    s = &ln->conf->sentinels[ln->order[ln->asked]];

    if (ln->ask_step == TUNE_ASK_AUTH) {
        if (reply->type != TUNE_REPLY_ERROR) {
            ln->ask_step = TUNE_ASK_QUERY;
            ln->deadline = now + tune_link_ask_timeout(ln);
            return;
        }

        len = reply->str ? reply->len : 0;
        tune_link_copy(words, reply->str, len < sizeof(words) - 1
                                          ? len : sizeof(words) - 1);

        /* an operator's to mend: told at once, once per outage */
        if (!ln->sentinel_auth_logged && !ln->conf->quiet) {
            tune_link_log(ln, TUNE_LOG_ERR,
                          "Sentinel at %s:%u refused the credentials of "
                          "\"%s\": %s", s->host, s->port,
                          tune_link_sentinel_directive(ln), words);
        }

        ln->sentinel_auth_logged = 1;
        ln->round_refused = 1;
        memcpy(ln->refused_words, words,
               strlen(words) < sizeof(ln->refused_words) - 1
               ? strlen(words) + 1 : sizeof(ln->refused_words));
        ln->refused_words[sizeof(ln->refused_words) - 1] = '\0';
        tune_link_ask_next(ln, now, "a Sentinel refused the credentials");
        return;
    }

    if (reply->type == TUNE_REPLY_NIL) {
        ln->unknown = 1;
        tune_link_ask_next(ln, now, "no such master");
        return;
    }

    if (!tune_link_master_addr(ln, reply)) {
        if (reply->type == TUNE_REPLY_ERROR) {
            /* the Sentinel's words (a user without the command: NOPERM) */
            len = reply->str ? reply->len : 0;
            memcpy(words, "an error reply: ", 16);
            tune_link_copy(words + 16, reply->str,
                           len < sizeof(words) - 17 ? len
                                                    : sizeof(words) - 17);
            tune_link_ask_next(ln, now, words);

        } else {
            tune_link_ask_next(ln, now, "a reply that is no address");
        }

        return;
    }

    /* the Sentinel that answered is asked first from now on */
    k = ln->order[ln->asked];

    for (i = ln->asked; i > 0; i--) {
        ln->order[i] = ln->order[i - 1];
    }

    ln->order[0] = (uint8_t) k;

    (void) snprintf(addr, sizeof(addr), "%s:%u", ln->master_host,
                    ln->master_port);

    if (strcmp(ln->last_master, addr) != 0) {
        /* the lines of a failover: where the master went, and who said */
        if (!ln->conf->quiet) {
            tune_link_log(ln, TUNE_LOG_NOTICE,
                          "redis master \"%.*s\" is at %s (Sentinel at "
                          "%s:%u)", (int) ln->conf->master_name_len,
                          ln->conf->master_name, addr, s->host, s->port);
        }

        memcpy(ln->last_master, addr, strlen(addr) + 1);
    }

    /* the Sentinel's connection goes; the master's is made at once */
    ln->close = 1;
    ln->state = TUNE_LINK_WAIT;
    ln->inflight = 0;
    ln->deadline = TUNE_NEVER;
    ln->retry_at = now;
    ln->asked = 0;
    ln->unknown = 0;
    ln->resolved = 1;
}


/*
 * The Sentinel asked failed (reason): the next one is asked at once; when
 * every one has failed in this round, the contact has failed: told once
 * per outage, with what the Sentinels said, and tried again after the
 * backoff, from the first Sentinel.
 */

static void
tune_link_ask_next(tune_link_t *ln, int64_t now, const char *reason)
{
    char  why[TUNE_NOTE_MAX], words[256];

    ln->close = 1;
    ln->state = TUNE_LINK_WAIT;
    ln->inflight = 0;
    ln->deadline = TUNE_NEVER;
    ln->asked++;

    if (ln->asked < ln->conf->nsentinels) {
        ln->retry_at = now;
        return;
    }

    ln->asked = 0;

    if (ln->unknown) {
        (void) snprintf(why, sizeof(why),
                        "the Sentinels do not know master \"%.*s\"",
                        (int) ln->conf->master_name_len,
                        ln->conf->master_name);

    } else if (ln->round_refused) {
        (void) snprintf(why, sizeof(why), "the Sentinels refused the "
                        "credentials of \"%s\": %s",
                        tune_link_sentinel_directive(ln), ln->refused_words);

    } else {
        /* the transport's words: no byte of them may forge a line */
        tune_link_copy(words, reason, strlen(reason) < sizeof(words) - 1
                                      ? strlen(reason) : sizeof(words) - 1);
        (void) snprintf(why, sizeof(why), "no Sentinel answers (the last: "
                        "%s)", words);
    }

    ln->round_refused = 0;

    /*
     * Told once per outage each, whatever began the outage: a master that
     * went away is the usual start of one, and what the Sentinels then
     * say (nothing, or no such master) is what an operator must read.
     */
    if (!ln->conf->quiet) {
        /* Sentinels that refused the credentials were told at ERR: that
         * line is the one to act on, as for the master's (tune_link_reply) */
        if (ln->unknown ? !ln->unknown_logged
                        : !ln->no_sentinel_logged && !ln->sentinel_auth_logged)
        {
            tune_link_log(ln, TUNE_LOG_WARN, "redis at %s: %s; %s",
                          ln->conf->display, why, ln->conf->effect);
        }
    }

    if (ln->unknown) {
        ln->unknown_logged = 1;

    } else {
        ln->no_sentinel_logged = 1;
    }

    ln->unknown = 0;
    ln->down_logged = 1;

    tune_link_fail(ln, now, why);
}


/*
 * A Sentinel's answer: an array of the master's host and port.  Any bytes
 * may come: a host of printable characters without spaces, a port of
 * digits 1..65535, or it is no answer.
 */

static int
tune_link_master_addr(tune_link_t *ln, const tune_reply_t *reply)
{
    size_t               i;
    unsigned             port;
    const tune_reply_t  *h, *p;

    if (reply->type != TUNE_REPLY_ARRAY || reply->elements != 2
        || reply->element == NULL)
    {
        return 0;
    }

    h = &reply->element[0];
    p = &reply->element[1];

    if (h->type != TUNE_REPLY_STRING || p->type != TUNE_REPLY_STRING
        || h->len == 0 || h->len > TUNE_LINK_HOST_MAX
        || p->len == 0 || p->len > 5)
    {
        return 0;
    }

    for (i = 0; i < h->len; i++) {
        if (h->str[i] <= 0x20 || h->str[i] >= 0x7f) {
            return 0;
        }
    }

    port = 0;

    for (i = 0; i < p->len; i++) {
        if (p->str[i] < '0' || p->str[i] > '9') {
            return 0;
        }

        port = port * 10 + (unsigned) (p->str[i] - '0');
    }

    if (port == 0 || port > 65535) {
        return 0;
    }

    memcpy(ln->master_host, h->str, h->len);
    ln->master_host[h->len] = '\0';
    ln->master_port = port;

    return 1;
}


/*
 * ROLE's answer on the master's connection: its first element "master",
 * or the Sentinels spoke of a node that is not (yet) the master: the
 * connection goes, and they are asked again after the backoff.
 */

static void
tune_link_role(tune_link_t *ln, int64_t now, const tune_reply_t *reply)
{
    size_t  len;
    char    role[32], why[TUNE_NOTE_MAX];

    if (reply->type == TUNE_REPLY_ARRAY && reply->elements >= 1
        && reply->element != NULL
        && (reply->element[0].type == TUNE_REPLY_STRING
            || reply->element[0].type == TUNE_REPLY_STATUS)
        && reply->element[0].len == 6
        && memcmp(reply->element[0].str, "master", 6) == 0)
    {
        return;
    }

    if (reply->type == TUNE_REPLY_ARRAY && reply->elements >= 1
        && reply->element != NULL && reply->element[0].str != NULL)
    {
        len = reply->element[0].len;
        tune_link_copy(role, reply->element[0].str,
                       len < sizeof(role) - 1 ? len : sizeof(role) - 1);
        (void) snprintf(why, sizeof(why), "%s is not the master (ROLE: %s)",
                        tune_link_master(ln), role);

    } else if (reply->type == TUNE_REPLY_ERROR && reply->str != NULL) {
        len = reply->len;
        tune_link_copy(role, reply->str,
                       len < sizeof(role) - 1 ? len : sizeof(role) - 1);
        (void) snprintf(why, sizeof(why), "ROLE refused at %s: %s",
                        tune_link_master(ln), role);

    } else {
        (void) snprintf(why, sizeof(why), "ROLE at %s: a reply of the "
                        "wrong shape", tune_link_master(ln));
    }

    tune_link_fail(ln, now, why);
    tune_link_close(ln);
}


static const char *
tune_link_sentinel_directive(const tune_link_t *ln)
{
    return ln->conf->sentinel_directive ? ln->conf->sentinel_directive
                                        : ln->conf->directive;
}


static int64_t
tune_link_ask_timeout(const tune_link_t *ln)
{
    return ln->conf->sentinel_timeout_ms ? ln->conf->sentinel_timeout_ms
                                         : ln->conf->timeout_ms;
}


void
tune_link_rediscover(tune_link_t *ln, int64_t now)
{
    if (ln->conf->nsentinels == 0) {
        return;
    }

    if (ln->state == TUNE_LINK_HELLO || ln->state == TUNE_LINK_READY
        || ln->state == TUNE_LINK_CONNECTING)
    {
        tune_link_close(ln);
        ln->retry_at = now;
    }

    ln->resolved = 0;
}


const char *
tune_link_master_name_check(const char *name, size_t len)
{
    size_t  i;

    if (len == 0) {
        return "the master name is empty";
    }

    if (len > TUNE_LINK_MASTER_MAX) {
        return "the master name is longer than 128 bytes";
    }

    for (i = 0; i < len; i++) {
        if (!((name[i] >= 'a' && name[i] <= 'z')
              || (name[i] >= 'A' && name[i] <= 'Z')
              || (name[i] >= '0' && name[i] <= '9')
              || name[i] == '.' || name[i] == '_' || name[i] == '-'))
        {
            return "the master name holds a byte other than A-Z, a-z, "
                   "0-9, \".\", \"_\" and \"-\"";
        }
    }

    return NULL;
}


const char *
tune_link_master(const tune_link_t *ln)
{
    return ln->last_master;
}


/* len bytes and a NUL; the bytes a log line must not carry are replaced */

static void
tune_link_copy(char *dst, const char *src, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    }

    dst[len] = '\0';
}
