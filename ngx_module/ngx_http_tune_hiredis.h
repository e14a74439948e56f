
/*
 * Copyright (C) tuneslot developers
 */


#ifndef _NGX_HTTP_TUNE_HIREDIS_H_INCLUDED_
#define _NGX_HTTP_TUNE_HIREDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


/*
 * Attaches a hiredis async context to nginx's event loop: its socket becomes
 * an ngx_connection_t whose level-triggered read and write events drive
 * redisAsyncHandleRead() and redisAsyncHandleWrite().  hiredis owns and
 * closes the socket; the connection is released by hiredis's cleanup hook.
 * Returns NGX_ERROR when the context is attached already or no connection
 * is free (worker_connections).
 */
ngx_int_t ngx_http_tune_hiredis_attach(redisAsyncContext *ac, ngx_log_t *log);


#endif /* _NGX_HTTP_TUNE_HIREDIS_H_INCLUDED_ */
