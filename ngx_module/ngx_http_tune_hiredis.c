
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_hiredis.h"


static void ngx_http_tune_hiredis_read_handler(ngx_event_t *rev);
static void ngx_http_tune_hiredis_write_handler(ngx_event_t *wev);
static void ngx_http_tune_hiredis_add_read(void *privdata);
static void ngx_http_tune_hiredis_del_read(void *privdata);
static void ngx_http_tune_hiredis_add_write(void *privdata);
static void ngx_http_tune_hiredis_del_write(void *privdata);
static void ngx_http_tune_hiredis_cleanup(void *privdata);


ngx_int_t
ngx_http_tune_hiredis_attach(redisAsyncContext *ac, ngx_log_t *log)
{
    ngx_connection_t  *c;

    if (ac->ev.data != NULL) {
        return NGX_ERROR;
    }

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = ngx_http_tune_hiredis_read_handler;
    c->write->handler = ngx_http_tune_hiredis_write_handler;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_tune_hiredis_add_read;
    ac->ev.delRead = ngx_http_tune_hiredis_del_read;
    ac->ev.addWrite = ngx_http_tune_hiredis_add_write;
    ac->ev.delWrite = ngx_http_tune_hiredis_del_write;
    ac->ev.cleanup = ngx_http_tune_hiredis_cleanup;

    return NGX_OK;
}


static void
ngx_http_tune_hiredis_read_handler(ngx_event_t *rev)
{
    ngx_connection_t  *c;

    c = rev->data;

    /* may run the cleanup hook: c is not touched afterwards */
    redisAsyncHandleRead(c->data);
}


static void
ngx_http_tune_hiredis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t  *c;

    c = wev->data;

    redisAsyncHandleWrite(c->data);
}


/*
 * hiredis expects level-triggered readiness and idempotent hooks: it asks
 * for write events while its output buffer holds data, and reads one chunk
 * per read event rather than until EAGAIN, so edge-triggered (EPOLLET)
 * events would lose wake-ups.
 */

static void
ngx_http_tune_hiredis_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                          "tune: cannot add redis read event");
        }
    }
}


static void
ngx_http_tune_hiredis_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_tune_hiredis_add_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                          "tune: cannot add redis write event");
        }
    }
}


static void
ngx_http_tune_hiredis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_tune_hiredis_cleanup(void *privdata)
{
    ngx_connection_t   *c = privdata;
    redisAsyncContext  *ac;

    if (c == NULL) {
        return;
    }

    ac = c->data;

    ngx_http_tune_hiredis_del_read(c);
    ngx_http_tune_hiredis_del_write(c);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ac->ev.data = NULL;

    /* hiredis closes the socket itself right after this hook */
    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}
