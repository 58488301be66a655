/*
 * tests/bench/store.c -- how fast the store appends and verifies.
 *
 *     bench_store [-n ROWS] [-v ROWS] [-p ROWS] [-d DIR]
 *
 * Appends ROWS decisions (default 20,000; a tenth of that for one-row
 * batches, which pay an fsync each), each an application with a request key
 * and one ~1.1 KB decision, in transactions of 1, 10, 100 and 1000
 * applications with synchronous=FULL, three runs each on a fresh database,
 * and prints rows per second (the median run).  Then builds a database of
 * -v ROWS (default 200,000) and times store_verify over it.  With -p ROWS,
 * the appends go instead to one database preloaded with that many records
 * (how throughput holds as the file grows).  Not a test: the figures depend
 * on the machine's disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const err *e)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, e->msg);
    exit(1);
}

static const char *programs[] = {"idmaj", "tahfiz", "intelaka", "awrach", "forsa"};

/* One application with its decision, its strings held here. */
typedef struct row {
    char request[512];
    char key[32];
    char fingerprint[65];
    char applicant[16];
    char id[32];
    char json[1400];
    store_decision dec;
    store_application app;
} row;

static unsigned long long counter;

/* A decision shaped like the engine's: criteria with messages and values. */
static void make_row(row *r, const char *rs_hash, unsigned seed)
{
    unsigned long long n = ++counter;
    const char *prog = programs[seed % 5];
    const char *outcome = seed % 3 ? "eligible" : "ineligible";
    snprintf(r->applicant, sizeof r->applicant, "A%07u", seed % 1000003u);
    snprintf(r->id, sizeof r->id, "01JDX%021llu", n);
    snprintf(r->key, sizeof r->key, "FO-%llu-%u", n, seed);
    snprintf(r->fingerprint, sizeof r->fingerprint, "%016llx%016x%016llx%016x", n, seed,
             n * 0x9e3779b97f4a7c15ull, seed ^ 0x5bd1e995u);
    snprintf(r->request, sizeof r->request,
             "{\"id\":%llu,\"op\":\"decide\",\"program\":\"%s\",\"request_key\":\"%s\","
             "\"applicant\":{\"applicant_id\":\"%s\",\"birth_date\":\"1996-04-12\","
             "\"household_size\":4,\"monthly_household_income\":3200.50,"
             "\"registered_with_agency\":true,\"education\":\"bac+2\",\"residence\":\"MA\","
             "\"unemployed_since\":\"2024-09-01\",\"business\":null,"
             "\"previous_benefits\":[{\"program\":\"tahfiz\",\"date\":\"2022-01-10\"}]},"
             "\"as_of\":\"2025-03-01\",\"lang\":\"fr\"}",
             n, prog, r->key, r->applicant);
    int len = snprintf(r->json, sizeof r->json,
        "{\"decision_id\":\"%s\",\"program\":\"%s\",\"program_version\":\"2025.1\","
        "\"ruleset\":\"%s\",\"as_of\":\"2025-03-01\",\"outcome\":\"%s\",\"criteria\":["
        "{\"id\":\"age\",\"passed\":true,\"message\":\"age 28 is within 18 to 35\","
        "\"values\":{\"age\":28,\"min\":18,\"max\":35},\"reference\":\"Programme reference, art. 3\"},"
        "{\"id\":\"registered\",\"passed\":true,\"message\":\"registered with the agency\","
        "\"values\":{\"registered\":true},\"reference\":\"Programme reference, art. 4\"},"
        "{\"id\":\"education\",\"passed\":true,\"message\":\"education bac+2 is at least bac\","
        "\"values\":{\"education\":\"bac+2\",\"min\":\"bac\"},\"reference\":\"Decret, art. 5\"},"
        "{\"id\":\"income\",\"passed\":%s,\"message\":\"household income 800.12 per person "
        "against a ceiling of 1500.00\",\"values\":{\"per_person\":80012,\"ceiling\":150000},"
        "\"reference\":\"Arrete 1234-25, art. 2\"},"
        "{\"id\":\"unemployed\",\"passed\":true,\"message\":\"unemployed for 6 months, at "
        "least 6\",\"values\":{\"months\":6,\"min\":6},\"reference\":\"Decret, art. 6\"},"
        "{\"id\":\"no_recent_benefit\",\"passed\":true,\"message\":\"no benefit from this "
        "programme in the last 24 months\",\"values\":{\"months\":24},\"reference\":\"Decret, "
        "art. 7\"}],\"missing\":[],\"decided_at\":\"2025-03-01T10:00:00.123Z\"}",
        r->id, prog, rs_hash, outcome, seed % 3 ? "true" : "false");
    r->dec = (store_decision){.decision_id = r->id, .program = prog,
                              .program_version = "2025.1", .outcome = outcome,
                              .json = r->json, .json_len = (size_t)len};
    r->app = (store_application){
        .request = r->request, .request_len = strlen(r->request), .request_key = r->key,
        .fingerprint = r->fingerprint, .applicant_id = r->applicant, .as_of = "2025-03-01",
        .ruleset = rs_hash, .received_at = "2025-03-01T10:00:00.120Z",
        .decided_at = "2025-03-01T10:00:00.123Z", .client_uid = 1000, .client_pid = 4242,
        .decisions = &r->dec, .ndecisions = 1,
    };
}

static void remove_db(const char *path)
{
    char p[512];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

/* Open a fresh database holding the bench's one rule set. */
static store *fresh(const char *path, int flags, const char **hash, ruleset **rs)
{
    static const ruleset_file files[] = {
        {"idmaj.lua", "-- bench\n", 9},
    };
    err e = {0};
    store *st;
    remove_db(path);
    if (store_open(&st, path, flags, &e) != 0)
        die("store_open", &e);
    if (!*rs && !(*rs = ruleset_from_files(files, 1, &e)))
        die("ruleset_from_files", &e);
    if (store_put_ruleset(st, *rs, &e) != 0)
        die("store_put_ruleset", &e);
    *hash = ruleset_hash(*rs);
    return st;
}

/* Append ROWS rows in batches of BATCH; return rows per second. */
static double run_append(store *st, const char *hash, long rows, long batch)
{
    row *r = calloc((size_t)batch, sizeof *r);
    store_application *apps = calloc((size_t)batch, sizeof *apps);
    store_outcome *out = calloc((size_t)batch, sizeof *out);
    if (!r || !apps || !out) {
        fprintf(stderr, "bench_store: out of memory\n");
        exit(1);
    }
    double spent = 0;
    err e = {0};
    for (long done = 0; done < rows; done += batch) {
        long n = rows - done < batch ? rows - done : batch;
        for (long i = 0; i < n; i++) {
            make_row(&r[i], hash, (unsigned)rand());
            apps[i] = r[i].app;
        }
        /* Only the store's work is timed, not making up the rows. */
        double t0 = now();
        if (store_append(st, apps, (size_t)n, out, &e) != 0)
            die("store_append", &e);
        spent += now() - t0;
        for (long i = 0; i < n; i++)
            buf_free(&out[i].stored);
    }
    free(r);
    free(apps);
    free(out);
    return (double)rows / spent;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long rows = 20000, vrows = 200000, preload = 0;
    const char *dir = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "n:v:p:d:h")) != -1) {
        switch (opt) {
        case 'n': rows = atol(optarg); break;
        case 'p': preload = atol(optarg); break;
        case 'v': vrows = atol(optarg); break;
        case 'd': dir = optarg; break;
        default:
            fprintf(stderr, "usage: bench_store [-n ROWS] [-v ROWS] [-p ROWS] [-d DIR]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    char tmp[] = "/tmp/eligo-bench-XXXXXX";
    if (!dir && !(dir = mkdtemp(tmp))) {
        perror("mkdtemp");
        return 1;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/bench.db", dir);
    srand(42);
    ruleset *rs = NULL;
    const char *hash;

    if (preload > 0) {
        double t0 = now();
        store *st = fresh(path, STORE_NOSYNC, &hash, &rs);
        run_append(st, hash, preload, 1000);
        store_close(st);
        printf("preloaded %ld records in %.1f s\n", preload, now() - t0);
    }
    printf("append, synchronous=FULL, one ~%zu-byte decision per application, "
           "with request keys (median of 3 runs, %s)\n", (size_t)1100,
           preload > 0 ? "on the preloaded database" : "each on a fresh database");
    static const long batches[] = {1, 10, 100, 1000};
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        long n = batches[b] == 1 ? rows / 10 : rows;
        double rate[3];
        for (int run = 0; run < 3; run++) {
            store *st;
            err e = {0};
            if (preload <= 0)
                st = fresh(path, 0, &hash, &rs);
            else if (store_open(&st, path, 0, &e) != 0)
                die("store_open", &e);
            rate[run] = run_append(st, hash, n, batches[b]);
            store_close(st);
        }
        qsort(rate, 3, sizeof rate[0], cmp_double);
        printf("  batch %4ld: %8.0f rows/s  (%ld rows; runs %.0f, %.0f, %.0f)\n", batches[b],
               rate[1], n, rate[0], rate[1], rate[2]);
        fflush(stdout);
    }

    /* Verify: build the database fast (NOSYNC), then time a cold-ish pass
     * from a new read-only handle, three times. */
    store *st = fresh(path, STORE_NOSYNC, &hash, &rs);
    run_append(st, hash, vrows, 1000);
    store_close(st);
    double rate[3];
    for (int run = 0; run < 3; run++) {
        err e = {0};
        int64_t checked, bad;
        char id[64];
        if (store_open(&st, path, STORE_READONLY, &e) != 0)
            die("store_open", &e);
        double t0 = now();
        int rc = store_verify(st, &checked, &bad, id, NULL, NULL, &e);
        double t = now() - t0;
        store_close(st);
        if (rc != 0) {
            fprintf(stderr, "bench_store: verify returned %d (%s)\n", rc, e.msg);
            return 1;
        }
        rate[run] = (double)checked / t;
    }
    qsort(rate, 3, sizeof rate[0], cmp_double);
    printf("verify: %8.0f records/s  (%ld records; runs %.0f, %.0f, %.0f)\n", rate[1], vrows,
           rate[0], rate[1], rate[2]);
    struct stat sb;
    if (stat(path, &sb) == 0 && vrows > 0)
        printf("file: %.0f bytes per record (%.1f MB)\n", (double)sb.st_size / (double)vrows,
               (double)sb.st_size / 1e6);

    remove_db(path);
    if (dir == tmp)
        rmdir(dir);
    ruleset_free(rs);
    return 0;
}
