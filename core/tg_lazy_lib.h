/* Opening a shared library by soname at run time, for the libraries tailgate loads only
 * when a configured component needs them (libgrpc, libcurl: see tg_lazy_grpc.h,
 * tg_lazy_curl.h and docs/ARCHITECTURE.md "Idle memory"). */
#ifndef TG_LAZY_LIB_H
#define TG_LAZY_LIB_H

#include <stddef.h>

/* Opens soname with RTLD_NOW | RTLD_LOCAL (never closed: the libraries start threads and
 * register atexit handlers). Returns the handle, or NULL with "<prefix>: <dlerror()>" in
 * why (cap bytes, truncated). */
void *tg_lazy_lib_open(const char *soname, char *why, size_t cap, const char *prefix);

/* The address of name in h or in the libraries h depends on. NULL when it is missing; the
 * first missing name is written to why as "<prefix>: symbol <name> missing" (when why[0]
 * is still empty), so a caller resolves a whole list and checks why once. */
void *tg_lazy_lib_sym(void *h, const char *name, char *why, size_t cap, const char *prefix);

#endif
