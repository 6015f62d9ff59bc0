/* libFuzzer target: the input is the byte stream of one connection whose protocol is
 * sniffed (HTTP/2 h2c by its preface, else HTTP/1.x), as the server sees it. */
#define FUZZ_HTTP_PROTO TG_HTTP_PROTO_AUTO
#include "../fuzz_http_conn.h"
