/* Typed configuration tables. A component describes its keys in a static table (path,
 * type, default, bounds, one-line doc, offset into its config struct); the loader fills
 * the struct from YAML, rejects unknown and mistyped keys with positions, and applies
 * defaults. TG_KEY_* macros check at compile time that the field has the C type that the
 * key type writes (a mismatch does not compile), so no 4-byte int is ever written as a
 * uint64_t through the table. */
#ifndef TG_CONF_H
#define TG_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "tg_diag.h"
#include "tg_yaml-t.h"

typedef enum tg_conf_type {
  TG_CONF_BOOL,     /* bool: true/false */
  TG_CONF_INT,      /* int64_t, strict decimal, within [min, max] */
  TG_CONF_DOUBLE,   /* double, within [min, max] */
  TG_CONF_DURATION, /* uint64_t milliseconds from "250ms", "5s", "1m30s", "1.5h" (Go syntax) */
  TG_CONF_SIZE,     /* uint64_t bytes from "512", "4KiB", "16MiB", "1GiB", "1MB" */
  TG_CONF_STRING,   /* char * (owned by the config struct; NULL when unset, no default) */
                    /* scalar types: a null value (`key:`) leaves the default in place */
  TG_CONF_ENUM,     /* int: index into enum_values */
  TG_CONF_STRLIST,  /* tg_conf_strlist */
  TG_CONF_STRMAP,   /* tg_conf_strmap: a mapping of string to string (e.g. headers) */
  TG_CONF_PRESENT,  /* bool: true when the key is present (even as `key:` with no value) */
  TG_CONF_CUSTOM,   /* parsed by the key's own parse function */
} tg_conf_type;

typedef struct tg_conf_strlist {
  char **items;
  size_t n;
} tg_conf_strlist;

typedef struct tg_conf_strmap {
  char **keys;
  char **values;
  size_t n;
} tg_conf_strmap;

typedef struct tg_conf_key tg_conf_key;

/* Custom parsers write into field; report problems into diag with the node's position.
 * free_field releases what parse stored (may be NULL when parse stores nothing owned). */
typedef void (*tg_conf_parse_fn)(const tg_yaml_node *node, void *field, tg_diag *diag);
typedef void (*tg_conf_free_fn)(void *field);

struct tg_conf_key {
  const char *path; /* dotted: "protocols.grpc.endpoint"; every prefix is a mapping */
  tg_conf_type type;
  const char *def;  /* default as YAML text; NULL = no default (zero / NULL) */
  double min, max;  /* bounds for INT, DOUBLE, DURATION (ms), SIZE (bytes); 0,0 = none */
  const char *doc;  /* one line, shown by `tailgate components` and in errors */
  size_t offset;
  const char *const *enum_values; /* ENUM: NULL-terminated */
  tg_conf_parse_fn parse;         /* CUSTOM */
  tg_conf_free_fn free_field;     /* CUSTOM */
};

/* Compile-time type check: selects offsetof only when the field has type T. */
#define TG_CONF_OFFSET_(st, field, T) _Generic(((st *)0)->field, T : offsetof(st, field))

#define TG_KEY_BOOL(path, st, field, def, doc)                                  \
  { path, TG_CONF_BOOL, def, 0, 0, doc, TG_CONF_OFFSET_(st, field, _Bool), NULL, NULL, NULL }
#define TG_KEY_PRESENT(path, st, field, doc)                                    \
  { path, TG_CONF_PRESENT, NULL, 0, 0, doc, TG_CONF_OFFSET_(st, field, _Bool), NULL, NULL, NULL }
#define TG_KEY_INT(path, st, field, def, lo, hi, doc)                           \
  { path, TG_CONF_INT, def, lo, hi, doc, TG_CONF_OFFSET_(st, field, int64_t), NULL, NULL, NULL }
#define TG_KEY_DOUBLE(path, st, field, def, lo, hi, doc)                        \
  { path, TG_CONF_DOUBLE, def, lo, hi, doc, TG_CONF_OFFSET_(st, field, double), NULL, NULL, NULL }
#define TG_KEY_DURATION(path, st, field, def, lo, hi, doc)                      \
  { path, TG_CONF_DURATION, def, lo, hi, doc, TG_CONF_OFFSET_(st, field, uint64_t), NULL, NULL, NULL }
#define TG_KEY_SIZE(path, st, field, def, lo, hi, doc)                          \
  { path, TG_CONF_SIZE, def, lo, hi, doc, TG_CONF_OFFSET_(st, field, uint64_t), NULL, NULL, NULL }
#define TG_KEY_STRING(path, st, field, def, doc)                                \
  { path, TG_CONF_STRING, def, 0, 0, doc, TG_CONF_OFFSET_(st, field, char *), NULL, NULL, NULL }
#define TG_KEY_ENUM(path, st, field, def, values, doc)                          \
  { path, TG_CONF_ENUM, def, 0, 0, doc, TG_CONF_OFFSET_(st, field, int), values, NULL, NULL }
#define TG_KEY_STRLIST(path, st, field, doc)                                    \
  { path, TG_CONF_STRLIST, NULL, 0, 0, doc, TG_CONF_OFFSET_(st, field, tg_conf_strlist), NULL, NULL, NULL }
#define TG_KEY_STRMAP(path, st, field, doc)                                     \
  { path, TG_CONF_STRMAP, NULL, 0, 0, doc, TG_CONF_OFFSET_(st, field, tg_conf_strmap), NULL, NULL, NULL }
#define TG_KEY_CUSTOM(path, st, field, parse_fn, free_fn, doc)                  \
  { path, TG_CONF_CUSTOM, NULL, 0, 0, doc, offsetof(st, field), NULL, parse_fn, free_fn }

/* Fills conf (a zeroed struct of the component's conf type) from node, a mapping or
 * NULL (component listed with no settings). Applies defaults first, then the node's
 * values; every unknown key, wrong type and out-of-bounds value is added to diag, in
 * the form "<what>: <key path>: <problem>" at the value's position. An unknown key lists
 * the valid keys at its level. Keys are matched segment by segment: a YAML key that
 * itself contains '.' never matches a dotted path. A PRESENT key may also be the prefix
 * of other keys (`http:` alone, or `http: {endpoint: ...}`).
 * `what` names the component in messages ("receivers::otlp/a"). Whatever was stored
 * (also on error) is released by tg_conf_release. */
void tg_conf_apply(const tg_conf_key *keys, size_t n_keys, const tg_yaml_node *node,
                   void *conf, const char *what, tg_diag *diag);

/* Frees what tg_conf_apply stored in conf (strings, lists, maps, custom fields). */
void tg_conf_release(const tg_conf_key *keys, size_t n_keys, void *conf);

/* Strict scalar parsers, shared with custom parsers. Return 0 on success, -1 on error
 * (*out untouched). No leading/trailing spaces anywhere.
 *  int:      [+-]?[0-9]+ without leading zeros ("0" is fine, "010" is rejected as
 *            ambiguous: octal in YAML 1.1), within int64; no "1e3", "0x10", "1_000".
 *  double:   decimal or exponent notation, finite; no "inf", "nan", hex floats.
 *  duration: Go's time.ParseDuration syntax without negatives: one or more
 *            <number><unit>, unit ns|us|µs|ms|s|m|h, number may have a fraction ("1.5s");
 *            the total must be whole milliseconds ("100us" is rejected). A bare "0" is
 *            zero; any other bare number is rejected (the Collector would read it as
 *            nanoseconds, users mean milliseconds or seconds: make them say it).
 *  size:     <digits>[unit], unit B|KB|kB|MB|GB|TB (powers of 1000) or
 *            KiB|MiB|GiB|TiB (powers of 1024); no fraction, no space, no overflow.
 *  bool:     the YAML 1.2 core schema: true|True|TRUE|false|False|FALSE (no yes/on). */
int tg_conf_parse_int(const char *s, int64_t *out);
int tg_conf_parse_double(const char *s, double *out);
int tg_conf_parse_duration_ms(const char *s, uint64_t *out);
/* The same duration syntax at nanosecond resolution ("100us" = 100000); a bare "0" is 0. */
int tg_conf_parse_duration_ns(const char *s, uint64_t *out);
int tg_conf_parse_size(const char *s, uint64_t *out);
int tg_conf_parse_bool(const char *s, _Bool *out);

#endif
