/*
 * Playlists: the offerable slots of a stream as an .m3u, .pls or .xspf
 * file, for players that want a list to fall back along rather than one
 * redirect.  The host picks the slots (tune_rank_slots()) and serves what
 * tune_playlist_render() writes with tune_playlist_content_type().
 *
 * Formats, lines ending in "\n" (players accept it; nothing in these
 * formats asks for CR LF):
 *
 *   m3u    extended M3U: "#EXTM3U", then "#EXTINF:-1,<title>" and the URL
 *          for each entry;
 *   pls    "[playlist]", then "File<n>=", "Title<n>=", "Length<n>=-1" for
 *          each entry (n from 1), then "NumberOfEntries=<N>", "Version=2";
 *   xspf   XSPF 1 in XML 1.0, UTF-8: a <title> with the stream name and a
 *          <track> with <location> and <title> for each entry; & < > " '
 *          are written as entities.
 */

#ifndef TUNE_PLAYLIST_H
#define TUNE_PLAYLIST_H

#include "tune_core.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef enum {
    TUNE_PLAYLIST_NONE = 0,  /* no playlist: a plain tune-in */
    TUNE_PLAYLIST_M3U,
    TUNE_PLAYLIST_PLS,
    TUNE_PLAYLIST_XSPF
} tune_playlist_format_t;


typedef struct {
    const char       *url;          /* the slot's listen URL */
    size_t            url_len;
    const char       *title;        /* NULL or "": a title made of the */
    size_t            title_len;    /*   stream and backend names */
    const char       *backend;      /* NULL or "": "<stream>", else */
    size_t            backend_len;  /*   "<stream> (<backend>)" */
} tune_playlist_entry_t;


/*
 * "audio/x-mpegurl", "audio/x-scpls", "application/xspf+xml"; NULL for
 * TUNE_PLAYLIST_NONE or a value this version does not know.
 */
const char *tune_playlist_content_type(tune_playlist_format_t format);


/*
 * Which playlist a request name asks for: a trailing ".m3u", ".pls" or
 * ".xspf", in lower case only (a name is case-sensitive everywhere else
 * too).  *stem_len gets the length of what precedes the suffix, or len when
 * the result is TUNE_PLAYLIST_NONE.  A suffix with nothing before it
 * (".m3u") is no playlist: no stream has an empty name.  Since names may
 * hold dots, a stream named "news.m3u" cannot be tuned in plainly by a
 * host that looks for a suffix first; hosts may look the whole name up
 * first.
 */
tune_playlist_format_t tune_playlist_suffix(const char *name, size_t len,
    size_t *stem_len);


/*
 * Renders the playlist of stream (stream_len bytes) with the n entries,
 * best first, into out (cap bytes; out may be NULL when cap is 0).
 *
 * Returns the playlist's length, like snprintf() but without a NUL: when
 * it is <= cap, out holds the whole playlist; when it is > cap, out holds
 * the start of it (never more than cap bytes are written) and the caller
 * renders again into a buffer of the returned size, which is exact.
 *
 * Returns 0, with *rc set, when the playlist may not be written; out's
 * contents are then unspecified:
 *
 *   TUNE_ERR_BAD_CHAR   a stream name, URL, title or backend holds a byte
 *                       other than printable ASCII (0x20-0x7e): values come
 *                       from a validated snapshot, but a CR, LF or control
 *                       byte must never reach a line of the output;
 *   TUNE_ERR_EMPTY      the stream name or an entry's URL is empty;
 *   TUNE_ERR_TOO_LONG   the playlist would be longer than SIZE_MAX;
 *   TUNE_ERR_RANGE      format is not a playlist format.
 *
 * n may be 0: the playlist is then valid but empty.  A successful render
 * is never 0 bytes long, and *rc is TUNE_OK.
 */
size_t tune_playlist_render(tune_playlist_format_t format,
    const char *stream, size_t stream_len,
    const tune_playlist_entry_t *entries, size_t n,
    char *out, size_t cap, tune_rc_t *rc);


#ifdef __cplusplus
}
#endif

#endif /* TUNE_PLAYLIST_H */
