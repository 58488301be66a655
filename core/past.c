/* past.c -- see past.h.
 *
 * A chained hash table of applicants, keyed by seen_hash and the id itself,
 * each entry on a list from the most to the least recently asked for.  An
 * entry holds its rows as one text, newest first, comma-separated: a new
 * commit goes in front, and a programme's rows beyond the limit, its
 * oldest, are cut out.  Notes handed over wait on a queue until a worker takes the lock.
 */
#include "past.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "seen.h"

/* Stamps of commits on applicants not kept, by hash: a collision only makes
 * past_keep refuse rows it could have kept. */
#define PAST_STAMPS 16384

/* Notes that past_tidy lets wait. */
#define PAST_TIDY 64

typedef struct entry {
    struct entry *chain;          /* the next in its bucket */
    struct entry *newer, *older;  /* the recency list */
    uint64_t hash;
    int64_t newest;               /* the seq of the first row; 0: no rows */
    size_t decisions;             /* the applicant's in the store: fewer than window */
    size_t nrows, len, cap;       /* the rows: NROWS of them, LEN bytes in CAP */
    char *rows;
    char id[];
} entry;

struct past {
    pthread_mutex_t mu;
    entry **buckets;
    size_t nbuckets, count;       /* nbuckets: a power of two */
    entry *newest, *oldest;       /* the recency list's ends */
    size_t bytes, cap, limit, window;
    uint64_t ticket;              /* commits handed over so far */
    uint64_t floor;               /* rows read under an older ticket are not kept */
    uint64_t stamps[PAST_STAMPS];
    int off;                      /* past_forget was called */
    long hits, misses, refused;
    past_note *notes, **last;     /* handed over, not yet in place */
    atomic_size_t waiting;        /* how many */
};

past *past_new(size_t cap, size_t limit, size_t window)
{
    past *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->nbuckets = 1024;
    p->buckets = calloc(p->nbuckets, sizeof *p->buckets);
    if (!p->buckets || pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p->buckets);
        free(p);
        return NULL;
    }
    p->cap = cap;
    p->limit = limit ? limit : 1;
    p->window = window;
    p->last = &p->notes;
    return p;
}

static size_t entry_size(const entry *e)
{
    return sizeof *e + strlen(e->id) + 1 + e->cap;
}

static entry **past_slot(past *p, uint64_t h, const char *id)
{
    entry **at = &p->buckets[h & (p->nbuckets - 1)];
    while (*at && ((*at)->hash != h || strcmp((*at)->id, id) != 0))
        at = &(*at)->chain;
    return at;
}

static void past_unlist(past *p, entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        p->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        p->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void past_front(past *p, entry *e)
{
    if (p->newest == e)
        return;
    if (e->newer || e->older || p->oldest == e)
        past_unlist(p, e);
    e->older = p->newest;
    if (p->newest)
        p->newest->newer = e;
    p->newest = e;
    if (!p->oldest)
        p->oldest = e;
}

/* Drop E.  The commits it held are then known nowhere: its stamp takes the
 * latest ticket, so that a read begun before them is not kept in its place. */
static void past_drop(past *p, entry *e)
{
    p->stamps[e->hash % PAST_STAMPS] = p->ticket;
    entry **at = past_slot(p, e->hash, e->id);
    *at = e->chain;
    past_unlist(p, e);
    p->bytes -= entry_size(e);
    p->count--;
    free(e->rows);
    free(e);
}

/* Drop the least recently asked for until the rows fit. */
static void past_trim(past *p)
{
    while (p->bytes > p->cap && p->oldest)
        past_drop(p, p->oldest);
}

/* Twice the buckets when there are more entries than buckets; staying as it
 * is when that fails costs only longer chains. */
static void past_grow(past *p)
{
    if (p->count <= p->nbuckets)
        return;
    size_t n = 2 * p->nbuckets;
    entry **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < p->nbuckets; i++) {
        for (entry *e = p->buckets[i], *next; e; e = next) {
            next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(p->buckets);
    p->buckets = b;
    p->nbuckets = n;
}

/* The next row of S (N bytes: objects of strings and nulls, comma-
 * separated) from *POS: 1 with its first and last bytes in *FIRST and
 * *LAST, and *POS past it; 0 when there is none. */
static int row_next(const char *s, size_t n, size_t *pos, size_t *first, size_t *last)
{
    int depth = 0, str = 0;
    for (size_t i = *pos; i < n; i++) {
        char c = s[i];
        if (str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                str = 0;
        } else if (c == '"') {
            str = 1;
        } else if (c == '{') {
            if (depth++ == 0)
                *first = i;
        } else if (c == '}' && --depth == 0) {
            *last = i;
            *pos = i + 1;
            return 1;
        }
    }
    *pos = n;
    return 0;
}

/* How many rows S (N bytes) holds. */
static size_t rows_count(const char *s, size_t n)
{
    size_t rows = 0, pos = 0, first = 0, last = 0;
    while (row_next(s, n, &pos, &first, &last))
        rows++;
    return rows;
}

/* Cut S (N bytes of rows, newest first, as the store writes them) to the
 * newest LIMIT rows of each programme, as store_applicant_decisions chooses
 * them, moving the rows kept together; returns their length, and in *COUNT
 * how many they are, or (size_t)-1 when S holds more than PROGRAMS
 * programmes (rows that the store, which cuts only the first PROGRAMS met,
 * may hold in full).  A row's programme is its "program" member (a quote
 * inside a string is escaped, so the key is met only as the key); a name
 * is compared whole, where it lies in the first row of its programme, which
 * is always kept and never moves again once kept. */
static size_t rows_per_program(char *s, size_t n, size_t limit, size_t *count)
{
    enum { PROGRAMS = 64 };   /* as store_applicant_decisions */
    static const char key[] = "\"program\":\"";
    const char *names[PROGRAMS];
    size_t lens[PROGRAMS], taken[PROGRAMS], nprog = 0, out = 0, rows = 0;
    size_t pos = 0, first = 0, last = 0;
    while (row_next(s, n, &pos, &first, &last)) {
        size_t len = 0, at = 0;
        for (size_t k = first; k + sizeof key - 1 <= last && !at; k++)
            if (!memcmp(s + k, key, sizeof key - 1))
                at = k + sizeof key - 1;
        while (at && at + len < last && s[at + len] != '"')
            len += s[at + len] == '\\' ? 2 : 1;
        size_t j = 0;
        while (j < nprog && (lens[j] != len || memcmp(names[j], s + at, len) != 0))
            j++;
        if (j == nprog && nprog == PROGRAMS)
            return (size_t)-1;
        if (j == nprog) {
            names[nprog] = NULL;   /* where its row is kept, below */
            lens[nprog] = len;
            taken[nprog++] = 0;
        }
        if (++taken[j] <= limit) {
            size_t rn = last + 1 - first;
            if (out)
                s[out++] = ',';
            memmove(s + out, s + first, rn);
            if (!names[j])
                names[j] = s + out + (at - first);
            out += rn;
            rows++;
        }
    }
    *count = rows;
    return out;
}

/* Put A (AN bytes, NROWS rows, standing for DECISIONS of the applicant's
 * decisions) in front of E's rows, a comma between, and cut them to the
 * limit.  E's text grows by half again when it must, so that a commit
 * seldom allocates.  -1 when out of memory (E unchanged); 1 when E is no
 * longer what the store would choose (past_new), and must go. */
static int entry_prepend(past *p, entry *e, const char *a, size_t an, size_t nrows,
                         size_t decisions)
{
    if (e->decisions + decisions >= p->window)
        return 1;
    if (!an)
        return 0;
    size_t sep = e->len != 0, n = an + sep + e->len;
    if (n > e->cap) {
        size_t cap = e->cap ? n + n / 2 : n;   /* rows read once are not added to */
        char *t = realloc(e->rows, cap);
        if (!t)
            return -1;
        p->bytes += cap - e->cap;
        e->rows = t;
        e->cap = cap;
    }
    e->decisions += decisions;
    memmove(e->rows + an + sep, e->rows, e->len);
    memcpy(e->rows, a, an);
    if (sep)
        e->rows[an] = ',';
    e->len = n;
    e->nrows += nrows;
    if (e->nrows > p->limit) {   /* only then can a programme have more */
        size_t len = rows_per_program(e->rows, n, p->limit, &e->nrows);
        if (len == (size_t)-1)
            return 1;
        e->len = len;
    }
    return 0;
}

/* A new entry for ID, with ROWS of its DECISIONS, listed first.  NULL when
 * out of memory or when they cannot be kept (entry_prepend). */
static entry *past_add(past *p, uint64_t h, const char *id, const char *rows, size_t n,
                       int64_t newest, size_t decisions)
{
    size_t idlen = strlen(id);
    entry *e = calloc(1, sizeof *e + idlen + 1);
    if (!e)
        return NULL;
    memcpy(e->id, id, idlen + 1);
    e->hash = h;
    p->bytes += entry_size(e);
    if (entry_prepend(p, e, rows, n, rows_count(rows, n), decisions) != 0) {
        p->bytes -= entry_size(e);
        free(e->rows);
        free(e);
        return NULL;
    }
    e->newest = newest;
    entry **at = &p->buckets[h & (p->nbuckets - 1)];
    e->chain = *at;
    *at = e;
    p->count++;
    past_front(p, e);
    past_grow(p);
    return e;
}

/* Put note N in place.  Under the lock. */
static void past_apply(past *p, const past_note *n)
{
    uint64_t h = seen_hash(n->id);
    entry *e = *past_slot(p, h, n->id);
    if (n->changed) {
        /* Rows read before the review may hold the decision as it stood. */
        if (e)
            past_drop(p, e);
        else
            p->stamps[h % PAST_STAMPS] = n->ticket;
    } else if (e) {
        /* Rows read from the store after this commit hold it already.
         * Kept without them, or past what the store would choose, the
         * entry would be wrong.  A note's rows are all its decisions. */
        size_t rows = n->newest > e->newest ? rows_count(n->rows, n->len) : 0;
        if (n->newest > e->newest && entry_prepend(p, e, n->rows, n->len, rows, rows) == 0)
            e->newest = n->newest;
        else if (n->newest > e->newest)
            past_drop(p, e);
    } else {
        p->stamps[h % PAST_STAMPS] = n->ticket;
    }
}

/* Put every note handed over in place, in order.  Under the lock. */
static void past_catch_up(past *p)
{
    past_note *n = p->notes;
    if (!n)
        return;
    p->notes = NULL;
    p->last = &p->notes;
    atomic_store(&p->waiting, 0);
    while (n) {
        past_note *next = n->next;
        if (!p->off)
            past_apply(p, n);
        past_note_free(n);
        n = next;
    }
    past_trim(p);
}

int past_get(past *p, const char *id, buf *out, uint64_t *ticket)
{
    uint64_t h = seen_hash(id);
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    past_catch_up(p);
    entry *e = p->off ? NULL : *past_slot(p, h, id);
    if (e) {
        past_front(p, e);
        p->hits++;
        size_t at = out->len;
        rc = buf_addc(out, '[') != 0 || (e->len && buf_add(out, e->rows, e->len) != 0) ||
             buf_addc(out, ']') != 0 ? -1 : 1;
        if (rc < 0 && out->data)
            out->data[out->len = at] = '\0';
    } else {
        p->misses++;
        *ticket = p->ticket;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void past_keep(past *p, const char *id, const char *rows, size_t n, int64_t newest,
               size_t decisions, uint64_t ticket)
{
    if (n < 2 || rows[0] != '[' || rows[n - 1] != ']')
        return;
    uint64_t h = seen_hash(id);
    pthread_mutex_lock(&p->mu);
    past_catch_up(p);
    if (p->off || ticket < p->floor || p->stamps[h % PAST_STAMPS] > ticket) {
        p->refused++;
    } else if (!*past_slot(p, h, id)) {   /* one kept meanwhile is as new */
        if (!past_add(p, h, id, rows + 1, n - 2, newest, decisions))
            p->refused++;
        past_trim(p);
    }
    pthread_mutex_unlock(&p->mu);
}

past_note *past_note_new(const char *id, const char *rows, size_t len)
{
    size_t idlen = strlen(id);
    past_note *n = malloc(sizeof *n + idlen + 1 + len);
    if (!n)
        return NULL;
    memset(n, 0, sizeof *n);
    memcpy(n->id, id, idlen + 1);
    memcpy(n->id + idlen + 1, rows, len);
    n->rows = n->id + idlen + 1;
    n->len = len;
    return n;
}

past_note *past_note_changed(const char *id)
{
    past_note *n = past_note_new(id, "", 0);
    if (n)
        n->changed = 1;
    return n;
}

void past_note_free(past_note *n)
{
    free(n);
}

void past_commit(past *p, past_note *const *notes, size_t n)
{
    if (!n)
        return;
    for (size_t i = 0; i + 1 < n; i++)
        notes[i]->next = notes[i + 1];
    notes[n - 1]->next = NULL;
    pthread_mutex_lock(&p->mu);
    uint64_t ticket = ++p->ticket;
    for (size_t i = 0; i < n; i++)
        notes[i]->ticket = ticket;
    *p->last = notes[0];
    p->last = &notes[n - 1]->next;
    atomic_fetch_add(&p->waiting, n);
    pthread_mutex_unlock(&p->mu);
}

void past_tidy(past *p)
{
    if (atomic_load(&p->waiting) < PAST_TIDY)
        return;
    pthread_mutex_lock(&p->mu);
    past_catch_up(p);
    pthread_mutex_unlock(&p->mu);
}

void past_forget(past *p)
{
    pthread_mutex_lock(&p->mu);
    p->off = 1;
    past_catch_up(p);
    while (p->oldest)
        past_drop(p, p->oldest);
    pthread_mutex_unlock(&p->mu);
}

void past_clear(past *p)
{
    pthread_mutex_lock(&p->mu);
    past_catch_up(p);
    p->floor = ++p->ticket;
    while (p->oldest)
        past_drop(p, p->oldest);
    pthread_mutex_unlock(&p->mu);
}

void past_get_stats(past *p, past_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = (past_stats){p->count, p->bytes, atomic_load(&p->waiting), p->hits, p->misses,
                        p->refused};
    pthread_mutex_unlock(&p->mu);
}

void past_free(past *p)
{
    if (!p)
        return;
    p->off = 1;
    past_catch_up(p);
    while (p->oldest)
        past_drop(p, p->oldest);
    pthread_mutex_destroy(&p->mu);
    free(p->buckets);
    free(p);
}
