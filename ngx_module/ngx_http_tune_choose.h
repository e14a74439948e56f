
/*
 * Copyright (C) tuneslot developers
 */


#ifndef _NGX_HTTP_TUNE_CHOOSE_H_INCLUDED_
#define _NGX_HTTP_TUNE_CHOOSE_H_INCLUDED_


#include "ngx_http_tune_module.h"
#include "ngx_http_tune_shm.h"


/* every offerable slot is taken: tune_full decides (not an HTTP status) */
#define NGX_HTTP_TUNE_FULL   1

/* no slot of ctx->schemes has room, one of another has (an HTTPS tune-in
 * and http:// slots): tune_https_fallback decides */
#define NGX_HTTP_TUNE_OTHER_SCHEME  2


/* a slot as a playlist lists it, copied out of the zone */
typedef struct {
    ngx_str_t                 backend;
    ngx_str_t                 url;
} ngx_http_tune_entry_t;


/*
 * Chooses a slot for ctx->stream among those not in ctx->tried, records
 * the tune-in (herd accounting) and sets ctx->backend and ctx->url.  With
 * "ranked" (an array of ngx_http_tune_entry_t) it also lists the chosen
 * slot and then every other offerable slot, best first.
 *
 * Only slots of ctx->schemes are chosen or listed.
 *
 * Returns NGX_OK, NGX_HTTP_TUNE_FULL, NGX_HTTP_TUNE_OTHER_SCHEME (nothing
 * recorded), NGX_HTTP_NOT_FOUND (no such stream),
 * NGX_HTTP_SERVICE_UNAVAILABLE (no snapshot, a stale one, or no slot up;
 * *retry_after says when to come back, in seconds) or
 * NGX_HTTP_INTERNAL_SERVER_ERROR.
 */
ngx_int_t ngx_http_tune_choose(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx, ngx_array_t *ranked, ngx_uint_t *retry_after);




#endif /* _NGX_HTTP_TUNE_CHOOSE_H_INCLUDED_ */
