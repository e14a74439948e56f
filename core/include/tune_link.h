/*
 * The life of one Redis connection, as a machine without I/O: where to
 * connect, the hello every new connection owes (AUTH, SELECT, SCRIPT
 * LOAD), the deadlines of a connect and of a reply, the backoff after a
 * failed contact, and the log lines of an outage (once per outage, and a
 * line when Redis answers again).  Shared by both front-ends (through
 * tune_refresh.h) and tuneslotd; Redis Sentinel discovery is written here,
 * once, for all three (the hosts' configuration reaches it in later steps).
 *
 * The host owns the transport (hiredis on nginx's loop, a thread with
 * blocking hiredis in Apache, blocking hiredis in tuneslotd) and runs the
 * machine: it asks tune_link_next() what to do, carries it out, and tells
 * the machine what happened (connected, a reply, the connection dropped).
 * Times are the host's monotonic clock in ms.  Nothing here allocates,
 * logs or keeps global state; a machine is used by one thread at a time.
 *
 * With Redis Sentinel the machine finds the master before every connect,
 * as the Sentinel clients' guidelines say: each Sentinel in turn, with a
 * short timeout, is asked SENTINEL get-master-addr-by-name (the first to
 * answer with an address is asked first from then on); the address given
 * is connected, and ROLE, the hello's last step, must say "master", else
 * the connection goes and the search starts again after the backoff.
 * Every reconnect searches again, and tune_link_rediscover() makes one
 * whenever its user suspects the master moved (the data stopped changing).
 * The wait after a failed contact grows from backoff_min_ms to at most a
 * second (or backoff_min_ms, if longer): a failover must be followed soon
 * after the Sentinels name the new master, but refused credentials must not
 * cost a Sentinel and a master a try per refresh interval forever.
 *
 * Replies come in the order of the commands sent: while the hello runs the
 * machine sends, one at a time, and every reply is its own; once ready,
 * the user of the link sends its own commands (tune_link_sent()) and
 * tune_link_reply() hands their replies back.
 */

#ifndef TUNE_LINK_H
#define TUNE_LINK_H

#include "tune_core.h"
#include "tune_reply.h"

#ifdef __cplusplus
extern "C" {
#endif


/* a time that never comes: wait for an event */
#define TUNE_NEVER              INT64_MAX

/* room for one log line of the machine, with its NUL */
#define TUNE_NOTE_MAX           1024

/* the lines and state changes one event may queue, at most */
#define TUNE_LINK_NOTES         8

/* Sentinels a link may ask, at most */
#define TUNE_LINK_SENTINELS_MAX 16

/* the longest master address a Sentinel may give (a host name or an IP
 * address, without its NUL) */
#define TUNE_LINK_HOST_MAX      255

/* the longest master name a configuration may give */
#define TUNE_LINK_MASTER_MAX    128


/* what the machine asks of its host */
typedef enum {
    /* nothing before act->at (TUNE_NEVER: until an event) */
    TUNE_DO_WAIT = 0,
    /* open a connection to act->host:act->port, or the Unix socket
     * act->path; then tune_*_connected() or tune_*_dropped() */
    TUNE_DO_CONNECT,
    /* send the command act->argv (act->argc arguments, binary-safe); its
     * reply goes to tune_*_reply(), a failure to tune_*_dropped() */
    TUNE_DO_SEND,
    /* close the connection; no tune_*_dropped() follows */
    TUNE_DO_CLOSE,
    /* log act->msg at act->level */
    TUNE_DO_LOG,
    /* the contact changed, for the host's status: act->ok (Redis answered,
     * or act->msg says what failed) and act->ready (a connection past its
     * hello) */
    TUNE_DO_STATE,
    /* tune_refresh.h: install the image act->image (act->size bytes,
     * generation act->generation); then tune_refresh_installed() */
    TUNE_DO_INSTALL,
    /* tune_refresh.h: call tune_refresh_herd() with the herd table locked */
    TUNE_DO_HERD
} tune_do_t;


typedef enum {
    TUNE_LOG_ERR = 0,            /* needs an operator (credentials) */
    TUNE_LOG_WARN,               /* degraded: Redis away, a snapshot refused */
    TUNE_LOG_NOTICE,             /* recovered */
    TUNE_LOG_INFO,
    TUNE_LOG_DEBUG
} tune_log_level_t;


typedef struct {
    tune_do_t                 what;
    int64_t                   at;            /* WAIT */

    const char               *host;          /* CONNECT */
    unsigned                  port;          /* 0: path */
    const char               *path;

    int                       argc;          /* SEND */
    const char              **argv;
    const size_t             *argvlen;

    tune_log_level_t          level;         /* LOG */
    const char               *msg;           /* LOG, STATE (NULL: ok) */
    int                       ok;            /* STATE */
    int                       ready;

    const void               *image;         /* INSTALL */
    size_t                    size;
    uint64_t                  generation;
} tune_action_t;


/* One Sentinel, host (a name or an address) and port */
typedef struct {
    const char               *host;
    unsigned                  port;
} tune_link_sentinel_t;


typedef struct {
    /* where: host and port, or path (port 0) */
    const char               *host;
    unsigned                  port;
    const char               *path;
    /* the address as configured, for log lines */
    const char               *display;

    /* AUTH [user] password on every new connection; password NULL: none.
     * Any bytes: they go as arguments, and into no log line. */
    const char               *user;
    size_t                    user_len;
    const char               *password;
    size_t                    password_len;

    unsigned                  db;            /* SELECT when not 0 */

    /* SCRIPT LOAD of this script in the hello (NULL: none), for EVALSHA */
    const char               *script;
    size_t                    script_len;

    int64_t                   timeout_ms;    /* a connect, every reply */
    /* after a failed contact, wait backoff_min_ms, doubled with every
     * failure up to backoff_max_ms; 0 and 0: connect again at once */
    int64_t                   backoff_min_ms;
    int64_t                   backoff_max_ms;

    /* for log lines: the directive holding the credentials, and what an
     * outage means to the host ("tune-ins are answered from the last
     * snapshot") */
    const char               *directive;
    const char               *effect;

    /* no log lines: the host words its own (tune_link_why()) */
    unsigned                  quiet:1;

    /*
     * Redis Sentinel (nsentinels 1..TUNE_LINK_SENTINELS_MAX; 0: none):
     * the master named master_name is asked of these instead of
     * connecting to host/port/path, with AUTH [sentinel_user]
     * sentinel_password when the password is not NULL, each Sentinel's
     * connect and reply given sentinel_timeout_ms (0: timeout_ms).
     */
    const tune_link_sentinel_t *sentinels;
    unsigned                  nsentinels;
    const char               *master_name;
    size_t                    master_name_len;
    const char               *sentinel_user;
    size_t                    sentinel_user_len;
    const char               *sentinel_password;
    size_t                    sentinel_password_len;
    int64_t                   sentinel_timeout_ms;
    /* for log lines: the setting holding the Sentinels' credentials (NULL:
     * directive) */
    const char               *sentinel_directive;
} tune_link_conf_t;


typedef enum {
    TUNE_LINK_IDLE = 0,          /* no connection wanted */
    TUNE_LINK_WAIT,              /* wanted; connect at retry_at */
    TUNE_LINK_CONNECTING,
    TUNE_LINK_HELLO,
    TUNE_LINK_READY,
    TUNE_LINK_ASKING             /* a Sentinel: where is the master? */
} tune_link_state_t;


typedef struct {
    tune_do_t                 what;
    tune_log_level_t          level;
    int                       ok;
    int                       ready;
    int                       has_msg;
    char                      msg[TUNE_NOTE_MAX];
} tune_link_note_t;


/* The machine; its fields are its own, in caller memory */
typedef struct {
    const tune_link_conf_t   *conf;
    tune_link_state_t         state;
    unsigned                  hello;         /* the hello's next step */
    unsigned                  close:1;       /* CLOSE owed to the host */
    unsigned                  down_logged:1; /* an outage was told */
    unsigned                  refused:1;     /* the last failure: AUTH */
    unsigned                  auth_logged:1; /* ... and it was told */

    unsigned                  inflight;      /* commands not answered */
    unsigned                  connects;      /* connections made, ever */
    unsigned                  drops;         /* ... and lost or closed */
    int64_t                   deadline;      /* of a connect or a reply */
    int64_t                   retry_at;
    int64_t                   backoff;

    char                      sha[41];       /* of conf->script, or "" */
    char                      why[TUNE_NOTE_MAX];   /* the last failure */

    /* the hello's command */
    const char               *argv[3];
    size_t                    argvlen[3];
    char                      num[24];

    tune_link_note_t          notes[TUNE_LINK_NOTES];
    unsigned                  note_head;
    unsigned                  nnotes;

    /* Sentinel discovery */
    unsigned                  ask_step;      /* with the Sentinel asked */
    unsigned                  asked;         /* Sentinels tried this round */
    unsigned                  resolved:1;    /* master_* is the next connect */
    unsigned                  unknown:1;     /* one said: no such master */
    unsigned                  sentinel_auth_logged:1;
    /* the Sentinels' own lines, each once per outage, even when it began
     * for another reason (the master's connection closed) */
    unsigned                  no_sentinel_logged:1;
    unsigned                  unknown_logged:1;
    /* a Sentinel of this round refused the credentials, with its words:
     * what the round's failure says, whatever failed last */
    unsigned                  round_refused:1;
    char                      refused_words[128];
    uint8_t                   order[TUNE_LINK_SENTINELS_MAX];
    char                      master_host[TUNE_LINK_HOST_MAX + 1];
    unsigned                  master_port;
    char                      last_master[TUNE_LINK_HOST_MAX + 8];
} tune_link_t;


/* A machine that wants no connection yet */
void tune_link_init(tune_link_t *ln, const tune_link_conf_t *conf);

/* A connection is wanted from now on: connect at once (or when the
 * backoff of an earlier failure ends) */
void tune_link_start(tune_link_t *ln, int64_t now);

/* No connection is wanted: an open one is closed; the outage state and
 * the backoff are forgotten */
void tune_link_stop(tune_link_t *ln);

/* The host knows of an outage told already (by another process of the
 * same front-end): no second warning, and a line when Redis answers */
void tune_link_outage_told(tune_link_t *ln);

/*
 * What to do next: LOG and STATE lines first, then CONNECT, a hello SEND,
 * or a CLOSE; WAIT when the link has nothing to do before act->at (the
 * next deadline or the end of the backoff).  The strings of act are valid
 * until the next call into the machine.
 */
tune_do_t tune_link_next(tune_link_t *ln, int64_t now, tune_action_t *act);

/* the connection asked for is open */
void tune_link_connected(tune_link_t *ln, int64_t now);

/* the connection failed or was closed by the peer; reason: the
 * transport's words, NULL for "connection closed" */
void tune_link_dropped(tune_link_t *ln, int64_t now, const char *reason);

/* A reply to the oldest command in flight: 1 when it was the hello's
 * (taken), 0 when it is the user's to read */
int tune_link_reply(tune_link_t *ln, int64_t now, const tune_reply_t *reply);

/* the user sent a command of its own (the reply deadline starts) */
void tune_link_sent(tune_link_t *ln, int64_t now);

/* the user's command was answered as it should: an outage ends */
void tune_link_answered(tune_link_t *ln, int64_t now);

/* The user's command failed (an error reply, a reply of the wrong shape):
 * a failed contact, told once per outage; the connection stays */
void tune_link_failed(tune_link_t *ln, int64_t now, const char *reason);

/* Queues a line for the host (a user of the link words its own) */
void tune_link_log(tune_link_t *ln, tune_log_level_t level,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* connected and past the hello */
int tune_link_ready(const tune_link_t *ln);

/*
 * With Sentinels: ask them again where the master is, now (the user saw
 * no new data for several intervals: a failover its connection may not
 * have noticed).  A connection to the master goes, as a drop would; no
 * line is logged.  Without Sentinels nothing happens.
 */
void tune_link_rediscover(tune_link_t *ln, int64_t now);

/*
 * NULL when name (len bytes) may name a Sentinel's master: 1 to
 * TUNE_LINK_MASTER_MAX of A-Z a-z 0-9 . _ - (it goes into commands and log
 * lines); else why not, for the host's configuration error.
 */
const char *tune_link_master_name_check(const char *name, size_t len);

/* The master's address as the Sentinels last gave it, "host:port";
 * "" before any did (and always without Sentinels) */
const char *tune_link_master(const tune_link_t *ln);

/* the SHA1 of conf->script as Redis loaded it; "" when not loaded */
const char *tune_link_sha(const tune_link_t *ln);

/* a SCRIPT LOAD of the user's was answered (after NOSCRIPT) */
void tune_link_script_loaded(tune_link_t *ln, const tune_reply_t *reply);

/* the last failure's reason, and whether Redis refused the credentials */
const char *tune_link_why(const tune_link_t *ln);
int tune_link_refused(const tune_link_t *ln);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_LINK_H */
