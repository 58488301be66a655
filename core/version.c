/* version.c -- see version.h.  source_id.h is written by the build. */
#include "version.h"

#include "source_id.h"

const char eligo_version[] = ELIGO_VERSION;
const char eligo_source[] = ELIGO_SOURCE;
