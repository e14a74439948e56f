/*
 * The snapshot: one poll round of tuneslotd, as text in Redis and as a flat,
 * position-independent image in the front-ends' memory.
 *
 * The text format is specified in redis/SCHEMA.md.  tuneslotd formats it
 * with tune_snapshot_format_*(); the front-ends decode it once per new round
 * with tune_snapshot_decode() into an image that lives in a caller buffer
 * (nginx: copied into a shared memory zone; Apache: per child).  An image
 * holds only offsets, never pointers, so it may be memcpy'd anywhere.
 */

#ifndef TUNE_SNAPSHOT_H
#define TUNE_SNAPSHOT_H

#include "tune_core.h"

#ifdef __cplusplus
extern "C" {
#endif


#define TUNE_SNAPSHOT_VERSION   1
#define TUNE_REGION_MAX         64
#define TUNE_REASON_MAX         200
#define TUNE_WEIGHT_MAX         1000000

/* listeners, capacity or free slots with no limit */
#define TUNE_UNLIMITED          UINT32_MAX


typedef enum {
    TUNE_HEALTH_UP = 0,      /* backend polled fine, mount has a source */
    TUNE_HEALTH_DOWN,        /* backend's last poll failed */
    TUNE_HEALTH_NOSOURCE,    /* backend up, but this mount has no source */
    TUNE_HEALTH_DRAINING,    /* operator drains it: no new listeners */
    TUNE_HEALTH_UNKNOWN      /* a value this version does not know */
} tune_health_t;


/* "up", "down", "nosource", "draining" or "unknown" */
const char *tune_health_name(tune_health_t health);


/* ---- formatting (tuneslotd) ---------------------------------------- */

/*
 * Each tune_snapshot_format_*() writes one line, '\n' included, into out
 * (cap bytes) and returns the line's length, like snprintf(): if the result
 * is >= cap nothing usable was written and the caller retries with a larger
 * buffer.  It returns 0 when a field breaks the schema's rules (then *rc
 * says which); the caller must not write such a record.
 *
 * tune_snapshot_format_header() writes the three header lines at once
 * ("tuneslot-snapshot", "written_ms", "interval_ms"); having no rc, it
 * signals its only possible error, a negative written_ms, by returning 0.
 *
 * tune_snapshot_format_end() writes the "end" line, which must be the last
 * line of every snapshot: readers refuse a text without it, so a snapshot
 * cut short is never taken for a whole one.  It cannot fail.
 */

size_t tune_snapshot_format_header(char *out, size_t cap, int64_t written_ms,
    uint32_t interval_ms);

size_t tune_snapshot_format_end(char *out, size_t cap);


typedef struct {
    const char       *name;
    size_t            name_len;
    tune_health_t     health;
    int64_t           polled_ms;
    const char       *reason;       /* "" when up; tabs/CR/LF not allowed */
    size_t            reason_len;
} tune_backend_fields_t;

size_t tune_snapshot_format_backend(char *out, size_t cap,
    const tune_backend_fields_t *b, tune_rc_t *rc);


typedef struct {
    const char       *stream;
    size_t            stream_len;
    const char       *backend;
    size_t            backend_len;
    tune_health_t     health;
    uint32_t          listeners;
    uint32_t          capacity;     /* TUNE_UNLIMITED: no limit known */
    uint32_t          free;         /* TUNE_UNLIMITED: no limit known */
    uint32_t          weight;       /* 0..TUNE_WEIGHT_MAX */
    const char       *region;       /* "" or a region name */
    size_t            region_len;
    int64_t           polled_ms;
    const char       *url;          /* public listen URL */
    size_t            url_len;
} tune_slot_fields_t;

size_t tune_snapshot_format_slot(char *out, size_t cap,
    const tune_slot_fields_t *s, tune_rc_t *rc);


/* ---- the decoded image (front-ends) -------------------------------- */

typedef struct {
    uint32_t          off;          /* from the start of the image */
    uint32_t          len;
} tune_str_t;


typedef struct {
    tune_str_t        name;
    uint32_t          first_slot;   /* index into the slot table */
    uint32_t          nslots;
} tune_image_stream_t;


typedef struct {
    tune_str_t        backend;
    tune_str_t        url;
    tune_str_t        region;
    uint32_t          listeners;
    uint32_t          capacity;
    uint32_t          free;
    uint32_t          weight;
    uint32_t          health;       /* tune_health_t */
    uint32_t          flags;        /* TUNE_SLOT_*, set by the host */
    uint32_t          scheme;       /* the url's TUNE_SCHEME_* bit */
    int64_t           polled_ms;
} tune_image_slot_t;

/* the host's allowlist refuses the slot's URL (tune_image_allow()) */
#define TUNE_SLOT_REFUSED       0x1u


typedef struct {
    tune_str_t        name;
    tune_str_t        reason;
    uint32_t          health;       /* tune_health_t */
    int64_t           polled_ms;
} tune_image_backend_t;


typedef struct {
    uint32_t          magic;        /* TUNE_IMAGE_MAGIC */
    uint32_t          size;         /* bytes used, header included */
    uint64_t          generation;   /* as given to tune_snapshot_decode() */
    int64_t           written_ms;
    uint32_t          interval_ms;
    uint32_t          nstreams;     /* sorted by name (bytewise) */
    uint32_t          nslots;       /* grouped by stream, text order kept */
    uint32_t          nbackends;    /* text order */
    uint32_t          streams_off;
    uint32_t          slots_off;
    uint32_t          backends_off;
    uint32_t          nrefused;     /* slots marked TUNE_SLOT_REFUSED */
} tune_image_t;

#define TUNE_IMAGE_MAGIC        0x544e5332u     /* "TNS2" */


typedef struct {
    unsigned          line;         /* 1-based line of the error, 0: none */
    tune_rc_t         rc;
    const char       *reason;       /* static text */
} tune_decode_err_t;


/*
 * An upper bound of the image size for a snapshot text of len bytes, for
 * sizing a decode buffer; the size tune_snapshot_decode() returns is exact
 * and decoding succeeds with cap equal to it.
 */
#define TUNE_IMAGE_SIZE_MAX(len)   ((size_t) (len) * 3 + 128)


/*
 * Decodes snapshot text (len bytes, not NUL-terminated) into an image in buf
 * (cap bytes, 8-byte aligned).  Returns the image size, or 0 on error with
 * *err filled (TUNE_ERR_NO_SPACE when cap is too small).  On error the
 * contents of buf (never more than cap bytes) are unspecified: never decode
 * over the image in use.  The text must close with the end line: a text
 * without it was cut short and is refused.  Every name, URL, number and
 * region is validated; lines of an unknown record type and health values
 * this version does not know are accepted for forward compatibility (the
 * latter become TUNE_HEALTH_UNKNOWN and are never offered).  A slot whose
 * stream has no other slots still creates the stream.
 */
size_t tune_snapshot_decode(const char *text, size_t len, uint64_t generation,
    void *buf, size_t cap, tune_decode_err_t *err);


/* The image in buf if it is one (magic and size sane), else NULL. */
const tune_image_t *tune_image_get(const void *buf, size_t cap);

const tune_image_stream_t *tune_image_streams(const tune_image_t *img);
const tune_image_slot_t *tune_image_slots(const tune_image_t *img);
const tune_image_backend_t *tune_image_backends(const tune_image_t *img);

/* The bytes of a string of the image (not NUL-terminated). */
const char *tune_image_str(const tune_image_t *img, tune_str_t s);

/*
 * The value of the generation key ({tuneslot:v1}:generation) as Redis
 * returns it: a decimal of 1 to 19 digits; 0 for anything else (INCR never
 * gives 0, so 0 means "not a generation").
 */
uint64_t tune_generation_parse(const char *text, size_t len);

/* Binary search by name: the stream, or NULL. */
const tune_image_stream_t *tune_image_find_stream(const tune_image_t *img,
    const char *name, size_t len);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_SNAPSHOT_H */
