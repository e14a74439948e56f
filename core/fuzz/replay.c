/*
 * Replay driver: the main() a fuzz target gets in a normal build (gcc, no
 * libFuzzer), so that ctest runs every target's entry point on its seed
 * corpus and its kept crash inputs each time, under the sanitizers in a
 * TUNESLOT_SANITIZE=ON build.
 *
 *   fuzz_<name>_replay DIR...
 *
 * Every regular file of every DIR is one input, except README* (a
 * regressions directory explains itself).  A target reports a broken
 * invariant by aborting, so a failed input ends the run with its name on
 * stderr.  A DIR given with a leading "+" must hold at least one input:
 * a seed corpus that went missing must not pass as an empty one.
 */

#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


/* the entry points of the target linked with this driver */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));


#define REPLAY_INPUT_MAX  (1024 * 1024)


static int replay_file(const char *path);
static long replay_dir(const char *dir);


int
main(int argc, char **argv)
{
    int          i, must;
    long         n, total;
    const char  *dir;

    if (argc < 2) {
        fprintf(stderr, "usage: %s [+]DIR...\n", argv[0]);
        return 2;
    }

    if (LLVMFuzzerInitialize != NULL) {
        LLVMFuzzerInitialize(&argc, &argv);
    }

    total = 0;

    for (i = 1; i < argc; i++) {
        dir = argv[i];
        must = (dir[0] == '+');
        dir += must;

        n = replay_dir(dir);
        if (n < 0) {
            return 1;
        }

        if (n == 0 && must) {
            fprintf(stderr, "replay: no input in %s\n", dir);
            return 1;
        }

        printf("replay: %ld inputs of %s\n", n, dir);
        total += n;
    }

    printf("replay: %ld inputs, no failure\n", total);

    return 0;
}


/* Inputs in dir, replayed in readdir order (each run is independent) */
static long
replay_dir(const char *dir)
{
    DIR            *d;
    long            n;
    size_t          len;
    char           *path;
    struct stat     st;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return -1;
    }

    n = 0;

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strncmp(de->d_name, "README", 6) == 0) {
            continue;
        }

        len = strlen(dir) + 1 + strlen(de->d_name) + 1;
        path = malloc(len);
        if (path == NULL) {
            closedir(d);
            return -1;
        }

        snprintf(path, len, "%s/%s", dir, de->d_name);

        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }

        if (replay_file(path) != 0) {
            free(path);
            closedir(d);
            return -1;
        }

        free(path);
        n++;
    }

    closedir(d);

    return n;
}


static int
replay_file(const char *path)
{
    FILE     *f;
    size_t    size;
    uint8_t  *data, *exact;

    f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }

    /* one byte more than the limit tells an over-long input apart */
    data = malloc(REPLAY_INPUT_MAX + 1);
    if (data == NULL) {
        fclose(f);
        return -1;
    }

    size = fread(data, 1, REPLAY_INPUT_MAX + 1, f);
    fclose(f);

    if (size > REPLAY_INPUT_MAX) {
        fprintf(stderr, "replay: %s: over %d bytes\n", path,
                REPLAY_INPUT_MAX);
        free(data);
        return -1;
    }

    /* named before it runs: an abort or a sanitizer report follows it */
    fprintf(stderr, "replay: %s\n", path);

    /* exactly size bytes, so ASan sees a read past the input */
    exact = malloc(size ? size : 1);
    if (exact == NULL) {
        free(data);
        return -1;
    }

    memcpy(exact, data, size);
    free(data);

    LLVMFuzzerTestOneInput(exact, size);
    free(exact);

    return 0;
}
