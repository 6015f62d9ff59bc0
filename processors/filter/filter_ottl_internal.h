/* The compiled form of an OTTL condition, shared by the parser (filter_ottl_parse.c) and
 * the evaluator (filter_ottl_eval.c). A tree of malloc'd nodes, built once at create. */
#ifndef TG_FILTER_OTTL_INTERNAL_H
#define TG_FILTER_OTTL_INTERNAL_H

#include <stdint.h>

#include "filter_ottl.h"

typedef enum ottl_path {
  OTTL_P_NAME, OTTL_P_KIND, OTTL_P_STATUS_CODE, OTTL_P_STATUS_MESSAGE, OTTL_P_ATTR,
  OTTL_P_RES_ATTR, OTTL_P_SCOPE_NAME, OTTL_P_SCOPE_VERSION, OTTL_P_SCOPE_ATTR,
  OTTL_P_EVENT_NAME, OTTL_P_EVENT_ATTR
} ottl_path;

typedef enum ottl_vtype { OTTL_NIL, OTTL_STR, OTTL_INT, OTTL_DBL, OTTL_BOOL, OTTL_OTHER } ottl_vtype;

/* A runtime value: strings point into the span tree or the compiled literal. */
typedef struct ottl_val {
  ottl_vtype t;
  int64_t i;
  double d;
  int b;
  const char *s;
  size_t slen;
} ottl_val;

typedef enum ottl_vkind { OTTL_V_LIT, OTTL_V_PATH, OTTL_V_ISMATCH } ottl_vkind;

typedef struct ottl_value {
  ottl_vkind kind;
  ottl_val lit;            /* OTTL_V_LIT (string owned: lit_buf) */
  char *lit_buf;
  ottl_path path;          /* OTTL_V_PATH */
  char *key;               /* OTTL_V_PATH with a map key */
  struct ottl_value *arg;  /* OTTL_V_ISMATCH: the target */
  pcre2_code *re;          /* OTTL_V_ISMATCH: the pattern */
} ottl_value;

typedef enum ottl_op { OTTL_EQ, OTTL_NE, OTTL_LT, OTTL_LE, OTTL_GT, OTTL_GE } ottl_op;

typedef enum ottl_nkind { OTTL_N_OR, OTTL_N_AND, OTTL_N_NOT, OTTL_N_CMP, OTTL_N_VALUE } ottl_nkind;

typedef struct ottl_node {
  ottl_nkind kind;
  struct ottl_node *a, *b; /* OR, AND: both; NOT: a */
  ottl_op op;              /* CMP */
  ottl_value *lhs, *rhs;   /* CMP: both; VALUE: lhs (a bool literal or IsMatch) */
} ottl_node;

struct tg_ottl_cond {
  ottl_node *root;
};

void tg_ottl_value_free(ottl_value *v);
void tg_ottl_node_free(ottl_node *n);

#endif
