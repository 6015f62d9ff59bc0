/* tailgate error codes: one X-macro table, so every code has a name and a message.
 * Errors are negative; 0 is success. TG_EAGAIN means back-pressure: the caller may retry
 * later, nothing is wrong with the data. Setup paths add detail text in a tg_errbuf. */
#ifndef TG_ERROR_H
#define TG_ERROR_H

#include <stddef.h>

#define TG_ERRNO_MAP(X)                                                        \
  X(EAGAIN, "resource temporarily exhausted, retry later")                     \
  X(ENOMEM, "out of memory")                                                   \
  X(EINVAL, "invalid argument")                                                \
  X(EDECODE, "malformed input")                                                \
  X(ETOOBIG, "input larger than the configured bound")                         \
  X(EUNSUPPORTED, "unsupported media type or encoding")                        \
  X(ECONFIG, "invalid configuration")                                          \
  X(EIO, "input/output error")                                                 \
  X(ECLOSED, "component is shutting down")                                     \
  X(ENOTFOUND, "not found")                                                    \
  X(ETIMEDOUT, "timed out")                                                    \
  X(EAUTH, "missing or invalid credentials")

enum {
  TG_OK = 0,
  TG_ERROR_BASE_ = -1000,
#define TG_ERR_ENUM_(name, msg) TG_##name,
  TG_ERRNO_MAP(TG_ERR_ENUM_)
#undef TG_ERR_ENUM_
  TG_ERROR_END_
};

/* Name ("TG_EAGAIN") and message of a code; never NULL, unknown codes get a generic text. */
const char *tg_err_name(int code);
const char *tg_strerror(int code);

/* Detail text for setup and configuration paths. Fixed size: never allocates. */
typedef struct tg_errbuf {
  char msg[512];
} tg_errbuf;

/* Formats into err (if non-NULL) and returns code, so callers can
 * `return tg_errf(err, TG_ECONFIG, "...", ...)`. */
int tg_errf(tg_errbuf *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
