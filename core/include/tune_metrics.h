/*
 * Per-decision metrics of the front-ends, written once for
 * ngx_http_tune_module's tune_metrics and mod_tune's tune-metrics: counters
 * every worker or child adds to in the shared memory it already has (so a
 * scrape sees them all, and a reload or graceful restart keeps them), and
 * the Prometheus text of them with the gauges of what the front-end holds.
 *
 *   tuneslot_tuneins_total{stream,outcome}            counter
 *   tuneslot_tunein_assignments_total{stream,backend} counter
 *   tuneslot_proxy_attempts_total{backend,result}     counter
 *   tuneslot_metrics_series_dropped_total             counter
 *   tuneslot_snapshot_generation                      gauge
 *   tuneslot_snapshot_age_seconds                     gauge
 *   tuneslot_redis_up                                 gauge
 *   tuneslot_herd_pending{stream}                     gauge
 *   tuneslot_herd_credits{stream}                     gauge
 *   tuneslot_build_info{version,frontend}             gauge, 1
 *
 * The series are bounded by what the host adds: stream and backend names
 * of the snapshot only (a name a listener asked for is never a label
 * unless the snapshot has that stream), and fixed words for outcomes and
 * results.  A label given empty is left out (a host that drops the stream
 * label adds "" for every stream).  A table full counts what it cannot
 * hold in tuneslot_metrics_series_dropped_total instead.
 *
 * The table is a header and its entries in one caller buffer, so it holds
 * no pointer and may be mapped anywhere; adding is lock-free (a series'
 * entry is claimed by compare-and-swap, its count added atomically), so
 * any number of processes may add while one writes the text.
 */

#ifndef TUNE_METRICS_H
#define TUNE_METRICS_H

#include "tune_status.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef enum {
    TUNE_METRIC_TUNEINS = 1,        /* a: stream, b: outcome */
    TUNE_METRIC_ASSIGNMENTS,        /* a: stream, b: backend */
    TUNE_METRIC_PROXY_ATTEMPTS      /* a: backend, b: result */
} tune_metric_t;

/* a label value is at most this long (a name, docs/names.md) */
#define TUNE_METRIC_LABEL_MAX  128

typedef struct tune_metrics_s  tune_metrics_t;


/* Bytes for a table of n series */
size_t tune_metrics_size(size_t n);

/* Makes an empty table in buf (cap bytes, 8-byte aligned) with as many
 * series as fit; NULL when not even one does */
tune_metrics_t *tune_metrics_init(void *buf, size_t cap);

/* The table made in buf by tune_metrics_init(), or NULL if it is not one */
tune_metrics_t *tune_metrics_get(void *buf, size_t cap);

/* How many series the table holds at most */
size_t tune_metrics_capacity(const tune_metrics_t *m);

/*
 * One more of the series (metric, a, b); a label longer than
 * TUNE_METRIC_LABEL_MAX, or one holding a byte outside printable ASCII or
 * a quote or backslash, makes no series (returns -1, as does a full table,
 * both counted as dropped).  Returns 0 when counted.
 */
int tune_metrics_add(tune_metrics_t *m, tune_metric_t metric,
    const char *a, size_t a_len, const char *b, size_t b_len);

/*
 * Adds every series of src whose labels are written into dst (a table of
 * another size: a resized segment), as far as dst has room; what it has
 * not is counted as dropped there.  src may be added to meanwhile: what
 * comes after its series was read stays in src.
 */
void tune_metrics_merge(tune_metrics_t *dst, const tune_metrics_t *src);

/* A series' count, 0 when it has none (for tests and checks) */
uint64_t tune_metrics_count(const tune_metrics_t *m, tune_metric_t metric,
    const char *a, size_t a_len, const char *b, size_t b_len);


typedef struct {
    const tune_status_in_t     *status;       /* the image, age, herd, */
                                              /*   Redis (as tune_status) */
    const tune_metrics_t       *counters;     /* NULL: none yet */
    const char                 *version;      /* tuneslot's */
    const char                 *frontend;     /* "nginx", "apache" */
} tune_metrics_in_t;

/*
 * A length for the buffer: the text of the series in use now, and a few
 * more; series claimed meanwhile (adding takes no lock) may need more,
 * which the write says.
 */
size_t tune_metrics_text_size(const tune_metrics_in_t *in);

/*
 * Writes the Prometheus text (format 0.0.4) into out (cap bytes; no NUL).
 * Returns its length; above cap, out holds only the start and must not be
 * sent: ask tune_metrics_text_size() again (SIZE_MAX: the length would
 * overflow).  Reads the herd table: the host holds its lock over it and
 * the image.
 */
size_t tune_metrics_write(const tune_metrics_in_t *in, char *out, size_t cap);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_METRICS_H */
