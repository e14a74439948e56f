/*
 * libFuzzer target: listen URLs, which reach a Location header from Redis
 * (tune_url_check() in the front-ends) and are built by tuneslotd from a
 * backend's base URL and a stream's mount (tune_url_join()).
 *
 * The input is a length byte n, then the text: the whole text is checked
 * as a URL, and it is also split into a base (its first n bytes) and a
 * mount (the rest) for a join.  Besides "no crash, no write past the
 * buffer", it checks what tune_url.h promises against a model written
 * apart from tune_url.c: an accepted URL is 1..TUNE_URL_MAX bytes of
 * printable ASCII without space, CR, LF, '#' or the characters RFC 3986
 * never allows unescaped, starts with one of the six schemes (http, https,
 * rtmp, rtmps, rtsp, rtsps, lowercase, then "://") and has a host, and
 * tune_url_scheme() names that scheme; a URL holding a byte outside that set is refused as BAD_CHAR
 * (whatever else is wrong with it); a join is base, its trailing slashes
 * stripped, then mount, passes the check, holds no query and no dot
 * segment, and fits exactly the length it reports.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tune_url.h"


/* the bytes of a URL: 0x21..0x7e less these (and '#', refused apart) */
static const char  forbidden[] = "\"<>\\^`{|}";


static int
model_byte(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr(forbidden, c) == NULL;
}


static int
has(const char *s, size_t len, const char *what)
{
    size_t  i, n;

    n = strlen(what);

    for (i = 0; i + n <= len; i++) {
        if (memcmp(s + i, what, n) == 0) {
            return 1;
        }
    }

    return 0;
}


/* 1 if url is a safe one by the header's words; *bad_byte if not a byte */
/* the length of url's scheme and "://" when it is one of ours, else 0 */
static size_t
model_scheme(const char *url, size_t len)
{
    size_t              i, n;
    static const char  *names[] = {
        "http", "https", "rtmp", "rtmps", "rtsp", "rtsps"
    };

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        n = strlen(names[i]);

        if (len >= n + 3 && memcmp(url, names[i], n) == 0
            && memcmp(url + n, "://", 3) == 0)
        {
            return n + 3;
        }
    }

    return 0;
}


static int
model_check(const char *url, size_t len, int *bad_byte)
{
    size_t  i, start, end, host;

    *bad_byte = 0;

    for (i = 0; i < len; i++) {
        if (!model_byte((unsigned char) url[i])) {
            *bad_byte = 1;
            return 0;
        }
    }

    if (len == 0 || len > TUNE_URL_MAX || memchr(url, '#', len) != NULL) {
        return 0;
    }

    start = model_scheme(url, len);

    if (start == 0) {
        return 0;
    }

    /* authority: up to the first '/' or '?'; host: after its last '@' */
    end = start;
    while (end < len && url[end] != '/' && url[end] != '?') {
        end++;
    }

    host = start;
    for (i = start; i < end; i++) {
        if (url[i] == '@') {
            host = i + 1;
        }
    }

    return host < end && url[host] != ':';
}


static void
check_url(const char *url, size_t len)
{
    int          ok, bad_byte;
    size_t       i;
    tune_rc_t    rc;
    const char  *name;

    rc = tune_url_check(url, len);
    ok = model_check(url, len, &bad_byte);

    if ((rc == TUNE_OK) != ok) {
        abort();
    }

    /* a CR, LF, space or control byte is reported as what it is */
    if (bad_byte && len <= TUNE_URL_MAX && rc != TUNE_ERR_BAD_CHAR) {
        abort();
    }

    if (rc != TUNE_OK) {
        return;
    }

    /* the scheme's bit names the scheme the URL starts with */
    name = tune_scheme_name(tune_url_scheme(url, len));

    if (name == NULL || strncmp(url, name, strlen(name)) != 0
        || memcmp(url + strlen(name), "://", 3) != 0)
    {
        abort();
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) url[i] <= 0x20 || (unsigned char) url[i] >= 0x7f
            || url[i] == '\r' || url[i] == '\n' || url[i] == '#')
        {
            abort();
        }
    }
}


static void
check_join(const char *base, size_t base_len, const char *mount,
    size_t mount_len)
{
    char       out[TUNE_URL_MAX + 1], *exact;
    size_t     len, len2, stripped;
    tune_rc_t  rc, rc2;

    len = 12345;
    rc = tune_url_join(out, sizeof(out), &len, base, base_len, mount,
                       mount_len);

    if (rc != TUNE_OK) {
        /* everything fits in out: a refusal is about the values */
        if (rc == TUNE_ERR_NO_SPACE || len != 0 || out[0] != '\0') {
            abort();
        }

        return;
    }

    /* both halves were acceptable */
    if (tune_url_check(base, base_len) != TUNE_OK
        || memchr(base, '?', base_len) != NULL
        || mount_len == 0 || mount[0] != '/'
        || (mount_len > 1 && mount[1] == '/'))
    {
        abort();
    }

    stripped = base_len;
    while (stripped > 0 && base[stripped - 1] == '/') {
        stripped--;
    }

    if (len != stripped + mount_len || len > TUNE_URL_MAX
        || strlen(out) != len
        || memcmp(out, base, stripped) != 0
        || memcmp(out + stripped, mount, mount_len) != 0
        || tune_url_check(out, len) != TUNE_OK
        || memchr(out, '?', len) != NULL)
    {
        abort();
    }

    /* no dot segment a client or proxy could resolve elsewhere */
    if (has(out + stripped, mount_len, "/./")
        || has(out + stripped, mount_len, "/../")
        || (mount_len >= 2 && memcmp(mount + mount_len - 2, "/.", 2) == 0)
        || (mount_len >= 3 && memcmp(mount + mount_len - 3, "/..", 3) == 0))
    {
        abort();
    }

    /* len + 1 bytes are exactly enough; len are not, and say so */
    exact = malloc(len + 1);
    if (exact == NULL) {
        return;
    }

    rc2 = tune_url_join(exact, len + 1, &len2, base, base_len, mount,
                        mount_len);
    if (rc2 != TUNE_OK || len2 != len || memcmp(exact, out, len + 1) != 0) {
        abort();
    }

    rc2 = tune_url_join(exact, len, &len2, base, base_len, mount, mount_len);
    if (rc2 != TUNE_ERR_NO_SPACE || len2 != len) {
        abort();
    }

    free(exact);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t       n;
    const char  *text;

    if (size < 1) {
        return 0;
    }

    text = (const char *) data + 1;
    size--;

    check_url(text, size);

    n = data[0];
    if (n > size) {
        n = size;
    }

    check_url(text, n);
    check_join(text, n, text + n, size - n);

    return 0;
}
