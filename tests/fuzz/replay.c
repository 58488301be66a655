/*
 * tests/fuzz/replay.c -- run a fuzz target over saved inputs, without libFuzzer.
 *
 *   build/fuzz_request_replay tests/fuzz/corpus/request [FILE|DIR ...]
 *
 * Every normal build (gcc, no ELIGO_FUZZ) links each tests/fuzz/NAME.c with
 * this main, and ctest runs it over tests/fuzz/corpus/NAME/: every input the
 * fuzzer ever found interesting, crash reproducers included, is run again on
 * each build, under whatever sanitizers that build has.  A target reports a
 * finding by aborting, as it does under libFuzzer, so a failing input ends
 * the test with the file's name printed just before.
 *
 * Each argument is a file, or a directory whose regular files are all run
 * (not recursively, in name order so that a run is repeatable).  Exits 0
 * when every input ran, 1 when an argument could not be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX ((size_t)16 << 20)   /* no saved input is anywhere near this */

/* Run the file at PATH.  Returns 0, or -1 with a message on stderr. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    uint8_t *data = malloc(REPLAY_MAX);
    size_t n = data ? fread(data, 1, REPLAY_MAX, f) : 0;
    if (!data)
        fprintf(stderr, "replay: %s: out of memory\n", path);
    else if (ferror(f) || !feof(f))
        fprintf(stderr, "replay: %s: unreadable or over %zu bytes\n", path, REPLAY_MAX);
    else {
        /* The name first, on its own line, so that a crash is traceable. */
        fprintf(stderr, "replay: %s\n", path);
        /* A copy of exactly N bytes, so that ASan sees a read past the end. */
        uint8_t *copy = malloc(n ? n : 1);
        if (copy) {
            memcpy(copy, data, n);
            LLVMFuzzerTestOneInput(copy, n);
            free(copy);
            rc = 0;
        }
    }
    free(data);
    fclose(f);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every regular file in DIR, in name order; *COUNT gets the number run. */
static int replay_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, alloc = 0;
    int rc = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (de->d_name[0] == '.')
            continue;
        if (n == alloc) {
            size_t grown = alloc ? alloc * 2 : 256;
            char **p = realloc(names, grown * sizeof *names);
            if (!p) {
                rc = -1;
                break;
            }
            names = p;
            alloc = grown;
        }
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        if ((names[n] = malloc(len)) == NULL) {
            rc = -1;
            break;
        }
        snprintf(names[n++], len, "%s/%s", dir, de->d_name);
    }
    closedir(d);
    if (rc != 0)
        fprintf(stderr, "replay: %s: out of memory\n", dir);
    else if (n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            rc = replay_file(names[i]);
            ++*count;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count) != 0
                                : (count++, replay_file(argv[i]) != 0))
            return 1;
    }
    printf("replay: %zu inputs run\n", count);
    return 0;
}
