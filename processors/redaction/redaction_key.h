/* Where a pseudonymisation key comes from: an environment variable or a file, read at
 * setup. The key itself never reaches a message: problems say which source failed and
 * why (unset, unreadable, too short), never what it held. */
#ifndef TG_REDACTION_KEY_H
#define TG_REDACTION_KEY_H

#include <stddef.h>
#include <stdint.h>

#define TG_REDACTION_KEY_MIN 32   /* bytes: the floor, HMAC-SHA256's output size */
#define TG_REDACTION_KEY_MAX 4096 /* bytes: a key file larger than this is a mistake */

typedef struct tg_redaction_key {
  uint8_t bytes[TG_REDACTION_KEY_MAX];
  size_t len;
  int configured; /* 0: neither source names a key (the caller picks a random one) */
} tg_redaction_key;

/* Loads from key_env (the variable's value, as bytes) or key_file (its contents, one
 * trailing "\n" or "\r\n" removed); both NULL, or key_env naming an unset variable, gives
 * configured = 0 and TG_OK. Errors (TG_ECONFIG, message in why): both sources given, the
 * file cannot be read or is larger than TG_REDACTION_KEY_MAX, the key is shorter than
 * TG_REDACTION_KEY_MIN. *which says which source a problem is about (0 env, 1 file). */
int tg_redaction_key_load(const char *key_env, const char *key_file, tg_redaction_key *key,
                          int *which, char *why, size_t why_size);

/* Fills key with 32 random bytes (OpenSSL's CSPRNG); TG_EIO when it cannot. */
int tg_redaction_key_random(tg_redaction_key *key);

/* Wipes the key. */
void tg_redaction_key_clear(tg_redaction_key *key);

#endif
