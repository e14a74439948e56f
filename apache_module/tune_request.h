/*
 * Copyright (C) tuneslot developers
 *
 * The request side: which slot a tune-in gets, and how it is answered.
 */

#ifndef MTUNE_REQUEST_H
#define MTUNE_REQUEST_H


#include "tune_conf.h"

#include <tune_playlist.h>


/* every offerable slot is taken: TuneFull decides (not an HTTP status) */
#define TUNE_FULL   1

/* no slot of ctx->schemes has room, one of another has (an HTTPS tune-in
 * and http:// slots): TuneHttpsFallback decides */
#define TUNE_OTHER_SCHEME   2


/* One tune-in, kept in r->request_config */
typedef struct {
    int                       parsed;        /* name looked at */
    int                       invalid;       /* ... and refused (400) */
    const char               *stream;        /* NUL-terminated */
    tune_playlist_format_t    playlist;
    const char               *stem_uri;      /* r->uri without the suffix */

    const char               *backend;       /* NULL: the TuneFull URL */
    const char               *url;
    const char               *outcome;

    uint32_t                  schemes;       /* TUNE_SCHEME_* bits of the
                                                slots it may be sent to */
    int                       https;         /* an HTTPS tune-in, kept to
                                                https:// slots */
    int                       chosen;        /* the fixup chose: redirect */
    int                       fallback;      /* TuneHttpsFallback proxy
                                                may take over */
    int                       peek;          /* HEAD: not counted */
    int                       status;        /* fixups' answer, 0: none */
    int                       retry_after;

    int                       reserved;      /* TuneProxyReserve: answered
                                                without taking a worker */
    int                       proxying;      /* handed to mod_proxy */
    int                       inside;        /* mod_proxy's handler runs */
    int                       ntried;
    const char               *tried[TUNE_PROXY_TRIES_MAX];
    /* how each slot tried answered: ok, refused, timeout, 4xx, 5xx */
    const char               *results[TUNE_PROXY_TRIES_MAX];

    int                       known;         /* the snapshot had stream */
    int                       counted;       /* in the metrics */
} mtune_ctx_t;


/* A slot as a playlist lists it */
typedef struct {
    const char               *backend;       /* NULL: not a slot */
    const char               *url;
} mtune_entry_t;


/* hooks (mod_tune.c registers them) */
int mtune_translate_name(request_rec *r);
int mtune_map_to_storage(request_rec *r);
int mtune_fixups(request_rec *r);
int mtune_proxy_handler(request_rec *r);
int mtune_handler(request_rec *r);
int mtune_status_handler(request_rec *r);
int mtune_metrics_handler(request_rec *r);
int mtune_metrics_log(request_rec *r);
const char *mtune_attempt_result(int status, int relayed);
void mtune_icy_register(apr_pool_t *p);

/*
 * Chooses a slot for ctx->stream among those not tried yet, records the
 * tune-in (herd accounting, unless ctx->peek) and sets ctx->backend and
 * ctx->url.  With ranked (an array of mtune_entry_t) it also lists the
 * chosen slot and then every other offerable slot, best first.
 *
 * Only slots of ctx->schemes are chosen or listed.
 *
 * Returns OK, TUNE_FULL, TUNE_OTHER_SCHEME (nothing recorded),
 * HTTP_NOT_FOUND (no such stream),
 * HTTP_SERVICE_UNAVAILABLE (no snapshot, a stale one, or no slot up;
 * ctx->retry_after says when to come back, in seconds) or
 * HTTP_INTERNAL_SERVER_ERROR.
 */
int mtune_choose(request_rec *r, mtune_ctx_t *ctx, apr_array_header_t *ranked);

/* The TuneFull URL into ctx->url: OK, or HTTP_SERVICE_UNAVAILABLE */
int mtune_overflow(request_rec *r, mtune_ctx_t *ctx);

/* the no-store header of every answer of ours */
void mtune_no_store(request_rec *r);


#endif /* MTUNE_REQUEST_H */
