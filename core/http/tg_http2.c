/* HTTP/2 engine on nghttp2 (server session, mem_recv/mem_send): bytes in, bytes out.
 *
 * It owns the nghttp2 session and one h2_stream per open request stream (linked into the
 * connection so tg_http2_free releases them even when nghttp2 never reports the close).
 * A stream packs its header block NUL-terminated in one capped buffer and its body in a
 * buffer capped at max_body_bytes (+5 for a gRPC prefix); the sum of buffered bodies of a
 * connection is capped too (4 x max_body_bytes), so a peer opening many streams cannot
 * multiply the per-stream bound past that.
 *
 * Routing happens when the request headers end: gRPC routes (application/grpc) become
 * gRPC calls (tg_grpc.c does framing), other routes are plain HTTP over h2. Refusals that
 * do not depend on the body (404, 405, 415, gRPC 12) are decided then but answered only
 * when END_STREAM arrives; the body is read and dropped meanwhile. Answering earlier and
 * resetting the stream would make every later frame of that stream land on a closed
 * stream, which nghttp2 must then ignore instead of raising the stream and connection
 * errors RFC 9113 requires (h2spec --strict: 5.1/8-9, 6.9.1/3, 8.1/1, 8.1.2.6). Only a
 * body that must not be read (413, gRPC 8, the connection budget) is answered early,
 * followed by RST_STREAM NO_ERROR once the answer has gone out (RFC 9113 8.1).
 * Handlers run when END_STREAM arrives.
 *
 * Stream identifiers: nghttp2 ignores a HEADERS frame whose stream ID is below the
 * highest seen when it has no record of that stream, since it cannot tell a stream it
 * forgot from one never opened. This engine remembers the last STREAM_ID_RING client
 * stream IDs it saw opened; a HEADERS frame for an ID inside that window that was never
 * opened is the connection error PROTOCOL_ERROR of RFC 9113 5.1.1 (older IDs are
 * ignored, as nghttp2 does).
 *
 * gRPC answers are headers + one DATA (the framed message) + trailers
 * (grpc-status/grpc-message, submitted from the data source when it reaches EOF), or
 * trailers-only for errors. */
#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tg_alloc.h"
#include "tg_clock.h"
#include "tg_http_internal.h"

typedef struct h2_stream {
  int32_t id;
  struct h2_stream *prev, *next;
  tg_buf hdrs;          /* "name\0value\0" ... */
  size_t (*offs)[2];
  size_t n_raw;         /* headers received, pseudo-headers included */
  tg_http_header *headers; /* regular headers only, for the handler */
  size_t n_headers;
  const char *method, *path, *query, *content_type;
  tg_buf body;
  size_t counted;       /* bytes of body counted in the connection budget */
  const tg_http_route *route;
  int grpc;             /* a gRPC call (route matched with application/grpc) */
  int responded;        /* a response has been submitted */
  int reject_status;    /* refusal decided at the headers, answered at END_STREAM:
                           an HTTP status, or a gRPC status when grpc_reject is set */
  int grpc_reject;
  int preflight;        /* a CORS preflight: the server answers 204 at END_STREAM */
  const char *reject_msg;
  char allow[128];      /* Allow: of a 405 */
  int early;            /* ... before the request ended: reset after it is sent */
  int remote_done;
  int headers_complete; /* the request header block has ended */
  uint64_t deadline_ms;
  tg_buf out;           /* response body (gRPC: framed message) */
  size_t out_off;
  int grpc_status;
  char grpc_msg[256];   /* percent-encoded */
  /* streamed body (tg_http_body_stream): `out` holds the current slice; read_body defers
   * while it is consumed and the next has not come yet */
  tg_http_body_stream stream;
  int streaming, stream_done;
} h2_stream;

enum { STREAM_ID_RING = 64 };

struct tg_http2 {
  const tg_http_router *r;
  tg_http_sink sink;
  char peer[64];
  nghttp2_session *session;
  h2_stream *streams;
  size_t n_streams;
  size_t buffered, budget;
  int closing, sink_dead;
  int frames_seen;      /* the client preface and a first frame arrived */
  int protocol_error;   /* a callback found a connection error: GOAWAY PROTOCOL_ERROR */
  int32_t opened[STREAM_ID_RING]; /* client stream IDs seen opened, increasing */
  size_t n_opened;      /* total ever; the ring holds the last STREAM_ID_RING */
  /* keepalive enforcement (grpc-go's handlePing): the client's last PING, strikes since
   * the last response frame, and whether a response frame went out since that PING */
  int pinged, ping_strikes, reset_strikes;
  uint64_t last_ping_ms;
};

/* ---- streams ---- */

static h2_stream *stream_new(tg_http2 *h, int32_t id) {
  size_t max = tg_http_max_header_count(h->r);
  h2_stream *st = tg_calloc(1, sizeof *st);
  if (!st)
    return NULL;
  st->offs = tg_calloc(max, sizeof *st->offs);
  st->headers = tg_calloc(max, sizeof *st->headers);
  if (!st->offs || !st->headers) {
    tg_free(st->offs);
    tg_free(st->headers);
    tg_free(st);
    return NULL;
  }
  st->id = id;
  tg_buf_init(&st->hdrs, tg_http_max_header_bytes(h->r) + 2 * max + 1);
  tg_buf_init(&st->body, h->r->max_body_bytes + 5);
  tg_buf_init(&st->out, 0);
  st->next = h->streams;
  if (h->streams)
    h->streams->prev = st;
  h->streams = st;
  h->n_streams++;
  return st;
}

static void stream_release_body(tg_http2 *h, h2_stream *st) {
  h->buffered -= st->counted;
  st->counted = 0;
  tg_buf_free(&st->body);
}

static void stream_end_body(h2_stream *st) {
  tg_http_body_stream s = st->stream;
  memset(&st->stream, 0, sizeof st->stream);
  st->streaming = 0;
  if (s.release)
    s.release(s.ctx);
}

static void stream_free(tg_http2 *h, h2_stream *st) {
  stream_end_body(st);
  if (st->prev)
    st->prev->next = st->next;
  else
    h->streams = st->next;
  if (st->next)
    st->next->prev = st->prev;
  h->n_streams--;
  stream_release_body(h, st);
  tg_buf_free(&st->hdrs);
  tg_buf_free(&st->out);
  tg_free(st->offs);
  tg_free(st->headers);
  tg_free(st);
}

static h2_stream *get_stream(tg_http2 *h, int32_t id) {
  return nghttp2_session_get_stream_user_data(h->session, id);
}

static const char *find_header(const h2_stream *st, const char *name) {
  for (size_t i = 0; i < st->n_headers; i++)
    if (strcmp(st->headers[i].name, name) == 0)
      return st->headers[i].value;
  return NULL;
}

/* ---- responses ---- */

#define MAKE_NV(n, v)                                                          \
  { (uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE }

static ssize_t read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data) {
  (void)user_data;
  h2_stream *st = source->ptr;
  size_t left = st->out.len - st->out_off;
  size_t n = left < length ? left : length;
  if (!n && st->streaming && !st->stream_done)
    return NGHTTP2_ERR_DEFERRED; /* resumed by tg_http2_pump with the next slice */
  if (n)
    memcpy(buf, st->out.data + st->out_off, n);
  st->out_off += n;
  if (st->out_off == st->out.len && (!st->streaming || st->stream_done)) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (st->grpc) {
      char status[16];
      snprintf(status, sizeof status, "%d", st->grpc_status);
      nghttp2_nv trailers[2] = {MAKE_NV("grpc-status", status),
                                MAKE_NV("grpc-message", st->grpc_msg)};
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      if (nghttp2_submit_trailer(session, stream_id, trailers, st->grpc_msg[0] ? 2 : 1) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
  }
  return (ssize_t)n;
}

static void mark_responded(tg_http2 *h, h2_stream *st) {
  st->responded = 1;
  if (!st->remote_done)
    st->early = 1;
  stream_release_body(h, st);
}

/* Plain HTTP over h2. Takes resp->body. */
static void submit_http(tg_http2 *h, h2_stream *st, tg_http_response *resp, const char *allow) {
  nghttp2_nv nva[10 + TG_HTTP_DECOR_MAX];
  tg_http_decor decor = {.n = 0};
  if (st->headers_complete)
    tg_http_decorate(h->r, find_header(st, "origin"), st->preflight,
                     find_header(st, "access-control-request-method"),
                     find_header(st, "access-control-request-headers"), &decor);
  size_t n = 0;
  char status[8], clen[24];
  char names[4][64];
  int no_body = resp->status == 204 || resp->status == 304;
  snprintf(status, sizeof status, "%d", resp->status);
  nva[n++] = (nghttp2_nv)MAKE_NV(":status", status);
  tg_http_body_stream stream = resp->stream;
  memset(&resp->stream, 0, sizeof resp->stream);
  const char *ct = resp->content_type;
  if (!ct && resp->body.len)
    ct = "text/plain";
  if (!ct && stream.next)
    ct = "application/octet-stream";
  if (ct && !no_body)
    nva[n++] = (nghttp2_nv)MAKE_NV("content-type", ct);
  snprintf(clen, sizeof clen, "%zu", resp->body.len);
  if (!no_body && !stream.next)
    nva[n++] = (nghttp2_nv)MAKE_NV("content-length", clen);
  for (size_t i = 0; i < resp->n_extra && i < 4; i++) {
    if (!resp->extra[i].name || !resp->extra[i].value)
      continue;
    size_t k = 0;
    for (; resp->extra[i].name[k] && k < sizeof names[i] - 1; k++) {
      char c = resp->extra[i].name[k];
      names[i][k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    names[i][k] = '\0';
    nva[n++] = (nghttp2_nv)MAKE_NV(names[i], resp->extra[i].value);
  }
  for (size_t i = 0; i < decor.n; i++)
    nva[n++] = (nghttp2_nv)MAKE_NV(decor.h[i].name, decor.h[i].value);
  if (allow && *allow)
    nva[n++] = (nghttp2_nv)MAKE_NV("allow", allow);
  mark_responded(h, st);
  st->grpc = 0;
  tg_buf_free(&st->out);
  st->out = resp->body;
  tg_buf_init(&resp->body, 0);
  st->out_off = 0;
  int head = st->method && strcmp(st->method, "HEAD") == 0;
  nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
  int has_body = (st->out.len || stream.next) && !no_body && !head;
  if (stream.next && has_body) {
    st->stream = stream; /* slices come from tg_http2_pump */
    st->streaming = 1;
    st->stream_done = 0;
  } else if (stream.next) {
    stream.release(stream.ctx);
  }
  if (nghttp2_submit_response(h->session, st->id, nva, n, has_body ? &prd : NULL) != 0) {
    stream_end_body(st);
    nghttp2_submit_rst_stream(h->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
  }
}

static void submit_http_error(tg_http2 *h, h2_stream *st, int status, const char *allow) {
  tg_http_response resp;
  tg_http_response_error(&resp, status, NULL);
  submit_http(h, st, &resp, allow);
  tg_buf_free(&resp.body);
}

/* gRPC: status 0 with a message -> headers, DATA, trailers; otherwise trailers-only. */
static void submit_grpc(tg_http2 *h, h2_stream *st, int grpc_status, const char *msg,
                        tg_buf *message) {
  mark_responded(h, st);
  st->grpc = 1;
  st->grpc_status = grpc_status;
  tg_grpc_percent_encode(msg ? msg : "", st->grpc_msg, sizeof st->grpc_msg);
  if (grpc_status == 0 && message) {
    tg_buf_free(&st->out);
    st->out_off = 0;
    if (tg_grpc_frame(message->data, message->len, &st->out) == TG_OK) {
      nghttp2_nv nva[2] = {MAKE_NV(":status", "200"), MAKE_NV("content-type", "application/grpc")};
      nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
      if (nghttp2_submit_response(h->session, st->id, nva, 2, &prd) != 0)
        nghttp2_submit_rst_stream(h->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
      return;
    }
    st->grpc_status = grpc_status = 8;
    tg_grpc_percent_encode("out of memory", st->grpc_msg, sizeof st->grpc_msg);
  }
  char status[16];
  snprintf(status, sizeof status, "%d", grpc_status);
  nghttp2_nv nva[5] = {MAKE_NV(":status", "200"), MAKE_NV("content-type", "application/grpc"),
                       MAKE_NV("grpc-status", status)};
  size_t n_nv = 3;
  if (st->grpc_msg[0])
    nva[n_nv++] = (nghttp2_nv)MAKE_NV("grpc-message", st->grpc_msg);
  /* A handler's error body is a google.rpc.Status (e.g. with RetryInfo): clients read it
   * from grpc-status-details-bin. nghttp2 copies header values, so a local buffer does. */
  char details[4 * (TG_GRPC_MAX_DETAILS / 3) + 8];
  if (message && message->len && message->len <= TG_GRPC_MAX_DETAILS) {
    EVP_EncodeBlock((unsigned char *)details, message->data, (int)message->len);
    nva[n_nv++] = (nghttp2_nv)MAKE_NV("grpc-status-details-bin", details);
  }
  if (nghttp2_submit_response(h->session, st->id, nva, n_nv, NULL) != 0)
    nghttp2_submit_rst_stream(h->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
}

/* ---- request processing ---- */

static int is_grpc_content_type(const char *ct) {
  if (!ct || strncasecmp(ct, "application/grpc", 16) != 0)
    return 0;
  return ct[16] == '\0' || ct[16] == '+' || ct[16] == ';';
}

/* The request headers are complete: build the header view and route. */
static void headers_done(tg_http2 *h, h2_stream *st) {
  const tg_http_router *r = h->r;
  for (size_t i = 0; i < st->n_raw; i++) {
    const char *name = (const char *)st->hdrs.data + st->offs[i][0];
    const char *value = (const char *)st->hdrs.data + st->offs[i][1];
    if (name[0] == ':') {
      if (strcmp(name, ":method") == 0)
        st->method = value;
      else if (strcmp(name, ":path") == 0)
        st->path = value;
      continue;
    }
    st->headers[st->n_headers].name = name;
    st->headers[st->n_headers].value = value;
    st->n_headers++;
  }
  if (!st->method)
    st->method = "GET";
  if (!st->path || !*st->path)
    st->path = "/";
  char *q = strchr((char *)(uintptr_t)st->path, '?');
  if (q) {
    *q = '\0';
    st->query = q + 1;
  }
  st->content_type = find_header(st, "content-type");
  int grpc_ct = is_grpc_content_type(st->content_type);
  const char *timeout = find_header(st, "grpc-timeout");
  uint64_t ms;
  if (timeout && tg_grpc_parse_timeout(timeout, &ms) == TG_OK)
    st->deadline_ms = tg_clock_mono_ms() + ms;

  const tg_http_route *route;
  char allow[128];
  if (tg_http_cors_is_preflight(r, st->method, find_header(st, "origin"),
                                find_header(st, "access-control-request-method"))) {
    st->preflight = 1;
    return;
  }
  if (tg_http_route_find(r, st->method, st->path, 1, &route, NULL, 0) == TG_HTTP_ROUTE_FOUND) {
    if (!grpc_ct) {
      tg_http_note_bad_request(r);
      st->reject_status = 415;
      return;
    }
    st->grpc = 1;
    st->route = route;
    return;
  }
  int found = tg_http_route_find(r, st->method, st->path, 0, &route, allow, sizeof allow);
  if (found == TG_HTTP_ROUTE_FOUND) {
    const char *cl = find_header(st, "content-length");
    if (cl && strtoull(cl, NULL, 10) > r->max_body_bytes) {
      r->stats->requests++;
      tg_http_note_too_large(r);
      submit_http_error(h, st, 413, NULL);
      return;
    }
    st->route = route;
    return;
  }
  if (grpc_ct) {
    TG_LOG_DEBUG(r->log, r->name, "grpc unknown method %s from %s", st->path, h->peer);
    st->grpc_reject = 1;
    st->reject_status = 12;
    st->reject_msg = "unknown method";
  } else if (found == TG_HTTP_ROUTE_BAD_METHOD) {
    st->reject_status = 405;
    snprintf(st->allow, sizeof st->allow, "%s", allow);
  } else {
    st->reject_status = 404;
  }
}

static void answer_grpc(tg_http2 *h, h2_stream *st) {
  const tg_http_router *r = h->r;
  tg_buf msg;
  tg_buf_init(&msg, 0);
  const char *err = NULL;
  const uint8_t *data = NULL;
  size_t data_len = 0;
  int status = tg_grpc_unframe(st->body.data, st->body.len, find_header(st, "grpc-encoding"),
                               r->max_body_bytes, &msg, &data, &data_len, &err);
  if (status != 0) {
    if (status == 8)
      tg_http_note_too_large(r);
    else
      tg_http_note_bad_request(r);
    TG_LOG_DEBUG(r->log, r->name, "grpc %s from %s: status %d: %s", st->path, h->peer, status,
                 err);
    submit_grpc(h, st, status, err, NULL);
    tg_buf_free(&msg);
    return;
  }
  tg_http_request req = {
      .method = st->method,
      .path = st->path,
      .query = st->query,
      .headers = st->headers,
      .n_headers = st->n_headers,
      .body = data,
      .body_len = data_len,
      .body_buf = data == st->body.data + 5 ? &st->body : &msg,
      .http_version = 2,
      .grpc = 1,
      .deadline_ms = st->deadline_ms,
      .peer = h->peer,
  };
  tg_http_response resp;
  tg_http_route_invoke(h->r, st->route, &req, &resp);
  tg_buf_free(&msg);
  submit_grpc(h, st, resp.grpc_status, resp.grpc_message, &resp.body);
  tg_buf_free(&resp.body);
}

static void answer_http(tg_http2 *h, h2_stream *st) {
  const tg_http_router *r = h->r;
  tg_buf decoded;
  tg_buf_init(&decoded, 0);
  int was_decoded = 0;
  int rc = tg_http_decode_body(r, find_header(st, "content-encoding"), st->body.data,
                               st->body.len, &decoded, &was_decoded);
  if (rc != TG_OK) {
    int status = rc == TG_EUNSUPPORTED ? 415 : rc == TG_ETOOBIG ? 413 : rc == TG_ENOMEM ? 503 : 400;
    if (status == 413)
      tg_http_note_too_large(r);
    else
      tg_http_note_bad_request(r);
    tg_buf_free(&decoded);
    submit_http_error(h, st, status, NULL);
    return;
  }
  tg_http_request req = {
      .method = st->method,
      .path = st->path,
      .query = st->query,
      .headers = st->headers,
      .n_headers = st->n_headers,
      .body = was_decoded ? decoded.data : st->body.data,
      .body_len = was_decoded ? decoded.len : st->body.len,
      .body_buf = was_decoded ? &decoded : &st->body,
      .http_version = 2,
      .peer = h->peer,
  };
  if (!req.body)
    req.body = (const uint8_t *)"";
  tg_http_response resp;
  tg_http_route_invoke(h->r, st->route, &req, &resp);
  tg_buf_free(&decoded);
  submit_http(h, st, &resp, NULL);
  tg_buf_free(&resp.body);
}

static void request_done(tg_http2 *h, h2_stream *st) {
  st->remote_done = 1;
  if (st->responded)
    return;
  if (st->preflight) {
    h->r->stats->requests++;
    submit_http_error(h, st, 204, NULL); /* no body; tg_http_decorate adds the answer */
    return;
  }
  if (st->reject_status) {
    h->r->stats->requests++;
    if (st->grpc_reject)
      submit_grpc(h, st, st->reject_status, st->reject_msg, NULL);
    else
      submit_http_error(h, st, st->reject_status, st->allow);
    return;
  }
  if (!st->route)
    return;
  h->r->stats->requests++;
  if (st->grpc)
    answer_grpc(h, st);
  else
    answer_http(h, st);
}

/* ---- nghttp2 callbacks ---- */

static int stream_id_was_opened(const tg_http2 *h, int32_t id) {
  size_t n = h->n_opened < STREAM_ID_RING ? h->n_opened : STREAM_ID_RING;
  for (size_t i = 0; i < n; i++)
    if (h->opened[i] == id)
      return 1;
  return 0;
}

/* Oldest client stream ID the ring still covers: 1 while every opened ID is in it. */
static int32_t stream_id_window_start(const tg_http2 *h) {
  if (h->n_opened <= STREAM_ID_RING)
    return 1;
  return h->opened[h->n_opened % STREAM_ID_RING]; /* the next slot to overwrite */
}

/* Every frame header, before nghttp2 acts on it: tracks the client stream IDs that were
 * opened, and refuses a HEADERS frame for an ID that was skipped (RFC 9113 5.1.1). */
static int on_begin_frame(nghttp2_session *session, const nghttp2_frame_hd *hd, void *ud) {
  tg_http2 *h = ud;
  int32_t id = hd->stream_id;
  h->frames_seen = 1;
  if (hd->type != NGHTTP2_HEADERS || id <= 0 || !(id & 1))
    return 0; /* nghttp2 itself refuses even (server) IDs */
  int32_t last = h->n_opened ? h->opened[(h->n_opened - 1) % STREAM_ID_RING] : 0;
  if (id > last) {
    h->opened[h->n_opened % STREAM_ID_RING] = id;
    h->n_opened++;
    return 0;
  }
  if (nghttp2_session_find_stream(session, id) || stream_id_was_opened(h, id) ||
      id < stream_id_window_start(h))
    return 0; /* trailers, or a stream nghttp2 may rightly ignore */
  TG_LOG_DEBUG(h->r->log, h->r->name, "http2 from %s: HEADERS on stream %d after stream %d",
               h->peer, (int)id, (int)last);
  h->protocol_error = 1;
  return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *ud) {
  tg_http2 *h = ud;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  if (h->n_streams >= h->r->max_concurrent_streams) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                              NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  h2_stream *st = stream_new(h, frame->hd.stream_id);
  if (!st)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  if (nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, st) != 0) {
    stream_free(h, st);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud) {
  (void)session;
  (void)flags;
  tg_http2 *h = ud;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0; /* request trailers are ignored */
  h2_stream *st = get_stream(h, frame->hd.stream_id);
  if (!st)
    return 0;
  if (st->n_raw == tg_http_max_header_count(h->r))
    goto overflow;
  size_t off_name = st->hdrs.len;
  if (tg_buf_append(&st->hdrs, name, namelen) != TG_OK || tg_buf_append(&st->hdrs, "", 1) != TG_OK)
    goto overflow;
  size_t off_value = st->hdrs.len;
  if (tg_buf_append(&st->hdrs, value, valuelen) != TG_OK ||
      tg_buf_append(&st->hdrs, "", 1) != TG_OK)
    goto overflow;
  st->offs[st->n_raw][0] = off_name;
  st->offs[st->n_raw][1] = off_value;
  st->n_raw++;
  return 0;
overflow:
  tg_http_note_bad_request(h->r);
  return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets this stream only */
}

/* A client PING under keepalive.enforcement_policy, as grpc-go's server judges it: a
 * PING sooner than min_time after the previous one (or, without permit_without_stream,
 * within two hours while no stream is open) is a strike, unless a response frame went
 * out since; the third strike is answered with GOAWAY ENHANCE_YOUR_CALM
 * "too_many_pings" and the connection closes. */
static void police_ping(tg_http2 *h) {
  const tg_http_keepalive *k = &h->r->keepalive;
  if (!k->enforce)
    return;
  uint64_t now = tg_clock_mono_ms(), last = h->last_ping_ms;
  int before = h->pinged;
  h->pinged = 1;
  h->last_ping_ms = now;
  if (h->reset_strikes) {
    h->reset_strikes = 0;
    h->ping_strikes = 0;
    return;
  }
  uint64_t min_gap = h->n_streams == 0 && !k->permit_without_stream ? 2 * 3600 * 1000
                                                                     : k->min_time_ms;
  if (!before || now >= last + min_gap)
    return;
  if (++h->ping_strikes <= 2)
    return;
  static const char why[] = "too_many_pings";
  h->r->stats->too_many_pings++;
  TG_LOG_WARN(h->r->log, h->r->name,
              "closing connection from %s: too many PINGs (keepalive.enforcement_policy "
              "min_time %llu ms, permit_without_stream %s)",
              h->peer, (unsigned long long)k->min_time_ms,
              k->permit_without_stream ? "true" : "false");
  nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(h->session),
                        NGHTTP2_ENHANCE_YOUR_CALM, (const uint8_t *)why, sizeof why - 1);
  h->closing = 1; /* the GOAWAY is flushed by tg_http2_feed before it reports the close */
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud) {
  (void)session;
  tg_http2 *h = ud;
  if (frame->hd.type == NGHTTP2_PING && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
    police_ping(h);
    return 0;
  }
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
    return 0;
  h2_stream *st = get_stream(h, frame->hd.stream_id);
  if (!st)
    return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    st->headers_complete = 1;
    headers_done(h, st);
  }
  if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
    request_done(h, st);
  return 0;
}

/* Sizes the body buffer from the first DATA bytes (a gRPC message prefix) or the
 * request's content-length, so the body does not grow by doubling. */
static void presize_body(h2_stream *st, const uint8_t *data, size_t len) {
  uint64_t declared = 0;
  if (st->grpc && len >= 5)
    declared = 5 + (uint64_t)tg_grpc_prefix_length(data);
  else if (!st->grpc) {
    const char *cl = find_header(st, "content-length");
    declared = cl ? strtoull(cl, NULL, 10) : 0;
  }
  tg_http_presize_body(&st->body, declared);
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *ud) {
  (void)session;
  (void)flags;
  tg_http2 *h = ud;
  h2_stream *st = get_stream(h, stream_id);
  if (!st || st->responded || !st->route)
    return 0;
  const tg_http_router *r = h->r;
  if (len > h->budget - h->buffered) {
    r->stats->requests++;
    tg_http_note_too_large(r);
    if (st->grpc)
      submit_grpc(h, st, 8, "connection body budget exhausted", NULL);
    else
      submit_http_error(h, st, 503, NULL);
    return 0;
  }
  if (!st->body.len)
    presize_body(st, data, len);
  int rc = tg_buf_append(&st->body, data, len);
  if (rc == TG_OK) {
    st->counted += len;
    h->buffered += len;
  }
  if (st->grpc) {
    const char *msg = "request message larger than max_body_bytes";
    int status = rc == TG_OK ? tg_grpc_check_partial(st->body.data, st->body.len,
                                                     r->max_body_bytes, &msg)
                             : 8;
    if (status != 0) {
      r->stats->requests++;
      if (status == 8)
        tg_http_note_too_large(r);
      else
        tg_http_note_bad_request(r);
      submit_grpc(h, st, status, msg, NULL);
    }
    return 0;
  }
  if (rc != TG_OK || st->body.len > r->max_body_bytes) {
    r->stats->requests++;
    tg_http_note_too_large(r);
    submit_http_error(h, st, 413, NULL);
  }
  return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *ud) {
  tg_http2 *h = ud;
  if (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA)
    h->reset_strikes = 1;
  if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
      !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  h2_stream *st = get_stream(h, frame->hd.stream_id);
  if (st && st->early && !st->remote_done)
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
  return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *ud) {
  (void)error_code;
  tg_http2 *h = ud;
  h2_stream *st = get_stream(h, stream_id);
  if (st) {
    if (!st->responded && st->route)
      h->r->stats->disconnects++; /* the client reset its own unanswered request */
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    stream_free(h, st);
  }
  return 0;
}

/* ---- public (internal) API ---- */

static void sink_write(tg_http2 *h, const uint8_t *data, size_t n) {
  if (n && !h->sink_dead && tg_http_sink_write(&h->sink, data, n) != 0)
    h->sink_dead = 1;
}

/* nghttp2 hands out one frame per mem_send call, so a gRPC answer (HEADERS, DATA,
 * trailers) would cost three socket writes, each waking the client: the frames of one
 * flush are gathered into one write instead (bounded by the stack buffer; a frame larger
 * than it goes out on its own). */
static void flush(tg_http2 *h) {
  uint8_t out[16384];
  size_t used = 0;
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(h->session, &data);
    if (n <= 0) {
      sink_write(h, out, used);
      if (n < 0)
        h->closing = 1;
      return;
    }
    if (used + (size_t)n > sizeof out) {
      sink_write(h, out, used);
      used = 0;
    }
    if ((size_t)n > sizeof out) {
      sink_write(h, data, (size_t)n);
      continue;
    }
    memcpy(out + used, data, (size_t)n);
    used += (size_t)n;
  }
}

tg_http2 *tg_http2_new(const tg_http_router *r, const char *peer, tg_http_sink sink) {
  tg_http2 *h = tg_calloc(1, sizeof *h);
  if (!h)
    return NULL;
  h->r = r;
  h->sink = sink;
  h->budget = r->max_body_bytes * 4 + 64;
  snprintf(h->peer, sizeof h->peer, "%s", peer ? peer : "");
  nghttp2_session_callbacks *cbs;
  if (nghttp2_session_callbacks_new(&cbs) != 0) {
    tg_free(h);
    return NULL;
  }
  nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, on_begin_frame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_option *opt = NULL;
  int rc = nghttp2_option_new(&opt);
  if (rc == 0) {
    nghttp2_option_set_max_send_header_block_length(opt, 64 * 1024);
    rc = nghttp2_session_server_new2(&h->session, cbs, h, opt);
    nghttp2_option_del(opt);
  }
  nghttp2_session_callbacks_del(cbs);
  if (rc != 0) {
    tg_free(h);
    return NULL;
  }
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, r->max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)tg_http_max_header_bytes(r)},
  };
  if (nghttp2_submit_settings(h->session, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
      nghttp2_session_set_local_window_size(h->session, NGHTTP2_FLAG_NONE, 0, 4 << 20) != 0) {
    tg_http2_free(h);
    return NULL;
  }
  return h;
}

int tg_http2_feed(tg_http2 *h, const uint8_t *data, size_t len) {
  if (h->closing || h->sink_dead)
    return TG_ECLOSED;
  ssize_t n = nghttp2_session_mem_recv(h->session, data, len);
  if (n >= 0 && h->closing) { /* police_ping sent GOAWAY: stop there */
    flush(h);
    return TG_ECLOSED;
  }
  if (n < 0) {
    TG_LOG_DEBUG(h->r->log, h->r->name, "http2 session error from %s: %s", h->peer,
                 nghttp2_strerror((int)n));
    tg_http_note_bad_request(h->r);
    /* Also after a bad client preface (RFC 9113 3.4: a connection error, which may be
     * signalled with GOAWAY); the server's SETTINGS go out first, as nghttp2 queued them. */
    nghttp2_session_terminate_session(h->session, NGHTTP2_PROTOCOL_ERROR);
    h->closing = 1;
  }
  flush(h);
  if (!nghttp2_session_want_read(h->session) && !nghttp2_session_want_write(h->session))
    h->closing = 1;
  return h->closing || h->sink_dead ? TG_ECLOSED : TG_OK;
}

int tg_http2_in_request(const tg_http2 *h) {
  for (const h2_stream *st = h->streams; st; st = st->next)
    if (!st->responded && st->route)
      return 1;
  return 0;
}

int tg_http2_streaming(const tg_http2 *h) {
  int n = 0;
  for (const h2_stream *st = h->streams; st; st = st->next)
    n += st->streaming;
  return n;
}

int tg_http2_pump(tg_http2 *h, size_t max_bytes) {
  if (h->closing || h->sink_dead)
    return TG_ECLOSED;
  int active = 0;
  for (h2_stream *st = h->streams; st; st = st->next) {
    if (!st->streaming || st->stream_done)
      continue;
    active++;
    if (st->out_off < st->out.len)
      continue; /* the last slice is still going out (flow control) */
    int done = 0;
    st->out.len = 0;
    st->out_off = 0;
    int rc = st->stream.next(st->stream.ctx, &st->out, max_bytes, &done);
    if (rc == TG_OK && !done && !st->out.len)
      rc = TG_EINVAL;
    if (rc != TG_OK) {
      stream_end_body(st);
      nghttp2_submit_rst_stream(h->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
      continue;
    }
    if (done) {
      st->stream_done = 1;
      tg_http_body_stream s = st->stream;
      memset(&st->stream, 0, sizeof st->stream);
      s.release(s.ctx); /* `streaming` stays set until the stream closes */
    }
    nghttp2_session_resume_data(h->session, st->id);
  }
  flush(h);
  if (h->closing || h->sink_dead)
    return TG_ECLOSED;
  return active > 0;
}

int tg_http2_phase(const tg_http2 *h) {
  if (!h->frames_seen)
    return TG_HTTP_PHASE_HEADERS;
  int phase = TG_HTTP_PHASE_IDLE;
  for (const h2_stream *st = h->streams; st; st = st->next) {
    if (!st->headers_complete)
      return TG_HTTP_PHASE_HEADERS;
    if (!st->remote_done)
      phase = TG_HTTP_PHASE_BODY;
  }
  return phase;
}

void tg_http2_goaway(tg_http2 *h) {
  if (h->closing || h->sink_dead)
    return;
  nghttp2_session_terminate_session(h->session, NGHTTP2_NO_ERROR);
  flush(h);
  h->closing = 1;
}

int tg_http2_ping(tg_http2 *h) {
  if (h->closing || h->sink_dead)
    return TG_ECLOSED;
  if (nghttp2_submit_ping(h->session, NGHTTP2_FLAG_NONE, NULL) != 0)
    return TG_ENOMEM;
  flush(h);
  return TG_OK;
}

void tg_http2_drain(tg_http2 *h) {
  if (h->closing || h->sink_dead)
    return;
  nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(h->session), NGHTTP2_NO_ERROR,
                        NULL, 0);
  flush(h);
}

void tg_http2_free(tg_http2 *h) {
  if (!h)
    return;
  if (h->session)
    nghttp2_session_del(h->session);
  while (h->streams)
    stream_free(h, h->streams);
  tg_free(h);
}
