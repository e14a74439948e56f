/*
 * Inside the front-end's refresher: what its read (tune_refresh.c) and its
 * herd claims (tune_refresh_claim.c) share.  Not for hosts.
 */

#ifndef TUNE_REFRESH_CLAIM_H
#define TUNE_REFRESH_CLAIM_H

#include "tune_refresh.h"


/* the claim's states */
enum {
    TUNE_CLAIM_IDLE = 0,
    TUNE_CLAIM_COLLECT,          /* TUNE_DO_HERD owed: gather the claims */
    TUNE_CLAIM_OWED,             /* gathered, to be sent */
    TUNE_CLAIM_SENT,
    TUNE_CLAIM_DONE              /* answered: a TUNE_DO_HERD settles it */
};

/* what a TUNE_DO_HERD carries out, in this order */
#define TUNE_HERD_OP_TAKEOVER   0x01
#define TUNE_HERD_OP_UNCLAIMED  0x02
#define TUNE_HERD_OP_GRANTED    0x04
#define TUNE_HERD_OP_LOCAL      0x08
#define TUNE_HERD_OP_COLLECT    0x10
#define TUNE_HERD_OP_REFUSED    0x20    /* with LOCAL: Redis said no */


/* The herd script answered the claim in flight */
void tune_refresh_claimed(tune_refresh_t *rf, int64_t now,
    const tune_reply_t *reply);

/* The claim failed: this front-end counts its own tune-ins only, and says
 * so once */
void tune_refresh_claim_failed(tune_refresh_t *rf, const char *reason,
    size_t len);


#endif /* TUNE_REFRESH_CLAIM_H */
