/* libcurl, loaded on first use (dlopen of libcurl by its soname) instead of linked.
 *
 * Why: the embedded default configuration posts nothing over HTTP (its exporters are debug
 * and prometheus unless TAILGATE_JAEGER_ENDPOINT is set), yet linking libcurl maps it with
 * gnutls, nettle, p11-kit, krb5, ldap, ssh2, rtmp, ... and runs their constructors in every
 * process: about 3 MB of the idle RSS (docs/ARCHITECTURE.md "Idle memory"). So the
 * executable has no NEEDED entry for libcurl; tg_http_global_init (tg_http_send.h), which
 * every libcurl user calls before its first libcurl call, loads it.
 *
 * Same scheme as tg_lazy_grpc.h: include this header instead of <curl/curl.h> (or after
 * it); it #defines each function tailgate calls to the loaded table's member of the same
 * name and type (__typeof__ of curl's own declaration). curl's GCC type-checking wrappers of
 * curl_easy_setopt/curl_easy_getinfo are macros that call the real symbol, so they are
 * replaced (the option/value pairs are no longer type-checked at compile time).
 *
 * Contract: no function below may be called before tg_lazy_curl_load returned NULL in this
 * process, except curl_slist_free_all(NULL), which is a no-op without the library (a
 * component destroyed after a failed start frees its empty header list). */
#ifndef TG_LAZY_CURL_H
#define TG_LAZY_CURL_H

#include <curl/curl.h>

/* Every libcurl function tailgate calls (generated from `nm -u` of the callers). */
#define TG_LAZY_CURL_FNS(X)                                                     \
  X(curl_easy_cleanup)                                                          \
  X(curl_easy_getinfo)                                                          \
  X(curl_easy_init)                                                             \
  X(curl_easy_perform)                                                          \
  X(curl_easy_setopt)                                                           \
  X(curl_easy_strerror)                                                         \
  X(curl_getdate)                                                               \
  X(curl_global_init)                                                           \
  X(curl_slist_append)                                                          \
  X(curl_slist_free_all)

typedef struct tg_lazy_curl_fns {
#define TG_LAZY_CURL_MEMBER_(name) __typeof__(name) *name;
  TG_LAZY_CURL_FNS(TG_LAZY_CURL_MEMBER_)
#undef TG_LAZY_CURL_MEMBER_
} tg_lazy_curl_fns;

/* Loads libcurl (the soname the build linked against, e.g. libcurl.so.4) and resolves
 * every function above, once per process (pthread_once; later calls return the first
 * outcome). Thread-safe. Returns NULL when loaded, else a static text "cannot load
 * <soname>: <dlerror or missing symbol>". Does not call curl_global_init (that is
 * tg_http_global_init's, under its own once). */
const char *tg_lazy_curl_load(void);

/* The resolved table; its members are NULL until tg_lazy_curl_load succeeded. */
const tg_lazy_curl_fns *tg_lazy_curl(void);

/* curl_slist_free_all that needs no library for an empty list. */
static inline void tg_lazy_curl_slist_free_all(struct curl_slist *list) {
  if (list)
    tg_lazy_curl()->curl_slist_free_all(list);
}

#ifndef TG_LAZY_CURL_IMPL
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_cleanup (tg_lazy_curl()->curl_easy_cleanup)
#define curl_easy_getinfo (tg_lazy_curl()->curl_easy_getinfo)
#define curl_easy_init (tg_lazy_curl()->curl_easy_init)
#define curl_easy_perform (tg_lazy_curl()->curl_easy_perform)
#define curl_easy_setopt (tg_lazy_curl()->curl_easy_setopt)
#define curl_easy_strerror (tg_lazy_curl()->curl_easy_strerror)
#define curl_getdate (tg_lazy_curl()->curl_getdate)
#define curl_global_init (tg_lazy_curl()->curl_global_init)
#define curl_slist_append (tg_lazy_curl()->curl_slist_append)
#define curl_slist_free_all tg_lazy_curl_slist_free_all
#endif

#endif
