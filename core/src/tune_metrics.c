/*
 * Per-decision metrics (tune_metrics.h): the counter table and its text.
 *
 * An entry holds one series: its key (a hash of the metric and both label
 * values, 0 for a free entry), whether its labels are written, the labels,
 * and its count.  Entries are claimed with compare-and-swap on the key and
 * never freed: the series a front-end can have are bounded by the names of
 * its snapshots, and a count must not go back while Prometheus watches it.
 */

#include <string.h>

#include "tune_metrics.h"
#include "tune_wbuf.h"


#define TUNE_METRICS_MAGIC    0x544d5431u       /* "TMT1" */

/* entries looked at for one series */
#define TUNE_METRICS_PROBES   64


typedef struct {
    uint64_t          key;          /* 0: free; claimed by CAS */
    uint64_t          value;        /* added to atomically */
    uint32_t          ready;        /* labels written (release/acquire) */
    uint8_t           metric;
    uint8_t           a_len;
    uint8_t           b_len;
    uint8_t           unused;
    char              a[TUNE_METRIC_LABEL_MAX];
    char              b[TUNE_METRIC_LABEL_MAX];
} tune_metrics_entry_t;


struct tune_metrics_s {
    uint32_t          magic;
    uint32_t          entry_size;
    uint64_t          size;         /* bytes, header included */
    uint64_t          nentries;
    uint64_t          dropped;      /* series that found no room */
    uint64_t          used;         /* entries claimed */
};


static tune_metrics_entry_t *tune_metrics_entries(const tune_metrics_t *m);
static uint64_t tune_metrics_key(tune_metric_t metric, const char *a,
    size_t a_len, const char *b, size_t b_len);
static int tune_metrics_label_ok(const char *s, size_t len);
static tune_metrics_entry_t *tune_metrics_find(tune_metrics_t *m,
    uint64_t key, tune_metric_t metric, const char *a, size_t a_len,
    const char *b, size_t b_len, int claim);
static int tune_metrics_same(const tune_metrics_entry_t *e,
    tune_metric_t metric, const char *a, size_t a_len, const char *b,
    size_t b_len);
static void tune_metrics_series(tune_wbuf_t *w, const tune_metrics_t *m,
    tune_metric_t metric, const char *name, const char *a_label,
    const char *b_label);
static void tune_metrics_help(tune_wbuf_t *w, const char *name,
    const char *type, const char *help);
static void tune_metrics_lit(tune_wbuf_t *w, const char *s);
static void tune_metrics_label(tune_wbuf_t *w, int *first, const char *name,
    const char *value, size_t len);


/* ---- the table ----------------------------------------------------- */

size_t
tune_metrics_size(size_t n)
{
    if (n > (SIZE_MAX - sizeof(tune_metrics_t))
            / sizeof(tune_metrics_entry_t))
    {
        return SIZE_MAX;
    }

    return sizeof(tune_metrics_t) + n * sizeof(tune_metrics_entry_t);
}


tune_metrics_t *
tune_metrics_init(void *buf, size_t cap)
{
    size_t           n;
    tune_metrics_t  *m;

    if (buf == NULL || (uintptr_t) buf % 8 != 0
        || cap < tune_metrics_size(1))
    {
        return NULL;
    }

    n = (cap - sizeof(tune_metrics_t)) / sizeof(tune_metrics_entry_t);

    memset(buf, 0, tune_metrics_size(n));

    m = buf;
    m->magic = TUNE_METRICS_MAGIC;
    m->entry_size = sizeof(tune_metrics_entry_t);
    m->size = tune_metrics_size(n);
    m->nentries = n;

    return m;
}


tune_metrics_t *
tune_metrics_get(void *buf, size_t cap)
{
    tune_metrics_t  *m;

    if (buf == NULL || (uintptr_t) buf % 8 != 0
        || cap < sizeof(tune_metrics_t))
    {
        return NULL;
    }

    m = buf;

    if (m->magic != TUNE_METRICS_MAGIC
        || m->entry_size != sizeof(tune_metrics_entry_t)
        || m->nentries == 0
        || m->size != tune_metrics_size(m->nentries)
        || m->size > cap)
    {
        return NULL;
    }

    return m;
}


size_t
tune_metrics_capacity(const tune_metrics_t *m)
{
    return m->nentries;
}


int
tune_metrics_add(tune_metrics_t *m, tune_metric_t metric,
    const char *a, size_t a_len, const char *b, size_t b_len)
{
    uint64_t               key;
    tune_metrics_entry_t  *e;

    if (!tune_metrics_label_ok(a, a_len) || !tune_metrics_label_ok(b, b_len)
        || metric < TUNE_METRIC_TUNEINS || metric > TUNE_METRIC_PROXY_ATTEMPTS)
    {
        __atomic_fetch_add(&m->dropped, 1, __ATOMIC_RELAXED);
        return -1;
    }

    key = tune_metrics_key(metric, a, a_len, b, b_len);

    e = tune_metrics_find(m, key, metric, a, a_len, b, b_len, 1);
    if (e == NULL) {
        __atomic_fetch_add(&m->dropped, 1, __ATOMIC_RELAXED);
        return -1;
    }

    __atomic_fetch_add(&e->value, 1, __ATOMIC_RELAXED);

    return 0;
}


void
tune_metrics_merge(tune_metrics_t *dst, const tune_metrics_t *src)
{
    uint64_t                     i, value;
    tune_metrics_entry_t        *d;
    const tune_metrics_entry_t  *e;

    e = tune_metrics_entries(src);

    for (i = 0; i < src->nentries; i++, e++) {
        if (__atomic_load_n(&e->key, __ATOMIC_ACQUIRE) == 0
            || !__atomic_load_n(&e->ready, __ATOMIC_ACQUIRE))
        {
            continue;
        }

        value = __atomic_load_n(&e->value, __ATOMIC_RELAXED);

        d = tune_metrics_find(dst, e->key, (tune_metric_t) e->metric,
                              e->a, e->a_len, e->b, e->b_len, 1);
        if (d == NULL) {
            __atomic_fetch_add(&dst->dropped, value, __ATOMIC_RELAXED);
            continue;
        }

        __atomic_fetch_add(&d->value, value, __ATOMIC_RELAXED);
    }

    __atomic_fetch_add(&dst->dropped,
                       __atomic_load_n(&src->dropped, __ATOMIC_RELAXED),
                       __ATOMIC_RELAXED);
}


uint64_t
tune_metrics_count(const tune_metrics_t *m, tune_metric_t metric,
    const char *a, size_t a_len, const char *b, size_t b_len)
{
    const tune_metrics_entry_t  *e;

    if (!tune_metrics_label_ok(a, a_len) || !tune_metrics_label_ok(b, b_len)) {
        return 0;
    }

    /* claim 0: the table is not written to */
    e = tune_metrics_find((tune_metrics_t *) m,
                          tune_metrics_key(metric, a, a_len, b, b_len),
                          metric, a, a_len, b, b_len, 0);

    return e ? __atomic_load_n(&e->value, __ATOMIC_RELAXED) : 0;
}


/*
 * The series' entry: found by its key among the probes (and its labels,
 * once written: two series of one hash keep apart), or claimed when claim
 * is set and a free one comes first.  The claimer writes the labels and
 * only then says they are there; an entry found before that is counted
 * into all the same (its key is the series').
 */
static tune_metrics_entry_t *
tune_metrics_find(tune_metrics_t *m, uint64_t key,
    tune_metric_t metric, const char *a, size_t a_len, const char *b,
    size_t b_len, int claim)
{
    uint64_t               i, k, seen, expected;
    tune_metrics_entry_t  *entries, *e;

    entries = tune_metrics_entries(m);
    i = key % m->nentries;

    for (k = 0; k < TUNE_METRICS_PROBES && k < m->nentries;
         k++, i = (i + 1 < m->nentries) ? i + 1 : 0)
    {
        e = &entries[i];
        seen = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);

        if (seen == 0) {
            if (!claim) {
                return NULL;
            }

            expected = 0;
            if (__atomic_compare_exchange_n(&e->key, &expected, key, 0,
                                            __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
            {
                e->metric = (uint8_t) metric;
                e->a_len = (uint8_t) a_len;
                e->b_len = (uint8_t) b_len;
                if (a_len) {
                    memcpy(e->a, a, a_len);
                }
                if (b_len) {
                    memcpy(e->b, b, b_len);
                }
                __atomic_store_n(&e->ready, 1, __ATOMIC_RELEASE);
                __atomic_fetch_add(&m->used, 1, __ATOMIC_RELAXED);
                return e;
            }

            /* another process claimed it first: for this series? */
            seen = expected;
        }

        if (seen == key
            && (!__atomic_load_n(&e->ready, __ATOMIC_ACQUIRE)
                || tune_metrics_same(e, metric, a, a_len, b, b_len)))
        {
            return e;
        }
    }

    return NULL;
}


static int
tune_metrics_same(const tune_metrics_entry_t *e, tune_metric_t metric,
    const char *a, size_t a_len, const char *b, size_t b_len)
{
    return e->metric == metric && e->a_len == a_len && e->b_len == b_len
           && (a_len == 0 || memcmp(e->a, a, a_len) == 0)
           && (b_len == 0 || memcmp(e->b, b, b_len) == 0);
}


/* FNV-1a, 64 bits, of the metric, a, a NUL and b (0 is kept for free) */
static uint64_t
tune_metrics_key(tune_metric_t metric, const char *a, size_t a_len,
    const char *b, size_t b_len)
{
    size_t    i;
    uint64_t  h;

    h = 0xcbf29ce484222325ULL;
    h = (h ^ (uint64_t) metric) * 0x100000001b3ULL;

    for (i = 0; i < a_len; i++) {
        h = (h ^ (unsigned char) a[i]) * 0x100000001b3ULL;
    }

    h *= 0x100000001b3ULL;

    for (i = 0; i < b_len; i++) {
        h = (h ^ (unsigned char) b[i]) * 0x100000001b3ULL;
    }

    return h ? h : 1;
}


/* a label value the text can hold as it is: printable, no quote or \ */
static int
tune_metrics_label_ok(const char *s, size_t len)
{
    size_t  i;

    if (len > TUNE_METRIC_LABEL_MAX || (len && s == NULL)) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\') {
            return 0;
        }
    }

    return 1;
}


static tune_metrics_entry_t *
tune_metrics_entries(const tune_metrics_t *m)
{
    return (tune_metrics_entry_t *) ((char *) m + sizeof(tune_metrics_t));
}


/* ---- the text ------------------------------------------------------ */

/* a line: the longest name and labels, two label values and a count */
#define TUNE_METRICS_LINE_MAX  (96 + 2 * TUNE_METRIC_LABEL_MAX + 20)

size_t
tune_metrics_text_size(const tune_metrics_in_t *in)
{
    size_t  n;

    n = 4096;

    /*
     * The series in use, not the table's room: a scrape costs what the
     * front-end counts.  Series claimed (lock-free) after this is read
     * make the write say it needs more; a few are allowed for.
     */
    if (in->counters) {
        n += (__atomic_load_n(&in->counters->used, __ATOMIC_RELAXED) + 16)
             * TUNE_METRICS_LINE_MAX;
    }

    if (in->status && in->status->img) {
        n += 2 * (size_t) in->status->img->nstreams * TUNE_METRICS_LINE_MAX;
    }

    if (in->version) {
        n += strlen(in->version);
    }

    if (in->frontend) {
        n += strlen(in->frontend);
    }

    return n;
}


size_t
tune_metrics_write(const tune_metrics_in_t *in, char *out, size_t cap)
{
    int                          first;
    uint32_t                     i, k, pending, credits;
    uint64_t                     sum_pending, sum_credits;
    tune_wbuf_t                  w;
    const tune_image_t          *img;
    const tune_status_in_t      *st;
    const tune_image_stream_t   *stream;

    tune_wbuf_init(&w, out, cap);
    st = in->status;
    img = st ? st->img : NULL;

    tune_metrics_help(&w, "tuneslot_build_info", "gauge",
                      "the tuneslot front-end answering, always 1");
    tune_metrics_lit(&w, "tuneslot_build_info");
    first = 1;
    tune_metrics_label(&w, &first, "version", in->version,
                       in->version ? strlen(in->version) : 0);
    tune_metrics_label(&w, &first, "frontend", in->frontend,
                       in->frontend ? strlen(in->frontend) : 0);
    tune_metrics_lit(&w, first ? " 1\n" : "} 1\n");

    if (in->counters) {
        tune_metrics_help(&w, "tuneslot_tuneins_total", "counter",
                          "tune-ins answered, by stream and outcome");
        tune_metrics_series(&w, in->counters, TUNE_METRIC_TUNEINS,
                            "tuneslot_tuneins_total", "stream", "outcome");
        tune_metrics_help(&w, "tuneslot_tunein_assignments_total", "counter",
                          "listeners sent to a slot, by stream and backend");
        tune_metrics_series(&w, in->counters, TUNE_METRIC_ASSIGNMENTS,
                            "tuneslot_tunein_assignments_total", "stream",
                            "backend");
        tune_metrics_help(&w, "tuneslot_proxy_attempts_total", "counter",
                          "proxied tune-ins' attempts at a backend, by result");
        tune_metrics_series(&w, in->counters, TUNE_METRIC_PROXY_ATTEMPTS,
                            "tuneslot_proxy_attempts_total", "backend",
                            "result");
        tune_metrics_help(&w, "tuneslot_metrics_series_dropped_total",
                          "counter", "counts no series could hold "
                          "(the table full, a label not fit)");
        tune_metrics_lit(&w, "tuneslot_metrics_series_dropped_total ");
        tune_wbuf_put_u64(&w, __atomic_load_n(&in->counters->dropped,
                                              __ATOMIC_RELAXED));
        tune_metrics_lit(&w, "\n");
    }

    tune_metrics_help(&w, "tuneslot_redis_up", "gauge",
                      "1 while the refresher is connected to Redis");
    tune_metrics_lit(&w, "tuneslot_redis_up ");
    tune_metrics_lit(&w, st && st->redis && st->redis->connected ? "1\n"
                                                                  : "0\n");

    if (img == NULL) {
        return w.overflow ? SIZE_MAX : w.len;
    }

    tune_metrics_help(&w, "tuneslot_snapshot_generation", "gauge",
                      "the generation of the snapshot held");
    tune_metrics_lit(&w, "tuneslot_snapshot_generation ");
    tune_wbuf_put_u64(&w, img->generation);
    tune_metrics_lit(&w, "\n");

    tune_metrics_help(&w, "tuneslot_snapshot_age_seconds", "gauge",
                      "how long the snapshot held has not changed");
    tune_metrics_lit(&w, "tuneslot_snapshot_age_seconds ");
    tune_wbuf_put_u64(&w, (uint64_t) (st->age_ms > 0 ? st->age_ms : 0)
                          / 1000);
    tune_metrics_lit(&w, ".");
    {
        char      frac[3];
        uint64_t  ms;

        ms = (uint64_t) (st->age_ms > 0 ? st->age_ms : 0) % 1000;
        frac[0] = (char) ('0' + ms / 100);
        frac[1] = (char) ('0' + ms / 10 % 10);
        frac[2] = (char) ('0' + ms % 10);
        tune_wbuf_put(&w, frac, 3);
    }
    tune_metrics_lit(&w, "\n");

    if (st->herd == NULL || st->window == 0) {
        return w.overflow ? SIZE_MAX : w.len;
    }

    for (k = 0; k < 2; k++) {
        tune_metrics_help(&w, k ? "tuneslot_herd_credits"
                                : "tuneslot_herd_pending", "gauge",
                          k ? "herd credits this front-end holds, by stream"
                            : "listeners sent and not yet seen by a poll, "
                              "by stream");

        stream = tune_image_streams(img);

        for (i = 0; i < img->nstreams; i++, stream++) {
            uint32_t  j;

            sum_pending = 0;
            sum_credits = 0;

            for (j = 0; j < stream->nslots; j++) {
                tune_herd_slot_state(st->herd, img, stream,
                                     stream->first_slot + j, st->now_ms,
                                     st->window, &pending, &credits);
                sum_pending += pending;
                sum_credits += credits;
            }

            tune_metrics_lit(&w, k ? "tuneslot_herd_credits"
                                   : "tuneslot_herd_pending");
            first = 1;
            tune_metrics_label(&w, &first, "stream",
                               tune_image_str(img, stream->name),
                               stream->name.len);
            tune_metrics_lit(&w, "} ");
            tune_wbuf_put_u64(&w, k ? sum_credits : sum_pending);
            tune_metrics_lit(&w, "\n");
        }
    }

    return w.overflow ? SIZE_MAX : w.len;
}


static void
tune_metrics_series(tune_wbuf_t *w, const tune_metrics_t *m,
    tune_metric_t metric, const char *name, const char *a_label,
    const char *b_label)
{
    int                          first;
    uint64_t                     i;
    const tune_metrics_entry_t  *e;

    e = tune_metrics_entries(m);

    for (i = 0; i < m->nentries; i++, e++) {
        if (__atomic_load_n(&e->key, __ATOMIC_ACQUIRE) == 0
            || !__atomic_load_n(&e->ready, __ATOMIC_ACQUIRE)
            || e->metric != metric)
        {
            continue;
        }

        tune_metrics_lit(w, name);
        first = 1;
        tune_metrics_label(w, &first, a_label, e->a, e->a_len);
        tune_metrics_label(w, &first, b_label, e->b, e->b_len);
        tune_metrics_lit(w, first ? " " : "} ");
        tune_wbuf_put_u64(w, __atomic_load_n(&e->value, __ATOMIC_RELAXED));
        tune_metrics_lit(w, "\n");
    }
}


static void
tune_metrics_help(tune_wbuf_t *w, const char *name, const char *type,
    const char *help)
{
    tune_metrics_lit(w, "# HELP ");
    tune_metrics_lit(w, name);
    tune_metrics_lit(w, " ");
    tune_metrics_lit(w, help);
    tune_metrics_lit(w, "\n# TYPE ");
    tune_metrics_lit(w, name);
    tune_metrics_lit(w, " ");
    tune_metrics_lit(w, type);
    tune_metrics_lit(w, "\n");
}


static void
tune_metrics_lit(tune_wbuf_t *w, const char *s)
{
    tune_wbuf_put(w, s, strlen(s));
}


/* name="value", after "{" or ","; an empty value is left out */
static void
tune_metrics_label(tune_wbuf_t *w, int *first, const char *name,
    const char *value, size_t len)
{
    if (len == 0) {
        return;
    }

    tune_metrics_lit(w, *first ? "{" : ",");
    *first = 0;
    tune_metrics_lit(w, name);
    tune_metrics_lit(w, "=\"");
    tune_wbuf_put(w, value, len);
    tune_metrics_lit(w, "\"");
}
