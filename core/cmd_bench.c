/* cmd_bench.c -- `eligo bench`: options in, bench_run, the report out. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "buf.h"
#include "cmd.h"
#include "err.h"
#include "synth.h"

static void bench_usage(FILE *f)
{
    fprintf(f,
        "usage: eligo bench [--socket PATH] [-c CONNECTIONS] [-P PIPELINE]\n"
        "                   [-n REQUESTS | -d SECONDS] [--rate R] [--op decide|screen]\n"
        "                   [--file APPLICATIONS] [--applicants N] [--shuffle] [--seed N] [--json]\n"
        "       eligo bench --emit N [--op decide|screen] [--applicants N] [--shuffle] [--seed N]\n"
        "\n"
        "Load-test a running `eligo serve` and print requests/s, decisions/s, errors by\n"
        "code and latency percentiles (p50, p90, p99, p99.9, max).\n"
        "\n"
        "  --socket PATH   the server's socket (default $ELIGO_SOCKET, else ./eligo.sock)\n"
        "  -c N            connections (default 16)\n"
        "  -P N            requests in flight on each connection (default 32; -c\n"
        "                  times -P at most 1000000)\n"
        "  -n N            send N requests in all, or\n"
        "  -d SECONDS      keep sending for SECONDS (default 10)\n"
        "  --rate R        open loop: issue R requests/s in all, whatever the replies do;\n"
        "                  latency then counts from when a request fell due (use it to\n"
        "                  measure latency below saturation, e.g. at half the max rate)\n"
        "  --op OP         decide (default; programmes idmaj, taehil, intelaka, awrach and\n"
        "                  auto_entrepreneur in turn) or screen (every programme in force)\n"
        "  --file FILE     send these JSON-lines applications (cycled) instead of\n"
        "                  generated ones; members a line leaves out are added; a\n"
        "                  line that is not a JSON object is refused, by its number\n"
        "  --applicants N  generate N distinct applicants (default 200000), one request\n"
        "                  each, and cycle through them: an applicant comes back after N\n"
        "                  requests, with the decisions of its earlier rounds as its past\n"
        "  --shuffle       send the requests in a random order (the same for a seed):\n"
        "                  generated applicants otherwise arrive in ascending runs, one\n"
        "                  per connection, which the database indexes at few places\n"
        "  --seed N        seed of the generated applicants (default 2025)\n"
        "  --json          print one JSON line instead of the text report\n"
        "  --emit N        print N generated request lines and exit (nothing is sent);\n"
        "                  they are the requests a run sends, in order\n"
        "\n"
        "Exit status: 0 when every reply is ok, 1 when some are errors, 2 on usage or\n"
        "connection errors (a connection the server closed or refused, with requests\n"
        "unanswered: counted in errors, and as \"dropped\" in --json).\n");
}

/* The most requests bench keeps in flight, -c times -P. */
#define BENCH_MAX_IN_FLIGHT 1000000

/* Parse S as a number in [LO, HI] into *OUT, a whole one unless OPT takes
 * seconds or a rate; 0 or -1. */
static int bench_number(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    int whole = strcmp(opt, "-d") && strcmp(opt, "--rate");
    /* Decimal digits only: strtod also reads " 5", "0x10" and "1e3". */
    int plain = strspn(s, "0123456789") == strlen(s) ||
                (!whole && strspn(s, "0123456789.") == strlen(s) && strchr(s, '.') == strrchr(s, '.'));
    if (!*s || *end || !plain || !(v >= lo && v <= hi)) {
        if (whole)
            fprintf(stderr, "eligo bench: %s takes a whole number from %.0f to %.0f, not '%s'\n",
                    opt, lo, hi, s);
        else
            fprintf(stderr, "eligo bench: %s takes a number from %g to %g, not '%s'\n", opt, lo,
                    hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    bench_config cfg;
    bench_defaults(&cfg);
    int json = 0;
    const char *sends = NULL;   /* an option of a run, which --emit does not make */
    uint64_t emit = 0;
    double v;
    err e;
    err_clear(&e);

    static const char *const with_value[] = {"--socket", "--op", "--file", "-c", "-P", "-n",
                                             "-d", "--rate", "--emit", "--applicants",
                                             "--seed"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        int missing = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            bench_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
            sends = a;
            continue;
        } else if (!strcmp(a, "--shuffle")) {
            cfg.shuffle = 1;
            continue;
        }
        /* "--socket PATH" or "--socket=PATH", as every command takes it. */
        for (size_t k = 0; !val && !missing && k < sizeof with_value / sizeof with_value[0]; k++)
            if ((val = cmd_opt(argc, argv, &i, with_value[k], &missing)))
                a = with_value[k];
        if (!val) {
            size_t n = strcspn(a, "=");
            if (a[n] && ((n == strlen("--json") && !strncmp(a, "--json", n)) ||
                         (n == strlen("--shuffle") && !strncmp(a, "--shuffle", n))))
                fprintf(stderr, "eligo bench: %.*s takes no value, not '%s'\n", (int)n, a, a);
            else
                fprintf(stderr, "eligo bench: %s '%s'\n", cmd_opt_why(missing), a);
            bench_usage(stderr);
            return 2;
        }
        if (strcmp(a, "--op") && strcmp(a, "--emit") && strcmp(a, "--applicants") &&
            strcmp(a, "--seed"))
            sends = a;
        if (!strcmp(a, "--socket")) {
            cfg.socket = val;
        } else if (!strcmp(a, "--op")) {
            if (strcmp(val, "decide") && strcmp(val, "screen")) {
                fprintf(stderr, "eligo bench: --op is decide or screen, not '%s'\n", val);
                return 2;
            }
            cfg.op = val;
        } else if (!strcmp(a, "--file")) {
            cfg.file = val;
        } else if (!strcmp(a, "-c")) {
            if (bench_number(a, val, 1, 10000, &v))
                return 2;
            cfg.connections = (int)v;
        } else if (!strcmp(a, "-P")) {
            if (bench_number(a, val, 1, 100000, &v))
                return 2;
            cfg.pipeline = (int)v;
        } else if (!strcmp(a, "-n")) {
            if (bench_number(a, val, 1, 1e12, &v))
                return 2;
            cfg.requests = (uint64_t)v;
        } else if (!strcmp(a, "-d")) {
            if (bench_number(a, val, 0.001, 1e6, &v))
                return 2;
            cfg.seconds = v;
        } else if (!strcmp(a, "--rate")) {
            if (bench_number(a, val, 1, 1e9, &v))
                return 2;
            cfg.rate = v;
        } else if (!strcmp(a, "--emit")) {
            if (bench_number(a, val, 1, 1e12, &v))
                return 2;
            emit = (uint64_t)v;
        } else if (!strcmp(a, "--applicants")) {
            if (bench_number(a, val, 1, 1e6, &v))   /* their lines are kept in memory */
                return 2;
            cfg.distinct = (uint64_t)v;
        } else {   /* --seed */
            /* Every seed a uint64_t holds, exactly: a double would round those
             * past 2^53 into another seed's applicants. */
            char *end;
            errno = 0;
            unsigned long long seed = strtoull(val, &end, 10);
            if (!*val || *end || errno || strspn(val, "0123456789") != strlen(val)) {
                fprintf(stderr, "eligo bench: --seed takes a whole number from 0 to %llu, not "
                        "'%s'\n", (unsigned long long)UINT64_MAX, val);
                return 2;
            }
            cfg.seed = (uint64_t)seed;
        }
    }
    /* Each request in flight keeps its send time: past a million, -c 10000
     * -P 100000 would ask for 8 GB of them before the first is sent. */
    if ((uint64_t)cfg.connections * (uint64_t)cfg.pipeline > BENCH_MAX_IN_FLIGHT) {
        fprintf(stderr, "eligo bench: -c %d -P %d would keep %llu requests in flight; at most "
                "%d\n", cfg.connections, cfg.pipeline,
                (unsigned long long)cfg.connections * (unsigned long long)cfg.pipeline,
                BENCH_MAX_IN_FLIGHT);
        return 2;
    }
    if (emit && sends) {
        fprintf(stderr, "eligo bench: --emit prints generated requests and sends nothing: %s "
                "is for a run\n", sends);
        return 2;
    }
    if (emit) {
        if (bench_emit(&cfg, emit, stdout, &e) != 0) {
            fprintf(stderr, "eligo bench: %s\n", e.msg);
            return 2;
        }
        return 0;
    }
    if (cfg.requests && cfg.seconds) {
        fprintf(stderr, "eligo bench: -n and -d exclude each other\n");
        return 2;
    }
    if (!cfg.requests && !cfg.seconds)
        cfg.seconds = 10;

    /* A connection the server closes must fail its writes, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    bench_report *r = malloc(sizeof *r);
    if (!r) {
        fprintf(stderr, "eligo bench: out of memory\n");
        return 2;
    }
    int rc;
    if (bench_run(&cfg, r, &e) != 0) {
        fprintf(stderr, "eligo bench: %s\n", e.msg);
        rc = 2;
    } else {
        bench_print(&cfg, r, json, stdout);
        /* A connection lost with requests on it, by the server's doing or
         * its end (closed, refused, a reply too long), is a connection
         * error, as in submit: not an answer. */
        rc = r->dropped ? 2 : r->errors ? 1 : 0;
    }
    free(r);
    return rc;
}
