/*
 * ruleset.c -- see ruleset.h.
 *
 * Memory: a rule set is one malloc'd block, freed with one free().  The block
 * holds the struct, then the array of ruleset_file, then the directory name,
 * the file names and the file texts, each NUL-terminated:
 *
 *     [struct ruleset | files[0..n-1] | dir\0 | name0\0 text0\0 | name1\0 ...]
 *
 * Every pointer in files[] points into the same block, so a set is immutable
 * and self-contained once built, and can be read from any thread without
 * locks.  Both constructors end in ruleset_pack(), which copies the caller's
 * files into a fresh block, sorts them, checks them and computes the hash.
 * ruleset_load() therefore reads the directory into temporary copies first
 * and copies them once more into the block; rule files are small (4 MiB at
 * most, a few KiB in practice), so the second copy costs nothing that
 * matters and buys a single code path for sorting, checking and hashing.
 *
 * The reference count is the only mutable field.  The usual discipline for
 * atomic reference counts applies: taking a reference needs no ordering (the
 * caller already holds one), dropping one releases, and the thread that drops
 * the last reference acquires before freeing, so that every other thread's
 * reads of the set happen before the free.
 */
#include "ruleset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "file.h"
#include "hex.h"

/* The largest rule file accepted, in bytes: exactly 4 MiB is allowed. */
#define RULESET_FILE_MAX ((size_t)4 * 1024 * 1024)

struct ruleset {
    atomic_size_t refs;
    size_t n;
    const char *dir;            /* points into the block */
    char hash[65];              /* 64 lowercase hex digits and a NUL */
    ruleset_file files[];       /* n entries, sorted by name */
};

/* strerror() may use a static buffer; the reloader runs on its own thread. */
static const char *ruleset_strerror(int errnum, char *out, size_t n)
{
    if (strerror_r(errnum, out, n) != 0)
        snprintf(out, n, "error %d", errnum);
    return out;
}

/* Is NAME what the rule directory's "*.lua" means?  Like the shell's glob, a
 * name starting with a dot does not match: editors keep their lock and backup
 * files there (".#idmaj.lua"), and those must never become rules.  A slash
 * cannot occur in a directory entry, but names given to ruleset_from_files
 * come from the store and are checked by the same function. */
static int ruleset_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    return len > 4 && name[0] != '.' && strchr(name, '/') == NULL &&
           memcmp(name + len - 4, ".lua", 4) == 0;
}

int ruleset_is_test(const char *name)
{
    static const char suffix[] = ".test.lua";
    size_t n = name ? strlen(name) : 0;
    return n >= sizeof suffix - 1 &&
           memcmp(name + n - (sizeof suffix - 1), suffix, sizeof suffix - 1) == 0;
}

size_t ruleset_programmes(const ruleset *rs)
{
    size_t n = 0;
    for (size_t i = 0; i < ruleset_count(rs); i++) {
        const char *name = ruleset_file_at(rs, i)->name;
        n += !ruleset_is_test(name) && strcmp(name, "schema.lua") != 0;
    }
    return n ? n : 1;
}

/* qsort comparator: strcmp compares as unsigned char, which is the byte
 * order the hash definition asks for, whatever the locale. */
static int ruleset_cmp(const void *a, const void *b)
{
    const ruleset_file *fa = a, *fb = b;
    return strcmp(fa->name, fb->name);
}

/* A + B into *SUM, or -1 if it does not fit a size_t. */
static int ruleset_size_add(size_t *sum, size_t a, size_t b)
{
    if (a > SIZE_MAX - b)
        return -1;
    *sum = a + b;
    return 0;
}

/* Compute RS's content hash as ruleset.h defines it, into rs->hash. */
static int ruleset_compute_hash(ruleset *rs, err *e)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int rc = -1;

    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        err_set(e, "internal", "cannot allocate a SHA-256 context");
        goto fail_ctx;
    }
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto fail_digest;
    for (size_t i = 0; i < rs->n; i++) {
        const ruleset_file *f = &rs->files[i];
        char len[32];
        int lenlen = snprintf(len, sizeof len, "%zu", f->len);
        /* The NULs are part of the stream: they end the name and the
         * length, which makes the encoding unambiguous. */
        if (EVP_DigestUpdate(ctx, f->name, strlen(f->name) + 1) != 1 ||
            EVP_DigestUpdate(ctx, len, (size_t)lenlen + 1) != 1 ||
            EVP_DigestUpdate(ctx, f->text, f->len) != 1)
            goto fail_digest;
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
        goto fail_digest;
    hex_encode(md, mdlen, rs->hash);
    rc = 0;
    goto done;

fail_digest:
    err_set(e, "internal", "SHA-256 failed");
done:
    EVP_MD_CTX_free(ctx);
fail_ctx:
    return rc;
}

/* Build a set from SRC (any order) in one block: copy, sort, check, hash.
 * DIR is recorded as given.  Returns a set with one reference, or NULL with
 * E set.  SRC stays the caller's. */
static ruleset *ruleset_pack(const char *dir, const ruleset_file *src, size_t n, err *e)
{
    size_t size = sizeof(ruleset), dirlen = strlen(dir);
    /* Messages name the directory, or for a set from the store just the
     * file: "/idmaj.lua" would point at a file that does not exist. */
    const char *where = dirlen ? dir : "rule set";
    const char *slash = dirlen ? "/" : "";
    ruleset *rs = NULL;

    if (n == 0) {
        err_set(e, "rule_error", "%s: no .lua file", where);
        goto fail;
    }
    if (n > (SIZE_MAX - size) / sizeof(ruleset_file))
        goto too_big;
    size += n * sizeof(ruleset_file);
    if (ruleset_size_add(&size, size, dirlen + 1) != 0)
        goto too_big;
    for (size_t i = 0; i < n; i++) {
        if (!ruleset_name_ok(src[i].name)) {
            err_set(e, "rule_error", "%s: \"%s\" is not a rule file name", where,
                    src[i].name ? src[i].name : "(null)");
            goto fail;
        }
        if (src[i].len > RULESET_FILE_MAX) {
            err_set(e, "rule_error", "%s%s%s: larger than %zu bytes", dir, slash,
                    src[i].name, RULESET_FILE_MAX);
            goto fail;
        }
        if (!src[i].text && src[i].len > 0) {
            err_set(e, "internal", "%s%s%s: no text for %zu bytes", dir, slash,
                    src[i].name, src[i].len);
            goto fail;
        }
        /* Each term is below 4 MiB + 258, so only the sum can overflow. */
        if (ruleset_size_add(&size, size, strlen(src[i].name) + 1 + src[i].len + 1) != 0)
            goto too_big;
    }

    rs = malloc(size);
    if (!rs) {
        err_set(e, "internal", "%s: out of memory for %zu bytes", where, size);
        goto fail;
    }
    atomic_init(&rs->refs, 1);
    rs->n = n;
    char *p = (char *)&rs->files[n];
    memcpy(p, dir, dirlen + 1);
    rs->dir = p;
    p += dirlen + 1;
    for (size_t i = 0; i < n; i++) {
        size_t namelen = strlen(src[i].name);
        memcpy(p, src[i].name, namelen + 1);
        rs->files[i].name = p;
        p += namelen + 1;
        if (src[i].len > 0)
            memcpy(p, src[i].text, src[i].len);
        p[src[i].len] = '\0';
        rs->files[i].text = p;
        rs->files[i].len = src[i].len;
        p += src[i].len + 1;
    }

    qsort(rs->files, n, sizeof(ruleset_file), ruleset_cmp);
    /* A directory cannot hold two entries of one name, but the files given
     * to ruleset_from_files can, and the hash would not tell which won. */
    for (size_t i = 1; i < n; i++) {
        if (strcmp(rs->files[i - 1].name, rs->files[i].name) == 0) {
            err_set(e, "rule_error", "%s: two files named %s", where, rs->files[i].name);
            goto fail;
        }
    }
    if (ruleset_compute_hash(rs, e) != 0)
        goto fail;
    return rs;

too_big:
    err_set(e, "rule_error", "%s: too large to hold in memory", where);
fail:
    free(rs);
    return NULL;
}

/* Read NAME in the directory open as DFD (named DIR, for messages).  On
 * success *TEXT (malloc'd, or NULL when empty) and *LEN hold its contents.
 * A name that is not a regular file (a directory, a FIFO, a device, a
 * symbolic link to one) is an error, never opened: skipped, a programme
 * would be missing from a set that looks whole.  Symbolic links to regular
 * files are followed. */
static int ruleset_read_file(int dfd, const char *dir, const char *name, char **text,
                             size_t *len, err *e)
{
    char why[128];
    char chunk[16384];
    struct stat st;
    buf b;
    int fd = -1;
    int rc = -1;

    buf_init(&b, RULESET_FILE_MAX);
    /* Stat before opening so that a FIFO or a device is never opened at all.
     * A name that vanished since readdir is an error, not a skip: a set
     * silently missing one programme would look valid and be wrong, while an
     * error makes the reloader keep the old set and try again later. */
    if (fstatat(dfd, name, &st, 0) != 0) {
        err_set(e, "rule_error", "%s/%s: %s", dir, name,
                ruleset_strerror(errno, why, sizeof why));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set(e, "rule_error", "%s/%s: %s, not a rule file (a regular file)", dir, name,
                S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                : "a device or socket");
        goto done;
    }
    if ((uintmax_t)st.st_size > RULESET_FILE_MAX)
        goto too_big;
    fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        err_set(e, "rule_error", "%s/%s: %s", dir, name,
                ruleset_strerror(errno, why, sizeof why));
        goto done;
    }
    /* The name may have been replaced between fstatat and openat. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err_set(e, "rule_error", "%s/%s: changed while being read", dir, name);
        goto done;
    }
    for (;;) {
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            err_set(e, "rule_error", "%s/%s: %s", dir, name,
                    ruleset_strerror(errno, why, sizeof why));
            goto done;
        }
        if (got == 0)
            break;
        /* The file may have grown since fstatat; the buffer's cap catches
         * that, and the size check tells it apart from a failed malloc. */
        if ((size_t)got > RULESET_FILE_MAX - b.len)
            goto too_big;
        if (buf_add(&b, chunk, (size_t)got) != 0) {
            err_set(e, "internal", "%s/%s: out of memory", dir, name);
            goto done;
        }
    }
    *text = b.data;
    *len = b.len;
    buf_init(&b, RULESET_FILE_MAX);     /* the bytes are the caller's now */
    rc = 0;
    goto done;

too_big:
    err_set(e, "rule_error", "%s/%s: larger than %zu bytes", dir, name, RULESET_FILE_MAX);
done:
    if (fd >= 0)
        close(fd);
    buf_free(&b);
    return rc;
}

ruleset *ruleset_load(const char *dir, err *e)
{
    char why[128];
    ruleset *rs = NULL;
    ruleset_file *tmp = NULL;   /* names and texts owned here until packed */
    size_t n = 0, alloc = 0;
    DIR *d;

    if (!dir) {
        err_set(e, "rule_error", "no rule directory given");
        goto fail_dir;
    }
    d = opendir(dir);
    if (!d) {
        err_set(e, "rule_error", "%s: cannot open rule directory: %s", dir,
                ruleset_strerror(errno, why, sizeof why));
        goto fail_dir;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno != 0) {
                err_set(e, "rule_error", "%s: cannot list rule directory: %s", dir,
                        ruleset_strerror(errno, why, sizeof why));
                goto fail_read;
            }
            break;
        }
        if (!ruleset_name_ok(de->d_name))
            continue;

        char *text = NULL;
        size_t len = 0;
        if (ruleset_read_file(dirfd(d), dir, de->d_name, &text, &len, e) != 0)
            goto fail_read;
        if (n == alloc) {
            size_t grown = alloc ? alloc * 2 : 16;
            ruleset_file *p = realloc(tmp, grown * sizeof *tmp);
            if (!p) {
                free(text);
                err_set(e, "internal", "%s: out of memory", dir);
                goto fail_read;
            }
            tmp = p;
            alloc = grown;
        }
        char *name = strdup(de->d_name);
        if (!name) {
            free(text);
            err_set(e, "internal", "%s: out of memory", dir);
            goto fail_read;
        }
        tmp[n].name = name;
        tmp[n].text = text;
        tmp[n].len = len;
        n++;
    }
    if (n == 0) {
        err_set(e, "rule_error", "%s: no .lua file in the rule directory", dir);
        goto fail_read;
    }
    rs = ruleset_pack(dir, tmp, n, e);

fail_read:
    /* The temporaries were allocated here as char *; the const in
     * ruleset_file is for readers of a finished set. */
    for (size_t i = 0; i < n; i++) {
        free((char *)tmp[i].name);
        free((char *)tmp[i].text);
    }
    free(tmp);
    closedir(d);
fail_dir:
    return rs;
}

ruleset *ruleset_from_files(const ruleset_file *files, size_t n, err *e)
{
    if (!files && n > 0) {
        err_set(e, "internal", "ruleset_from_files: no file array");
        return NULL;
    }
    return ruleset_pack("", files, n, e);
}

ruleset *ruleset_ref(ruleset *rs)
{
    if (rs)
        atomic_fetch_add_explicit(&rs->refs, 1, memory_order_relaxed);
    return rs;
}

void ruleset_free(ruleset *rs)
{
    if (!rs)
        return;
    /* acq_rel rather than release and a fence when the count reaches 0:
     * the same order (and the same instruction on x86), which
     * ThreadSanitizer, blind to fences, can check. */
    if (atomic_fetch_sub_explicit(&rs->refs, 1, memory_order_acq_rel) == 1)
        free(rs);
}

const char *ruleset_hash(const ruleset *rs)
{
    return rs->hash;
}

const char *ruleset_dir(const ruleset *rs)
{
    return rs->dir;
}

size_t ruleset_count(const ruleset *rs)
{
    return rs->n;
}

const ruleset_file *ruleset_file_at(const ruleset *rs, size_t i)
{
    return i < rs->n ? &rs->files[i] : NULL;
}

/* ---- Writing a set out ----------------------------------------------------- */

/* Whether NAME may be written as a file of a directory: a rule file name
 * (ruleset_name_ok: no '/', no leading '.', so never "." or ".."), which
 * ruleset_load reads back as that file, and no control character, which
 * would reach the terminal of whoever lists the directory. */
static int ruleset_name_safe(const char *name)
{
    if (!ruleset_name_ok(name))
        return 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* Whether the directory open at DFD holds nothing: 1, 0, or -1 (errno). */
static int ruleset_dir_empty(int dfd)
{
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct dirent *de;
    int empty = 1;
    errno = 0;
    while (empty && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            empty = 0;
    int why = errno;
    closedir(d);
    errno = why;
    return empty ? (why ? -1 : 1) : 0;
}

/* LEN bytes of TEXT into FD, and on the disk. */
static int ruleset_write_all(int fd, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, text, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        text += w;
        len -= (size_t)w;
    }
    return fsync(fd);
}

int ruleset_write(const ruleset *rs, const char *dir, err *e)
{
    int dfd = -1, made_dir = 0, ret = -1;
    size_t written = 0;
    /* Every name first: a set that cannot be written whole is not begun. */
    for (size_t i = 0; i < rs->n; i++)
        if (!ruleset_name_safe(rs->files[i].name)) {
            char shown[64];
            size_t k = 0;
            for (const char *p = rs->files[i].name; *p && k + 5 < sizeof shown; p++)
                k += (size_t)snprintf(shown + k, sizeof shown - k,
                                      (unsigned char)*p < 0x20 || *p == 0x7f ? "\\x%02x" : "%c",
                                      (unsigned char)*p);
            return err_set(e, "rule_error", "the rule set %.12s holds a file named \"%s\", "
                           "which is not written (a name with a control character would "
                           "reach the terminal of whoever lists the directory)", rs->hash,
                           shown);
        }
    if (mkdir(dir, 0777) == 0)
        made_dir = 1;
    else if (errno != EEXIST)
        return err_set(e, "invalid_request", "cannot make the directory %s: %s", dir,
                       strerror(errno));
    /* Not through a symbolic link: the files land where DIR says. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    if (dfd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
        err_set(e, "invalid_request", "%s exists and is %s: give a new or empty directory", dir,
                lstat(dir, &sb) == 0 && S_ISLNK(sb.st_mode) ? "a symbolic link"
                                                            : "not a directory");
        goto done;
    }
    if (dfd < 0) {
        err_set(e, "invalid_request", "cannot open the directory %s: %s", dir, strerror(errno));
        goto done;
    }
    {   /* made here too: another could have been put in its place since */
        int empty = ruleset_dir_empty(dfd);
        if (empty < 0) {
            err_set(e, "invalid_request", "cannot read the directory %s: %s", dir,
                    strerror(errno));
            goto done;
        }
        if (empty == 0) {
            err_set(e, "invalid_request", "%s is not empty: the rule files are written into "
                    "a new or empty directory, never over or beside other files", dir);
            goto done;
        }
    }
    for (; written < rs->n; written++) {
        const ruleset_file *f = &rs->files[written];
        int fd = openat(dfd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        0644);
        if (fd < 0) {
            err_set(e, "invalid_request", "cannot create %s/%s: %s", dir, f->name,
                    strerror(errno));
            goto done;
        }
        int bad = ruleset_write_all(fd, f->text, f->len);
        int why = errno;
        if (close(fd) != 0 && !bad) {
            bad = 1;
            why = errno;
        }
        if (bad) {
            err_set(e, "internal", "cannot write %s/%s: %s", dir, f->name, strerror(why));
            written++;   /* made: removed below */
            goto done;
        }
    }
    if (fsync(dfd) != 0 || (made_dir && file_sync_parent(dir) != 0)) {
        err_set(e, "internal", "cannot sync the directory %s: %s", dir, strerror(errno));
        goto done;
    }
    ret = 0;
done:
    /* A set cut short must not be left looking whole. */
    for (size_t i = 0; ret != 0 && dfd >= 0 && i < written; i++)
        unlinkat(dfd, rs->files[i].name, 0);
    /* The directory made here is removed, not one put in its place since. */
    struct stat made, now;
    if (ret != 0 && made_dir && dfd >= 0 && fstat(dfd, &made) == 0 && lstat(dir, &now) == 0 &&
        made.st_dev == now.st_dev && made.st_ino == now.st_ino)
        rmdir(dir);
    if (dfd >= 0)
        close(dfd);
    return ret;
}
