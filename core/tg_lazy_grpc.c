/* The libgrpc loader behind tg_lazy_grpc.h.
 *
 * Process-wide state, like libcurl's global init in tg_http_send.c: one pthread_once, the
 * table and the outcome, written once under it and only read afterwards. The library is
 * never unloaded (gRPC core keeps threads and atexit handlers of its own). */
#define TG_LAZY_GRPC_IMPL 1
#include "tg_lazy_grpc.h"

#include <pthread.h>

#include "tg_lazy_lib.h"
#include "tg_sonames.h"

static pthread_once_t grpc_once = PTHREAD_ONCE_INIT;
static tg_lazy_grpc_fns grpc_fns;   /* written once under grpc_once */
static char grpc_why[320];          /* empty when the load succeeded */

#define GRPC_WHY grpc_why, sizeof grpc_why, "cannot load " TG_GRPC_SONAME

static void grpc_load_once(void) {
  void *h = tg_lazy_lib_open(TG_GRPC_SONAME, GRPC_WHY);
  if (!h)
    return;
  tg_lazy_grpc_fns f;
#define TG_LAZY_GRPC_RESOLVE_(name) f.name = (__typeof__(f.name))tg_lazy_lib_sym(h, #name, GRPC_WHY);
  TG_LAZY_GRPC_FNS(TG_LAZY_GRPC_RESOLVE_)
#undef TG_LAZY_GRPC_RESOLVE_
  if (!grpc_why[0])
    grpc_fns = f;
}

const char *tg_lazy_grpc_load(void) {
  pthread_once(&grpc_once, grpc_load_once);
  return grpc_why[0] ? grpc_why : NULL;
}

const tg_lazy_grpc_fns *tg_lazy_grpc(void) { return &grpc_fns; }
