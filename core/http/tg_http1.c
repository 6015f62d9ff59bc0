/* HTTP/1.x engine on http-parser: bytes in, response bytes out through a sink.
 *
 * It owns the per-request state of one connection: the URL, the header block (names and
 * values packed NUL-terminated in one capped buffer, so the header array handed to the
 * handler points into it), and the body (capped at max_body_bytes). Requests are answered
 * synchronously in on_message_complete, so pipelined requests are answered in order with
 * no extra queue. Decisions that do not need the body (413 on Content-Length, 404/405,
 * 100-continue, 417) are made in on_headers_complete, before any body byte is buffered;
 * 404/405 bodies are read and discarded so keep-alive survives, except after
 * `Expect: 100-continue` where the final answer is sent at once and the connection closes
 * (the client may or may not send the body; closing removes the ambiguity).
 *
 * A callback stops the parser by returning non-zero after setting `closing`; any other
 * parser error is a malformed request: 400 (431 for oversize headers) and close. */
#include <http_parser.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tg_alloc.h"
#include "tg_http_internal.h"

enum { MAX_URL = 8192, HEADER_NONE = 0, HEADER_FIELD = 1, HEADER_VALUE = 2 };

struct tg_http1 {
  const tg_http_router *r;
  tg_http_sink sink;
  char peer[64];
  http_parser parser;
  tg_buf url;
  tg_buf hdrs;        /* "name\0value\0" ... */
  size_t (*offs)[2];  /* per header: name offset, value offset into hdrs */
  tg_http_header *headers;
  size_t n_headers, max_headers;
  int header_state;
  int headers_done;   /* later header callbacks are chunked trailers: ignored */
  tg_buf body;
  int reject_status;  /* 404/405 decided at headers; answered at message end */
  int preflight;      /* a CORS preflight: answered 204 by the server at message end */
  const tg_http_route *route;
  const char *path, *query; /* into url, valid from headers complete to the next message */
  char allow[128];
  int in_message;
  int requests_begun; /* a request line has started on this connection */
  int force_close;    /* upgrade requests: answer, then close */
  int closing;        /* no more input wanted */
  int sink_dead;
  /* a streamed response in progress (tg_http_body_stream): the parser is paused and
   * input that arrives meanwhile waits in `held` (bounded) until the body is complete */
  tg_http_body_stream stream;
  int streaming, chunked;
  tg_buf held, slice, frame;
};

enum { MAX_HELD = 1 << 20 };

static tg_http1 *from_parser(http_parser *p) { return p->data; }

static void emit(tg_http1 *h, const uint8_t *d, size_t n) {
  if (h->sink_dead || n == 0)
    return;
  if (tg_http_sink_write(&h->sink, d, n) != 0)
    h->sink_dead = 1;
}

static const char *find_header(const tg_http1 *h, const char *name);

static void send_response(tg_http1 *h, tg_http_response *resp, const char *allow, int head_only) {
  tg_http_decor decor = {.n = 0};
  if (h->headers_done)
    tg_http_decorate(h->r, find_header(h, "origin"), h->preflight,
                     find_header(h, "access-control-request-method"),
                     find_header(h, "access-control-request-headers"), &decor);
  tg_buf out;
  tg_buf_init(&out, 0);
  int st = resp->status;
  int no_body = (st >= 100 && st < 200) || st == 204 || st == 304;
  const char *ct = resp->content_type;
  if (!ct && resp->body.len)
    ct = "text/plain";
  tg_http_body_stream stream = resp->stream;
  memset(&resp->stream, 0, sizeof resp->stream);
  if (stream.next && !ct)
    ct = "application/octet-stream";
  int chunked = stream.next && h->parser.http_major == 1 && h->parser.http_minor >= 1;
  if (stream.next && !chunked && !no_body && !head_only)
    h->closing = 1; /* HTTP/1.0: the body ends with the connection */
  int rc = tg_buf_appendf(&out, "HTTP/1.1 %d %s\r\n", st, tg_http_reason(st));
  if (rc == TG_OK && ct && !no_body)
    rc = tg_buf_appendf(&out, "Content-Type: %s\r\n", ct);
  if (rc == TG_OK && !no_body && chunked)
    rc = tg_buf_append_str(&out, "Transfer-Encoding: chunked\r\n");
  else if (rc == TG_OK && !no_body && !stream.next)
    rc = tg_buf_appendf(&out, "Content-Length: %zu\r\n", resp->body.len);
  for (size_t i = 0; rc == TG_OK && i < resp->n_extra; i++)
    if (resp->extra[i].name && resp->extra[i].value)
      rc = tg_buf_appendf(&out, "%s: %s\r\n", resp->extra[i].name, resp->extra[i].value);
  for (size_t i = 0; rc == TG_OK && i < decor.n; i++)
    rc = tg_buf_appendf(&out, "%s: %s\r\n", decor.h[i].name, decor.h[i].value);
  if (rc == TG_OK && allow && *allow)
    rc = tg_buf_appendf(&out, "Allow: %s\r\n", allow);
  if (rc == TG_OK && h->closing)
    rc = tg_buf_append_str(&out, "Connection: close\r\n");
  if (rc == TG_OK)
    rc = tg_buf_append_str(&out, "\r\n");
  if (rc == TG_OK && !no_body && !head_only && resp->body.len)
    rc = tg_buf_append(&out, resp->body.data, resp->body.len);
  if (rc == TG_OK)
    emit(h, out.data, out.len);
  else
    h->closing = 1; /* out of memory: give up on this connection */
  tg_buf_free(&out);
  tg_buf_free(&resp->body);
  if (!stream.next)
    return;
  if (rc != TG_OK || no_body || head_only || h->sink_dead) {
    stream.release(stream.ctx);
    return;
  }
  h->stream = stream; /* the slices follow from tg_http1_pump */
  h->streaming = 1;
  h->chunked = chunked;
}

/* Sends a server-made error and, when close is set, ends the connection. */
static void send_error(tg_http1 *h, int status, const char *allow, int close) {
  tg_http_response resp;
  if (close)
    h->closing = 1;
  tg_http_response_error(&resp, status, NULL);
  send_response(h, &resp, allow, 0);
}

static void reset_request(tg_http1 *h) {
  h->url.len = 0;
  h->hdrs.len = 0;
  h->n_headers = 0;
  h->header_state = HEADER_NONE;
  h->headers_done = 0;
  h->body.len = 0;
  h->reject_status = 0;
  h->preflight = 0;
  h->route = NULL;
  h->path = "/";
  h->query = NULL;
  h->allow[0] = '\0';
  h->force_close = 0;
}

static int on_message_begin(http_parser *p) {
  tg_http1 *h = from_parser(p);
  reset_request(h);
  h->in_message = 1;
  h->requests_begun = 1;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  tg_http1 *h = from_parser(p);
  if (tg_buf_append(&h->url, at, len) != TG_OK) {
    tg_http_note_bad_request(h->r);
    send_error(h, 414, NULL, 1);
    return -1;
  }
  return 0;
}

static int header_overflow(tg_http1 *h) {
  tg_http_note_bad_request(h->r);
  send_error(h, 431, NULL, 1);
  return -1;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  tg_http1 *h = from_parser(p);
  if (h->headers_done)
    return 0;
  if (h->header_state != HEADER_FIELD) {
    if (h->header_state == HEADER_VALUE && tg_buf_append(&h->hdrs, "", 1) != TG_OK)
      return header_overflow(h);
    if (h->n_headers == h->max_headers)
      return header_overflow(h);
    h->offs[h->n_headers][0] = h->hdrs.len;
    h->offs[h->n_headers][1] = 0;
    h->n_headers++;
    h->header_state = HEADER_FIELD;
  }
  if (tg_buf_append(&h->hdrs, at, len) != TG_OK)
    return header_overflow(h);
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  tg_http1 *h = from_parser(p);
  if (h->headers_done || h->n_headers == 0)
    return 0;
  if (h->header_state == HEADER_FIELD) {
    if (tg_buf_append(&h->hdrs, "", 1) != TG_OK)
      return header_overflow(h);
    h->offs[h->n_headers - 1][1] = h->hdrs.len;
    h->header_state = HEADER_VALUE;
  }
  if (tg_buf_append(&h->hdrs, at, len) != TG_OK)
    return header_overflow(h);
  return 0;
}

static const char *find_header(const tg_http1 *h, const char *name) {
  for (size_t i = 0; i < h->n_headers; i++)
    if (strcmp(h->headers[i].name, name) == 0)
      return h->headers[i].value;
  return NULL;
}

/* Terminates the packed header block and builds the array the handler sees. */
static int finish_headers(tg_http1 *h) {
  if (h->header_state == HEADER_FIELD) { /* field without a value callback */
    if (tg_buf_append(&h->hdrs, "", 1) != TG_OK)
      return -1;
    h->offs[h->n_headers - 1][1] = h->hdrs.len;
  }
  if (tg_buf_append(&h->hdrs, "", 1) != TG_OK) /* also makes hdrs.data non-NULL */
    return -1;
  for (size_t i = 0; i < h->n_headers; i++) {
    char *name = (char *)h->hdrs.data + h->offs[i][0];
    for (char *c = name; *c; c++)
      if (*c >= 'A' && *c <= 'Z')
        *c = (char)(*c - 'A' + 'a');
    h->headers[i].name = name;
    h->headers[i].value = (char *)h->hdrs.data + h->offs[i][1];
  }
  h->headers_done = 1;
  h->header_state = HEADER_NONE;
  return 0;
}

/* Splits the URL in place into path and query; absolute-form keeps only its path. */
static void split_url(tg_http1 *h, const char **path, const char **query) {
  if (tg_buf_append(&h->url, "", 1) != TG_OK || !h->url.data) {
    *path = "/";
    *query = NULL;
    return;
  }
  char *u = (char *)h->url.data;
  if (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0) {
    char *slash = strchr(strstr(u, "//") + 2, '/');
    u = slash ? slash : (char *)"/";
  }
  char *q = strchr(u, '?');
  *query = NULL;
  if (q) {
    *q = '\0';
    *query = q + 1;
  }
  char *frag = strchr(*query ? (char *)*query : u, '#');
  if (frag)
    *frag = '\0';
  *path = u;
}

static int on_headers_complete(http_parser *p) {
  tg_http1 *h = from_parser(p);
  if (finish_headers(h) != 0)
    return header_overflow(h);
  h->force_close = p->upgrade;
  if (p->content_length != ULLONG_MAX && p->content_length > h->r->max_body_bytes) {
    h->r->stats->requests++;
    tg_http_note_too_large(h->r);
    h->in_message = 0;
    send_error(h, 413, NULL, 1);
    return -1;
  }
  split_url(h, &h->path, &h->query);
  if (tg_http_cors_is_preflight(h->r, http_method_str((enum http_method)p->method),
                                find_header(h, "origin"),
                                find_header(h, "access-control-request-method"))) {
    h->preflight = 1; /* answered by the server at message end, whatever the path */
    return 0;
  }
  int found = tg_http_route_find(h->r, http_method_str((enum http_method)p->method), h->path,
                                 0, &h->route, h->allow, sizeof h->allow);
  if (found == TG_HTTP_ROUTE_NOT_FOUND)
    h->reject_status = 404;
  else if (found == TG_HTTP_ROUTE_BAD_METHOD)
    h->reject_status = 405;
  const char *expect = find_header(h, "expect");
  if (expect) {
    if (strcasecmp(expect, "100-continue") != 0) {
      h->r->stats->requests++;
      tg_http_note_bad_request(h->r);
      h->in_message = 0;
      send_error(h, 417, NULL, 1);
      return -1;
    }
    if (h->reject_status) {
      h->r->stats->requests++;
      h->in_message = 0;
      send_error(h, h->reject_status, h->allow, 1);
      return -1;
    }
    if (p->http_major == 1 && p->http_minor >= 1) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      emit(h, (const uint8_t *)cont, sizeof cont - 1);
    }
  }
  if (!h->reject_status && p->content_length != ULLONG_MAX)
    tg_http_presize_body(&h->body, p->content_length);
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  tg_http1 *h = from_parser(p);
  if (h->reject_status)
    return 0;
  int rc = tg_buf_append(&h->body, at, len);
  if (rc != TG_OK) {
    h->r->stats->requests++;
    tg_http_note_too_large(h->r);
    h->in_message = 0;
    send_error(h, 413, NULL, 1);
    return -1;
  }
  return 0;
}

static void answer(tg_http1 *h, http_parser *p) {
  const tg_http_router *r = h->r;
  r->stats->requests++;
  if (!http_should_keep_alive(p) || h->force_close)
    h->closing = 1;
  if (h->reject_status) {
    send_error(h, h->reject_status, h->allow, h->closing);
    return;
  }
  if (h->preflight) {
    tg_http_response resp;
    tg_http_response_error(&resp, 204, NULL);
    tg_buf_free(&resp.body);
    resp.content_type = NULL;
    send_response(h, &resp, NULL, 0);
    return;
  }
  const char *method = http_method_str((enum http_method)p->method);
  const char *path = h->path, *query = h->query;
  const tg_http_route *route = h->route;
  tg_buf decoded;
  tg_buf_init(&decoded, 0);
  int was_decoded = 0;
  int rc = tg_http_decode_body(r, find_header(h, "content-encoding"), h->body.data, h->body.len,
                               &decoded, &was_decoded);
  if (rc != TG_OK) {
    tg_buf_free(&decoded);
    int status = rc == TG_EUNSUPPORTED ? 415 : rc == TG_ETOOBIG ? 413 : rc == TG_ENOMEM ? 503 : 400;
    if (status == 413)
      tg_http_note_too_large(r);
    else
      tg_http_note_bad_request(r);
    TG_LOG_DEBUG(r->log, r->name, "http1 %s %s from %s: body decode failed: %s", method, path,
                 h->peer, tg_strerror(rc));
    send_error(h, status, NULL, h->closing);
    return;
  }
  tg_http_request req = {
      .method = method,
      .path = path,
      .query = query,
      .headers = h->headers,
      .n_headers = h->n_headers,
      .body = was_decoded ? decoded.data : h->body.data,
      .body_len = was_decoded ? decoded.len : h->body.len,
      .body_buf = was_decoded ? &decoded : &h->body,
      .http_version = 1,
      .peer = h->peer,
  };
  if (!req.body)
    req.body = (const uint8_t *)"";
  tg_http_response resp;
  tg_http_route_invoke(h->r, route, &req, &resp);
  tg_buf_free(&decoded);
  send_response(h, &resp, NULL, p->method == HTTP_HEAD);
}

static int on_message_complete(http_parser *p) {
  tg_http1 *h = from_parser(p);
  answer(h, p);
  h->in_message = 0;
  if (h->body.cap > 65536) /* do not keep a big body buffer on an idle connection */
    tg_buf_free(&h->body);
  if (h->streaming && !h->closing && !h->sink_dead)
    http_parser_pause(p, 1); /* the next request waits for the end of this body */
  return h->closing || h->sink_dead ? -1 : 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

tg_http1 *tg_http1_new(const tg_http_router *r, const char *peer, tg_http_sink sink) {
  tg_http1 *h = tg_calloc(1, sizeof *h);
  if (!h)
    return NULL;
  h->r = r;
  h->sink = sink;
  snprintf(h->peer, sizeof h->peer, "%s", peer ? peer : "");
  h->max_headers = tg_http_max_header_count(r);
  h->offs = tg_calloc(h->max_headers, sizeof *h->offs);
  h->headers = tg_calloc(h->max_headers, sizeof *h->headers);
  if (!h->offs || !h->headers) {
    tg_http1_free(h);
    return NULL;
  }
  tg_buf_init(&h->url, MAX_URL);
  tg_buf_init(&h->hdrs, tg_http_max_header_bytes(r) + 2 * h->max_headers + 1);
  tg_buf_init(&h->body, r->max_body_bytes);
  tg_buf_init(&h->held, MAX_HELD);
  tg_buf_init(&h->slice, 0);
  tg_buf_init(&h->frame, 0);
  http_parser_init(&h->parser, HTTP_REQUEST);
  h->parser.data = h;
  return h;
}

/* Keeps input that arrived during a streamed response (pipelined requests). */
static int hold(tg_http1 *h, const uint8_t *data, size_t len) {
  if (tg_buf_append(&h->held, data, len) == TG_OK)
    return TG_OK;
  h->closing = 1; /* a client that pipelines more than MAX_HELD: give up on it */
  return TG_ECLOSED;
}

int tg_http1_feed(tg_http1 *h, const uint8_t *data, size_t len) {
  if (h->closing || h->sink_dead)
    return TG_ECLOSED;
  if (len == 0)
    return TG_OK;
  if (h->streaming)
    return hold(h, data, len);
  size_t n = http_parser_execute(&h->parser, &settings, (const char *)data, len);
  enum http_errno e = HTTP_PARSER_ERRNO(&h->parser);
  if (h->closing || h->sink_dead)
    return TG_ECLOSED;
  if (e == HPE_PAUSED && h->streaming)
    return n < len ? hold(h, data + n, len - n) : TG_OK;
  if (e != HPE_OK) {
    tg_http_note_bad_request(h->r);
    TG_LOG_DEBUG(h->r->log, h->r->name, "http1 malformed request from %s: %s", h->peer,
                 http_errno_name(e));
    h->in_message = 0;
    send_error(h, e == HPE_HEADER_OVERFLOW ? 431 : 400, NULL, 1);
    return TG_ECLOSED;
  }
  if (h->parser.upgrade || n != len) {
    h->closing = 1;
    return TG_ECLOSED;
  }
  return TG_OK;
}

int tg_http1_in_request(const tg_http1 *h) { return h->in_message; }

int tg_http1_streaming(const tg_http1 *h) { return h->streaming; }

static void end_stream(tg_http1 *h) {
  tg_http_body_stream s = h->stream;
  h->streaming = 0;
  memset(&h->stream, 0, sizeof h->stream);
  tg_buf_free(&h->slice);
  tg_buf_free(&h->frame);
  if (s.release)
    s.release(s.ctx);
}

int tg_http1_pump(tg_http1 *h, size_t max_bytes) {
  if (!h->streaming)
    return h->closing || h->sink_dead ? TG_ECLOSED : 0;
  int done = 0;
  h->slice.len = 0;
  int rc = h->sink_dead ? TG_ECLOSED : h->stream.next(h->stream.ctx, &h->slice, max_bytes, &done);
  if (rc == TG_OK && !done && !h->slice.len)
    rc = TG_EINVAL; /* an empty slice would end the chunked body */
  if (rc != TG_OK) {
    TG_LOG_DEBUG(h->r->log, h->r->name, "http1 streamed response to %s aborted: %s", h->peer,
                 tg_strerror(rc));
    end_stream(h);
    h->closing = 1; /* no final chunk: the client sees a truncated body */
    return TG_ECLOSED;
  }
  h->frame.len = 0;
  if (h->chunked && h->slice.len)
    rc = tg_buf_appendf(&h->frame, "%zx\r\n", h->slice.len);
  if (rc == TG_OK)
    rc = tg_buf_append(&h->frame, h->slice.data, h->slice.len);
  if (rc == TG_OK && h->chunked && h->slice.len)
    rc = tg_buf_append(&h->frame, "\r\n", 2);
  if (rc == TG_OK && h->chunked && done)
    rc = tg_buf_append(&h->frame, "0\r\n\r\n", 5);
  if (rc != TG_OK) {
    end_stream(h);
    h->closing = 1;
    return TG_ECLOSED;
  }
  emit(h, h->frame.data, h->frame.len);
  if (!done)
    return h->sink_dead ? TG_ECLOSED : 1;
  end_stream(h);
  if (h->closing || h->sink_dead)
    return TG_ECLOSED;
  /* resume the parser on what the client pipelined meanwhile */
  http_parser_pause(&h->parser, 0);
  tg_buf held = h->held;
  tg_buf_init(&h->held, MAX_HELD);
  rc = held.len ? tg_http1_feed(h, held.data, held.len) : TG_OK;
  tg_buf_free(&held);
  if (rc != TG_OK)
    return TG_ECLOSED;
  return h->streaming;
}

int tg_http1_phase(const tg_http1 *h) {
  if (!h->requests_begun || (h->in_message && !h->headers_done))
    return TG_HTTP_PHASE_HEADERS;
  return h->in_message ? TG_HTTP_PHASE_BODY : TG_HTTP_PHASE_IDLE;
}

void tg_http1_free(tg_http1 *h) {
  if (!h)
    return;
  if (h->streaming)
    end_stream(h);
  tg_buf_free(&h->held);
  tg_buf_free(&h->url);
  tg_buf_free(&h->hdrs);
  tg_buf_free(&h->body);
  tg_free(h->offs);
  tg_free(h->headers);
  tg_free(h);
}
