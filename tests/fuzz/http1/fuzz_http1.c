/* libFuzzer target: the input is the byte stream of one HTTP/1.x connection (or h2c, if
 * it starts with the preface). */
#define FUZZ_HTTP_PROTO TG_HTTP_PROTO_H1
#include "../fuzz_http_conn.h"
