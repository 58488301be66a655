/*
 * log.h -- one line per event on stderr, with time and level.
 *
 * Every line reads
 *     2026-11-29T12:59:34.123Z info  listening on eligo.sock
 * and is written with a single write(2), so lines from different threads
 * never interleave.  To the journal (systemd's JOURNAL_STREAM names standard
 * error) each line begins with its syslog priority, "<3>" for an error to
 * "<7>" for debug, which the journal takes off and keeps.  Any thread may log.  The level is set once, before
 * threads start (log_set_level), and only read afterwards.
 */
#ifndef ELIGO_LOG_H
#define ELIGO_LOG_H

typedef enum log_level {
    LOG_ERROR = 0,
    LOG_WARN,
    LOG_INFO,
    LOG_DEBUG,
} log_level;

/* Show events up to and including LEVEL (default LOG_INFO).  --quiet gives
 * LOG_WARN, --verbose LOG_DEBUG. */
void log_set_level(log_level level);

/* Is LEVEL shown?  Lets callers skip building an expensive message. */
int log_enabled(log_level level);

/* Write one line at LEVEL; a trailing newline is added (and the message is
 * cut at 1,000 bytes, never split over lines: newlines become spaces). */
void log_write(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)

/* Write the current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" and a NUL into
 * OUT.  Thread-safe; used for log lines and for received_at/decided_at. */
void log_timestamp(char out[32]);

/* Name the calling thread (at most 15 bytes), as `top -H`, `ps -L` and
 * /proc/PID/task/TID/comm show it, so that an operator can see which of
 * the service's threads spends the time. */
void log_thread_name(const char *name);

#endif
