/* Names and messages for the codes of tg_error.h's table. */
#include "tg_error.h"

#include <stdarg.h>
#include <stdio.h>

const char *tg_err_name(int code) {
  switch (code) {
  case TG_OK:
    return "TG_OK";
#define TG_ERR_NAME_(name, msg)                                                \
  case TG_##name:                                                              \
    return "TG_" #name;
    TG_ERRNO_MAP(TG_ERR_NAME_)
#undef TG_ERR_NAME_
  default:
    return "TG_EUNKNOWN";
  }
}

const char *tg_strerror(int code) {
  switch (code) {
  case TG_OK:
    return "success";
#define TG_ERR_MSG_(name, msg)                                                 \
  case TG_##name:                                                              \
    return msg;
    TG_ERRNO_MAP(TG_ERR_MSG_)
#undef TG_ERR_MSG_
  default:
    return "unknown error";
  }
}

int tg_errf(tg_errbuf *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}
