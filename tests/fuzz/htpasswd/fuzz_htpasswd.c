/* libFuzzer target for the htpasswd parser and verifier (extensions/basicauth).
 * Input: byte 0 chooses whether plain passwords are allowed (the `inline` key) and a
 * password length; the rest is the file. Checked on success: users are unique, non-empty,
 * without ':' or control characters; every entry's scheme is what tg_htpasswd_scheme_of
 * says of its hash; verifying a few users with a password cut from the input never
 * crashes, a user absent from the table never passes, and a plain entry passes with its
 * own text. Bcrypt/SHA-crypt entries are verified at most twice per input (they are slow
 * by design). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extensions/basicauth/htpasswd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int allow_plain = data[0] & 1;
  size_t pw_len = (data[0] >> 1) & 0x3f;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  tg_htpasswd h;
  tg_errbuf err = {{0}};
  if (tg_htpasswd_parse(text, len, allow_plain, &h, &err) != TG_OK) {
    if (h.n || h.entries)
      abort(); /* a failed parse leaves nothing behind */
    return 0;
  }
  const char *pw = text + (pw_len < len ? len - pw_len : 0);
  size_t pl = pw_len < len ? pw_len : len;
  int slow = 0;
  for (size_t i = 0; i < h.n; i++) {
    tg_htpasswd_entry *e = &h.entries[i];
    size_t ul = strlen(e->user);
    if (!ul || memchr(e->user, ':', ul))
      abort();
    for (size_t j = 0; j < ul; j++)
      if ((unsigned char)e->user[j] < 0x20 || e->user[j] == 0x7f)
        abort();
    for (size_t k = 0; k < i; k++)
      if (!strcmp(h.entries[k].user, e->user))
        abort();
    if ((int)e->scheme != tg_htpasswd_scheme_of(e->hash, e->hash_len, allow_plain))
      abort();
    int expensive = e->scheme == TG_HTPASSWD_BCRYPT || e->scheme == TG_HTPASSWD_SHA256CRYPT ||
                    e->scheme == TG_HTPASSWD_SHA512CRYPT;
    if (expensive && slow++ >= 2)
      continue;
    if (i < 8)
      (void)tg_htpasswd_verify(&h, e->user, ul, pw, pl);
    if (e->scheme == TG_HTPASSWD_PLAIN && e->hash_len <= TG_HTPASSWD_MAX_PASSWORD &&
        !tg_htpasswd_verify(&h, e->user, ul, e->hash, e->hash_len))
      abort();
  }
  if (tg_htpasswd_verify(&h, "no:such:user", 12, pw, pl))
    abort(); /* ':' can never be in a user name */
  tg_htpasswd_free(&h);
  return 0;
}
