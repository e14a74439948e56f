/*
 * Slot selection: which slot of a stream a new listener is sent to.
 *
 * v1 policy, least loaded: among the stream's slots with health "up", the
 * one with the best score, free slots times the backend's weight (weight
 * 100 counts free slots as reported, 200 twice, 0 never offers the slot;
 * TUNE_UNLIMITED free slots count as the most).  A slot without free slots
 * is never offered.  Ties are broken by the caller's random number, so equal
 * slots share new listeners instead of one taking them all.
 */

#ifndef TUNE_SELECT_H
#define TUNE_SELECT_H

#include "tune_snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif


/*
 * On TUNE_OK *slot is an index into tune_image_slots(img).  TUNE_ERR_NO_SLOT
 * when no slot of the stream may be offered.  rnd is any random 32-bit value
 * (tests pass fixed ones).
 */
tune_rc_t tune_select(const tune_image_t *img,
    const tune_image_stream_t *stream, uint32_t rnd, uint32_t *slot);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_SELECT_H */
