/* log.c -- see log.h. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ids.h"

static atomic_int log_threshold = LOG_INFO;

static const char *const log_names[] = {"error", "warn ", "info ", "debug"};

/* Under systemd, standard error is a stream to the journal, which
 * JOURNAL_STREAM names (its device and inode).  There a line may begin with
 * its syslog priority, "<3>" to "<7>", which the journal keeps, so that
 * `journalctl -p warning` shows the errors and warnings alone.  Written only
 * there: anywhere else the prefix would be noise. */
static const char *const log_priorities[] = {"<3>", "<4>", "<6>", "<7>"};
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static int log_journal;

static void log_find_journal(void)
{
    const char *v = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat sb;
    char end;
    log_journal = v && sscanf(v, "%llu:%llu%c", &dev, &ino, &end) == 2 &&
                  fstat(STDERR_FILENO, &sb) == 0 && (unsigned long long)sb.st_dev == dev &&
                  (unsigned long long)sb.st_ino == ino;
}

void log_set_level(log_level level)
{
    atomic_store(&log_threshold, (int)level);
}

int log_enabled(log_level level)
{
    return (int)level <= atomic_load(&log_threshold);
}

void log_timestamp(char out[32])
{
    ids_now(out);   /* the decisions' own format: UTC, to the millisecond */
}

void log_write(log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char line[1100];
    char stamp[32];
    log_timestamp(stamp);
    pthread_once(&log_once, log_find_journal);
    int n = snprintf(line, sizeof line, "%s%s %s ", log_journal ? log_priorities[level] : "",
                     stamp, log_names[level]);
    size_t head = (size_t)n;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + head, 1001, fmt, ap);
    va_end(ap);
    size_t len = head + (m < 0 ? 0 : (size_t)m > 1000 ? 1000 : (size_t)m);
    /* One event, one line: a message quoting a rule error may hold newlines. */
    for (size_t i = head; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    /* A single write keeps lines from different threads whole; a short write
     * to stderr is not worth retrying for a log. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void log_thread_name(const char *name)
{
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);   /* cut at 15 bytes by the kernel */
}
