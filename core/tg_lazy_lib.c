/* dlopen/dlsym with their error text kept for a configuration error (tg_lazy_lib.h).
 * Only the loaders tg_lazy_grpc.c and tg_lazy_curl.c call these, each once per process. */
#include "tg_lazy_lib.h"

#include <dlfcn.h>
#include <stdio.h>

void *tg_lazy_lib_open(const char *soname, char *why, size_t cap, const char *prefix) {
  void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(why, cap, "%s: %s", prefix, e ? e : "dlopen failed");
  }
  return h;
}

void *tg_lazy_lib_sym(void *h, const char *name, char *why, size_t cap, const char *prefix) {
  void *p = dlsym(h, name);
  if (!p && !why[0])
    snprintf(why, cap, "%s: symbol %s missing", prefix, name);
  return p;
}
