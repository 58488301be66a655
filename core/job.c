/* job.c -- see job.h. */
#include "job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "past.h"
#include "review.h"

job *job_new(const char *line, size_t n)
{
    job *j = malloc(sizeof *j + n + 1);
    if (!j)
        return NULL;
    memset(j, 0, sizeof *j);
    j->client_uid = j->client_pid = -1;
    buf_init(&j->reply, JOB_REPLY_CAP);
    memcpy(j->line, line, n);
    j->line[n] = '\0';
    j->len = n;
    return j;
}

uint64_t job_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void job_free(job *j)
{
    if (!j)
        return;
    engine_result_free(j->res);
    review_free(j->review);
    past_note_free(j->note);
    buf_free(&j->reply);
    free(j);
}

int job_error(job *j, const char *id, const char *code, const char *fmt, ...)
{
    char msg[2048];   /* a conflict's: its escaped key (1,200) and what differs (320) */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    buf_reset(&j->reply);
    snprintf(j->error, sizeof j->error, "%s", code);
    if (buf_printf(&j->reply, "{\"id\":%s,\"ok\":false,\"error\":{\"code\":\"%s\",\"message\":",
                   id ? id : "null", code) < 0 ||
        buf_add_json_string(&j->reply, msg, strlen(msg)) < 0 ||
        buf_adds(&j->reply, "}}\n") < 0) {
        buf_reset(&j->reply);
        return -1;
    }
    return 0;
}

const char *job_error_code(const job *j)
{
    if (j->reply.len == 0)
        return "internal";
    return j->error[0] ? j->error : NULL;
}

int job_begin(job *j, const char *id)
{
    buf_reset(&j->reply);
    j->error[0] = 0;
    /* Not buf_printf: a format costs more than the three copies. */
    if (buf_adds(&j->reply, "{\"id\":") != 0 || buf_adds(&j->reply, id ? id : "null") != 0)
        return -1;
    return buf_adds(&j->reply, ",\"ok\":true");
}

int job_finish(job *j)
{
    if (buf_adds(&j->reply, "}\n") < 0) {
        buf_reset(&j->reply);
        return -1;
    }
    return 0;
}

const char *job_reply_line(const job *j, size_t *len)
{
    static const char oom[] =
        "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"internal\","
        "\"message\":\"out of memory while building the reply\"}}\n";
    if (j->reply.len == 0) {
        *len = sizeof oom - 1;
        return oom;
    }
    *len = j->reply.len;
    return j->reply.data;
}
