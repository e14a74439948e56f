/*
 * Copyright (C) tuneslot developers
 */


#ifndef TUNE_HTTPS_H
#define TUNE_HTTPS_H

#include "mod_tune.h"
#include "tune_conf.h"

#include <stdint.h>


/*
 * The TUNE_SCHEME_* bits of the slots a tune-in of r may be redirected
 * to: https:// alone for one that came over HTTPS (unless TuneHttpsOnly
 * Off), http:// and https:// otherwise.
 */
uint32_t mtune_https_schemes(request_rec *r, const mtune_dir_conf_t *dc);

/* TuneHttpsProxies address|address/bits ... */
const char *mtune_cmd_https_proxies(cmd_parms *cmd, void *cfg,
    const char *arg);

/* TuneHttpsFallback full|proxy */
const char *mtune_cmd_https_fallback(cmd_parms *cmd, void *cfg,
    const char *arg);


#endif /* TUNE_HTTPS_H */
