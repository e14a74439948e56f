
/*
 * Copyright (C) tuneslot developers
 */


#ifndef _NGX_HTTP_TUNE_PLAYLIST_H_INCLUDED_
#define _NGX_HTTP_TUNE_PLAYLIST_H_INCLUDED_


#include "ngx_http_tune_module.h"


/*
 * Whether the name asks for a playlist ("demo.m3u", ".pls", ".xspf"); if
 * so, name is shortened to the stream's name.
 */
ngx_http_tune_answer_e ngx_http_tune_playlist_kind(ngx_http_request_t *r,
    ngx_str_t *name);

/*
 * Answers a playlist of ctx->stream: in redirect mode the chosen slot's
 * URL first, then every other offerable slot, best first; in proxy mode
 * this location's own URL for the stream.  Returns what the handler
 * returns, or an error status for the handler to answer (*retry_after
 * with a 503).
 */
ngx_int_t ngx_http_tune_playlist(ngx_http_request_t *r,
    ngx_http_tune_ctx_t *ctx, ngx_http_tune_answer_e kind,
    ngx_uint_t *retry_after);


#endif /* _NGX_HTTP_TUNE_PLAYLIST_H_INCLUDED_ */
