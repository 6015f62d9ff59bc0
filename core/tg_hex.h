/* One hex digit's value, shared by every parser that reads hex one character at a time
 * (tg_hex_decode in tg_tracectx.h is the whole-string, table-driven form for IDs). */
#ifndef TG_HEX_H
#define TG_HEX_H

/* The value 0..15 of the hex digit c ('0'-'9', 'a'-'f', 'A'-'F'); -1 for any other
 * character, including negative (signed char) and EOF values. */
static inline int tg_hex_digit(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

#endif
