
/*
 * Copyright (C) tuneslot developers
 */


#include "ngx_http_tune_herd.h"


tune_herd_t *
ngx_http_tune_herd_create(ngx_slab_pool_t *shpool, size_t zone_size)
{
    void    *buf;
    size_t   cap;

    /* one flat buffer: tune_herd_init() lays the table out in it */
    cap = zone_size / NGX_HTTP_TUNE_HERD_SHARE;

    buf = ngx_slab_alloc(shpool, cap);
    if (buf == NULL) {
        return NULL;
    }

    return tune_herd_init(buf, cap);
}
