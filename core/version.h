/* version.h -- which eligo this is.
 *
 * The server records both in its start event, so that an auditor can tell
 * which build of the engine made a decision (eligo audit show). */
#ifndef ELIGO_VERSION_H
#define ELIGO_VERSION_H

extern const char eligo_version[];   /* "0.1.0" */
extern const char eligo_source[];    /* the git commit built from, maybe with
                                        "-modified"; "unknown" outside git */

#endif
