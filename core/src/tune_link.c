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
    TUNE_HELLO_DONE
};


static void tune_link_note(tune_link_t *ln, tune_do_t what,
    tune_log_level_t level, int ok, const char *msg);
static void tune_link_fail(tune_link_t *ln, int64_t now, const char *reason);
static void tune_link_close(tune_link_t *ln);
static tune_do_t tune_link_hello(tune_link_t *ln, int64_t now,
    tune_action_t *act);
static void tune_link_copy(char *dst, const char *src, size_t len);


void
tune_link_init(tune_link_t *ln, const tune_link_conf_t *conf)
{
    memset(ln, 0, sizeof(tune_link_t));

    ln->conf = conf;
    ln->state = TUNE_LINK_IDLE;
    ln->deadline = TUNE_NEVER;
    ln->backoff = conf->backoff_min_ms;
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
        ln->drops++;
    }

    ln->state = TUNE_LINK_IDLE;
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
    ln->down_logged = 1;
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

        ln->state = TUNE_LINK_CONNECTING;
        ln->deadline = now + ln->conf->timeout_ms;

        act->what = TUNE_DO_CONNECT;
        act->host = ln->conf->host;
        act->port = ln->conf->port;
        act->path = ln->conf->path;

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
    (void) now;

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

    tune_link_fail(ln, now, reason ? reason : "connection closed");
    tune_link_close(ln);

    /* the host has closed it already */
    ln->close = 0;
}


int
tune_link_reply(tune_link_t *ln, int64_t now, const tune_reply_t *reply)
{
    int     hello;
    size_t  len;
    char    words[256];

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
