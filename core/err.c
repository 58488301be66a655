/* err.c -- see err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

int err_set(err *e, const char *code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        e->code = code;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void err_clear(err *e)
{
    if (e) {
        e->code = NULL;
        e->msg[0] = '\0';
    }
}
