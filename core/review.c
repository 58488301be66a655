/* review.c -- see review.h. */
#include "review.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ids.h"

struct review {
    store_review rec;             /* its strings point into `json` and below */
    cJSON *json;
    char *decision_id;
    char review_id[IDS_LEN + 1];
    char reviewed_at[32];
};

void review_free(review *r)
{
    if (!r)
        return;
    cJSON_Delete(r->json);
    free(r->decision_id);
    free(r);
}

store_review *review_record(review *r)
{
    return &r->rec;
}

/* Whether the JSON text S (which cJSON has read) escapes a NUL, in a key or a
 * string.  cJSON's strings end at their first NUL, so such a "reason" would be
 * stored cut short, and "reason\u0000x" would be read as "reason", with the
 * review reported as recorded.  Outside strings valid JSON has no backslash,
 * so each one begins an escape. */
static int review_escapes_nul(const char *s)
{
    for (; *s; s++) {
        if (*s != '\\')
            continue;
        if (s[1] == 'u' && !strncmp(s + 2, "0000", 4))
            return 1;
        if (s[1])
            s++;
    }
    return 0;
}

review *review_parse(const char *decision_id, const char *body, err *e)
{
    static const char *const fields[] = {"action", "outcome", "by", "reason"};
    review *r = calloc(1, sizeof *r);
    if (!r) {
        err_set(e, "internal", "out of memory");
        return NULL;
    }
    r->decision_id = strdup(decision_id ? decision_id : "");
    r->json = cJSON_Parse(body ? body : "");
    if (!r->decision_id) {
        err_set(e, "internal", "out of memory");
        goto fail;
    }
    if (!r->json) {
        err_set(e, "invalid_request", "field 'review' is not valid JSON");
        goto fail;
    }
    if (!cJSON_IsObject(r->json)) {
        err_set(e, "invalid_request", "field 'review' must be an object with action, by, "
                "reason (and outcome for an override)");
        goto fail;
    }
    if (review_escapes_nul(body)) {
        err_set(e, "invalid_request", "field 'review' holds a NUL character (\\u0000), which "
                "would cut its text short");
        goto fail;
    }
    const char **dst[] = {&r->rec.action, &r->rec.outcome, &r->rec.by, &r->rec.reason};
    for (const cJSON *m = r->json->child; m; m = m->next) {
        size_t i = 0;
        while (i < sizeof fields / sizeof fields[0] && strcmp(m->string, fields[i]) != 0)
            i++;
        if (i == sizeof fields / sizeof fields[0]) {
            err_set(e, "invalid_request", "field 'review.%.40s' is unknown (action, outcome, "
                    "by, reason)", m->string);
            goto fail;
        }
        if (cJSON_IsNull(m))
            continue;
        if (!cJSON_IsString(m)) {
            err_set(e, "invalid_request", "field '%s' must be a string", fields[i]);
            goto fail;
        }
        *dst[i] = m->valuestring;
    }
    ids_next(r->review_id);
    ids_now(r->reviewed_at);
    r->rec.review_id = r->review_id;
    r->rec.decision_id = r->decision_id;
    r->rec.reviewed_at = r->reviewed_at;
    r->rec.client_uid = -1;
    r->rec.client_pid = -1;
    if (store_review_check(&r->rec, e) != 0)
        goto fail;
    return r;
fail:
    review_free(r);
    return NULL;
}
