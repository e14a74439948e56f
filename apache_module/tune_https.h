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
 * to: those of TuneSchemes (http:// and https:// by default), less
 * http:// for one that came over HTTPS (*https set; unless TuneHttpsOnly
 * Off); TUNE_SCHEMES_NONE when that leaves none.
 */
uint32_t mtune_https_schemes(request_rec *r, const mtune_dir_conf_t *dc,
    int *https);

/* TuneSchemes scheme ... */
const char *mtune_cmd_schemes(cmd_parms *cmd, void *cfg, const char *arg);

/* TuneHttpsProxies address|address/bits ... */
const char *mtune_cmd_https_proxies(cmd_parms *cmd, void *cfg,
    const char *arg);

/* TuneHttpsFallback full|proxy */
const char *mtune_cmd_https_fallback(cmd_parms *cmd, void *cfg,
    const char *arg);


#endif /* TUNE_HTTPS_H */
