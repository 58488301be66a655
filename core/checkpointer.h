/*
 * checkpointer.h -- checkpoints of the write-ahead log, on a thread of their
 * own.
 *
 * Left to itself, SQLite copies the write-ahead log back into the database
 * file inside a commit, on the committing thread: for the server's writer,
 * that is time when no decision commits.  A checkpointer takes the writer's
 * handle off that duty (store_wal_watch) and does the copying on its own
 * thread, with its own read-write handle on the same file, while the writer
 * goes on committing.  Nothing about durability changes: a checkpoint copies
 * pages that are already safe in the log.
 *
 * Only the server, which owns the writer, starts one; the offline commands
 * keep SQLite's automatic checkpoint.  (Not to be confused with the signed
 * checkpoints of the audit chain, sign.h.)
 */
#ifndef ELIGO_CHECKPOINTER_H
#define ELIGO_CHECKPOINTER_H

#include "err.h"
#include "store.h"

typedef struct checkpointer checkpointer;

/* Watch ST, the writer's read-write handle on the database at PATH, and
 * start the thread, which opens PATH itself with FLAGS (as for store_open;
 * the writer's, so that both sync alike).  Call it before any other thread
 * uses ST.  Returns 0 and *OUT, or -1 with E (ST is then as it was). */
int checkpointer_new(checkpointer **out, store *st, const char *path, int flags, err *e);

/* Checkpoints so far: those the thread ran (*BACKGROUND), and those the
 * writer tried itself because the log had grown past its limit (*WRITER).
 * Any thread. */
void checkpointer_counts(checkpointer *c, long *background, long *writer);

/* Stop the thread (after the checkpoint it may be running), close its handle
 * and give ST its automatic checkpoint back.  Call it once no other thread
 * uses ST, and before store_close(ST): that close, the last on the file, then
 * checkpoints what is left and removes the log, as it always has.  NULL is
 * fine. */
void checkpointer_free(checkpointer *c);

#endif
