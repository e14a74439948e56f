/*
 * The front-end's refresher (tune_refresh.h): its herd claims, every
 * TUNE_HERD_TICK_MS while credits are spent (redis/SCHEMA.md, "Herd
 * control"), and what their replies do to the host's herd table.
 */

#include "tune_refresh.h"
#include "tune_refresh_claim.h"

#include <string.h>


/* why a claim failed, in its line */
#define TUNE_REFRESH_UNEXPECTED "unexpected reply"
#define TUNE_REFRESH_BAD_ID     "the host name makes no valid front-end id"


/* The herd script's reply */

void
tune_refresh_claimed(tune_refresh_t *rf, int64_t now,
    const tune_reply_t *reply)
{
    int          refused;
    size_t       i, n, len;
    const char  *reason;

    n = rf->nclaims;
    refused = 1;
    reason = TUNE_REFRESH_UNEXPECTED;
    len = sizeof(TUNE_REFRESH_UNEXPECTED) - 1;

    if (reply->type == TUNE_REPLY_ERROR) {

        if (reply->len >= 8 && memcmp(reply->str, "NOSCRIPT", 8) == 0) {
            /* SCRIPT FLUSH or a failover: nothing ran; load it again */
            rf->claim = TUNE_CLAIM_DONE;
            rf->herd_ops |= TUNE_HERD_OP_UNCLAIMED;
            rf->reload_script = 1;
            return;
        }

        reason = reply->str;
        len = reply->len;

        /* a Redis loading its data or a replica (a failover under way)
         * refuses nothing for good: a claim not answered, not refused */
        refused = !((reply->len >= 7 && memcmp(reply->str, "LOADING", 7) == 0)
                    || (reply->len >= 8
                        && memcmp(reply->str, "READONLY", 8) == 0));
        goto failed;
    }

    if (reply->type != TUNE_REPLY_ARRAY || reply->elements != 2 * n
        || reply->element == NULL)
    {
        goto failed;
    }

    for (i = 0; i < 2 * n; i++) {
        if (reply->element[i].type != TUNE_REPLY_INTEGER
            || reply->element[i].integer < 0)
        {
            goto failed;
        }

        rf->work->granted[i] = reply->element[i].integer;
    }

    if (rf->herd_logged) {
        tune_link_log(&rf->link, TUNE_LOG_NOTICE,
                      "herd claims at redis at %s work again",
                      rf->conf.link.display);
        rf->herd_logged = 0;
    }

    rf->claim = TUNE_CLAIM_DONE;
    rf->herd_ops |= TUNE_HERD_OP_GRANTED;

    return;

failed:

    tune_refresh_claim_failed(rf, reason, len);

    if (!refused) {
        rf->herd_ops &= ~TUNE_HERD_OP_REFUSED;
    }

    /*
     * A script that fails (an ACL user without EVAL, a script error) fails
     * the same way every tick: try again once per refresh, not twenty times
     * a second with the script's text each time.
     */
    if (rf->next_claim < now + rf->conf.refresh_ms) {
        rf->next_claim = now + rf->conf.refresh_ms;
    }
}


/* The claim failed: this front-end counts its own tune-ins only, and says
 * so once */

void
tune_refresh_claim_failed(tune_refresh_t *rf, const char *reason, size_t len)
{
    size_t  n;
    char    words[256];

    rf->claim = TUNE_CLAIM_DONE;
    rf->herd_ops |= TUNE_HERD_OP_LOCAL | TUNE_HERD_OP_REFUSED;

    if (!rf->herd_logged) {
        /* Redis's words may hold any byte: a "\n" would forge a line */
        n = tune_log_escape(words, sizeof(words), reason ? reason : "",
                            reason ? (len > 200 ? 200 : len) : 0);

        tune_link_log(&rf->link, TUNE_LOG_WARN,
                      "herd claim at redis at %s failed: %.*s; counting "
                      "this %s's tune-ins only", rf->conf.link.display,
                      (int) n, words, rf->conf.host_name);
        rf->herd_logged = 1;
    }
}


void
tune_refresh_herd(tune_refresh_t *rf, tune_herd_t *herd,
    const tune_image_t *img, int64_t wall_ms)
{
    size_t             n;
    unsigned           ops;
    tune_refresh_work_t  *w;

    ops = rf->herd_ops;
    rf->herd_ops = 0;
    w = rf->work;

    if (rf->claim == TUNE_CLAIM_DONE) {
        rf->claim = TUNE_CLAIM_IDLE;
    }

    if (herd == NULL) {
        if (ops & TUNE_HERD_OP_COLLECT) {
            rf->claim = TUNE_CLAIM_IDLE;
        }

        return;
    }

    if (ops & TUNE_HERD_OP_TAKEOVER) {
        tune_herd_takeover(herd);
    }

    if ((ops & TUNE_HERD_OP_UNCLAIMED) && w) {
        tune_herd_unclaimed(herd, w->claims, rf->nclaims);
    }

    if ((ops & TUNE_HERD_OP_GRANTED) && w) {
        (void) tune_herd_granted(herd, w->claims, rf->nclaims,
                                 rf->conf.herd_window_ms, rf->claim_sent_ms,
                                 w->granted);
    }

    if (ops & TUNE_HERD_OP_REFUSED) {
        tune_herd_refused(herd);

    } else if (ops & TUNE_HERD_OP_LOCAL) {
        tune_herd_local(herd);
    }

    if (!(ops & TUNE_HERD_OP_COLLECT)) {
        return;
    }

    rf->claim = TUNE_CLAIM_IDLE;

    if (w == NULL || img == NULL || !rf->leading) {
        return;
    }

    /* an idle tick costs a walk over the slots, no command */
    n = tune_herd_claims(herd, img, wall_ms, rf->conf.herd_window_ms,
                         w->claims, TUNE_REFRESH_CLAIM_MAX);
    if (n == 0) {
        return;
    }

    rf->nclaims = n;
    rf->claim_sent_ms = wall_ms;

    rf->claim_argc = tune_herd_args(w->claims, n, wall_ms,
                                    rf->conf.herd_window_ms,
                                    rf->conf.herd_id, rf->conf.herd_id_len,
                                    w->args, sizeof(w->args), w->argv + 2,
                                    w->argvlen + 2);

    if (rf->claim_argc == 0) {
        /* the script would refuse it just the same */
        tune_herd_refused(herd);
        tune_refresh_claim_failed(rf, TUNE_REFRESH_BAD_ID,
                                  sizeof(TUNE_REFRESH_BAD_ID) - 1);
        rf->herd_ops &= ~(TUNE_HERD_OP_LOCAL | TUNE_HERD_OP_REFUSED);
        rf->claim = TUNE_CLAIM_IDLE;
        return;
    }

    rf->claim = TUNE_CLAIM_OWED;
}
