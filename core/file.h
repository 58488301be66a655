/*
 * file.h -- the small files a user names on the command line: a key, a
 * checkpoint; and syncing what a command wrote.
 *
 * Each is opened without waiting and refused unless it is a regular file: a
 * FIFO would block the open until some writer came, and a device (/dev/zero)
 * would be read for ever.
 */
#ifndef ELIGO_FILE_H
#define ELIGO_FILE_H

#include <stdio.h>

#include "err.h"

/* PATH opened for reading, or NULL with E (code invalid_request): "cannot
 * open PATH: why", "PATH is a directory", "PATH is not a regular file". */
FILE *file_open_regular(const char *path, err *e);

/* PATH (file_open_regular) read whole into BUF of CAP bytes: its length, -1
 * with E, or -2 with E when it holds CAP bytes or more ("PATH is over CAP - 1
 * bytes"). */
long file_read_small(const char *path, char *buf, size_t cap, err *e);

/* As file_read_small, for a secret (WHAT names it: "a redaction key"): PATH
 * is refused unread, -1 with E (code invalid_request), when other users may
 * read or write it ("PATH is open to other users (mode 0644): WHAT must be
 * readable by its owner only (chmod 600 PATH)"), or when another user owns
 * it, who can read it whatever its mode. */
long file_read_secret(const char *path, const char *what, char *buf, size_t cap, err *e);

/* Whether F, open at PATH, may hold a secret (WHAT): 0, or -1 with E as
 * file_read_secret says it. */
int file_secret_ok(FILE *f, const char *path, const char *what, err *e);

/* fsync the file (DIR 0) or directory (DIR 1) at PATH, so that what was
 * written there, or the names it holds, outlive a crash of the machine.
 * 0, or -1 with errno set. */
int file_sync(const char *path, int dir);

/* fsync the directory that holds PATH, so that a file just made there
 * outlives a crash of the machine ("x" and "x/" are in ".", "/x" in "/").
 * 0, or -1 with errno set. */
int file_sync_parent(const char *path);

#endif
