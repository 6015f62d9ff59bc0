/* The libcurl loader behind tg_lazy_curl.h.
 *
 * Process-wide state, like libcurl's global init in tg_http_send.c: one pthread_once, the
 * table and the outcome, written once under it and only read afterwards. The library is
 * never unloaded (libcurl's global init is never undone, see tg_http_send.c). */
#define TG_LAZY_CURL_IMPL 1
#include "tg_lazy_curl.h"

#include <pthread.h>

#include "tg_lazy_lib.h"
#include "tg_sonames.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static tg_lazy_curl_fns curl_fns;   /* written once under curl_once */
static char curl_why[320];          /* empty when the load succeeded */

#define CURL_WHY curl_why, sizeof curl_why, "cannot load " TG_CURL_SONAME

static void curl_load_once(void) {
  void *h = tg_lazy_lib_open(TG_CURL_SONAME, CURL_WHY);
  if (!h)
    return;
  tg_lazy_curl_fns f;
#define TG_LAZY_CURL_RESOLVE_(name) f.name = (__typeof__(f.name))tg_lazy_lib_sym(h, #name, CURL_WHY);
  TG_LAZY_CURL_FNS(TG_LAZY_CURL_RESOLVE_)
#undef TG_LAZY_CURL_RESOLVE_
  if (!curl_why[0])
    curl_fns = f;
}

const char *tg_lazy_curl_load(void) {
  pthread_once(&curl_once, curl_load_once);
  return curl_why[0] ? curl_why : NULL;
}

const tg_lazy_curl_fns *tg_lazy_curl(void) { return &curl_fns; }
