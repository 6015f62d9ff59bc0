/* Reading a pseudonymisation key. Messages name the source (variable name, file path)
 * and the reason; the bytes read are wiped from every buffer they passed through. */
#include "redaction_key.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "tg_error.h"

static int too_short(size_t len, const char *source, const char *name, char *why, size_t n) {
  snprintf(why, n, "the key in %s \"%s\" is %zu bytes; at least %d are required", source, name,
           len, TG_REDACTION_KEY_MIN);
  return TG_ECONFIG;
}

static int load_file(const char *path, tg_redaction_key *key, char *why, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(why, n, "cannot read key_file \"%s\": %s", path, strerror(errno));
    return TG_ECONFIG;
  }
  size_t len = fread(key->bytes, 1, sizeof key->bytes, f);
  int err = ferror(f), more = !err && fgetc(f) != EOF;
  int saved = errno;
  fclose(f);
  if (err) {
    tg_redaction_key_clear(key);
    snprintf(why, n, "cannot read key_file \"%s\": %s", path, strerror(saved));
    return TG_ECONFIG;
  }
  if (more) {
    tg_redaction_key_clear(key);
    snprintf(why, n, "key_file \"%s\" is larger than %d bytes", path, TG_REDACTION_KEY_MAX);
    return TG_ECONFIG;
  }
  if (len && key->bytes[len - 1] == '\n')
    len--;
  if (len && key->bytes[len - 1] == '\r')
    len--;
  key->len = len;
  key->configured = 1;
  if (len < TG_REDACTION_KEY_MIN) {
    tg_redaction_key_clear(key);
    return too_short(len, "key_file", path, why, n);
  }
  return TG_OK;
}

int tg_redaction_key_load(const char *key_env, const char *key_file, tg_redaction_key *key,
                          int *which, char *why, size_t why_size) {
  memset(key, 0, sizeof *key);
  *which = key_file ? 1 : 0;
  why[0] = '\0';
  if (key_env && key_file) {
    snprintf(why, why_size, "key_env and key_file are exclusive: give one key source");
    return TG_ECONFIG;
  }
  if (key_file)
    return load_file(key_file, key, why, why_size);
  if (!key_env)
    return TG_OK;
  const char *value = getenv(key_env);
  if (!value)
    return TG_OK; /* not configured: the caller warns and uses a random key */
  size_t len = strlen(value);
  key->configured = 1;
  if (len < TG_REDACTION_KEY_MIN)
    return too_short(len, "environment variable", key_env, why, why_size);
  if (len > TG_REDACTION_KEY_MAX) {
    snprintf(why, why_size, "the key in environment variable \"%s\" is longer than %d bytes",
             key_env, TG_REDACTION_KEY_MAX);
    return TG_ECONFIG;
  }
  memcpy(key->bytes, value, len);
  key->len = len;
  return TG_OK;
}

int tg_redaction_key_random(tg_redaction_key *key) {
  memset(key, 0, sizeof *key);
  /* getrandom, not RAND_bytes: OpenSSL's DRBG would initialise its providers (~2 MB
   * resident) in a process that otherwise never needs them (docs/ARCHITECTURE.md). */
  if (getrandom(key->bytes, 32, 0) != 32)
    return TG_EIO;
  key->len = 32;
  return TG_OK;
}

void tg_redaction_key_clear(tg_redaction_key *key) { OPENSSL_cleanse(key, sizeof *key); }
