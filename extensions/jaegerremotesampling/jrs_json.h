/* A strict JSON reader that remembers where every value came from (line, column), so a
 * strategies file's semantic errors ("param 1.5 is outside [0, 1]") point at the value,
 * not just at the file. Jansson reports positions only for syntax errors.
 *
 * RFC 8259 grammar, nothing more: no comments, no trailing commas, no NaN; strings must
 * be valid UTF-8 (escapes included) without NUL; duplicate object keys are errors. The
 * whole tree lives in one allocation arena owned by the document. Bounded: nesting depth
 * JRS_JSON_MAX_DEPTH, values JRS_JSON_MAX_NODES, and the caller caps the input size. */
#ifndef JRS_JSON_H
#define JRS_JSON_H

#include <stddef.h>

#define JRS_JSON_MAX_DEPTH 32
#define JRS_JSON_MAX_NODES 200000

typedef enum jrs_json_kind {
  JRS_JSON_NULL,
  JRS_JSON_BOOL,
  JRS_JSON_NUMBER,
  JRS_JSON_STRING,
  JRS_JSON_ARRAY,
  JRS_JSON_OBJECT,
} jrs_json_kind;

typedef struct jrs_json jrs_json;

struct jrs_json {
  jrs_json_kind kind;
  unsigned line, col;  /* 1-based position of the value's first byte */
  double number;       /* NUMBER; BOOL: 0 or 1 */
  int integral;        /* NUMBER written without fraction or exponent */
  char *str;           /* STRING: NUL-terminated UTF-8 (no NUL inside) */
  size_t len;          /* STRING: bytes; ARRAY/OBJECT: members */
  jrs_json **items;    /* ARRAY: values; OBJECT: values (keys[i] names items[i]) */
  jrs_json **keys;     /* OBJECT: key strings, with their positions */
  jrs_json *next_;     /* private: allocation list */
};

typedef struct jrs_json_doc {
  jrs_json *root;
  jrs_json *all_;      /* private: every node, for freeing */
} jrs_json_doc;

/* Parses text[0..len). On success returns 0 and doc->root; on error returns -1 and
 * writes the message into err with *line / *col of the offending byte; doc is then
 * empty. Either way jrs_json_free(doc) releases everything (safe twice). */
int jrs_json_parse(const char *text, size_t len, jrs_json_doc *doc, char *err,
                   size_t err_size, unsigned *line, unsigned *col);
void jrs_json_free(jrs_json_doc *doc);

/* Member of an object by key, or NULL. */
const jrs_json *jrs_json_get(const jrs_json *obj, const char *key);
const char *jrs_json_kind_name(jrs_json_kind kind);

#endif
